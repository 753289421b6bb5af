"""The batch (columnar) forms every registered module version offers, and their defaults."""

from __future__ import annotations

import polars as pl
import pytest

from methodologies import registry
from methodologies.base import QUANTITY_COLUMNS, Methodology, activity_of_row

VERSIONS = [
    (code, version) for code in registry.available() for version in registry.module_versions(code)
]


def frame(rows: list[dict[str, str | None]]) -> pl.DataFrame:
    names = sorted({name for row in rows for name in row})
    return pl.DataFrame(
        {name: [row.get(name) for row in rows] for name in names},
        schema={name: pl.String for name in names},
    )


@pytest.mark.parametrize(("code", "version"), VERSIONS)
def test_every_module_version_has_the_batch_forms(code: str, version: str) -> None:
    m = registry.get(code, version)
    columns = frame([{"unrelated": "x"}, {"unrelated": None}])
    q = m.quantify_batch(columns, m.default_params())
    assert q.columns == list(QUANTITY_COLUMNS)
    assert q.dtypes == [pl.Int64] * 3
    assert q.height == 2
    valid = m.validate_batch(columns, m.default_params())
    assert valid.dtype == pl.Boolean and valid.len() == 2
    for windows in (m.span_batch(columns), m.window_batch(columns)):
        assert windows.columns == ["start", "end"]
        assert windows.dtypes == [pl.Datetime("us", "UTC")] * 2
        assert windows.height == 2
    # rows with none of the module's fields cannot be quantified: left to the scalar form
    assert q.null_count().row(0) == (2, 2, 2)
    assert valid.to_list() in ([None, None], [False, False])


def test_defaults_call_the_scalar_forms_row_by_row() -> None:
    m = registry.get("waste_sorting", "1.0.0")
    params = m.default_params()
    rows: list[dict[str, str | None]] = [
        {"items": '[{"category":"paper","weight_kg":2.28310502283105022831}]'},
        {"items": "paper:1.5;glass:2", "weighed": "true"},
        {"items": '[{"category":"kitchen","weight_kg":3},{"category":"metal","weight_kg":"1"}]'},
        {"items": None},
    ]
    activities = [
        {"items": [{"category": "paper", "weight_kg": "2.28310502283105022831"}]},
        {"items": "paper:1.5;glass:2", "weighed": "true"},
        {
            "items": [
                {"category": "kitchen", "weight_kg": 3},
                {"category": "metal", "weight_kg": "1"},
            ]
        },
    ]
    got = Methodology.quantify_batch(m, frame(rows), params)
    for i, activity in enumerate(activities):
        q = m.quantify(activity, params)
        assert got.row(i) == (q.baseline_g, q.project_g, q.reduction_g)
    assert got.row(3) == (None, None, None)  # missing items: the scalar form raises there
    assert Methodology.validate_batch(m, frame(rows), params).to_list() == [None] * 4
    nulls = [{"start": None, "end": None}] * 4
    assert Methodology.span_batch(m, frame(rows)).to_dicts() == nulls
    assert Methodology.window_batch(m, frame(rows)).to_dicts() == nulls


def test_activity_of_row_reads_cells_as_the_scalar_path_receives_them() -> None:
    row = {
        "items": '[{"category":"paper","weight_kg":2.50}]',
        "distance_km": "2.28310502283105022831",
        "weighed": "false",
        "absent": None,
        "broken": "[not json",
    }
    assert activity_of_row(row) == {
        "items": [{"category": "paper", "weight_kg": "2.50"}],
        "distance_km": "2.28310502283105022831",
        "weighed": "false",
        "broken": "[not json",
    }


@pytest.mark.parametrize(("code", "version"), VERSIONS)
def test_all_null_columns_of_any_type_are_read_as_absent_fields(code: str, version: str) -> None:
    m = registry.get(code, version)
    fields = ("mode", "bike_type", "distance_km", "items", "kind", "meal_at", "started_at")
    columns = pl.DataFrame({name: [None, None] for name in fields})  # dtype Null
    assert m.quantify_batch(columns, m.default_params()).rows() == [(None, None, None)] * 2
    assert m.validate_batch(columns, m.default_params()).to_list() in ([None] * 2, [False] * 2)
    assert m.span_batch(columns).rows() == [(None, None)] * 2
    assert m.window_batch(columns).rows() == [(None, None)] * 2
    empty = pl.DataFrame(schema={name: pl.String for name in fields})
    assert m.quantify_batch(empty, m.default_params()).height == 0
    assert m.validate_batch(empty, m.default_params()).len() == 0
    assert m.window_batch(empty).height == 0
