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
from functools import cache
from typing import Any, cast

from flask_babel import lazy_gettext as _l
from sqlalchemy import bindparam, func, select

import methodologies
from methodologies import Quantification, Rejection, params_hash
from methodologies.base import Methodology

from ..accounts.models import User
from ..audit.services import record_audit
from ..extensions import db
from ..notifications.services import notify_methodology_change
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


def methodology_class(code: str, module_version: str | None = None) -> type[Methodology]:
    """The module class of ``code`` (of ``module_version``; the latest without one)."""
    try:
        return methodologies.registry.get_class(code, module_version)
    except KeyError:
        raise UnknownMethodology() from None


def version_class(version: MethodologyVersion) -> type[Methodology]:
    """The module class a version was approved with (it always quantifies with it)."""
    return methodology_class(version.code, version.module_version)


def get_version(version_id: int) -> MethodologyVersion:
    version = db.session.get(MethodologyVersion, version_id)
    if version is None:
        raise UnknownVersion()
    return version


def _canonical(params: dict[str, Any]) -> dict[str, str]:
    return {name: format(Decimal(str(value)).normalize(), "f") for name, value in params.items()}


def _check(
    cls: type[Methodology], params: dict[str, Any], points_per_gram: Any
) -> tuple[dict[str, str], str]:
    problems = cls.check_params(params)
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
    """Approve each module's first published defaults as v1 where a methodology has no
    version yet (its later module versions are then offered by ``offer_module_versions``).

    This is the programme's starting point (what the modules cite); every later change goes
    through a draft and a second administrator's approval.
    """
    created = 0
    existing = set(db.session.scalars(select(MethodologyVersion.code).distinct()))
    for code in methodologies.available():
        if code in existing:
            continue
        cls = methodology_class(code, methodologies.registry.module_versions(code)[0])
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


def _module_key(module_version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in module_version.split("."))


def offer_module_versions() -> int:
    """A draft for each module version newer than any version of its code (a new rounding
    rule, a corrected factor): the parameters in force, with the defaults the new module
    changed (e.g. the corrected composting factor). Nobody proposed it, so the administrator
    who submits it becomes its proposer and another must approve it (four eyes). Returns
    how many drafts were made; offering again makes none."""
    created = 0
    for code in methodologies.available():
        versions = list(
            db.session.scalars(select(MethodologyVersion).where(MethodologyVersion.code == code))
        )
        if not versions:
            continue
        newest = max(_module_key(v.module_version) for v in versions)
        for module_version in methodologies.registry.module_versions(code):
            if _module_key(module_version) <= newest:
                continue
            cls = methodology_class(code, module_version)
            try:
                base = active_version(code)
            except NoActiveVersion:
                base = max(versions, key=lambda v: v.number)
            old = version_class(base)
            old_defaults = old.default_params()
            params: dict[str, Any] = dict(base.params)
            changed = [
                p.name
                for p in cls.parameters
                if p.name not in params or old_defaults.get(p.name) != p.value
            ]
            params.update({name: cls.parameter(name).value for name in changed})
            for name in set(params) - {p.name for p in cls.parameters}:
                del params[name]
            note = (
                f"Module {code} {module_version}: "
                + (
                    "rounds the credit down to whole grams, never up; "
                    if cls.rounding != old.rounding
                    else ""
                )
                + (f"new defaults for {', '.join(changed)}; " if changed else "")
                + f"other parameters as in {base.label}."
            )
            _new_version(None, cls, params, base.points_per_gram, note)
            newest = _module_key(module_version)
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
    """Propose a new version, with the reason for the change (required); unspecified
    parameters are copied from the version in force, and so is its module version (a
    parameter change never changes the rounding rule). Each parameter must be within its
    declared bounds and sign."""
    methodology_class(code)
    try:
        base: MethodologyVersion | None = active_version(code)
    except NoActiveVersion:
        base = None
    cls = version_class(base) if base else methodology_class(code)
    merged: dict[str, Any] = dict(base.params) if base else _canonical(cls.default_params())
    rate = base.points_per_gram if base else "1"
    merged.update(params or {})
    rate = points_per_gram if points_per_gram is not None else rate
    _check(cls, merged, rate)  # parameters first: their problems are listed
    if not (note or "").strip():
        raise CommentRequired(field="note")
    version = _new_version(actor, cls, merged, rate, note)
    db.session.commit()
    return version


def _new_version(
    actor: User | None, cls: type[Methodology], params: dict[str, Any], rate: Any, note: str
) -> MethodologyVersion:
    code = cls.code
    canonical, rate = _check(cls, params, rate)
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
        proposed_by_id=actor.id if actor else None,
    )
    db.session.add(version)
    db.session.flush()
    record_audit(
        actor, "methodology.draft", "methodology_version", version.id, code=code, number=number
    )
    return version


STATUS_WORDS = {
    VersionStatus.DRAFT: _l("draft"),
    VersionStatus.IN_REVIEW: _l("in review"),
    VersionStatus.APPROVED: _l("approved"),
    VersionStatus.REJECTED: _l("rejected"),
    VersionStatus.RETIRED: _l("retired"),
}
ACTION_WORDS = {
    "submitted": _l("submitted"),
    "approved": _l("approved"),
    "rejected": _l("rejected"),
    "retired": _l("retired"),
}


def _require(version: MethodologyVersion, allowed: set[VersionStatus], action: str) -> None:
    if version.status not in allowed:
        raise InvalidTransition(
            status=STATUS_WORDS[version.status], action=ACTION_WORDS.get(action, action)
        )


def submit_version(actor: User, version_id: int) -> MethodologyVersion:
    version = get_version(version_id)
    _require(version, {VersionStatus.DRAFT}, "submitted")
    if version.proposed_by_id is None:
        # a draft the platform offered (a new module version): whoever sends it for review
        # answers for it, and another administrator must approve it
        version.proposed_by_id = actor.id
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
    notify_methodology_change(version.code, version.number)
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
    return cast(MethodologyVersion, version)


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
    module = methodologies.get(version.code, version.module_version)
    params = version.decimal_params()
    rejections = module.validate(activity, params)
    if rejections:
        return Outcome(version, rejections, None, 0)
    result = module.quantify(activity, params)
    return Outcome(version, [], result, points_for(version, result.reduction_g))


def history(codes: Iterable[str]) -> dict[str, list[MethodologyVersion]]:
    """Every version of these codes that was ever approved, per code, newest effective
    first: what ``in_force_at`` chooses from (one query)."""
    out: dict[str, list[MethodologyVersion]] = {code: [] for code in codes}
    for version in db.session.scalars(_history_query(), {"codes": list(out)}):
        out[version.code].append(version)
    return out


@cache
def _history_query() -> Any:
    """``history``'s statement, built once per process (every counter claim reads it), the
    codes bound at execution."""
    return (
        select(MethodologyVersion)
        .where(
            MethodologyVersion.code.in_(bindparam("codes", expanding=True)),
            MethodologyVersion.status.in_((VersionStatus.APPROVED, VersionStatus.RETIRED)),
            MethodologyVersion.effective_from.is_not(None),
        )
        .order_by(MethodologyVersion.effective_from.desc(), MethodologyVersion.number.desc())
    )


def in_force_at(versions: list[MethodologyVersion], at: datetime) -> MethodologyVersion | None:
    """The version that was in force at ``at`` (DESIGN.md invariant 5: an action is
    quantified under the version in force at the action's time, not at its arrival).

    ``versions`` as ``history`` gives them. A retired version counts for the time before it
    was retired (a superseded version stays the rule of its own period); one retired before
    it took effect never applied."""
    for version in versions:
        if version.effective_from is None or aware(version.effective_from) > at:
            continue
        if version.status is VersionStatus.RETIRED and (
            version.retired_at is None or aware(version.retired_at) <= at
        ):
            continue
        return version
    return None
