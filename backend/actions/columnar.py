"""Columnar steps of verification (issue 18): a chunk's activities as polars columns.

``verification`` decides a chunk of records in a few passes; the passes that are pure
functions of one record — its span and dedupe window, the time rules, validity and the
grams — run here over columns instead of once per Python object:

* ``activity_frame`` turns the chunk's activities into one ``pl.String`` column per
  top-level field (the methodology batch contract, ``methodologies.base``): numbers as
  their exact source text (the scalar parser, ``numbers.loads``, keeps them as text; polars'
  own JSON readers go through float and are not used), booleans ``"true"``/``"false"``,
  nested values (waste ``items``) as compact JSON, null where absent;
* ``prepare`` fills each item's window, span, local day and dedupe group and applies the
  time rules (``timerules``) with vectorised comparisons; only a record that breaks a rule
  (for its reason text) or that a module's batch form cannot decide goes through the scalar
  ``_prepare``;
* ``precompute`` asks each methodology version's ``validate_batch`` and ``quantify_batch``
  for the records about to be decided, so ``_verify_resident`` calls the scalar
  ``validate``/``quantify`` only for the rows they leave undecided.

A module without the batch forms is served row by row (``_rowwise``), so the outcome is the
scalar path's whatever the modules offer; the batch forms only save time. The decisions
that depend on order (dedupe against what was credited a record earlier, caps and running
totals) stay in ``_verify_resident``, which reads these results.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, cast

import polars as pl
from flask import current_app

import methodologies
from methodologies import Methodology, Quantification, Window
from methodologies.base import LOCAL_TZ

from ..timeutil import aware
from .catalogue import RESIDENT_ACTIONS
from .models import Channel
from .timerules import claim_window, skew

if TYPE_CHECKING:
    from ..methodology_versions.models import MethodologyVersion


class Item(Protocol):
    """What these steps read and fill of verification's ``Item`` (verification imports this
    module, so the shape is named here rather than imported)."""

    id: int
    action: str
    channel: Channel
    activity: Any
    received_at: datetime | None
    consented_at: datetime | None
    moment: datetime | None
    occurred_start: datetime | None
    occurred_end: datetime | None
    local_day: str | None
    dedupe_group: str | None
    context_days: tuple[str, str, str] | None


T = TypeVar("T", bound=Item)


UTC_US = pl.Datetime("us", "UTC")


class _Undecidable(Exception):
    """A value the columnar form cannot carry exactly (a float): the row goes scalar."""


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        if value[:1] in ("[", "{"):
            # the batch forms read a cell opening so as nested JSON: a text value that
            # merely looks like it (waste items sent as a string) goes to the scalar forms
            raise _Undecidable
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        raise _Undecidable
    if isinstance(value, dict | list):
        if _has_float(value):
            raise _Undecidable
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    raise _Undecidable


def _has_float(value: Any) -> bool:
    if isinstance(value, float):
        return True
    if isinstance(value, dict):
        return any(_has_float(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_float(v) for v in value)
    return False


def activity_frame(activities: Sequence[Any]) -> tuple[pl.DataFrame, list[bool]]:
    """The activities as String columns (the batch contract), and which rows could be put
    in columns exactly (False: not an object, or a float somewhere; the row goes scalar)."""
    columns: dict[str, list[str | None]] = {}
    exact: list[bool] = []
    for index, activity in enumerate(activities):
        ok = isinstance(activity, dict)
        if ok:
            try:
                values = [(str(k), _text(v)) for k, v in activity.items()]
            except _Undecidable:
                ok = False
        if ok:
            for name, value in values:
                column = columns.get(name)
                if column is None:
                    column = columns[name] = [None] * index
                column.append(value)
        exact.append(ok)
        for column in columns.values():  # absent (or not decidable): null
            if len(column) <= index:
                column.append(None)
    if not columns:  # no fields at all: nothing to decide in columns
        return pl.DataFrame(), [False] * len(activities)
    frame = pl.DataFrame(
        [pl.Series(name, values, dtype=pl.String) for name, values in columns.items()]
    )
    return frame, exact


# --- the batch contract, row by row where a module does not offer it ----------------------


def _batch_form(module: Methodology, name: str) -> Callable[..., Any] | None:
    """The module's own batch form ``name``, None where it has none of its own: the base
    class's defaults decide nothing or call the scalar form row by row (which
    ``_verify_resident`` does anyway, only for the rows that need it, results reused)."""
    own = getattr(type(module), name, None)
    if own is None or own is getattr(Methodology, name, None):
        return None
    return getattr(module, name)  # type: ignore[no-any-return]


def _rowwise_windows(
    activities: Sequence[Any], method: Callable[[Any], Window]
) -> tuple[pl.DataFrame, list[Window | None]]:
    found: list[Window | None] = []
    for activity in activities:
        try:
            found.append(method(activity))
        except Exception:  # noqa: BLE001 - any failure: the scalar path decides and explains
            found.append(None)
    frame = pl.DataFrame(
        {
            "start": pl.Series([w and aware(w.start) for w in found], dtype=UTC_US),
            "end": pl.Series([w and aware(w.end) for w in found], dtype=UTC_US),
        }
    )
    return frame, found


def _windows(
    module: Methodology, name: str, frame: pl.DataFrame, activities: Sequence[Any]
) -> tuple[pl.DataFrame, list[Window | None] | None]:
    """``module.<name>_batch(frame)`` (``span`` or ``window``) where the module has it, else
    the scalar method row by row (with the windows it returned, kept as they are);
    ``start``/``end`` as Datetime(us, UTC), null = undecided."""
    batch = _batch_form(module, f"{name}_batch")
    if batch is not None:
        out = batch(frame)
        return out.select(pl.col("start").cast(UTC_US), pl.col("end").cast(UTC_US)), None
    return _rowwise_windows(activities, getattr(module, name))


def _aware(value: datetime | None) -> datetime | None:
    return aware(value) if value is not None else None


def _day(moment: pl.Expr) -> pl.Expr:
    """A UTC moment's local day, as ``methodologies.base.local_day`` writes it."""
    return moment.dt.convert_time_zone(str(LOCAL_TZ)).dt.strftime("%Y-%m-%d")


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC)  # polars hands back zoneinfo UTC; the scalar path has UTC


# --- prepare: windows, spans, local days and the time rules ---------------------------------


# action -> its activity frame in a chunk, which rows could be put in columns exactly, and
# each item's row (by item id): made by ``prepare``, read again by ``precompute``.
Frames = dict[str, tuple[pl.DataFrame, list[bool], dict[int, int]]]


def prepare(
    items: Sequence[T], scalar: Callable[[T], bool], frames: Frames | None = None
) -> list[bool]:
    """For each item what ``scalar`` (verification's ``_prepare``) would return, with the
    same fields filled: in columns where the modules decide, else through ``scalar``.
    ``frames``, when given, keeps each action's activity frame for ``precompute``."""
    result: list[bool | None] = [None] * len(items)
    by_action: dict[str, list[int]] = defaultdict(list)
    for index, item in enumerate(items):
        if item.action in RESIDENT_ACTIONS:
            by_action[item.action].append(index)
    config_skew = skew()
    for action, indexes in by_action.items():
        module = methodologies.get(action)
        activities = [items[i].activity for i in indexes]
        frame, exact = activity_frame(activities)
        if frames is not None:
            frames[action] = (frame, exact, {items[i].id: row for row, i in enumerate(indexes)})
        if not any(exact):
            continue  # the scalar path, row by row
        windows, window_objects = _windows(module, "window", frame, activities)
        if type(module).span is Methodology.span:  # the base span is the window: once
            spans, span_objects = windows, window_objects
        else:
            spans, span_objects = _windows(module, "span", frame, activities)
        arrival = pl.Series(
            [_aware(items[i].received_at) for i in indexes],
            dtype=UTC_US,
        )
        consent = pl.Series(
            [
                _aware(items[i].consented_at) if items[i].channel is Channel.PARTNER else None
                for i in indexes
            ],
            dtype=UTC_US,
        )
        windows_of = {channel: claim_window(channel) for channel in {i.channel for i in items}}
        claim = pl.Series([windows_of[items[i].channel] for i in indexes], dtype=pl.Duration("us"))
        checked = pl.DataFrame(
            {
                "exact": exact,
                "start": spans["start"],
                "end": spans["end"],
                "w_start": windows["start"],
                "w_end": windows["end"],
                "arrival": arrival,
                "consent": consent,
                "claim": claim,
            }
        ).select(
            (
                pl.col("exact")
                & pl.all_horizontal(
                    pl.col(c).is_not_null() for c in ("start", "end", "w_start", "w_end", "arrival")
                )
                # the time rules (timerules.time_problem), all three passed
                & (pl.max_horizontal("start", "end") <= pl.col("arrival") + config_skew)
                & (pl.col("start") >= pl.col("arrival") - pl.col("claim"))
                & (
                    pl.col("consent").is_null()
                    | (pl.col("start") >= pl.col("consent") - pl.col("claim"))
                )
            )
            .fill_null(False)
            .alias("ok"),
            _day(pl.col("start")).alias("day"),
            # the local days verification's context reads for the window (``_day_pairs``)
            _day(pl.col("w_start") - pl.duration(days=1)).alias("d_before"),
            _day(pl.col("w_start")).alias("d_start"),
            _day(pl.col("w_end")).alias("d_end"),
            "start",
            "w_start",
            "w_end",
        )
        ok = checked["ok"].to_list()
        days = checked["day"].to_list()
        starts = checked["start"].to_list()
        w_starts = checked["w_start"].to_list()
        w_ends = checked["w_end"].to_list()
        context_days = list(
            zip(
                checked["d_before"].to_list(),
                checked["d_start"].to_list(),
                checked["d_end"].to_list(),
                strict=True,
            )
        )
        group = module.dedupe_group
        for position, index in enumerate(indexes):
            if not ok[position]:
                continue
            item = items[index]
            window = window_objects[position] if window_objects is not None else None
            span = span_objects[position] if span_objects is not None else None
            if window is not None:
                item.occurred_start, item.occurred_end = window.start, window.end
            else:
                item.occurred_start = _utc(w_starts[position])
                item.occurred_end = _utc(w_ends[position])
            item.moment = span.start if span is not None else _utc(starts[position])
            item.local_day = days[position]
            item.context_days = context_days[position]
            item.dedupe_group = group
            result[index] = True
    return [
        scalar(item) if done is None else done for item, done in zip(items, result, strict=True)
    ]


# --- validity and grams, per methodology version --------------------------------------------


@dataclass
class Precomputed:
    """What the batch forms decided for one item under its version (None: ask the scalar)."""

    valid: bool = False
    result: Quantification | None = None


def _members_frame(members: Sequence[T], frames: Frames | None) -> tuple[pl.DataFrame, list[bool]]:
    """The members' activities as ``activity_frame`` gives them: their rows of the frame
    ``prepare`` made for their action (the same cells; a field only other rows have is a
    null column here, which the batch contract reads as absent), else made again."""
    known = frames.get(members[0].action) if frames else None
    if known is not None:
        frame, exact, row_of = known
        rows = [row_of.get(member.id) for member in members]
        if None not in rows:
            picked = cast(list[int], rows)
            if len(exact) == frame.height and picked == list(range(frame.height)):
                return frame, exact  # every row, in order: the frame itself
            picked_exact = [exact[row] for row in picked]
            if not any(picked_exact):  # nothing in columns (a frame of no fields, say)
                return pl.DataFrame(), picked_exact
            return frame[picked], picked_exact
    return activity_frame([member.activity for member in members])


def precompute(
    items: Sequence[T],
    version_of: Callable[[T], MethodologyVersion | None],
    params_of: Callable[[MethodologyVersion], dict[str, Decimal]],
    frames: Frames | None = None,
) -> dict[int, Precomputed]:
    """Item id -> what ``validate_batch``/``quantify_batch`` of the item's version decided.

    Only modules that offer the batch forms are asked (row by row they would only repeat
    the scalar calls that ``_verify_resident`` makes anyway). ``frames``: what ``prepare``
    kept, so the activities are not put in columns twice."""
    groups: dict[int, tuple[MethodologyVersion, list[T]]] = {}
    for item in items:
        version = version_of(item)
        if version is None:
            continue
        groups.setdefault(version.id, (version, []))[1].append(item)
    out: dict[int, Precomputed] = {}
    for version, members in groups.values():
        module = methodologies.get(version.code, version.module_version)
        validate = _batch_form(module, "validate_batch")
        quantify = _batch_form(module, "quantify_batch")
        if validate is None and quantify is None:
            continue
        frame, exact = _members_frame(members, frames)
        if not any(exact):
            continue
        params = params_of(version)
        valid = (
            validate(frame, params).fill_null(False).to_list()
            if validate is not None
            else [False] * len(members)
        )
        grams: list[tuple[Any, Any, Any]] = (
            list(quantify(frame, params).select("baseline_g", "project_g", "reduction_g").rows())
            if quantify is not None
            else [(None, None, None)] * len(members)
        )
        for item, ok, is_valid, (baseline, project, reduction) in zip(
            members, exact, valid, grams, strict=True
        ):
            if not ok:
                continue
            decided = Precomputed(valid=bool(is_valid))
            if baseline is not None and project is not None and reduction is not None:
                decided.result = Quantification(int(baseline), int(project), int(reduction))
            out[item.id] = decided
    return out


def enabled(rows: int | None = None) -> bool:
    """Whether verification takes the columnar steps (``INGEST_COLUMNAR``) for a chunk of
    ``rows`` records: not for one smaller than ``INGEST_COLUMNAR_MIN`` (a counter claim),
    where the frames cost more than the scalar forms they replace; both decide alike."""
    config = current_app.config
    if not config.get("INGEST_COLUMNAR", True):
        return False
    return rows is None or rows >= config.get("INGEST_COLUMNAR_MIN", 1)
