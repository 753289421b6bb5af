"""Event footprint: the §5 worked example, one hand-computed line per kind, and the rules."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from methodologies import ActivityError, registry
from methodologies import event_footprint as ef

M = ef.EventFootprint()
P = M.default_params()

# shared/reference/events_forest.md §5: 2-day conference, 500 people, Quzhou.
WORKED_EXAMPLE: dict[str, Any] = {
    "participants": 500,
    "starts_on": "2027-05-20",
    "ends_on": "2027-05-21",
    "lines": [
        {"category": "purchased_energy", "kind": "electricity", "amount": 20000, "unit": "kWh"},
        {"category": "travel", "kind": "hsr", "travellers": 300, "trips": 2, "distance_km": 300},
        {"category": "travel", "kind": "car", "travellers": 200, "trips": 2, "distance_km": 80},
        {"category": "accommodation", "kind": "hotel", "amount": 400, "unit": "room_night"},
        {"category": "catering", "kind": "meal", "amount": 3000},
    ],
}


def one_line(category: str, kind: str, **fields: Any) -> dict[str, Any]:
    return {"participants": 500, "lines": [{"category": category, "kind": kind, **fields}]}


def codes(activity: dict[str, Any]) -> list[str]:
    return [r.code for r in M.validate(activity, P)]


def test_worked_example_reproduces_reference_total() -> None:
    fp = ef.footprint(WORKED_EXAMPLE, P)
    # electricity 20,000 kWh × 0.5306            = 10,612.000 kg
    # HSR 300 × 2 × 300 km = 180,000 pkm × 0.04   =  7,200.000 kg
    # car 200 × 2 × 80 = 32,000 pkm × 0.173 / 1.5 =  3,690.667 kg (21,333 vkm)
    # hotel 400 room-nights × 30                  = 12,000.000 kg
    # meals 3,000 × 2.0                           =  6,000.000 kg
    # total                                        = 39,502.667 kg ≈ 39.5 t (reference: ≈ 39.5)
    assert [line.result_g for line in fp.lines] == [
        10_612_000,
        7_200_000,
        3_690_667,
        12_000_000,
        6_000_000,
    ]
    assert fp.total_g == 39_502_667
    assert dict(fp.subtotals_g) == {
        "purchased_energy": 10_612_000,
        "travel": 10_890_667,
        "accommodation": 12_000_000,
        "catering": 6_000_000,
    }
    assert fp.per_participant_g == 79_005  # 39,502,667 / 500 = 79,005.33
    q = M.quantify(WORKED_EXAMPLE, P)
    assert (q.baseline_g, q.project_g, q.reduction_g) == (0, 39_502_667, 0)
    assert len(q.steps) == len(fp.lines) + 1
    assert q.steps[-1].value == "39502667"


def test_worked_example_sensitivity_cases() -> None:
    low = {
        **P,
        "ef.travel.hsr": Decimal("0.02"),
        "travel.car_occupancy": Decimal(2),
        "ef.accommodation.hotel": Decimal(15),
        "ef.catering.meal": Decimal("1.0"),
    }
    # 10,612 + 3,600 + 32,000/2 × 0.173 = 2,768 + 6,000 + 3,000 = 25,980 kg (reference: ≈ 26 t)
    assert ef.footprint(WORKED_EXAMPLE, low).total_g == 25_980_000
    high = {
        **P,
        "ef.purchased_energy.electricity": Decimal("0.55"),
        "ef.travel.hsr": Decimal("0.06"),
        "travel.car_occupancy": Decimal(1),
        "ef.travel.car_vkm": Decimal("0.19567"),
        "ef.accommodation.hotel": Decimal(60),
        "ef.catering.meal": Decimal("4.0"),
    }
    # 11,000 + 10,800 + 32,000 × 0.19567 = 6,261.44 + 24,000 + 12,000 = 64,061.44 kg (≈ 64 t)
    assert ef.footprint(WORKED_EXAMPLE, high).total_g == 64_061_440


# One hand-computed line per kind: amount, then the factor arithmetic, then grams.
LINE_TABLE = [
    # 389.31/10^4 GJ/m3 × 15.32 kgC/GJ × 0.99 × 44/12 = 2.1650151996 kg/m3; × 1,000 m3
    ("stationary_fuel", "natural_gas", 1000, 2_165_015),
    # 50.179/1000 × 17.20 × 0.98 × 44/12 = 3.101329821 kg/kg; × 100 kg = 310.1329821 kg
    ("stationary_fuel", "lpg", 100, 310_133),
    # 42.652/1000 × 20.20 × 0.98 × 44/12 = 3.0959096 kg/kg × 0.84 kg/L = 2.6005641 kg/L; × 100 L
    ("stationary_fuel", "diesel", 100, 260_056),
    ("mobile_fuel", "diesel", 100, 260_056),
    # 43.070/1000 × 18.90 × 0.98 × 44/12 = 2.9250560 kg/kg × 0.74 kg/L = 2.1645414 kg/L; × 100 L
    ("mobile_fuel", "gasoline", 100, 216_454),
    ("purchased_energy", "electricity", 20000, 10_612_000),  # 20,000 × 0.5306 = 10,612 kg
    ("purchased_energy", "electricity_residual", 1000, 609_600),  # 1,000 × 0.6096 = 609.6 kg
    ("purchased_energy", "heat", 10, 1_100_000),  # 10 GJ × 110 kg/GJ = 1,100 kg
    ("travel", "air", 1000, 120_000),  # 1,000 pkm × 0.12 = 120 kg
    ("travel", "hsr", 180000, 7_200_000),  # 180,000 pkm × 0.04 = 7,200 kg
    ("travel", "rail", 1000, 40_000),  # 1,000 × 0.04 = 40 kg
    ("travel", "coach", 1000, 30_000),  # 1,000 × 0.03 = 30 kg
    ("travel", "bus", 1000, 53_000),  # 1,000 × 0.053 = 53 kg
    ("travel", "metro", 1000, 43_000),  # 1,000 × 0.043 = 43 kg
    ("travel", "car", 32000, 3_690_667),  # 32,000 pkm × 0.173 / 1.5 = 3,690.667 kg
    ("travel", "taxi", 100, 17_300),  # 100 pkm × 0.173 / 1 = 17.3 kg
    ("accommodation", "hotel", 400, 12_000_000),  # 400 × 30 = 12,000 kg
    ("catering", "meal", 3000, 6_000_000),  # 3,000 × 2.0 = 6,000 kg
    ("materials", "paper", 50, 55_000),  # 50 kg × 1.1 = 55 kg
    ("materials", "plastics", 10, 20_000),  # 10 kg × 2.0 = 20 kg
    ("waste", "landfill", 200, 140_000),  # 200 kg × 0.7 = 140 kg
    ("waste", "incineration", 200, 80_000),  # 200 kg × 0.4 = 80 kg
]


@pytest.mark.parametrize(("category", "kind", "amount", "expected_g"), LINE_TABLE)
def test_line_arithmetic(category: str, kind: str, amount: int, expected_g: int) -> None:
    activity = one_line(category, kind, amount=amount)
    assert M.validate(activity, P) == []
    assert M.quantify(activity, P).project_g == expected_g


def test_line_table_covers_every_kind() -> None:
    catalogue = {(c, k) for c, kinds in ef.KINDS.items() for k in kinds}
    assert {(c, k) for c, k, _, _ in LINE_TABLE} == catalogue
    assert set(ef.KINDS) == set(ef.CATEGORIES)


@pytest.mark.parametrize(
    ("amount", "expected_g"),
    [
        ("0.00025", 1),  # 0.00025 meal × 2 kg × 1000 = 0.5 g -> 1 (half-up)
        ("0.00125", 3),  # 2.5 g -> 3 (half-up, not half-even)
        ("0.0002", 0),  # 0.4 g -> 0
    ],
)
def test_line_rounded_half_up_once(amount: str, expected_g: int) -> None:
    assert M.quantify(one_line("catering", "meal", amount=amount), P).project_g == expected_g


def test_trip_form_equals_passenger_km() -> None:
    trips = one_line("travel", "hsr", travellers=300, trips=2, distance_km=300)
    pkm = one_line("travel", "hsr", amount=180000, unit="pkm")
    assert ef.footprint(trips, P).total_g == ef.footprint(pkm, P).total_g == 7_200_000
    line = ef.footprint(trips, P).lines[0]
    assert line.amount == 180000
    assert line.activity_expression == "300 × 2 × 300 km = 180000 pkm"


def test_footprint_line_carries_factor_and_source() -> None:
    lines = ef.footprint(WORKED_EXAMPLE, P).lines
    electricity, hsr, car = lines[0], lines[1], lines[2]
    assert electricity.factor == Decimal("0.5306")
    assert electricity.factor_unit == "kgCO2e/kWh"
    assert electricity.source.grade == "B" and not electricity.source.illustrative
    assert hsr.source.grade == "D" and hsr.source.illustrative
    assert car.parameters == ("ef.travel.car_vkm", "travel.car_occupancy")
    assert car.factor_expression == "0.173 kgCO2e/vkm ÷ 1.5 pkm/vkm"
    json.dumps(ef.footprint(WORKED_EXAMPLE, P).as_dict(), ensure_ascii=False)


def test_fuel_factor_expression() -> None:
    value, expression = ef.factor(ef.KINDS["stationary_fuel"]["natural_gas"], P)
    assert round(value, 4) == Decimal("2.1650")  # reference: ≈ 2.16 kgCO2/Nm3
    assert expression == "389.31/10000 GJ × 15.32 kgC/GJ × 0.99 × 44/12"


# --- rejections ----------------------------------------------------------------------------

REJECTIONS = [
    ("no_lines", {"lines": []}),
    ("unknown_category", one_line("fireworks", "rocket", amount=1)),
    ("unknown_kind", one_line("travel", "rocket", amount=1)),
    ("unit_mismatch", one_line("purchased_energy", "electricity", amount=1, unit="MWh")),
    ("amount_not_positive", one_line("catering", "meal", amount=0)),
    ("amount_not_positive", one_line("catering", "meal", amount=-3)),
    ("amount_not_positive", one_line("travel", "hsr", travellers=0, trips=2, distance_km=10)),
    ("amount_not_positive", one_line("travel", "hsr", travellers=3, trips=2, distance_km=-1)),
    (
        "travel_without_participants",
        {"participants": 0, "lines": [{"category": "travel", "kind": "air", "amount": 1}]},
    ),
    (
        "travellers_exceed_participants",
        one_line("travel", "hsr", travellers=501, trips=2, distance_km=10),
    ),
    (
        "participants_negative",
        {"participants": -1, "lines": [{"category": "catering", "kind": "meal", "amount": 1}]},
    ),
    ("dates_reversed", {**WORKED_EXAMPLE, "starts_on": "2027-05-21", "ends_on": "2027-05-20"}),
    ("dates_incomplete", {**WORKED_EXAMPLE, "ends_on": None}),
]


@pytest.mark.parametrize(("code", "activity"), REJECTIONS)
def test_rejection(code: str, activity: dict[str, Any]) -> None:
    rejections = M.validate(activity, P)
    assert [r.code for r in rejections] == [code]
    assert rejections[0].reason.zh_CN and rejections[0].reason.en
    with pytest.raises(ActivityError):
        M.quantify(activity, P)


def test_valid_examples_have_no_rejections() -> None:
    assert codes(WORKED_EXAMPLE) == []
    # participants is optional; travel without a head count is fine
    assert codes({"lines": [{"category": "travel", "kind": "air", "amount": 1}]}) == []


@pytest.mark.parametrize(
    "activity",
    [
        {},
        {"lines": "electricity"},
        {"lines": ["electricity"]},
        {"lines": [{"category": "catering"}]},
        {"lines": [{"category": "catering", "kind": "meal"}]},
        {"lines": [{"category": "catering", "kind": "meal", "amount": "many"}]},
        {"lines": [{"category": "catering", "kind": "meal", "amount": True}]},
        {"lines": [{"category": "catering", "kind": "meal", "amount": 1, "unit": 5}]},
        {
            "lines": [
                {
                    "category": "catering",
                    "kind": "meal",
                    "travellers": 1,
                    "trips": 1,
                    "distance_km": 1,
                }
            ]
        },
        {"lines": [{"category": "travel", "kind": "hsr", "amount": 1, "travellers": 1}]},
        {"lines": [{"category": "travel", "kind": "hsr", "travellers": 1, "trips": 2}]},
        {
            "lines": [
                {
                    "category": "travel",
                    "kind": "hsr",
                    "travellers": 1.5,
                    "trips": 2,
                    "distance_km": 3,
                }
            ]
        },
        {"participants": 2.5, "lines": [{"category": "catering", "kind": "meal", "amount": 1}]},
        {**WORKED_EXAMPLE, "starts_on": "20 May"},
    ],
)
def test_malformed_activity_raises(activity: dict[str, Any]) -> None:
    with pytest.raises(ActivityError):
        M.validate(activity, P)


# --- window, registry, parameters ---------------------------------------------------------


def test_window_covers_local_days() -> None:
    w = M.window(WORKED_EXAMPLE)
    assert w.start == datetime(2027, 5, 19, 16, tzinfo=UTC)  # 05-20 00:00 +08:00
    assert w.end == datetime(2027, 5, 21, 16, tzinfo=UTC)  # 05-22 00:00 +08:00


def test_window_without_dates_overlaps_nothing() -> None:
    w = M.window({"lines": []})
    assert w.start == w.end
    assert not w.overlaps(w)


def test_registered() -> None:
    assert isinstance(registry.get("event_footprint"), ef.EventFootprint)
    assert (M.code, M.version) == ("event_footprint", "1.0.0")
    json.dumps(M.describe(), ensure_ascii=False)


# events_forest.md flags [R] or [D] (or says not in the reference) -> illustrative
ILLUSTRATIVE = {
    "ef.purchased_energy.heat",
    *(
        f"fuel.{f}.{p}"
        for f in ("natural_gas", "lpg", "gasoline", "diesel")
        for p in ("ncv", "cc", "of")
    ),
    "fuel.gasoline.density",
    "fuel.diesel.density",
    "ef.travel.air",
    "ef.travel.hsr",
    "ef.travel.rail",
    "ef.travel.coach",
    "ef.travel.car_vkm",
    "travel.car_occupancy",
    "travel.taxi_occupancy",
    "ef.accommodation.hotel",
    "ef.catering.meal",
    "ef.materials.paper",
    "ef.materials.plastics",
    "ef.waste.landfill",
    "ef.waste.incineration",
}
# [2H] second-hand (grade B), not illustrative
SECOND_HAND = {
    "ef.purchased_energy.electricity",
    "ef.purchased_energy.electricity_residual",
    "ef.travel.bus",
    "ef.travel.metro",
}


def test_every_parameter_has_a_graded_source() -> None:
    names = {p.name for p in M.parameters}
    assert names == ILLUSTRATIVE | SECOND_HAND
    assert len(names) == len(M.parameters)
    for p in M.parameters:
        assert p.source.document and p.source.year and p.unit
        assert p.source.grade in {"A", "B", "C", "D"}
        assert p.label.zh_CN and p.label.en
        assert p.source.illustrative == (p.name in ILLUSTRATIVE), p.name
        assert p.source.illustrative == (p.source.grade in {"C", "D"}), p.name


def test_every_kind_factor_uses_declared_parameters() -> None:
    names = {p.name for p in M.parameters}
    for kinds in ef.KINDS.values():
        for kind in kinds.values():
            assert set(ef.factor_parameters(kind)) <= names
            assert kind.unit in ef.UNITS
