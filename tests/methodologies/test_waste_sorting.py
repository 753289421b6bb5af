"""waste_sorting: Σ W × (EF_BL − EF_PJ), residual waste incinerated by default.

Defaults (kgCO2e/kg): landfill share 0, so EF_BL = incineration factor:
paper −0.329, plastic 1.891, metal 0, glass 0, textile −0.137, kitchen −0.115.
EF_PJ = recycling factor × (1 − 0.5 haircut): paper −3.461 → −1.7305, plastic −0.837 →
−0.4185, metal −2.017 → −1.0085, glass −0.308 → −0.154, textile −2.0 → −1.0;
kitchen composting 0.1756 (no haircut). Landfill: paper 3.36, kitchen 1.26.
"""

from datetime import datetime, timedelta
from decimal import Decimal

import pytest

import methodologies
from methodologies import ActivityError

M = methodologies.get("waste_sorting", "1.0.0")  # approved half-up; 2.0.0 in test_rounding_versions
AT = "2025-03-01T09:00:00+08:00"


def record(*items: tuple[str, object], **extra: object) -> dict[str, object]:
    return {
        "items": [{"category": c, "weight_kg": w} for c, w in items],
        "collected_at": AT,
        **extra,
    }


def params(**overrides: object) -> dict[str, Decimal]:
    p = M.default_params()
    p.update({k: Decimal(str(v)) for k, v in overrides.items()})
    return p


@pytest.mark.parametrize(
    ("activity", "overrides", "baseline", "project", "reduction"),
    [
        # paper 2 kg: BE 2 × −0.329 × 1000 = −658; PE 2 × −1.7305 × 1000 = −3461; ER 2803
        (record(("paper", 2)), {}, -658, -3461, 2803),
        # plastic 1.5 kg: BE 2836.5 → 2837; PE −627.75 → −628; ER 3464.25 → 3464
        (record(("plastic", 1.5)), {}, 2837, -628, 3464),
        # metal 0.8 kg: BE 0; PE 0.8 × −1.0085 × 1000 = −806.8; ER 806.8
        (record(("metal", "0.8")), {}, 0, -807, 807),
        # glass 3 kg: PE 3 × −0.154 × 1000 = −462; ER 462
        (record(("glass", 3)), {}, 0, -462, 462),
        # textile 2 kg: BE −274; PE −2000; ER 1726
        (record(("textile", 2)), {}, -274, -2000, 1726),
        # kitchen under incineration: −0.115 ≤ 0.1756, left out: 0 (not a penalty)
        (record(("kitchen", 2)), {}, 0, 0, 0),
        # paper + kitchen: the kitchen item does not lower the paper credit
        (record(("paper", 2), ("kitchen", 2)), {}, -658, -3461, 2803),
        # kitchen landfilled: BE 2 × 1.26 × 1000 = 2520; PE 351.2; ER 2168.8
        (record(("kitchen", 2)), {"baseline_landfill_share": 1}, 2520, 351, 2169),
        # half landfill: EF_BL = 0.5 × 3.36 + 0.5 × −0.329 = 1.5155; ER (1.5155 + 1.7305) × 1000
        (record(("paper", 1)), {"baseline_landfill_share": "0.5"}, 1516, -1731, 3246),
        # no haircut: paper 1 kg, ER (−0.329 + 3.461) × 1000 = 3132
        (record(("paper", 1)), {"warm_haircut": 0}, -329, -3461, 3132),
    ],
)
def test_quantify_table(activity, overrides, baseline, project, reduction):
    p = params(**overrides)
    assert M.validate(activity, p) == []
    q = M.quantify(activity, p)
    assert (q.baseline_g, q.project_g, q.reduction_g) == (baseline, project, reduction)


def test_csv_text_items():
    # paper 2 + plastic 1.5: BE −658 + 2836.5 = 2178.5; PE −3461 − 627.75 = −4088.75
    activity = {"items": "paper:2; plastic:1.5", "collected_at": AT, "weighed": "true"}
    assert M.validate(activity, params()) == []
    q = M.quantify(activity, params())
    assert (q.baseline_g, q.project_g, q.reduction_g) == (2179, -4089, 6267)


def test_excluded_item_is_explained():
    q = M.quantify(record(("kitchen", 2)), params())
    assert any("not counted" in s.label.en for s in q.steps)


@pytest.mark.parametrize(
    ("activity", "code"),
    [
        (record(("paper", 2), weighed=False), "not_weighed"),
        (record(("paper", 2), weighed="false"), "not_weighed"),
        (record(), "empty_items"),
        (record(("paper", 0)), "non_positive_weight"),
        (record(("hazardous", 1)), "unknown_category"),
        (record(("paper", 31)), "item_weight_above_cap"),
        (record(("paper", 25), ("plastic", 25), ("metal", 25)), "collection_weight_above_cap"),
    ],
)
def test_rejections(activity, code):
    rejections = M.validate(activity, params())
    assert [r.code for r in rejections] == [code]
    assert rejections[0].reason.zh_CN and rejections[0].reason.en


@pytest.mark.parametrize(
    "activity",
    [
        {"collected_at": AT},
        {"items": {"paper": 2}, "collected_at": AT},
        {"items": ["paper"], "collected_at": AT},
        {"items": [{"weight_kg": 2}], "collected_at": AT},
        record(("paper", "heavy")),
        {"items": "paper2", "collected_at": AT},
        record(("paper", 2), weighed="maybe"),
        {**record(("paper", 2)), "collected_at": "01/03/2025"},
    ],
)
def test_malformed_activity_raises(activity):
    with pytest.raises(ActivityError):
        M.validate(activity, params())


def test_window_is_one_minute_each_side():
    w = M.window(record(("paper", 2)))
    at = datetime.fromisoformat(AT)
    assert (w.start, w.end) == (at - timedelta(minutes=1), at + timedelta(minutes=1))
    later = M.window({**record(("paper", 2)), "collected_at": "2025-03-01T09:05:00+08:00"})
    assert not w.overlaps(later)
    assert M.dedupe_group == "waste"
