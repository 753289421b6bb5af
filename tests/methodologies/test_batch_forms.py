"""The batch (columnar) forms equal the scalar forms, row by row, for every module version.

Each case is a chunk of partner records in both the forms the platform receives: a JSON
record (the scalar form reads it through ``backend.actions.numbers.loads``: integers as int,
other numbers as their exact text) and a CSV row (every value text). The batch form gets the
columns the ingestion builds from them: every top-level field as its source text, nested
values as compact JSON with the numbers as written. Where the batch form gives a value it
must be the scalar form's; where the scalar form raises, it must give none. Typical records
(the shapes ``flask demo generate`` writes for the bench partners, and the tests' shapes)
must all take the vectorised path.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backend.actions import numbers
from backend.demo.generate import synthetic_records
from methodologies import registry
from methodologies.base import LOCAL_TZ, ActivityError, Methodology
from methodologies.waste_sorting import CATEGORIES

PARTNER_MODULES = ("public_transit", "bike_sharing", "waste_sorting", "food_waste")
VERSIONS = [(code, v) for code in PARTNER_MODULES for v in registry.module_versions(code)]
SETTINGS = settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# A record: (the JSON text a partner sends; the CSV row, or None where the record has a
# nested value, which only JSON carries; the batch row).
Record = tuple[str, dict[str, str] | None, dict[str, str | None]]


# --- number texts ---------------------------------------------------------------------------


def decimal_text(low: int = 0, high: int = 60) -> st.SearchStrategy[str]:
    """Decimal texts as partners write them: typical one-decimal values, integers, many
    digits, zeros with trailing zeros, bounds, and the odd negative."""
    whole = st.integers(low, high)
    return st.one_of(
        st.builds(lambda w, f: f"{w}.{f}", whole, st.integers(0, 9)),
        st.builds(str, whole),
        st.builds(
            lambda w, f: f"{w}.{f}",
            whole,
            st.text("0123456789", min_size=1, max_size=20),
        ),
        st.sampled_from(["0", "0.0", "0.00000000000000000001", "2.28310502283105022831"]),
        st.builds(lambda w: f"-{w}", st.sampled_from(["0", "0.5", "3", "1.25"])),
        st.sampled_from(["15", "15.0", "40", "40.00", "40.0000000001", "30", "2", "2.000"]),
        st.sampled_from(["999999999.99999999999999999999", "1000000000", "12345678.9"]),
    )


ODD_NUMBERS = st.sampled_from(["1e3", " 2.5", "2_5", "", "abc", ".5", "5.", "+2.5", "٣", "1E-2"])


JSON_NUMBER = re.compile(r"-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?")


def json_number(text: str) -> str:
    """The JSON literal of a number text: as written where JSON allows it, else a string."""
    return text if JSON_NUMBER.fullmatch(text) else json.dumps(text)


OFFSETS = ["+08:00", "Z", "", "+00:00", "-05:30", "+08:00", ""]
EDGE_TIMES = [
    "2026-02-30T08:00:00",
    "soon",
    "1985-06-01T08:00",
    "1988-06-01T08:00:00+08:00",
    "1970-01-01T00:00:00+08:00",
    "1991-12-31T23:00:00",
    "1992-01-01T04:30:00",
    "2200-12-31T23:59:59-05:00",
    "2201-01-01T00:00:00Z",
    "2026-01-01T21:59:59.999999",
    "2026-01-01T22:00",
    "2026-01-01 05:00:00+08:00",
    "2026-01-01T12:00:00+0800",
    "2026-01-01T12:00:00.1234567",
]
BASE = datetime(2024, 1, 1)


def iso(at: datetime, offset: str, micro: bool) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%S" + (".%f" if micro else "")) + offset


def moment() -> st.SearchStrategy[str]:
    return st.builds(
        lambda s, o, u: iso(BASE + timedelta(seconds=s), o, u),
        st.integers(0, 86400 * 365 * 3),
        st.sampled_from(OFFSETS),
        st.booleans(),
    )


@st.composite
def span(draw: st.DrawFn) -> tuple[str, str]:
    """A trip's start and end texts: usually minutes apart, sometimes odd."""
    start = BASE + timedelta(seconds=draw(st.integers(0, 86400 * 365 * 3)))
    length = draw(
        st.one_of(
            st.integers(60, 3600 * 3),
            st.integers(900, 3600),
            st.integers(-120, 120),
            st.sampled_from([0, 59, 60, 61, 10800, 10801, 10800 * 8]),
        )
    )
    micro = draw(st.integers(0, 999_999)) if draw(st.booleans()) else 0
    end = start + timedelta(seconds=length, microseconds=micro)
    offset = draw(st.sampled_from(OFFSETS))
    end_offset = offset if draw(st.integers(0, 4)) else draw(st.sampled_from(OFFSETS))
    bad = draw(st.sampled_from([None] * 12 + EDGE_TIMES))
    return (bad or iso(start, offset, micro > 0), iso(end, end_offset, micro > 0))


# --- records --------------------------------------------------------------------------------


def record(fields: dict[str, tuple[str, str] | None]) -> Record:
    """A record from its fields: name -> (JSON literal, source text), None for absent."""
    present = {k: v for k, v in fields.items() if v is not None}
    json_text = "{" + ",".join(f"{json.dumps(k)}:{lit}" for k, (lit, _) in present.items()) + "}"
    nested = any(lit.startswith(("[", "{")) for lit, _ in present.values())
    csv_row = None if nested else {k: text for k, (_, text) in present.items()}
    batch_row: dict[str, str | None] = {k: (v[1] if v else None) for k, v in fields.items()}
    return json_text, csv_row, batch_row


def string(value: str) -> tuple[str, str]:
    return json.dumps(value), value


def num(text: str, quoted: bool = False) -> tuple[str, str]:
    return (json.dumps(text) if quoted else json_number(text)), text


@st.composite
def trip(draw: st.DrawFn, kind_field: str, kinds: tuple[str, ...]) -> Record:
    kind = draw(st.sampled_from([*kinds, *kinds, "walk"]))
    plausible = st.builds(lambda w, f: f"{w}.{f}", st.integers(1, 9), st.integers(0, 99))
    distance = draw(st.one_of(plausible, decimal_text(), ODD_NUMBERS) | st.none())
    start, end = draw(span())
    fields: dict[str, tuple[str, str] | None] = {
        kind_field: string(kind),
        "distance_km": None if distance is None else num(distance, draw(st.booleans())),
        "started_at": string(start),
        "ended_at": string(end),
    }
    if kind_field == "mode" and draw(st.integers(0, 3)) == 0:
        for name, (low, high) in {
            "boarding_lat": (28, 29),
            "boarding_lon": (118, 119),
            "alighting_lat": (28, 29),
            "alighting_lon": (118, 119),
        }.items():
            fields[name] = num(f"{draw(st.integers(low, high))}.{draw(st.integers(0, 99999))}")
    if kind_field == "mode" and draw(st.booleans()):
        stops = st.sampled_from(["S1", "S2", "true", "S1 "])
        fields["boarding_stop"] = string(draw(stops))
        fields["alighting_stop"] = draw(st.none() | stops.map(string))
        fields["line"] = string("K1")
    return record(fields)


@st.composite
def waste(draw: st.DrawFn) -> Record:
    n = draw(st.integers(0, 5))
    pairs = [
        (
            draw(st.sampled_from([*CATEGORIES, *CATEGORIES, "cloth"])),
            draw(st.one_of(decimal_text(0, 35), decimal_text(0, 35), ODD_NUMBERS)),
        )
        for _ in range(n)
    ]
    fields: dict[str, tuple[str, str] | None] = {
        "collected_at": string(draw(moment() | st.sampled_from(EDGE_TIMES))),
        "weighed": draw(st.sampled_from([None, ("true", "true"), ("false", "false")])),
    }
    if draw(st.integers(0, 3)) == 0 and all(w.strip() and ";" not in w for _, w in pairs):
        # the CSV text form (also what a JSON string value holds)
        fields["items"] = string(";".join(f"{c}:{w}" for c, w in pairs))
        return record(fields)
    objects = []
    for category, weight in pairs:
        w = json.dumps(weight) if draw(st.booleans()) else json_number(weight)
        c = json.dumps(category)
        first = draw(st.booleans())
        objects.append(
            f'{{"category":{c},"weight_kg":{w}}}'
            if first
            else f'{{"weight_kg":{w},"category":{c}}}'
        )
    compact = "[" + ",".join(objects) + "]"
    fields["items"] = (compact, compact)
    return record(fields)


@st.composite
def meal(draw: st.DrawFn) -> Record:
    diners = draw(
        st.one_of(
            st.none(),
            st.builds(str, st.integers(-1, 25)),
            st.sampled_from(["2.0", "3.00", "2.5", "1e1", " 2", "0"]),
        )
    )
    portion = draw(st.one_of(st.none(), decimal_text(0, 3), ODD_NUMBERS))
    at = draw(
        st.one_of(
            moment(),
            st.sampled_from([*EDGE_TIMES, "2026-01-01"]),
        )
    )
    kinds = ["clean_plate", "small_portion", "small_portion", "?"]
    fields: dict[str, tuple[str, str] | None] = {
        "kind": string(draw(st.sampled_from(kinds))),
        "meal_at": string(at),
        "diners": None if diners is None else num(diners, draw(st.booleans())),
        "portion_reduction_kg": None if portion is None else num(portion, draw(st.booleans())),
    }
    return record(fields)


STRATEGIES: dict[str, Callable[[], st.SearchStrategy[Record]]] = {
    "food_waste": meal,
    "public_transit": lambda: trip("mode", ("bus", "rail")),
    "bike_sharing": lambda: trip("bike_type", ("pedal", "ebike")),
    "waste_sorting": waste,
}


# --- the comparison ---------------------------------------------------------------------------


def scalar(m: Methodology, activity: dict[str, Any], params: dict[str, Decimal]) -> Any:
    try:
        q = m.quantify(activity, params)
    except (ActivityError, ValueError, ArithmeticError, LookupError, TypeError):
        return None
    return (q.baseline_g, q.project_g, q.reduction_g)


def frame(rows: list[dict[str, str | None]]) -> pl.DataFrame:
    names = sorted({name for row in rows for name in row})
    return pl.DataFrame(
        {name: [row.get(name) for row in rows] for name in names},
        schema={name: pl.String for name in names},
    )


def check(m: Methodology, records: list[Record], params: dict[str, Decimal]) -> int:
    """Batch == scalar for every row given a value, in both channels; the rows given one."""
    got = m.quantify_batch(frame([r[2] for r in records]), params)
    assert got.height == len(records)
    assert got.dtypes == [pl.Int64] * 3
    done = 0
    for (json_text, csv_row, _), row in zip(records, got.rows(), strict=True):
        assert row.count(None) in (0, 3), row
        if row[0] is None:
            continue
        done += 1
        assert row == scalar(m, numbers.loads(json_text), params), json_text
        if csv_row is not None:
            assert row == scalar(m, dict(csv_row), params), csv_row
    return done


def passes(m: Methodology, activity: dict[str, Any], params: dict[str, Decimal]) -> bool:
    try:
        return m.validate(activity, params) == []
    except ActivityError:
        return False


def check_valid(m: Methodology, records: list[Record], params: dict[str, Decimal]) -> int:
    """Every row the batch validation passes passes ``validate`` in both channels; the
    number of rows it passes (False or null rows are the scalar form's to decide)."""
    got = m.validate_batch(frame([r[2] for r in records]), params)
    assert got.dtype == pl.Boolean
    assert got.len() == len(records)
    for (json_text, csv_row, _), valid in zip(records, got.to_list(), strict=True):
        if valid:
            assert passes(m, numbers.loads(json_text), params), json_text
            if csv_row is not None:
                assert passes(m, dict(csv_row), params), csv_row
    return int(got.sum() or 0)


@pytest.mark.parametrize(("code", "version"), [v for v in VERSIONS if v[0] in STRATEGIES])
@SETTINGS
@given(data=st.data())
def test_quantify_batch_equals_quantify(code: str, version: str, data: st.DataObject) -> None:
    m = registry.get(code, version)
    records = data.draw(st.lists(STRATEGIES[code](), min_size=1, max_size=20))
    check(m, records, m.default_params())


@pytest.mark.parametrize("code", PARTNER_MODULES)
@SETTINGS
@given(data=st.data())
def test_validate_batch_passes_only_what_validate_passes(code: str, data: st.DataObject) -> None:
    m = registry.get(code)  # validation rules are the same in every module version
    records = data.draw(st.lists(STRATEGIES[code](), min_size=1, max_size=20))
    check_valid(m, records, m.default_params())


def scalar_window(m: Methodology, activity: dict[str, Any], span: bool) -> Any:
    try:
        w = m.span(activity) if span else m.window(activity)
    except ActivityError:
        return None
    return (w.start, w.end)


def check_windows(m: Methodology, records: list[Record]) -> int:
    """Batch spans and windows equal the scalar ones where given; the rows given both."""
    columns = frame([r[2] for r in records])
    spans, windows = m.span_batch(columns), m.window_batch(columns)
    done = 0
    for got, span in ((spans, True), (windows, False)):
        assert got.schema == {"start": pl.Datetime("us", "UTC"), "end": pl.Datetime("us", "UTC")}
        assert got.height == len(records)
        for (json_text, csv_row, _), row in zip(records, got.rows(), strict=True):
            assert row.count(None) in (0, 2), row
            if row[0] is None:
                continue
            done += 1
            assert row == scalar_window(m, numbers.loads(json_text), span), json_text
            if csv_row is not None:
                assert row == scalar_window(m, dict(csv_row), span), csv_row
    return done


@pytest.mark.parametrize("code", PARTNER_MODULES)
@SETTINGS
@given(data=st.data())
def test_span_and_window_batch_equal_span_and_window(code: str, data: st.DataObject) -> None:
    m = registry.get(code)  # spans and windows are the same in every module version
    check_windows(m, data.draw(st.lists(STRATEGIES[code](), min_size=1, max_size=20)))


# --- typical records all take the vectorised path -----------------------------------------------


def typical(code: str, n: int, seed: int = 7) -> list[Record]:
    """Records shaped as ``flask demo generate`` and the tests write them."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        at = datetime(2026, 11, 1, 7, tzinfo=UTC) + timedelta(minutes=rng.randint(0, 40000))
        start = at.astimezone(UTC).isoformat()
        end = (at + timedelta(minutes=rng.randint(12, 40))).isoformat()
        if code in ("public_transit", "bike_sharing"):
            km = round(rng.uniform(1.5, 12 if code == "public_transit" else 5), 1)
            key, kind = (
                ("mode", rng.choice(["bus", "rail"]))
                if code == "public_transit"
                else ("bike_type", rng.choice(["pedal", "ebike"]))
            )
            out.append(
                record(
                    {
                        key: string(kind),
                        "distance_km": num(str(km)),
                        "started_at": string(start),
                        "ended_at": string(end),
                    }
                )
            )
        elif code == "waste_sorting":
            categories = ["paper", "plastic", "metal", "glass"]
            items = [
                (
                    rng.choice(categories if i == 0 else CATEGORIES),
                    str(round(rng.uniform(0.5, 6), 1)),
                )
                for i in range(rng.choice([1, 1, 1, 2, 3]))
            ]
            compact = (
                json.dumps(
                    [{"category": c, "weight_kg": w} for c, w in items], separators=(",", ":")
                )
                .replace('"weight_kg":"', '"weight_kg":')
                .replace('"}', "}")
            )
            fields = {"items": (compact, compact), "collected_at": string(start)}
            if rng.random() < 0.2:  # CSV batches: the text form
                fields["items"] = string(";".join(f"{c}:{w}" for c, w in items))
            out.append(record(fields))
        else:
            local = at.astimezone(LOCAL_TZ).replace(hour=rng.choice([7, 12, 18]))
            kind = rng.choice(["clean_plate", "small_portion"])
            fields = {
                "kind": string(kind),
                "meal_at": string(local.isoformat()),
                "diners": rng.choice([None, num(str(rng.randint(1, 8)))]),
            }
            if kind == "small_portion":
                fields["portion_reduction_kg"] = num(str(round(rng.uniform(0.05, 1.5), 2)))
            out.append(record(fields))
    return out


@pytest.mark.parametrize(("code", "version"), [v for v in VERSIONS if v[0] in STRATEGIES])
def test_typical_records_all_take_the_vectorised_path(code: str, version: str) -> None:
    m = registry.get(code, version)
    records = typical(code, 500)
    assert check(m, records, m.default_params()) == len(records)
    assert check_valid(m, records, m.default_params()) == len(records)
    assert check_windows(m, records) == 2 * len(records)


def test_a_chunk_without_the_fields_is_left_to_the_scalar_form() -> None:
    for code, version in VERSIONS:
        m = registry.get(code, version)
        got = m.quantify_batch(frame([{"other": "1"}]), m.default_params())
        assert got.rows() == [(None, None, None)]


def test_substitution_baseline_and_changed_parameters() -> None:
    """Approved versions change parameters: the batch form follows them exactly."""
    m = registry.get("public_transit", "2.0.0")
    params = {
        **m.default_params(),
        "baseline_method": Decimal(1),
        "max_distance_km": Decimal("7.25"),
    }
    records = [
        record({"mode": string("bus"), "distance_km": num(d)})
        for d in ("1.3", "7.25", "7.2500001", "12", "0.333333333333333333")
    ]
    assert check(m, records, params) == len(records)
    bad = {**params, "share_car": Decimal("0.31")}  # shares no longer sum to 1: quantify raises
    assert m.quantify_batch(frame([records[0][2]]), bad).rows() == [(None, None, None)]


@pytest.mark.parametrize("code", ["public_transit", "bike_sharing"])
def test_many_digits_zero_and_bounds_take_the_vectorised_path(code: str) -> None:
    key, kind = ("mode", "rail") if code == "public_transit" else ("bike_type", "ebike")
    texts = ["2.28310502283105022831", "0", "0.0", "0.00000000000000000001", "15", "40", "40.5"]
    for version in registry.module_versions(code):
        m = registry.get(code, version)
        records = [record({key: string(kind), "distance_km": num(t)}) for t in texts]
        assert check(m, records, m.default_params()) == len(records)


def test_waste_and_meals_with_many_digits_and_bounds_take_the_vectorised_path() -> None:
    weights = ["2.28310502283105022831", "0", "30", "30.000", "0.00000000000000000001", "60"]
    for version in registry.module_versions("waste_sorting"):
        m = registry.get("waste_sorting", version)
        records = []
        for category in CATEGORIES:
            for w in weights:
                compact = f'[{{"category":"{category}","weight_kg":{w}}}]'
                records.append(record({"items": (compact, compact)}))
            records.append(record({"items": string(";".join(f"{category}:{w}" for w in weights))}))
        records.append(record({"items": ("[]", "[]")}))
        assert check(m, records, m.default_params()) == len(records)
    portions = ["2.28310502283105022831", "0", "2", "2.000", "0.00000000000000000001", "0.1"]
    for version in registry.module_versions("food_waste"):
        m = registry.get("food_waste", version)
        records = [
            record(
                {
                    "kind": string(kind),
                    "meal_at": string("2026-12-01T12:00:00+08:00"),
                    "diners": None if diners is None else num(diners),
                    "portion_reduction_kg": num(portion),
                }
            )
            for kind in ("clean_plate", "small_portion")
            for diners in (None, "1", "20", "3.0")
            for portion in portions
        ]
        assert check(m, records, m.default_params()) == len(records)


# Hand-computed (default parameters): the batch forms' arithmetic written out.
PAPER_2KG = '[{"category":"paper","weight_kg":2}]'
HAND_COMPUTED = [
    # bus 3.4 km, mean baseline: BE = 100 × 3.4 = 340; PE = 56.2 × 3.4 = 191.08
    ("public_transit", "1.0.0", {"mode": "bus", "distance_km": "3.4"}, (340, 191, 149)),
    # 2.0.0: ⌊340⌋, ⌈191.08⌉, ⌊148.92⌋
    ("public_transit", "2.0.0", {"mode": "bus", "distance_km": "3.4"}, (340, 192, 148)),
    # rail 45 km, capped at 40: BE = 4000, PE = 61 × 40 = 2440
    ("public_transit", "1.0.0", {"mode": "rail", "distance_km": "45"}, (4000, 2440, 1560)),
    # EF_BL = .40×56.2 + .10×158.9 + .10×122.2 + .05×56.7 + .35×7.7 = 56.12; × 2.5 = 140.3
    ("bike_sharing", "1.0.0", {"bike_type": "pedal", "distance_km": "2.5"}, (140, 0, 140)),
    # e-bike 2.5 km: PE = 0.015 × 0.5153 × 1000 × 2.5 = 19.32375; 140.3 − 19.32375 = 120.97625
    ("bike_sharing", "1.0.0", {"bike_type": "ebike", "distance_km": "2.5"}, (140, 19, 121)),
    ("bike_sharing", "2.0.0", {"bike_type": "ebike", "distance_km": "2.5"}, (140, 20, 120)),
    # paper 2 kg: EF_BL = −0.329, EF_PJ = −3.461 × 0.5 = −1.7305; BE = −658, PE = −3461
    ("waste_sorting", "2.0.0", {"items": PAPER_2KG}, (-658, -3461, 2803)),
    # kitchen 1.5 kg (1.0.0): EF_BL = −0.115 ≤ EF_PJ = 0.1756: not counted; glass 1 kg:
    # EF_BL = 0, EF_PJ = −0.308 × 0.5 = −0.154: BE = 0, PE = −154
    ("waste_sorting", "1.0.0", {"items": "kitchen:1.5;glass:1"}, (0, -154, 154)),
    # clean plate, 2 diners: 2 × 74.16 × 1.99 = 295.1568
    ("food_waste", "1.0.0", {"kind": "clean_plate", "diners": "2"}, (295, 0, 295)),
    # small portion 0.1 kg, 3 diners: min(100, 222.48) × 1.99 = 199
    (
        "food_waste",
        "2.0.0",
        {"kind": "small_portion", "diners": "3", "portion_reduction_kg": "0.1"},
        (199, 0, 199),
    ),
]


@pytest.mark.parametrize(("code", "version", "fields", "expected"), HAND_COMPUTED)
def test_batch_forms_by_hand(
    code: str, version: str, fields: dict[str, str], expected: tuple[int, int, int]
) -> None:
    m = registry.get(code, version)
    row = {**fields, "meal_at": "2026-12-01T12:00:00+08:00"} if code == "food_waste" else fields
    assert m.quantify_batch(frame([row]), m.default_params()).row(0) == expected


def contract_cell(value: Any) -> str | None:
    """A parsed JSON value as the batch contract's String cell (what the ingestion writes)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return str(value)


def test_the_bench_records_all_take_the_vectorised_path() -> None:
    """``flask demo generate``'s records, read as the JSON Lines import reads them."""
    by_action: dict[str, list[dict[str, Any]]] = {}
    start = datetime(2026, 12, 3, tzinfo=UTC)
    for _, raw in synthetic_records(1500, 200, seed=3, start=start):
        record_ = numbers.loads(json.dumps(raw))
        by_action.setdefault(record_["action"], []).append(record_["activity"])
    assert set(by_action) == {"public_transit", "bike_sharing", "waste_sorting"}
    for action, activities in by_action.items():
        rows = [{k: contract_cell(v) for k, v in a.items()} for a in activities]
        columns = frame(rows)
        for version in registry.module_versions(action):
            m = registry.get(action, version)
            params = m.default_params()
            got = m.quantify_batch(columns, params).rows()
            valid = m.validate_batch(columns, params).to_list()
            windows = m.window_batch(columns).rows()
            spans = m.span_batch(columns).rows()
            for activity, row, ok, window, span in zip(
                activities, got, valid, windows, spans, strict=True
            ):
                q = m.quantify(activity, params)
                assert row == (q.baseline_g, q.project_g, q.reduction_g)
                assert ok is True and m.validate(activity, params) == []
                assert window == scalar_window(m, activity, span=False)
                assert span == scalar_window(m, activity, span=True)


@st.composite
def parameter_set(draw: st.DrawFn, m: Methodology) -> dict[str, Decimal]:
    """A parameter set a version could be approved with: factors, caps and limits moved
    (other values, other decimals), shares and switches kept valid."""
    params = m.default_params()
    for name, value in params.items():
        if name.startswith("share_") or name == "baseline_method":
            continue
        if name in ("baseline_landfill_share", "warm_haircut"):
            params[name] = Decimal(draw(st.integers(0, 100))) / 100
            continue
        places = draw(st.integers(0, 6))
        scaled = draw(st.integers(0, 3 * 10**places)) * (abs(value) or Decimal(1))
        params[name] = (scaled / Decimal(10) ** places).copy_sign(value)
    if "baseline_method" in params:
        params["baseline_method"] = Decimal(draw(st.integers(0, 1)))
    assert m.check_params(params) == [], m.check_params(params)
    return params


@pytest.mark.parametrize(("code", "version"), VERSIONS)
@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_quantify_batch_follows_any_approved_parameter_set(
    code: str, version: str, data: st.DataObject
) -> None:
    m = registry.get(code, version)
    params = data.draw(parameter_set(m))
    records = typical(code, 30) + data.draw(st.lists(STRATEGIES[code](), max_size=10))
    check(m, records, params)
