"""Afforestation: the stock-difference formula per species, the §3.4 curves, the §5 areas."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import ROUND_CEILING, Decimal
from typing import Any

import pytest

from methodologies import ActivityError, registry
from methodologies import afforestation as af

M = af.Afforestation()
P = M.default_params()
FIR = [{"species": "chinese_fir", "share": 1}]
BROADLEAF = [{"species": "mixed_broadleaf", "share": 1}]
# events_forest.md §5: 39,502.667 kg, the event_footprint result for the worked example
# (10,612 + 7,200 + 3,690.667 + 12,000 + 6,000 kg; see test_event_footprint.py).
WORKED_EMISSIONS_G = 39_502_667


def planting(mix: list[dict[str, Any]] | None = None, **overrides: Any) -> dict[str, Any]:
    return {
        "species_mix": mix or FIR,
        "area_ha": 1,
        "planting_year": 2027,
        "horizon_years": 20,
        **overrides,
    }


def pure(species: str) -> af.Mix:
    return ((species, Decimal(1)),)


# tCO2 per m³ of stem = SVD × BEF × (1 + R) × CF × 44/12; reference §3.3 last column.
FACTOR_TABLE = [
    ("chinese_fir", "1.1917", "1.19"),  # 0.307 × 1.634 × 1.246 × 0.520 × 44/12
    ("masson_pine", "1.1199", "1.12"),  # 0.380 × 1.472 × 1.187 × 0.460 × 44/12
    ("camphor", "1.4927", "1.49"),  # 0.460 × 1.412 × 1.275 × 0.4916 × 44/12
    ("schima", "2.5960", "2.60"),  # 0.598 × 1.894 × 1.258 × 0.4969 × 44/12
    ("sweetgum", "2.6592", "2.66"),  # 0.598 × 1.765 × 1.398 × 0.4915 × 44/12
    ("mixed_broadleaf", "1.6546", "1.65"),  # 0.482 × 1.514 × 1.262 × 0.490 × 44/12
]


@pytest.mark.parametrize(("species", "factor", "reference"), FACTOR_TABLE)
def test_carbon_factor_per_species(species: str, factor: str, reference: str) -> None:
    value = af.carbon_factor(species, P)
    assert round(value, 4) == Decimal(factor)
    assert round(value, 2) == Decimal(reference)


# Net grams for 1 ha at age 10 and 20: V(t) × factor × (1 − 0.15 − 0.05) × 10⁶.
# The curves: fir A=300 k=0.09 c=3; every other species the broadleaf A=220 k=0.07 c=2.5.
# V10 fir = 300 × (1 − e^−0.9)^3 = 62.6947; V20 = 300 × (1 − e^−1.8)^3 = 174.4674 m³/ha.
# V10 broadleaf = 220 × (1 − e^−0.7)^2.5 = 39.5583; V20 = 220 × (1 − e^−1.4)^2.5 = 108.3905.
SPECIES_TABLE = [
    ("chinese_fir", 10, 59_772_817),  # 62.6947 × 1.19174 = 74.7160 t × 0.8 = 59.7728 t
    ("chinese_fir", 20, 166_336_463),  # 174.4674 × 1.19174 = 207.9206 t × 0.8 = 166.3365 t
    ("masson_pine", 10, 35_440_413),  # 39.5583 × 1.11988 = 44.3005 t × 0.8 = 35.4404 t
    ("masson_pine", 20, 97_107_432),  # 108.3905 × 1.11988 = 121.3843 t × 0.8 = 97.1074 t
    ("camphor", 10, 47_240_383),  # 39.5583 × 1.49275 = 59.0505 t × 0.8 = 47.2404 t
    ("camphor", 20, 129_439_582),  # 108.3905 × 1.49275 = 161.7995 t × 0.8 = 129.4396 t
    ("schima", 10, 82_154_171),  # 39.5583 × 2.59599 = 102.6927 t × 0.8 = 82.1542 t
    ("schima", 20, 225_104_051),  # 108.3905 × 2.59599 = 281.3801 t × 0.8 = 225.1041 t
    ("sweetgum", 10, 84_154_125),  # 39.5583 × 2.65918 = 105.1927 t × 0.8 = 84.1541 t
    ("sweetgum", 20, 230_583_964),  # 108.3905 × 2.65918 = 288.2300 t × 0.8 = 230.5840 t
    ("mixed_broadleaf", 10, 52_363_320),  # 39.5583 × 1.65463 = 65.4541 t × 0.8 = 52.3633 t
    ("mixed_broadleaf", 20, 143_476_529),  # 108.3905 × 1.65463 = 179.3457 t × 0.8 = 143.4765 t
]


@pytest.mark.parametrize(("species", "horizon", "expected_g"), SPECIES_TABLE)
def test_removal_per_species(species: str, horizon: int, expected_g: int) -> None:
    activity = planting([{"species": species, "share": 1}], horizon_years=horizon)
    assert M.validate(activity, P) == []
    q = M.quantify(activity, P)
    assert (q.baseline_g, q.project_g, q.reduction_g) == (0, -expected_g, expected_g)
    assert q.steps[-1].value == str(expected_g)


# Reference §3.4: cumulative gross sink in tCO2/ha, to the whole tonne. Its broadleaf
# 10-year 66 is loose: its own 4.36 t/mu × 15 = 65.4, and ours is 65.45; hence ±1 t.
@pytest.mark.parametrize(
    ("age", "fir", "broadleaf"),
    [(5, 17, 17), (10, 75, 66), (15, 145, 124), (20, 208, 179), (30, 290, 263)],
)
def test_curves_reproduce_reference_table(age: int, fir: int, broadleaf: int) -> None:
    def gross(species: str) -> Decimal:
        return af.volume(species, age, P) * af.carbon_factor(species, P)

    assert abs(gross("chinese_fir") - fir) <= 1
    assert abs(gross("mixed_broadleaf") - broadleaf) <= 1


# Reference §5: cumulative gross sink per mu, to 0.01 t (tCO2/ha ÷ 15).
@pytest.mark.parametrize(
    ("species", "age", "per_mu"),
    [
        ("chinese_fir", 10, "4.98"),
        ("chinese_fir", 20, "13.86"),
        ("mixed_broadleaf", 10, "4.36"),
        ("mixed_broadleaf", 20, "11.96"),
    ],
)
def test_per_mu_sink_matches_worked_example(species: str, age: int, per_mu: str) -> None:
    gross = af.volume(species, age, P) * af.carbon_factor(species, P) / 15
    assert round(gross, 2) == Decimal(per_mu)


@pytest.mark.parametrize(
    ("species", "age", "volume"),
    [
        ("chinese_fir", 10, "62.7"),
        ("chinese_fir", 20, "174.5"),
        ("mixed_broadleaf", 10, "39.6"),
        ("mixed_broadleaf", 20, "108.4"),
    ],
)
def test_volume_matches_reference(species: str, age: int, volume: str) -> None:
    assert round(af.volume(species, age, P), 1) == Decimal(volume)
    assert af.volume(species, 0, P) == 0


def test_mix_is_the_area_weighted_sum() -> None:
    mix = [{"species": "chinese_fir", "share": 0.5}, {"species": "mixed_broadleaf", "share": 0.5}]
    # 2 ha half and half = 1 ha fir + 1 ha broadleaf = 166,336,463 + 143,476,529 g
    assert M.quantify(planting(mix, area_ha=2), P).reduction_g == 309_812_992


def test_area_in_mu_equals_area_in_ha() -> None:
    by_mu = planting(area_ha=None, area_mu=15)
    assert M.quantify(by_mu, P).reduction_g == M.quantify(planting(), P).reduction_g


def test_shares_within_tolerance_are_normalised() -> None:
    half = [{"species": "chinese_fir", "share": "0.5"}]
    assert [r.code for r in M.validate(planting(half), P)] == ["shares_not_one"]
    near = [{"species": "chinese_fir", "share": "0.9995"}]
    assert M.validate(planting(near), P) == []
    # 0.9995 / 0.9995 = 1: the same as a pure stand
    assert M.quantify(planting(near), P).reduction_g == 166_336_463


# --- the §5 worked example: forest needed for ≈ 39.5 t --------------------------------------


@pytest.mark.parametrize(
    ("mix", "horizon", "raw_mu", "deducted_mu", "planned_mu", "seedlings"),
    [
        # The reference's §5 table: raw mu, then "≈" mu with the 20% deduction.
        # per mu: 74.716 t/ha / 15 = 4.981 t; 39.503 / 4.981 = 7.93 (ref 7.9);
        # / 0.8 = 9.91 (ref ≈ 10); rounded up to 0.1 mu: 10.0 mu = 0.6667 ha;
        # seedlings 2,700/ha × 10/15 ha = 1,800 (reference: ~180/mu × 10 mu = 1,800)
        (FIR, 10, "7.9", "10", "10.0", 1800),
        # 207.921 / 15 = 13.861 t/mu; 39.503 / 13.861 = 2.850 (ref 2.9); / 0.8 = 3.56 (ref 3.6)
        # 3.6 mu = 0.24 ha × 2,700 = 648
        (FIR, 20, "2.9", "3.6", "3.6", 648),
        # 65.454 / 15 = 4.364 t/mu; 39.503 / 4.364 = 9.05 (ref 9.1); / 0.8 = 11.32 (ref 11.3);
        # rounded up: 11.4 mu = 0.76 ha × 1,650 = 1,254 (reference: ~110/mu -> ~1,250)
        (BROADLEAF, 10, "9.1", "11.3", "11.4", 1254),
        # 179.346 / 15 = 11.956 t/mu; 39.503 / 11.956 = 3.30 (ref 3.3); / 0.8 = 4.13 (ref 4.1);
        # rounded up: 4.2 mu = 0.28 ha × 1,650 = 462
        (BROADLEAF, 20, "3.3", "4.1", "4.2", 462),
    ],
)
def test_worked_example_forest_area(
    mix: list[dict[str, Any]],
    horizon: int,
    raw_mu: str,
    deducted_mu: str,
    planned_mu: str,
    seedlings: int,
) -> None:
    species = mix[0]["species"]
    emissions_t = Decimal(WORKED_EMISSIONS_G) / 1_000_000
    net_per_mu = af.net_per_ha(pure(species), horizon, P) / 15
    deducted = emissions_t / net_per_mu
    raw = deducted * af.net_fraction(P)  # the same without the 20% deduction
    # The reference rounds to about 0.1 mu (fir 10-year deducted to the whole mu).
    assert abs(raw - Decimal(raw_mu)) <= Decimal("0.1")
    assert abs(deducted - Decimal(deducted_mu)) <= Decimal("0.1")
    plan = af.plan_area(WORKED_EMISSIONS_G, mix, horizon, P)
    assert plan.area_mu == Decimal(planned_mu)
    assert plan.seedlings == seedlings
    assert plan.break_even_age == horizon
    assert plan.removal_g >= WORKED_EMISSIONS_G


def test_worked_example_fir_10_years_within_brief_range() -> None:
    # "≈ 8–10 mu of Chinese fir over 10 years, 3–4 mu over 20 years" (with the deduction)
    assert Decimal(8) <= af.plan_area(WORKED_EMISSIONS_G, FIR, 10, P).area_mu <= Decimal(10)
    for mix in (FIR, BROADLEAF):
        assert Decimal(3) <= af.plan_area(WORKED_EMISSIONS_G, mix, 20, P).area_mu <= Decimal("4.2")


# --- plan_area, curve, break-even, trees --------------------------------------------------


@pytest.mark.parametrize(
    ("emissions_g", "mix", "horizon"),
    [
        (WORKED_EMISSIONS_G, FIR, 10),
        (WORKED_EMISSIONS_G, BROADLEAF, 20),
        (1, FIR, 10),
        (
            6_674_000_000,
            [
                {"species": "schima", "share": 0.3},
                {"species": "camphor", "share": 0.3},
                {"species": "sweetgum", "share": 0.4},
            ],
            20,
        ),  # G20 2016: 6,674 t
        (25_000_000, [{"species": "masson_pine", "share": 1}], 5),
    ],
)
def test_plan_area_is_minimal(emissions_g: int, mix: list[dict[str, Any]], horizon: int) -> None:
    plan = af.plan_area(emissions_g, mix, horizon, P, planting_year=2027)

    def removal(**area: Any) -> int:
        activity = {"species_mix": mix, "planting_year": 2027, "horizon_years": horizon, **area}
        return M.quantify(activity, P).reduction_g

    assert removal(area_mu=plan.area_mu) >= emissions_g
    assert removal(area_ha=plan.area_ha) >= emissions_g  # area_ha is rounded up
    if plan.area_mu > Decimal("0.1"):
        assert removal(area_mu=plan.area_mu - Decimal("0.1")) < emissions_g
    assert plan.area_mu == plan.area_mu.quantize(Decimal("0.1"))
    assert plan.curve[-1].cumulative_g == plan.removal_g
    assert plan.curve[0].year == 2027 and plan.curve[-1].year == 2027 + horizon
    json.dumps(plan.as_dict())


def test_plan_area_seedlings_per_species() -> None:
    mix = [{"species": "chinese_fir", "share": 0.5}, {"species": "mixed_broadleaf", "share": 0.5}]
    plan = af.plan_area(WORKED_EMISSIONS_G, mix, 20, P)
    ha = plan.area_mu / 15
    # ceil(0.5 × ha × 2,700) + ceil(0.5 × ha × 1,650)
    fir = (ha * 1350).to_integral_value(rounding=ROUND_CEILING)
    broadleaf = (ha * 825).to_integral_value(rounding=ROUND_CEILING)
    assert plan.seedlings_by_species == (
        ("chinese_fir", int(fir)),
        ("mixed_broadleaf", int(broadleaf)),
    )
    assert plan.seedlings == int(fir + broadleaf)


def test_plan_area_rejects_bad_input() -> None:
    with pytest.raises(ValueError):
        af.plan_area(0, FIR, 10, P)
    with pytest.raises(ActivityError) as bamboo:
        af.plan_area(1000, [{"species": "moso_bamboo", "share": 1}], 10, P)
    assert bamboo.value.field == "species_unsupported"
    with pytest.raises(ActivityError):
        af.plan_area(1000, FIR, 61, P)


@pytest.mark.parametrize("species", [*af.SPECIES, "mix"])
def test_curve_is_monotonic(species: str) -> None:
    mix = (
        [{"species": s, "share": Decimal(1) / len(af.SPECIES)} for s in af.SPECIES]
        if species == "mix"
        else [{"species": species, "share": 1}]
    )
    activity = planting(mix, horizon_years=60)
    points = af.curve(activity, P)
    assert [p.age for p in points] == list(range(61))
    assert points[0].cumulative_g == 0 and points[0].year == 2027
    assert all(a.cumulative_g <= b.cumulative_g for a, b in zip(points, points[1:], strict=False))
    assert points[-1].cumulative_g == M.quantify(activity, P).reduction_g


def test_break_even_age_of_a_larger_planting() -> None:
    points = af.curve(planting(horizon_years=20), P)
    # 1 ha of fir: 38.67 t net at age 8, 48.93 t at age 9 -> covers 39.5 t in year 9
    assert af.break_even_age(points, WORKED_EMISSIONS_G) == 9
    assert af.break_even_age(points, 10**12) is None


def test_trees_equivalent() -> None:
    # half fir, half broadleaf per ha at 20 years: (207.921 + 179.346) / 2 × 0.8 = 154.907 t;
    # stems (2,700 + 1,650) / 2 = 2,175 -> 71.22 kg per tree over 20 years = 3,561 g/yr
    assert round(af.tree_year_g(P)) == 3561
    assert af.trees_equivalent(1_000_000, P) == Decimal("280.81")  # 1 t / 3.561 kg
    assert af.trees_equivalent(3561, P) == Decimal("1.00")


# --- rejections ---------------------------------------------------------------------------

REJECTIONS = [
    ("species_unknown", planting([{"species": "oak", "share": 1}])),
    ("species_unsupported", planting([{"species": "moso_bamboo", "share": 1}])),
    (
        "species_duplicate",
        planting(
            [{"species": "chinese_fir", "share": 0.5}, {"species": "chinese_fir", "share": 0.5}]
        ),
    ),
    (
        "share_not_positive",
        planting([{"species": "chinese_fir", "share": 1}, {"species": "camphor", "share": 0}]),
    ),
    ("shares_not_one", planting([{"species": "chinese_fir", "share": "0.998"}])),
    (
        "shares_not_one",
        planting([{"species": "chinese_fir", "share": 0.6}, {"species": "camphor", "share": 0.6}]),
    ),
    ("species_mix_empty", {**planting(), "species_mix": []}),
    ("area_not_positive", planting(area_ha=0)),
    ("area_not_positive", planting(area_ha=None, area_mu=-1)),
    ("horizon_out_of_range", planting(horizon_years=0)),
    ("horizon_out_of_range", planting(horizon_years=61)),
]


@pytest.mark.parametrize(("code", "activity"), REJECTIONS)
def test_rejection(code: str, activity: dict[str, Any]) -> None:
    rejections = M.validate(activity, P)
    assert [r.code for r in rejections] == [code]
    assert rejections[0].reason.zh_CN and rejections[0].reason.en
    with pytest.raises(ActivityError):
        M.quantify(activity, P)


def test_bamboo_reason_explains_its_own_stock_model() -> None:
    (rejection,) = M.validate(planting([{"species": "moso_bamboo", "share": 1}]), P)
    assert "竹" in rejection.reason.zh_CN and "bamboo" in rejection.reason.en
    assert "model" in rejection.reason.en


def test_horizon_bounds_accepted() -> None:
    assert M.validate(planting(horizon_years=1), P) == []
    assert M.validate(planting(horizon_years=60), P) == []


@pytest.mark.parametrize(
    "activity",
    [
        {**planting(), "area_mu": 15},  # both areas
        planting(area_ha=None),  # neither
        {**planting(), "species_mix": "chinese_fir"},
        {**planting(), "species_mix": [{"species": "chinese_fir"}]},
        {**planting(), "species_mix": [{"share": 1}]},
        planting([{"species": "chinese_fir", "share": "all"}]),
        {**planting(), "planting_year": None},
        planting(planting_year=2027.5),
        planting(horizon_years="ten"),
    ],
)
def test_malformed_activity_raises(activity: dict[str, Any]) -> None:
    with pytest.raises(ActivityError):
        M.validate(activity, P)


# --- window, registry, parameters ---------------------------------------------------------


def test_window_spans_the_horizon() -> None:
    w = M.window(planting(horizon_years=10))
    assert w.start == datetime(2026, 12, 31, 16, tzinfo=UTC)  # 2027-01-01 +08:00
    assert w.end == datetime(2036, 12, 31, 16, tzinfo=UTC)


def test_registered() -> None:
    assert isinstance(registry.get("afforestation"), af.Afforestation)
    assert (M.code, M.version) == ("afforestation", "1.0.0")
    json.dumps(M.describe(), ensure_ascii=False)


SPECIES_PARAMETERS = (
    "svd",
    "bef",
    "root_shoot",
    "cf",
    "richards_a",
    "richards_k",
    "richards_c",
    "density",
)


def test_every_parameter_has_a_graded_illustrative_source() -> None:
    names = {p.name for p in M.parameters}
    expected = {f"species.{s}.{n}" for s in af.SPECIES for n in SPECIES_PARAMETERS}
    expected |= {
        "deduction.survival",
        "deduction.uncertainty",
        "trees.horizon_years",
        "trees.mix.chinese_fir",
        "trees.mix.mixed_broadleaf",
    }
    assert names == expected and len(names) == len(M.parameters)
    for p in M.parameters:
        assert p.source.document and p.source.year and p.unit
        assert p.label.zh_CN and p.label.en
        # §3.3 factors are [R] (grade C); curves, densities and deductions are [D]
        assert p.source.illustrative, p.name
        wood = p.name.rsplit(".", 1)[1] in {"svd", "bef", "root_shoot", "cf"}
        assert p.source.grade == ("C" if wood else "D"), p.name
    assert P["deduction.survival"] + P["deduction.uncertainty"] == Decimal("0.20")
