"""Read side of methodology versions: listings, the version in force, parameter diffs."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

import methodologies
from methodologies import Parameter

from ..extensions import db
from .exceptions import NoActiveVersion
from .models import MethodologyVersion, VersionStatus
from .services import active_version, methodology_class, version_class


def versions_of(code: str) -> list[MethodologyVersion]:
    methodology_class(code)
    return list(
        db.session.scalars(
            select(MethodologyVersion)
            .where(MethodologyVersion.code == code)
            .order_by(MethodologyVersion.number.desc())
        )
    )


def in_force_or_none(code: str) -> MethodologyVersion | None:
    try:
        return active_version(code)
    except NoActiveVersion:
        return None


@dataclass(frozen=True)
class Overview:
    code: str
    in_force: MethodologyVersion | None
    pending: int


def overview() -> list[Overview]:
    rows = []
    for code in methodologies.available():
        pending = sum(
            1
            for v in versions_of(code)
            if v.status in (VersionStatus.DRAFT, VersionStatus.IN_REVIEW)
        )
        rows.append(Overview(code, in_force_or_none(code), pending))
    return rows


@dataclass(frozen=True)
class DiffRow:
    parameter: Parameter | None
    name: str
    left: str | None
    right: str | None

    @property
    def changed(self) -> bool:
        return self.left != self.right


def diff(left: MethodologyVersion, right: MethodologyVersion) -> list[DiffRow]:
    """Parameters side by side (changed rows flagged); includes the module version (which
    carries the rounding rule) and the points rule."""
    cls = version_class(right)
    declared = {p.name: p for p in version_class(left).parameters}
    declared.update({p.name: p for p in cls.parameters})
    names = sorted(
        set(left.params) | set(right.params),
        key=lambda n: (n not in declared, list(declared).index(n) if n in declared else 0, n),
    )
    rows = [
        DiffRow(None, "module_version", left.module_version, right.module_version),
        DiffRow(None, "points_per_gram", left.points_per_gram, right.points_per_gram),
    ]
    rows += [DiffRow(declared.get(n), n, left.params.get(n), right.params.get(n)) for n in names]
    return rows
