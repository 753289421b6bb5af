"""Re-derive every stored reduction from its inputs and the exact methodology version, and
check that version was the one in force when the action took place (DESIGN.md inv. 2, 5)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from sqlalchemy import select

import methodologies

from ..extensions import db
from ..methodology_versions.models import MethodologyVersion
from ..methodology_versions.services import history, in_force_at, points_for
from .models import Reduction


@dataclass
class RecomputeReport:
    checked: int = 0
    differences: list[str] = field(default_factory=list)


def _reductions(batch: int) -> Iterator[Reduction]:
    last = 0
    while True:
        rows = db.session.scalars(
            select(Reduction).where(Reduction.id > last).order_by(Reduction.id).limit(batch)
        ).all()
        if not rows:
            return
        yield from rows
        last = rows[-1].id
        db.session.expunge_all()


def recompute_check(batch: int = 2000) -> RecomputeReport:
    """Compare each reduction with a fresh quantification; list every difference."""
    report = RecomputeReport()
    versions: dict[int, MethodologyVersion] = {}
    approved = history(methodologies.available())
    for reduction in _reductions(batch):
        report.checked += 1
        version = versions.get(reduction.version_id)
        if version is None:
            version = db.session.get(MethodologyVersion, reduction.version_id)
            if version is None:
                report.differences.append(f"reduction {reduction.id}: version missing")
                continue
            versions[reduction.version_id] = version
        where = f"reduction {reduction.id} ({reduction.methodology_code} v{version.number})"
        if version.params_hash != reduction.params_hash:
            report.differences.append(f"{where}: parameter hash differs")
        if reduction.module_version != version.module_version:
            report.differences.append(
                f"{where}: module {reduction.module_version}, version approved with "
                f"{version.module_version}"
            )
            continue
        try:
            module = methodologies.get(reduction.methodology_code, reduction.module_version)
        except KeyError:
            report.differences.append(f"{where}: module {reduction.module_version} is gone")
            continue
        try:
            moment = module.span(reduction.activity).start
        except ValueError:
            report.differences.append(f"{where}: the action's time cannot be read")
            continue
        in_force = in_force_at(approved.get(reduction.methodology_code, []), moment)
        if in_force is None or in_force.id != version.id:
            label = in_force.label if in_force else "none"
            report.differences.append(
                f"{where}: the version in force at the action's time was {label}"
            )
        result = module.quantify(reduction.activity, version.decimal_params())
        stored = (reduction.baseline_g, reduction.project_g, reduction.reduction_g)
        fresh = (result.baseline_g, result.project_g, result.reduction_g)
        if stored != fresh:
            report.differences.append(f"{where}: stored {stored} != recomputed {fresh}")
        rule = points_for(version, reduction.credited_g)
        # the programme's daily points cap may have given fewer points, never more
        points_ok = (
            0 < reduction.points < rule if reduction.programme_capped else reduction.points == rule
        )
        if reduction.credited_g > reduction.reduction_g or not points_ok:
            report.differences.append(
                f"{where}: credited {reduction.credited_g} g / "
                f"{reduction.points} points inconsistent"
            )
    return report
