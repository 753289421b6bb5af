"""The columnar steps of verification (``backend.actions.columnar``) decide exactly as the
scalar path: the same file imported with ``INGEST_COLUMNAR`` on and off, for two residents
holding the same card at two partners, gives every record the same outcome, reason, window,
day, grams and points (and so the same balances)."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import polars as pl
import pytest
from sqlalchemy import select

import methodologies
from backend.actions import columnar
from backend.actions.columnar import activity_frame
from backend.actions.models import ActivityRecord
from backend.actions.timerules import _when
from backend.extensions import db
from backend.ledger.queries import resident_balance
from backend.ledger.reconcile import reconcile
from backend.timeutil import local, utcnow

from ...helpers import DAY, NEXT_DAY, PREV_DAY, link_proven
from .conftest import bus


def _iso(days_ago: int, hour: int, minute: int = 0) -> str:
    moment = local(utcnow() - timedelta(days=days_ago)).replace(
        hour=hour, minute=minute, second=0, microsecond=0
    )
    return moment.isoformat()


def _records() -> list[Any]:
    records: list[Any] = []
    for day in (DAY, NEXT_DAY, PREV_DAY):  # more trips a day than the daily limit allows
        for i in range(12):
            records.append(
                bus(
                    f"{day}-{i}",
                    start=f"{day}T{6 + i:02d}:00:00+08:00",
                    end=f"{day}T{6 + i:02d}:20:00+08:00",
                    km=[3, "4.5", 2.5, 11][i % 4],
                )
            )
    records += [
        bus("overlap", start=f"{DAY}T06:10:00+08:00", end=f"{DAY}T06:30:00+08:00"),
        bus("future", start=_iso(-2, 8), end=_iso(-2, 9)),
        bus("too-old", start=_iso(40, 8), end=_iso(40, 9)),
        bus("bad-time", start="yesterday morning"),
        bus("naive", start=f"{PREV_DAY}T23:10:00", end=f"{PREV_DAY}T23:40:00"),
        bus("zulu", start=f"{PREV_DAY}T22:05:00Z", end=f"{PREV_DAY}T22:30:00Z"),
        bus("fast", start=f"{PREV_DAY}T05:00:00+08:00", end=f"{PREV_DAY}T05:05:00+08:00", km=90),
        bus("negative", start=f"{PREV_DAY}T04:00:00+08:00", end=f"{PREV_DAY}T04:20:00+08:00",
            km=-3),
        bus("unmatched", identity="NOPE0001"),
        {"record_id": "no-identity", "action": "public_transit", "activity": {}},
        {"record_id": "not-allowed", "action": "waste_sorting", "identity": "CARD0001",
         "activity": {}},
        {"record_id": "flat", "action": "public_transit", "identity": "CARD0001",
         "activity": "a trip"},
        {"record_id": "bool-mode", "action": "public_transit", "identity": "CARD0001",
         "activity": {"mode": True, "distance_km": 3, "started_at": f"{DAY}T23:00:00+08:00",
                      "ended_at": f"{DAY}T23:10:00+08:00"}},
        {"record_id": "no-distance", "action": "public_transit", "identity": "CARD0001",
         "activity": {"mode": "bus", "started_at": f"{DAY}T23:20:00+08:00",
                      "ended_at": f"{DAY}T23:30:00+08:00"}},
    ]  # fmt: skip
    return records


def _lines(records: list[Any]) -> str:
    text = "\n".join(json.dumps(r, ensure_ascii=False) for r in records)
    # a number no float holds: the scalar parser keeps its text, so must the columns
    exact = bus("exact", start=_iso(5, 20), end=_iso(5, 21))
    line = json.dumps(exact).replace('"distance_km": 8.2', '"distance_km": 2.28310502283105022831')
    return f"{text}\n{line}\n"


def _outcomes(partner_id: int) -> dict[str, tuple[Any, ...]]:
    records = select(ActivityRecord).where(ActivityRecord.partner_id == partner_id)
    rows = {}
    found = db.session.scalars(records).all()
    key_of = {r.id: r.partner_record_id for r in found}
    for r in found:
        reduction = r.reduction
        # the two imports arrive a moment apart: a reason that names the arrival says when
        arrival = _when(r.received_at)
        reason = r.reason and {k: v.replace(arrival, "<arrival>") for k, v in r.reason.items()}
        rows[r.partner_record_id] = (
            r.outcome,
            r.reason_code,
            reason,
            r.flags,
            r.occurred_start,
            r.occurred_end,
            r.local_day,
            r.dedupe_group,
            key_of.get(r.duplicate_of_id),
            None
            if reduction is None
            else (
                reduction.baseline_g,
                reduction.project_g,
                reduction.reduction_g,
                reduction.credited_g,
                reduction.points,
                reduction.programme_capped,
                reduction.version_id,
                reduction.local_day,
                reduction.activity,
            ),
        )
    return rows


def _import(app: Any, path: Any, partner: str, on: bool) -> str:
    app.config["INGEST_COLUMNAR"] = on
    try:
        result = app.test_cli_runner().invoke(
            args=["partners", "import", str(path), "--partner", partner, "--chunk", "9"]
        )
    finally:
        app.config["INGEST_COLUMNAR"] = True
    assert result.exit_code == 0, result.output
    return result.output


def _compare(app: Any, make: Any, tmp_path: Any, text: str) -> dict[str, tuple[Any, ...]]:
    path = tmp_path / "day.jsonl"
    path.write_text(text)
    columns, _, _ = make.partner("bus-a", kind="transit")
    scalar, _, _ = make.partner("bus-b", kind="transit")
    first, second = make.resident(), make.resident()
    link_proven(first, "bus-a", "CARD0001")
    link_proven(second, "bus-b", "CARD0001")
    out_columns = _import(app, path, "bus-a", True)
    out_scalar = _import(app, path, "bus-b", False)
    assert out_columns.split("credited", 1)[1] == out_scalar.split("credited", 1)[1]
    mine, theirs = _outcomes(columns.id), _outcomes(scalar.id)
    assert mine == theirs
    assert resident_balance(first.id) == resident_balance(second.id) > 0
    assert reconcile().clean
    return mine


def test_columns_decide_every_record_as_the_scalar_path(app, make, seeded, tmp_path):
    outcomes = _compare(app, make, tmp_path, _lines(_records()))
    reasons = {row[1] for row in outcomes.values()}
    # the file reaches every kind of decision, so the comparison means something
    assert {
        "daily_limit_reached",
        "duplicate_action",
        "dated_in_future",
        "outside_claim_window",
        "malformed_record",
        "action_not_allowed",
        "unmatched_identity",
        None,
    } <= reasons
    assert outcomes["exact"][0].value == "credited"
    assert outcomes["exact"][9][8]["distance_km"] == "2.28310502283105022831"


@pytest.mark.postgres
def test_a_record_and_its_reduction_store_the_same_json_text(app, make, seeded, tmp_path):
    """The import encodes each activity once for both rows (loadtests/README.md, round 8):
    the stored text of the record's and the reduction's ``activity`` is the same, and is
    the encoder's text of the stored document (the exact number kept)."""
    from sqlalchemy import text

    from backend.bulk import json_text

    _compare(app, make, tmp_path, _lines(_records()))
    pairs = db.session.execute(
        text(
            "SELECT a.partner_record_id, a.activity::text, r.activity::text "
            "FROM activity_records a JOIN reductions r ON r.record_id = a.id"
        )
    ).all()
    assert len(pairs) > 10
    for key, record_text, reduction_text in pairs:
        assert record_text == reduction_text
        assert record_text == json_text(json.loads(record_text))
        if key == "exact":
            assert '"distance_km": "2.28310502283105022831"' in record_text


def _contract(cls: Any) -> dict[str, Any]:
    """The batch forms of the contract, answered by the scalar methods on every other row
    (the rest null: the caller must fall back to the scalar path for them)."""

    def rows(frame: pl.DataFrame) -> list[dict[str, Any]]:
        return [{k: v for k, v in row.items() if v is not None} for row in frame.to_dicts()]

    def windows(method: str) -> Any:
        def batch(self: Any, frame: pl.DataFrame) -> pl.DataFrame:
            starts, ends = [], []
            for i, activity in enumerate(rows(frame)):
                try:
                    window = getattr(self, method)(activity) if i % 2 == 0 else None
                except ValueError:
                    window = None
                starts.append(window and window.start)
                ends.append(window and window.end)
            utc = pl.Datetime("us", "UTC")
            return pl.DataFrame(
                {"start": pl.Series(starts, dtype=utc), "end": pl.Series(ends, dtype=utc)}
            )

        return batch

    def validate_batch(self: Any, frame: pl.DataFrame, params: Any) -> pl.Series:
        out: list[bool | None] = []
        for i, activity in enumerate(rows(frame)):
            try:
                out.append(not self.validate(activity, params) if i % 2 else None)
            except ValueError:
                out.append(None)
        return pl.Series(out, dtype=pl.Boolean)

    def quantify_batch(self: Any, frame: pl.DataFrame, params: Any) -> pl.DataFrame:
        grams: list[tuple[int | None, int | None, int | None]] = []
        for i, activity in enumerate(rows(frame)):
            try:
                q = self.quantify(activity, params) if i % 3 else None
            except ValueError:
                q = None
            grams.append((q.baseline_g, q.project_g, q.reduction_g) if q else (None,) * 3)
        return pl.DataFrame(
            grams, schema={n: pl.Int64 for n in ("baseline_g", "project_g", "reduction_g")},
            orient="row",
        )  # fmt: skip

    return {
        "span_batch": windows("span"),
        "window_batch": windows("window"),
        "validate_batch": validate_batch,
        "quantify_batch": quantify_batch,
    }


def test_batch_forms_are_used_and_their_null_rows_fall_back(
    app, make, seeded, tmp_path, monkeypatch
):
    module = type(methodologies.get("public_transit"))
    for name, method in _contract(module).items():
        monkeypatch.setattr(module, name, method, raising=False)
    records = [r for r in _records() if r["record_id"] != "bool-mode"]  # "true" is not True
    _compare(app, make, tmp_path, _lines(records))


def test_activity_frame_keeps_numbers_exact_and_marks_what_it_cannot_hold():
    frame, exact = activity_frame(
        [
            {"distance_km": "2.28310502283105022831", "stops": 3, "night": True},
            {"items": [{"category": "paper", "weight_kg": "2.4"}]},
            {"distance_km": 2.5},  # a float: held by nothing exact, the row goes scalar
            "not an object",
            # waste items sent as a string: the batch forms would read it as the list
            {"items": '[{"category":"paper","weight_kg":"2.4"}]'},
        ]
    )
    assert exact == [True, True, False, False, False]
    assert frame.schema == {
        "distance_km": pl.String,
        "stops": pl.String,
        "night": pl.String,
        "items": pl.String,
    }
    assert frame.row(0) == ("2.28310502283105022831", "3", "true", None)
    assert frame["items"][1] == '[{"category":"paper","weight_kg":"2.4"}]'
    assert activity_frame([{}, {}])[1] == [False, False]


@pytest.mark.parametrize("on", [True, False])
def test_the_setting_names_the_path(app, on):
    app.config["INGEST_COLUMNAR"] = on
    try:
        with app.app_context():
            assert columnar.enabled() is on
    finally:
        app.config["INGEST_COLUMNAR"] = True


def test_a_chunk_below_the_minimum_takes_the_scalar_path(app):
    app.config["INGEST_COLUMNAR_MIN"] = 64
    try:
        with app.app_context():
            assert columnar.enabled(1) is False  # a counter claim: one record
            assert columnar.enabled(64) is True
            assert columnar.enabled() is True
    finally:
        app.config["INGEST_COLUMNAR_MIN"] = 1


def test_the_context_days_from_columns_are_the_scalar_local_days():
    """``prepare`` finds the local days of a window's start, the day before it and its end
    over columns (``_day``), for ``verification._day_pairs``: the days ``local_day`` gives,
    around Shanghai's and UTC's midnights and a leap day."""
    from datetime import UTC, datetime, timedelta

    from backend.actions.columnar import _day
    from methodologies.base import local_day

    base = [
        datetime(2024, 2, 28, 15, 59, 59, 999999, tzinfo=UTC),
        datetime(2026, 12, 31, 16, tzinfo=UTC),
    ]
    moments = [m + timedelta(minutes=k) for m in base for k in range(-90, 1500, 37)]
    frame = pl.DataFrame({"t": pl.Series(moments, dtype=pl.Datetime("us", "UTC"))})
    days = frame.select(
        _day(pl.col("t") - pl.duration(days=1)).alias("before"), _day(pl.col("t")).alias("day")
    )
    assert days["day"].to_list() == [local_day(m) for m in moments]
    assert days["before"].to_list() == [local_day(m - timedelta(days=1)) for m in moments]
