"""Re-derive every stored reduction from its inputs and the exact methodology version, and
check that version was the one in force when the action took place (DESIGN.md inv. 2, 5).

Reductions are read in id order, a slice at a time, and each slice is checked per version
with the methodology's batch forms (``span_batch``, ``quantify_batch``), which
tests/methodologies/test_batch_forms.py proves equal to the scalar ``span`` and
``quantify`` for every module version; a row a batch form leaves undecided (or an activity
the columns cannot hold exactly) is recomputed by the scalar forms. A difference is always
confirmed by the scalar ``quantify`` before it is reported, so the report is the scalar
reference's.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select

import methodologies
from methodologies import Methodology

from ..extensions import db
from ..methodology_versions.models import MethodologyVersion
from ..methodology_versions.services import history, in_force_at, points_for
from ..timeutil import aware
from .columnar import activity_frame
from .models import Reduction

_COLUMNS = (
    Reduction.id,
    Reduction.version_id,
    Reduction.methodology_code,
    Reduction.module_version,
    Reduction.params_hash,
    Reduction.activity,
    Reduction.baseline_g,
    Reduction.project_g,
    Reduction.reduction_g,
    Reduction.credited_g,
    Reduction.points,
    Reduction.programme_capped,
)


@dataclass
class RecomputeReport:
    checked: int = 0
    differences: list[str] = field(default_factory=list)


def _slices(size: int) -> Iterator[Sequence[Any]]:
    last = 0
    while True:
        rows = db.session.execute(
            select(*_COLUMNS).where(Reduction.id > last).order_by(Reduction.id).limit(size)
        ).all()
        if not rows:
            return
        yield rows
        last = rows[-1].id


def _batch(
    module: Methodology, version: MethodologyVersion, rows: Sequence[Any]
) -> tuple[list[datetime | None], list[tuple[int, int, int] | None]]:
    """Per row: the action's start and the grams, as far as the batch forms decide them."""
    frame, exact = activity_frame([row.activity for row in rows])
    starts: list[datetime | None] = [None] * len(rows)
    grams: list[tuple[int, int, int] | None] = [None] * len(rows)
    if not any(exact):
        return starts, grams
    spans = module.span_batch(frame)["start"].to_list()
    quantified = module.quantify_batch(frame, version.decimal_params())
    columns = quantified.select("baseline_g", "project_g", "reduction_g").rows()
    for index, (ok, start, values) in enumerate(zip(exact, spans, columns, strict=True)):
        if not ok:
            continue
        starts[index] = start
        if None not in values:
            grams[index] = (int(values[0]), int(values[1]), int(values[2]))
    return starts, grams


def recompute_check(batch: int = 10_000) -> RecomputeReport:
    """Compare each reduction with a fresh quantification; list every difference."""
    report = RecomputeReport()
    versions: dict[int, MethodologyVersion | None] = {}
    approved = history(methodologies.available())
    for rows in _slices(batch):
        groups: dict[int, list[Any]] = {}
        for row in rows:
            groups.setdefault(row.version_id, []).append(row)
        found: dict[int, list[str]] = {}
        for version_id, members in groups.items():
            if version_id not in versions:
                versions[version_id] = db.session.get(MethodologyVersion, version_id)
            for row_id, difference in _check_group(versions[version_id], members, approved):
                found.setdefault(row_id, []).append(difference)
        for row in rows:  # reported in id order, as read
            report.checked += 1
            report.differences += found.get(row.id, [])
    return report


def _check_group(
    version: MethodologyVersion | None,
    rows: Sequence[Any],
    approved: dict[str, list[MethodologyVersion]],
) -> Iterator[tuple[int, str]]:
    """(reduction id, difference) for every difference of the rows of one version."""
    if version is None:
        for row in rows:
            yield row.id, f"reduction {row.id}: version missing"
        return
    module = None
    if all(
        row.module_version == version.module_version and row.methodology_code == version.code
        for row in rows
    ):
        try:
            module = methodologies.get(version.code, version.module_version)
        except KeyError:
            module = None
    starts, grams = (
        _batch(module, version, rows)
        if module is not None
        else ([None] * len(rows), [None] * len(rows))
    )
    params = version.decimal_params()
    for row, start, fresh in zip(rows, starts, grams, strict=True):
        where = f"reduction {row.id} ({row.methodology_code} v{version.number})"
        if version.params_hash != row.params_hash:
            yield row.id, f"{where}: parameter hash differs"
        if row.module_version != version.module_version:
            yield (
                row.id,
                (
                    f"{where}: module {row.module_version}, version approved with "
                    f"{version.module_version}"
                ),
            )
            continue
        try:
            scalar = module or methodologies.get(row.methodology_code, row.module_version)
        except KeyError:
            yield row.id, f"{where}: module {row.module_version} is gone"
            continue
        if start is None:
            try:
                start = scalar.span(row.activity).start
            except ValueError:
                yield row.id, f"{where}: the action's time cannot be read"
                continue
        in_force = in_force_at(approved.get(row.methodology_code, []), aware(start))
        if in_force is None or in_force.id != version.id:
            label = in_force.label if in_force else "none"
            yield row.id, f"{where}: the version in force at the action's time was {label}"
        stored = (row.baseline_g, row.project_g, row.reduction_g)
        if fresh != stored:  # undecided by the batch form, or a difference: the reference says
            result = scalar.quantify(row.activity, params)
            fresh = (result.baseline_g, result.project_g, result.reduction_g)
        if stored != fresh:
            yield row.id, f"{where}: stored {stored} != recomputed {fresh}"
        rule = points_for(version, row.credited_g)
        # the programme's daily points cap may have given fewer points, never more
        points_ok = 0 < row.points < rule if row.programme_capped else row.points == rule
        if row.credited_g > row.reduction_g or not points_ok:
            credited = f"credited {row.credited_g} g / {row.points} points"
            yield row.id, f"{where}: {credited} inconsistent"
