"""Module 2.0.0 of the four resident methodologies: the credit is ⌊baseline − project⌋ in
whole grams, computed in Decimal, and the steps add up; 1.0.0 keeps rounding each total
half-up, as it was approved (DESIGN.md invariant 4). Parameters keep their sign and bounds."""

from __future__ import annotations

from decimal import Decimal

import pytest

import methodologies
from methodologies import registry

TRIP = {"mode": "bus", "started_at": "2025-03-01T08:00:00+08:00"}


def bus(km: str, minutes: int = 10) -> dict[str, str]:
    return {**TRIP, "distance_km": km, "ended_at": f"2025-03-01T08:{minutes:02d}:00+08:00"}


def quantify(code: str, version: str, activity: dict) -> methodologies.Quantification:
    module = methodologies.get(code, version)
    return module.quantify(activity, registry.get_class(code, version).default_params())


@pytest.mark.parametrize(
    ("km", "v1", "v2"),
    [
        # (100 − 56.2) g/pkm = 43.8 g/pkm
        ("2.5", (250, 141, 110), (250, 141, 109)),  # 250 − 140.5 = 109.5: half-up 110, floor 109
        ("8.2", (820, 461, 359), (820, 461, 359)),  # 820 − 460.84 = 359.16 → 359 both
        ("1.01", (101, 57, 44), (101, 57, 44)),  # 101 − 56.762 = 44.238 → 44 both
        ("3.37", (337, 189, 148), (337, 190, 147)),  # 337 − 189.394 = 147.606: 148 / 147
    ],
)
def test_v1_rounds_half_up_and_v2_rounds_the_credit_down(km, v1, v2):
    old, new = (
        quantify("public_transit", "1.0.0", bus(km)),
        quantify("public_transit", "2.0.0", bus(km)),
    )
    assert (old.baseline_g, old.project_g, old.reduction_g) == v1
    assert (new.baseline_g, new.project_g, new.reduction_g) == v2


@pytest.mark.parametrize("code", ["public_transit", "bike_sharing", "waste_sorting", "food_waste"])
def test_every_resident_methodology_has_a_2_0_0_that_rounds_down(code):
    assert registry.module_versions(code) == ["1.0.0", "2.0.0"]
    assert registry.get_class(code, "1.0.0").rounding == "half_up"
    assert registry.get_class(code, "2.0.0").rounding == "floor"
    assert registry.get_class(code).version == "2.0.0"  # the latest without a version


def test_the_steps_of_2_0_0_add_up_exactly():
    steps = quantify("public_transit", "2.0.0", bus("2.5")).steps
    by_label = {s.label.en: s for s in steps}
    assert by_label["Baseline emissions"].value == "250"
    assert by_label["Project emissions"].value == "140.5"
    reduction = by_label["Reduction = baseline - project emissions"]
    assert (reduction.expression, reduction.value) == ("250 - 140.5", "109.5")
    assert Decimal("250") - Decimal("140.5") == Decimal(reduction.value)
    last = steps[-1]
    assert (last.expression, last.value) == ("⌊109.5⌋", "109")
    assert "never up" in last.label.en and "向下取整" in last.label.zh_CN


def test_a_negative_total_credits_zero_never_a_debit():
    # a 0.6 km e-bike ride of bike_sharing has positive baseline; force project above it
    module = methodologies.get("public_transit", "2.0.0")
    params = registry.get_class("public_transit", "2.0.0").default_params()
    params["ef_bus_g_pkm"] = Decimal("150")  # above the 100 g/pkm baseline
    q = module.quantify(bus("2.5"), params)
    assert q.reduction_g == 0 and q.steps[-2].value == "0"


def test_waste_2_0_0_corrects_the_composting_factor_with_its_source():
    v1 = registry.get_class("waste_sorting", "1.0.0").parameter("ef_composting_kitchen")
    v2 = registry.get_class("waste_sorting", "2.0.0").parameter("ef_composting_kitchen")
    assert v1.value == Decimal("0.1756")  # as approved then: recomputes as it did
    # IPCC 2006 Vol.5 Ch.4 Table 4.1 (wet weight): 4 g CH4 × 28 + 0.3 g N2O × 265 = 191.5 g
    assert v2.value == Decimal("0.1915") == (4 * 28 + Decimal("0.3") * 265) / 1000
    assert "IPCC 2006" in v2.source.document and "0.3 g N2O" in v2.source.note


def test_2_0_0_of_a_waste_hand_over_is_floored_on_the_exact_total():
    activity = {
        "items": [{"category": "glass", "weight_kg": "0.35"}],
        "collected_at": "2025-03-01T09:00:00+08:00",
        "weighed": True,
    }
    old = quantify("waste_sorting", "1.0.0", activity)
    new = quantify("waste_sorting", "2.0.0", activity)
    assert new.reduction_g <= old.reduction_g
    exact = Decimal(new.steps[-2].value)
    assert new.reduction_g == int(exact // 1) and exact - new.reduction_g < 1


@pytest.mark.parametrize(
    ("code", "name", "value", "problem"),
    [
        ("public_transit", "ef_bus_g_pkm", "-5", "ef_bus_g_pkm must be at least 0"),
        ("public_transit", "max_speed_bus_kmh", "-1", "max_speed_bus_kmh must be at least 0"),
        ("food_waste", "ef_food_kg_per_kg", "-2", "ef_food_kg_per_kg must be at least 0"),
        ("waste_sorting", "ef_landfill_paper", "-3", "ef_landfill_paper must be at least 0"),
    ],
)
def test_a_parameter_keeps_its_sign(code, name, value, problem):
    cls = registry.get_class(code)
    params = {**cls.default_params(), name: Decimal(value)}
    assert problem in "; ".join(cls.check_params(params))


def test_signed_factors_may_take_either_sign():
    cls = registry.get_class("waste_sorting")
    params = {**cls.default_params(), "ef_recycling_glass": Decimal("0.1")}
    assert cls.check_params(params) == []
    assert cls.parameter("ef_recycling_glass").bounds() == (None, None)
    assert cls.parameter("ef_landfill_paper").bounds() == (Decimal(0), None)
