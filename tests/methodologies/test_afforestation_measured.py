"""Measured removals (module 1.1.0): the stock of sample plots, the buffer and reversals,
with the arithmetic written out."""

from __future__ import annotations

from decimal import Decimal

import pytest

import methodologies
from methodologies import ActivityError
from methodologies import afforestation as af

M = af.AfforestationV11  # module 1.1.0: planning plus measured crediting
P = M.default_params()
# Chinese fir: 0.307 × 1.634 × (1 + 0.246) × 0.520 × 44/12 = 1.191744740853… tCO2/m³ (≈ the
# reference's 1.19, events_forest.md §3.3)
FIR_FACTOR = Decimal("0.307") * Decimal("1.634") * Decimal("1.246") * Decimal("0.520") * 44 / 12


def test_fir_factor_is_the_reference_figure() -> None:
    assert af.carbon_factor("chinese_fir", P) == FIR_FACTOR
    assert FIR_FACTOR.quantize(Decimal("0.01")) == Decimal("1.19")


@pytest.mark.parametrize(
    ("plots", "per_ha", "stock_g"),
    [
        # measured stock: (1.2 + 1.0) m³ on 800 m² = 27.5 m³/ha; 10 mu = 2/3 ha;
        # 2/3 × 27.5 × 1.191744740853 = 21.848653582 t -> 21,848,653 g (rounded down)
        (
            [{"area_m2": 400, "stock_m3": "1.2"}, {"area_m2": 400, "stock_m3": "1.0"}],
            "27.5",
            21_848_653,
        ),
        # trees × π/4 × DBH² × H × f: 20 × 0.785398 × 0.08² × 6 × 0.45 = 0.27143360527 m³ on
        # 100 m² = 27.143360527 m³/ha; 2/3 × 27.14336 × 1.19174474 = 21.5653 t
        (
            [{"area_m2": 100, "trees": 20, "mean_dbh_cm": 8, "mean_height_m": 6}],
            "27.14336052701581358031723884",
            21_565_304,
        ),
        # nothing standing: stock 0
        ([{"area_m2": 100, "stock_m3": 0}], "0", 0),
    ],
)
def test_block_stock_from_sample_plots(plots, per_ha, stock_g) -> None:
    result = af.measured_stock("chinese_fir", Decimal(10), plots, P)
    assert result.volume_per_ha == Decimal(per_ha)
    assert result.stock_g == stock_g
    exact = Decimal(10) / 15 * Decimal(per_ha) * FIR_FACTOR * 1_000_000
    assert result.stock_g == int(exact)  # rounded down, never up
    assert result.steps[-1].value == str(stock_g)
    assert result.as_dict()["stock_g"] == stock_g


@pytest.mark.parametrize(
    ("plots", "field"),
    [
        ([], "plots"),
        ([{"area_m2": 0, "stock_m3": 1}], "plots[1].area_m2"),
        ([{"area_m2": 100, "stock_m3": -1}], "plots[1].stock_m3"),
        (
            [{"area_m2": 100, "trees": "2.5", "mean_dbh_cm": 8, "mean_height_m": 6}],
            "plots[1].trees",
        ),
        ([{"area_m2": 100, "trees": 5}], "plots[1].mean_dbh_cm"),
        ([{"area_m2": 7000, "stock_m3": 1}], "plots"),  # more plot than the 6,667 m² block
        (["x"], "plots[1]"),
    ],
)
def test_bad_plots_are_refused(plots, field) -> None:
    with pytest.raises(ActivityError) as caught:
        af.measured_stock("chinese_fir", Decimal(10), plots, P)
    assert caught.value.field == field


def test_a_version_without_measurement_parameters_is_refused() -> None:
    old = {k: v for k, v in P.items() if k not in af.MEASUREMENT_PARAMETERS}
    assert not af.has_measurement_params(old)
    with pytest.raises(ActivityError) as caught:
        af.measured_stock("chinese_fir", Decimal(10), [{"area_m2": 1, "stock_m3": 1}], old)
    assert caught.value.field == "version"


@pytest.mark.parametrize(
    ("removal", "buffer", "counted"),
    [
        (1_000_000, 200_000, 800_000),  # 20% exactly
        (1_000_001, 200_001, 800_000),  # 200,000.2 -> buffer rounded up
        (4, 1, 3),  # 0.8 -> 1
        (0, 0, 0),
        (-5, 0, 0),  # a loss is a reversal, not a credit
    ],
)
def test_buffer_share_is_rounded_up_and_counted_down(removal, buffer, counted) -> None:
    credit = af.split_removal(removal, P)
    assert (credit.buffer_g, credit.counted_g) == (buffer, counted)
    assert credit.buffer_g + credit.counted_g == max(removal, 0)


@pytest.mark.parametrize(
    ("loss", "pool", "counted", "expected"),
    [
        (500, 1_000, 2_000, (500, 0, 0)),  # the buffer takes it all
        (1_500, 1_000, 2_000, (1_000, 500, 0)),  # buffer first, then counted
        (5_000, 1_000, 2_000, (1_000, 2_000, 2_000)),  # more than both: reported uncovered
        (0, 1_000, 2_000, (0, 0, 0)),
    ],
)
def test_a_loss_cancels_buffer_first(loss, pool, counted, expected) -> None:
    result = af.reversal(loss, pool, counted)
    assert (result.from_buffer_g, result.from_counted_g, result.uncovered_g) == expected
    assert result.from_buffer_g + result.from_counted_g + result.uncovered_g == loss


@pytest.mark.parametrize(
    ("stock", "measured", "surviving", "expected"),
    [
        (1_000, 100, 40, 400),
        (1_000, 3, 2, 666),  # 666.67 rounded down
        (1_000, 100, 100, 1_000),
        (1_000, 100, 120, 1_000),  # never above what was measured
        (1_000, 0, 0, 1_000),
    ],
)
def test_stock_scaled_to_survivors(stock, measured, surviving, expected) -> None:
    assert af.surviving_stock(stock, measured, surviving) == expected


@pytest.mark.parametrize(
    ("name", "value"),
    [("buffer.share", "1"), ("buffer.share", "-0.1"), ("measurement.form_factor", "0")],
)
def test_parameter_bounds(name, value) -> None:
    problems = M.check_params({**P, name: value})
    assert len(problems) == 1 and problems[0].startswith(name)
    assert M.check_params(P) == []


def test_module_1_0_0_stays_registered_for_versions_approved_under_it() -> None:
    assert methodologies.registry.module_versions("afforestation") == ["1.0.0", "1.1.0"]
    old = methodologies.registry.get_class("afforestation", "1.0.0")
    assert not af.has_measurement_params(old.default_params())
    assert af.has_measurement_params(M.default_params())
    # planning is the same under both
    activity = {
        "species_mix": [{"species": "chinese_fir", "share": 1}],
        "area_mu": 10,
        "planting_year": 2027,
        "horizon_years": 20,
    }
    assert old().quantify(activity, old.default_params()) == M().quantify(activity, P)
