"""public_transit: (EF_BL − EF_mode) × d, mean baseline by default.

Defaults used below: EF_BL (mean) 100 g/pkm, bus 56.2, rail 61; substitution shares
car .30 / taxi .15 / motorcycle .05 / e-bike .30 / non-motorised .20 with factors
122.2 / 158.9 / 56.7 / 7.7 / 0, so EF_BL (substitution) = 65.64 g/pkm.
"""

from datetime import datetime, timedelta
from decimal import Decimal

import pytest

import methodologies
from methodologies import ActivityError

M = methodologies.get(
    "public_transit", "1.0.0"
)  # approved half-up; 2.0.0 in test_rounding_versions
START = datetime.fromisoformat("2025-03-01T08:00:00+08:00")


def trip(mode: str, km: object, minutes: float, **extra: object) -> dict[str, object]:
    end = START + timedelta(minutes=minutes)
    return {
        "mode": mode,
        "distance_km": km,
        "started_at": START.isoformat(),
        "ended_at": end.isoformat(),
        **extra,
    }


def params(**overrides: object) -> dict[str, Decimal]:
    p = M.default_params()
    p.update({k: Decimal(str(v)) for k, v in overrides.items()})
    return p


SUBSTITUTION = {"baseline_method": 1}


@pytest.mark.parametrize(
    ("activity", "overrides", "baseline", "project", "reduction"),
    [
        # (100 − 56.2) g/pkm × 8.2 km = 359.16 g; BE 820, PE 460.84
        (trip("bus", 8.2, 30), {}, 820, 461, 359),
        # (100 − 61) × 12.5 = 487.5 → 488 half-up; BE 1250, PE 762.5 → 763
        (trip("rail", 12.5, 20), {}, 1250, 763, 488),
        # 45 km credited as the 40 km cap: (100 − 56.2) × 40 = 1752; BE 4000, PE 2248
        (trip("bus", 45, 60), {}, 4000, 2248, 1752),
        # minimum distance: 43.8 × 0.5 = 21.9; BE 50, PE 28.1
        (trip("bus", "0.5", 5), {}, 50, 28, 22),
        # numeric string: 43.8 × 3.33 = 145.854; BE 333, PE 187.146
        (trip("bus", "3.33", 10), {}, 333, 187, 146),
        # substitution: (65.64 − 56.2) × 10 = 94.4; BE 656.4, PE 562
        (trip("bus", 10, 30), SUBSTITUTION, 656, 562, 94),
        # substitution, rail: (65.64 − 61) × 10 = 46.4; BE 656.4, PE 610
        (trip("rail", 10, 15), SUBSTITUTION, 656, 610, 46),
        # override of the bus factor: (100 − 50) × 8.2 = 410
        (trip("bus", 8.2, 30), {"ef_bus_g_pkm": 50}, 820, 410, 410),
        # baseline below project: (50 − 56.2) × 5 = −31 → floored at 0; BE 250, PE 281
        (trip("bus", 5, 20), {"ef_baseline_mean_g_pkm": 50}, 250, 281, 0),
    ],
)
def test_quantify_table(activity, overrides, baseline, project, reduction):
    p = params(**overrides)
    assert M.validate(activity, p) == []
    q = M.quantify(activity, p)
    assert (q.baseline_g, q.project_g, q.reduction_g) == (baseline, project, reduction)
    assert "rounded once" in q.steps[-1].label.en


def test_cap_and_floor_are_stated_in_the_steps():
    capped = M.quantify(trip("bus", 45, 60), params())
    assert any("cap" in s.label.en and s.value == "40" for s in capped.steps)
    floored = M.quantify(trip("bus", 5, 20), params(ef_baseline_mean_g_pkm=50))
    assert any("never negative" in s.label.en for s in floored.steps)


@pytest.mark.parametrize(
    ("activity", "code"),
    [
        (trip("bus", 0, 30), "non_positive_distance"),
        (trip("bus", -2, 30), "non_positive_distance"),
        (trip("bus", 5, 0), "invalid_time_order"),
        (trip("bus", 5, -10), "invalid_time_order"),
        (trip("bus", 40, 30), "speed_implausible"),  # 80 km/h > 60
        (trip("rail", 40, 15), "speed_implausible"),  # 160 km/h > 120
        (trip("bus", 0.3, 5), "below_min_distance"),
        (trip("bus", 10, 200), "duration_too_long"),  # 200 min > 180
        (trip("bus", 3, 10, boarding_stop="衢州火车站", alighting_stop="衢州火车站"), "same_stop"),
    ],
)
def test_rejections(activity, code):
    rejections = M.validate(activity, params())
    assert [r.code for r in rejections] == [code]
    assert rejections[0].reason.zh_CN and rejections[0].reason.en


def test_limits_are_inclusive():
    # exactly 60 km/h, exactly 180 min, exactly 0.5 km: accepted
    assert M.validate(trip("bus", 30, 30), params()) == []
    assert M.validate(trip("bus", 10, 180), params()) == []
    assert M.validate(trip("bus", 0.5, 5), params()) == []


@pytest.mark.parametrize(
    "activity",
    [
        {k: v for k, v in trip("bus", 5, 20).items() if k != "mode"},
        trip("ferry", 5, 20),
        trip("bus", "five", 20),
        trip("bus", True, 20),
        trip("bus", None, 20),
        {**trip("bus", 5, 20), "started_at": "yesterday"},
        {k: v for k, v in trip("bus", 5, 20).items() if k != "ended_at"},
        [trip("bus", 5, 20)],
    ],
)
def test_malformed_activity_raises(activity):
    with pytest.raises(ActivityError):
        M.validate(activity, params())


@pytest.mark.parametrize(
    "overrides",
    [
        {"baseline_method": 2},
        {"baseline_method": 1, "share_car": "0.5"},  # shares sum to 1.2
    ],
)
def test_bad_parameter_set_is_refused(overrides):
    with pytest.raises(ValueError, match="must"):
        M.quantify(trip("bus", 5, 20), params(**overrides))


def test_window_is_the_trip():
    w = M.window(trip("bus", 5, 20))
    assert w.start == START
    assert w.end == START + timedelta(minutes=20)
    bike = methodologies.get("bike_sharing", "1.0.0")
    ride = {
        "bike_type": "pedal",
        "distance_km": 2,
        "started_at": (START + timedelta(minutes=15)).isoformat(),
        "ended_at": (START + timedelta(minutes=30)).isoformat(),
    }
    assert M.dedupe_group == bike.dedupe_group == "travel"
    assert w.overlaps(bike.window(ride))
    later = {**ride, "started_at": (START + timedelta(minutes=20)).isoformat()}
    assert not w.overlaps(bike.window(later))  # touching ends do not overlap


def stops(lat1: object, lon1: object, lat2: object, lon2: object, minutes: float = 20):
    activity = trip(
        "bus",
        None,
        minutes,
        boarding_lat=lat1,
        boarding_lon=lon1,
        alighting_lat=lat2,
        alighting_lon=lon2,
    )
    del activity["distance_km"]
    return activity


def test_distance_from_the_stops_when_no_km_is_reported():
    # 0.05° of latitude on the mean-radius sphere: 6371.0088 km × 0.05 × π/180 = 5.560 km
    activity = stops(28.95, 118.87, 29.00, 118.87)
    assert M.validate(activity, params()) == []
    result = M.quantify(activity, params())
    # (100 - 56.2) g/pkm × 5.560 km = 243.528 -> 244 g; baseline 556, project 312.472 -> 312
    assert (result.baseline_g, result.project_g, result.reduction_g) == (556, 312, 244)
    assert "great-circle" in result.steps[0].expression and result.steps[0].value == "5.56"
    # a reported distance wins over the stops
    assert M.quantify({**activity, "distance_km": 8.2}, params()).reduction_g == 359


@pytest.mark.parametrize(
    "activity",
    [
        stops(95, 118.87, 29.0, 118.87),  # not a latitude
        stops(28.95, "east", 29.0, 118.87),
        {**stops(28.95, 118.87, 29.0, 118.87), "alighting_lon": None},  # incomplete
    ],
)
def test_bad_or_missing_stop_coordinates_are_malformed(activity):
    with pytest.raises(ActivityError):
        M.validate(activity, params())
