"""food_waste at the defaults (74.16 g plate waste per diner, 1.99 kgCO2e/kg food).

Clean plate: diners × 74.16 g × 1.99; small portion: min(Δ, diners × 74.16 g) × 1.99.
"""

from decimal import Decimal

import pytest

import methodologies
from methodologies import ActivityError
from methodologies.food_waste import meal_slot

M = methodologies.get("food_waste", "1.0.0")  # approved half-up; 2.0.0 in test_rounding_versions


def meal(kind: str, at: str = "2025-03-01T12:30:00+08:00", **extra: object) -> dict[str, object]:
    return {"kind": kind, "meal_at": at, **extra}


def params(**overrides: object) -> dict[str, Decimal]:
    p = M.default_params()
    p.update({k: Decimal(str(v)) for k, v in overrides.items()})
    return p


@pytest.mark.parametrize(
    ("activity", "reduction"),
    [
        # 1 × 74.16 g × 1.99 = 147.5784
        (meal("clean_plate"), 148),
        # 2 × 74.16 × 1.99 = 295.1568 (dinner)
        (meal("clean_plate", "2025-03-01T19:00:00+08:00", diners=2), 295),
        # 3 × 74.16 × 1.99 = 442.7352 (breakfast, diners as text)
        (meal("clean_plate", "2025-03-01T07:30:00+08:00", diners="3"), 443),
        # min(50 g, 74.16 g) × 1.99 = 99.5 → 100 half-up
        (meal("small_portion", portion_reduction_kg=0.05), 100),
        # min(300 g, 148.32 g) × 1.99 = 295.1568: only what would have been wasted
        (meal("small_portion", diners=2, portion_reduction_kg=0.3), 295),
        # min(100 g, 148.32 g) × 1.99 = 199
        (meal("small_portion", diners=2, portion_reduction_kg="0.1"), 199),
    ],
)
def test_quantify_table(activity, reduction):
    p = params()
    assert M.validate(activity, p) == []
    q = M.quantify(activity, p)
    assert (q.baseline_g, q.project_g, q.reduction_g) == (reduction, 0, reduction)


@pytest.mark.parametrize(
    ("local_time", "slot"),
    [
        ("04:59", "other"),
        ("05:00", "breakfast"),
        ("09:59", "breakfast"),
        ("10:00", "lunch"),
        ("14:59", "lunch"),
        ("15:00", "dinner"),
        ("21:59", "dinner"),
        ("22:00", "other"),
    ],
)
def test_meal_slots_on_the_local_clock(local_time, slot):
    assert meal_slot(meal("clean_plate", f"2025-03-01T{local_time}:00+08:00")) == slot
    assert meal_slot(meal("clean_plate", f"2025-03-01T{local_time}:00")) == slot  # naive = local


def test_utc_timestamps_use_the_local_slot():
    assert meal_slot(meal("clean_plate", "2025-03-01T04:30:00Z")) == "lunch"  # 12:30 local


def test_one_credit_per_meal_slot():
    plate = M.window(meal("clean_plate", "2025-03-01T12:05:00+08:00"))
    portion = M.window(meal("small_portion", "2025-03-01T13:40:00+08:00"))
    dinner = M.window(meal("clean_plate", "2025-03-01T18:00:00+08:00"))
    next_lunch = M.window(meal("clean_plate", "2025-03-02T12:05:00+08:00"))
    assert plate == portion and plate.overlaps(portion)
    assert not plate.overlaps(dinner)
    assert not plate.overlaps(next_lunch)
    night = M.window(meal("clean_plate", "2025-03-01T23:30:00+08:00"))
    small_hours = M.window(meal("clean_plate", "2025-03-02T03:00:00+08:00"))
    assert night == small_hours  # 22:00–05:00 is one span
    assert M.dedupe_group == "meal"


@pytest.mark.parametrize(
    ("activity", "code"),
    [
        (meal("doggy_bag"), "unknown_kind"),
        (meal("clean_plate", diners=0), "diners_below_one"),
        (meal("clean_plate", diners=21), "diners_above_cap"),
        (meal("small_portion"), "missing_portion_reduction"),
        (meal("small_portion", portion_reduction_kg=0), "missing_portion_reduction"),
        (meal("small_portion", portion_reduction_kg=2.5), "portion_above_cap"),
        (meal("clean_plate", "2025-03-01T23:00:00+08:00"), "outside_meal_slot"),
    ],
)
def test_rejections(activity, code):
    rejections = M.validate(activity, params())
    assert [r.code for r in rejections] == [code]
    assert rejections[0].reason.zh_CN and rejections[0].reason.en


@pytest.mark.parametrize(
    "activity",
    [
        {"meal_at": "2025-03-01T12:30:00+08:00"},
        meal(5),  # type: ignore[arg-type]
        meal("clean_plate", diners="two"),
        meal("clean_plate", diners=1.5),
        {"kind": "clean_plate"},
        meal("small_portion", portion_reduction_kg="a bowl"),
    ],
)
def test_malformed_activity_raises(activity):
    with pytest.raises(ActivityError):
        M.validate(activity, params())
