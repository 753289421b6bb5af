"""Methodology versions: draft -> in review -> approved (by another admin) -> retired.

The version in force for a methodology at time t is the approved, not retired version with
the latest ``effective_from`` not after t; there is exactly one whenever any is approved.
Every quantification goes through ``quantify_activity`` so it records the version used.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import func, select

import methodologies
from methodologies import Quantification, Rejection, params_hash
from methodologies.base import Methodology

from ..accounts.models import User
from ..audit.services import record_audit
from ..extensions import db
from ..timeutil import aware, utcnow
from .exceptions import (
    CommentRequired,
    EffectiveDateInPast,
    FourEyesViolation,
    InvalidParameters,
    InvalidTransition,
    NoActiveVersion,
    RetireActiveVersion,
    UnknownMethodology,
    UnknownVersion,
)
from .models import MethodologyVersion, VersionStatus

SEED_EFFECTIVE_FROM = datetime(2020, 1, 1, tzinfo=UTC)


def methodology_class(code: str) -> type[Methodology]:
    try:
        return methodologies.registry.get_class(code)
    except KeyError:
        raise UnknownMethodology() from None


def get_version(version_id: int) -> MethodologyVersion:
    version = db.session.get(MethodologyVersion, version_id)
    if version is None:
        raise UnknownVersion()
    return version


def _canonical(params: dict[str, Any]) -> dict[str, str]:
    return {name: format(Decimal(str(value)).normalize(), "f") for name, value in params.items()}


def _check(code: str, params: dict[str, Any], points_per_gram: Any) -> tuple[dict[str, str], str]:
    problems = methodology_class(code).check_params(params)
    try:
        rate = Decimal(str(points_per_gram))
        if not rate.is_finite() or rate <= 0:
            problems.append("points_per_gram must be a positive number")
    except ArithmeticError:
        problems.append("points_per_gram is not a number")
    if problems:
        raise InvalidParameters(details=problems, problems="; ".join(problems))
    return _canonical(params), format(rate.normalize(), "f")


def seed_versions() -> int:
    """Approve each module's published defaults as v1 where a methodology has no version yet.

    This is the programme's starting point (what the modules cite); every later change goes
    through a draft and a second administrator's approval.
    """
    created = 0
    existing = set(db.session.scalars(select(MethodologyVersion.code).distinct()))
    for code in methodologies.available():
        if code in existing:
            continue
        cls = methodology_class(code)
        params = _canonical(cls.default_params())
        version = MethodologyVersion(
            code=code,
            number=1,
            module_version=cls.version,
            params=params,
            params_hash=params_hash(cls.default_params()),
            points_per_gram="1",
            status=VersionStatus.APPROVED,
            effective_from=SEED_EFFECTIVE_FROM,
            note=f"Published defaults of module {code} {cls.version}",
            reviewed_at=utcnow(),
            review_comment="seeded from the module's cited defaults",
        )
        db.session.add(version)
        db.session.flush()
        record_audit(None, "methodology.seed", "methodology_version", version.id, code=code)
        created += 1
    db.session.commit()
    return created


def create_draft(
    actor: User,
    code: str,
    params: dict[str, Any] | None = None,
    points_per_gram: Any = None,
    note: str = "",
) -> MethodologyVersion:
    """Propose a new version; unspecified parameters are copied from the version in force."""
    cls = methodology_class(code)
    try:
        base = active_version(code)
        merged: dict[str, Any] = dict(base.params)
        # Parameters the module gained since that version start at their cited defaults.
        for name, value in _canonical(cls.default_params()).items():
            merged.setdefault(name, value)
        rate = base.points_per_gram
    except NoActiveVersion:
        merged, rate = _canonical(cls.default_params()), "1"
    merged.update(params or {})
    canonical, rate = _check(code, merged, points_per_gram if points_per_gram is not None else rate)
    number = (
        db.session.scalar(
            select(func.max(MethodologyVersion.number)).where(MethodologyVersion.code == code)
        )
        or 0
    ) + 1
    version = MethodologyVersion(
        code=code,
        number=number,
        module_version=cls.version,
        params=canonical,
        params_hash=params_hash({k: Decimal(v) for k, v in canonical.items()}),
        points_per_gram=rate,
        status=VersionStatus.DRAFT,
        note=note.strip(),
        proposed_by_id=actor.id,
    )
    db.session.add(version)
    db.session.flush()
    record_audit(
        actor, "methodology.draft", "methodology_version", version.id, code=code, number=number
    )
    db.session.commit()
    return version


def _require(version: MethodologyVersion, allowed: set[VersionStatus], action: str) -> None:
    if version.status not in allowed:
        raise InvalidTransition(status=version.status.value, action=action)


def submit_version(actor: User, version_id: int) -> MethodologyVersion:
    version = get_version(version_id)
    _require(version, {VersionStatus.DRAFT}, "submitted")
    version.status = VersionStatus.IN_REVIEW
    version.submitted_at = utcnow()
    record_audit(actor, "methodology.submit", "methodology_version", version.id)
    db.session.commit()
    return version


def approve_version(
    actor: User, version_id: int, comment: str = "", effective_from: datetime | None = None
) -> MethodologyVersion:
    """Approve a version in review; the approver must not be the proposer (four eyes)."""
    version = get_version(version_id)
    _require(version, {VersionStatus.IN_REVIEW}, "approved")
    if version.proposed_by_id == actor.id:
        raise FourEyesViolation()
    now = utcnow()
    when = aware(effective_from) if effective_from else now
    if when < now.replace(second=0, microsecond=0):
        raise EffectiveDateInPast()
    version.status = VersionStatus.APPROVED
    version.effective_from = when
    version.reviewed_by_id = actor.id
    version.reviewed_at = now
    version.review_comment = comment.strip()
    record_audit(
        actor,
        "methodology.approve",
        "methodology_version",
        version.id,
        effective_from=when.isoformat(),
        comment=version.review_comment,
    )
    db.session.commit()
    return version


def reject_version(actor: User, version_id: int, comment: str) -> MethodologyVersion:
    version = get_version(version_id)
    _require(version, {VersionStatus.IN_REVIEW}, "rejected")
    if version.proposed_by_id == actor.id:
        raise FourEyesViolation()
    if not comment.strip():
        raise CommentRequired(field="comment")
    version.status = VersionStatus.REJECTED
    version.reviewed_by_id = actor.id
    version.reviewed_at = utcnow()
    version.review_comment = comment.strip()
    record_audit(
        actor,
        "methodology.reject",
        "methodology_version",
        version.id,
        comment=version.review_comment,
    )
    db.session.commit()
    return version


def retire_version(actor: User, version_id: int, comment: str) -> MethodologyVersion:
    """Retire a superseded or not-yet-effective version; never the one in force."""
    version = get_version(version_id)
    _require(version, {VersionStatus.APPROVED}, "retired")
    if not comment.strip():
        raise CommentRequired(field="comment")
    try:
        if active_version(version.code).id == version.id:
            raise RetireActiveVersion()
    except NoActiveVersion:
        pass
    version.status = VersionStatus.RETIRED
    version.retired_at = utcnow()
    record_audit(
        actor, "methodology.retire", "methodology_version", version.id, comment=comment.strip()
    )
    db.session.commit()
    return version


def active_version(code: str, at: datetime | None = None) -> MethodologyVersion:
    """The approved version in force for ``code`` at ``at`` (now by default)."""
    methodology_class(code)
    version = db.session.scalar(
        select(MethodologyVersion)
        .where(
            MethodologyVersion.code == code,
            MethodologyVersion.status == VersionStatus.APPROVED,
            MethodologyVersion.effective_from <= (at or utcnow()),
        )
        .order_by(MethodologyVersion.effective_from.desc(), MethodologyVersion.number.desc())
        .limit(1)
    )
    if version is None:
        raise NoActiveVersion()
    return version


def active_versions(
    codes: Iterable[str], at: datetime | None = None
) -> dict[str, MethodologyVersion | None]:
    """``active_version`` of several codes in one query (None where none is in force)."""
    codes = list(codes)
    out: dict[str, MethodologyVersion | None] = dict.fromkeys(codes)
    for version in db.session.scalars(
        select(MethodologyVersion)
        .where(
            MethodologyVersion.code.in_(codes),
            MethodologyVersion.status == VersionStatus.APPROVED,
            MethodologyVersion.effective_from <= (at or utcnow()),
        )
        .order_by(MethodologyVersion.effective_from.desc(), MethodologyVersion.number.desc())
    ):
        if out[version.code] is None:
            out[version.code] = version
    return out


def points_for(version: MethodologyVersion, reduction_g: int) -> int:
    """Points earned for a reduction under this version's points rule (half-up, integer)."""
    return int(
        (Decimal(reduction_g) * version.points_rate).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    )


@dataclass(frozen=True)
class Outcome:
    version: MethodologyVersion
    rejections: list[Rejection]
    quantification: Quantification | None
    points: int


def quantify_activity(version: MethodologyVersion, activity: dict[str, Any]) -> Outcome:
    """Validate and quantify with exactly this version (raises ActivityError if malformed)."""
    module = methodologies.get(version.code)
    params = version.decimal_params()
    rejections = module.validate(activity, params)
    if rejections:
        return Outcome(version, rejections, None, 0)
    result = module.quantify(activity, params)
    return Outcome(version, [], result, points_for(version, result.reduction_g))
