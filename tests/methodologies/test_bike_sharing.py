"""bike_sharing: d × Σ s_i × EF_i − PE.

Defaults: shares bus .40 / taxi .10 / car .10 / motorcycle .05 / e-bike .35 with factors
56.2 / 158.9 / 122.2 / 56.7 / 7.7 g/pkm, so
EF_BL = 22.48 + 15.89 + 12.22 + 2.835 + 2.695 = 56.12 g/pkm.
E-bike: 0.015 kWh/km × 0.5153 kg/kWh × 1000 = 7.7295 g/km.
"""

from datetime import datetime, timedelta
from decimal import Decimal

import pytest

import methodologies
from methodologies import ActivityError
from methodologies.bike_sharing import SHARE_NAMES

M = methodologies.get("bike_sharing", "1.0.0")  # approved half-up; 2.0.0 in test_rounding_versions
START = datetime.fromisoformat("2025-03-01T18:00:00+08:00")


def ride(bike: str, km: object, seconds: float) -> dict[str, object]:
    return {
        "bike_type": bike,
        "distance_km": km,
        "started_at": START.isoformat(),
        "ended_at": (START + timedelta(seconds=seconds)).isoformat(),
    }


def params(**overrides: object) -> dict[str, Decimal]:
    p = M.default_params()
    p.update({k: Decimal(str(v)) for k, v in overrides.items()})
    return p


@pytest.mark.parametrize(
    ("activity", "baseline", "project", "reduction"),
    [
        # 56.12 g/pkm × 3 km = 168.36
        (ride("pedal", 3, 15 * 60), 168, 0, 168),
        # 56.12 × 2 = 112.24
        (ride("pedal", "2", 10 * 60), 112, 0, 112),
        # 20 km credited as the 15 km cap: 56.12 × 15 = 841.8
        (ride("pedal", 20, 60 * 60), 842, 0, 842),
        # e-bike 4 km: 224.48 − 7.7295 × 4 (30.918) = 193.562
        (ride("ebike", 4, 20 * 60), 224, 31, 194),
        # e-bike 10 km: 561.2 − 77.295 = 483.905
        (ride("ebike", 10, 30 * 60), 561, 77, 484),
    ],
)
def test_quantify_table(activity, baseline, project, reduction):
    p = params()
    assert M.validate(activity, p) == []
    q = M.quantify(activity, p)
    assert (q.baseline_g, q.project_g, q.reduction_g) == (baseline, project, reduction)


def test_default_shares_sum_to_one_and_exclude_walking():
    defaults = M.default_params()
    assert sum(defaults[n] for n in SHARE_NAMES) == 1
    assert not any("walk" in n or "nonmotor" in n for n in defaults)


def test_shares_not_summing_to_one_are_refused():
    with pytest.raises(ValueError, match="sum to 1"):
        M.quantify(ride("pedal", 3, 900), params(share_bus="0.5"))


def test_cap_is_stated_in_the_steps():
    q = M.quantify(ride("pedal", 20, 3600), params())
    assert any("cap" in s.label.en and s.expression == "d = min(20, 15)" for s in q.steps)


@pytest.mark.parametrize(
    ("activity", "code"),
    [
        (ride("pedal", 0, 600), "non_positive_distance"),
        (ride("pedal", 2, -60), "invalid_time_order"),
        (ride("pedal", 0.25, 50), "below_min_duration"),  # 0.83 min, 18 km/h
        (ride("pedal", 0.15, 180), "below_min_distance"),
        (ride("pedal", 12, 20 * 60), "speed_implausible"),  # 36 km/h
        (ride("ebike", 9, 20 * 60), "speed_implausible"),  # 27 km/h > GB 17761 25 km/h
    ],
)
def test_rejections(activity, code):
    rejections = M.validate(activity, params())
    assert [r.code for r in rejections] == [code]
    assert rejections[0].reason.zh_CN and rejections[0].reason.en


def test_speed_limit_is_inclusive():
    assert M.validate(ride("ebike", 5, 12 * 60), params()) == []  # exactly 25 km/h


@pytest.mark.parametrize(
    "activity",
    [
        ride("scooter", 2, 600),
        {k: v for k, v in ride("pedal", 2, 600).items() if k != "distance_km"},
        {**ride("pedal", 2, 600), "ended_at": 1700000000},
        "pedal,2",
    ],
)
def test_malformed_activity_raises(activity):
    with pytest.raises(ActivityError):
        M.validate(activity, params())
