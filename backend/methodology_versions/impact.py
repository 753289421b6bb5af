"""What a proposed methodology version would change, before and after it is approved.

* ``preview``: the reviewer sees the effect of a proposal on the last 30 days of real
  records — every reduction quantified with this methodology in that window, recomputed with
  its activity under the version in force and under the proposal (each with its own module
  class and points rule) — as total grams and points by action and by district, and a sample
  of individual records. It is the methodology's own arithmetic before daily and programme
  caps (caps depend on a resident's other actions that day), so the totals can exceed what
  was credited.
* ``approve_and_notify``: approving a version (``services.approve_version``) and, in the same
  step, telling each resident whose recent records would earn differently, in plain words,
  what changes and from when (a per-resident notice).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

import methodologies
from methodologies import ActivityError
from methodologies.base import Text

from ..accounts.models import User
from ..actions.models import ActivityRecord, Reduction
from ..extensions import db
from ..i18n import current_lang
from ..notices.services import in_both, notify
from ..timeutil import local, utcnow
from .exceptions import NoActiveVersion
from .models import MethodologyVersion, VersionStatus
from .services import active_version, approve_version, get_version, points_for

WINDOW_DAYS = 30
SAMPLE_SIZE = 10


@dataclass(frozen=True)
class Recomputed:
    """One record under the version in force and under the proposal."""

    reduction_id: int
    resident_id: int
    action: str
    district: str
    local_day: str
    current_g: int
    current_points: int
    proposed_g: int
    proposed_points: int

    @property
    def changed(self) -> bool:
        return (self.current_g, self.current_points) != (self.proposed_g, self.proposed_points)


@dataclass
class Totals:
    records: int = 0
    current_g: int = 0
    current_points: int = 0
    proposed_g: int = 0
    proposed_points: int = 0

    def add(self, row: Recomputed) -> None:
        self.records += 1
        self.current_g += row.current_g
        self.current_points += row.current_points
        self.proposed_g += row.proposed_g
        self.proposed_points += row.proposed_points


@dataclass
class Preview:
    version: MethodologyVersion
    in_force: MethodologyVersion | None
    since: datetime
    rows: list[Recomputed] = field(default_factory=list)
    total: Totals = field(default_factory=Totals)
    by_action: dict[str, Totals] = field(default_factory=dict)
    by_district: dict[str, Totals] = field(default_factory=dict)

    @property
    def sample(self) -> list[Recomputed]:
        """Changed records first, then the rest, newest first within each."""
        ordered = sorted(self.rows, key=lambda r: (not r.changed, r.local_day), reverse=False)
        changed = [r for r in ordered if r.changed][::-1]
        same = [r for r in ordered if not r.changed][::-1]
        return (changed + same)[:SAMPLE_SIZE]

    def residents_changed(self) -> dict[int, Totals]:
        out: dict[int, Totals] = defaultdict(Totals)
        for row in self.rows:
            out[row.resident_id].add(row)
        return {
            rid: t
            for rid, t in out.items()
            if (t.current_g, t.current_points) != (t.proposed_g, t.proposed_points)
        }


def _quantify(version: MethodologyVersion, activity: dict[str, Any]) -> tuple[int, int]:
    """Grams and points of an activity under exactly this version (0 if it is refused)."""
    module = methodologies.get(version.code, version.module_version)
    params = version.decimal_params()
    try:
        if module.validate(activity, params):
            return 0, 0
        grams = module.quantify(activity, params).reduction_g
    except ActivityError:
        return 0, 0
    return grams, points_for(version, grams)


def preview(version_id: int, now: datetime | None = None) -> Preview:
    """The proposal's effect on the last 30 days of records of its methodology."""
    version = get_version(version_id)
    now = now or utcnow()
    since = now - timedelta(days=WINDOW_DAYS)
    try:
        in_force: MethodologyVersion | None = active_version(version.code, now)
    except NoActiveVersion:  # nothing in force: every record is new
        in_force = None
    result = Preview(version, in_force, since)
    rows = db.session.execute(
        select(Reduction, ActivityRecord.action, User.district)
        .join(ActivityRecord, ActivityRecord.id == Reduction.record_id)
        .join(User, User.id == Reduction.resident_id)
        .where(Reduction.methodology_code == version.code, Reduction.created_at >= since)
        .order_by(Reduction.created_at, Reduction.id)
    )
    for reduction, action, district in rows:
        current = _quantify(in_force, reduction.activity) if in_force else (0, 0)
        proposed = _quantify(version, reduction.activity)
        row = Recomputed(
            reduction.id,
            reduction.resident_id,
            action,
            district or "—",
            reduction.local_day,
            current[0],
            current[1],
            proposed[0],
            proposed[1],
        )
        result.rows.append(row)
        result.total.add(row)
        result.by_action.setdefault(action, Totals()).add(row)
        result.by_district.setdefault(row.district, Totals()).add(row)
    return result


def approve_and_notify(
    actor: User, version_id: int, comment: str = "", effective_from: datetime | None = None
) -> MethodologyVersion:
    """Approve a version in review (four eyes, ``services.approve_version``), then tell each
    resident whose records of the last 30 days would earn differently under it what changes
    and from when. Notices are keyed by version and resident: approving is done once."""
    before = preview(version_id)  # against the version in force before this one
    version = approve_version(actor, version_id, comment, effective_from)
    assert version.status is VersionStatus.APPROVED and version.effective_from is not None
    cls = methodologies.registry.get_class(version.code, version.module_version)
    when = local(version.effective_from).date().isoformat()
    for resident_id, totals in before.residents_changed().items():
        zh, en = in_both(
            _l(
                "From %(date)s the rules for %(name)s change (version %(label)s). Your %(n)s "
                "records of the last 30 days would earn %(new)s points instead of %(old)s "
                "(%(new_g)s g CO2e instead of %(old_g)s g). Points you already have do not "
                "change.",
                date=when,
                name=_InLanguage(cls.name),
                label=version.label,
                n=totals.records,
                new=totals.proposed_points,
                old=totals.current_points,
                new_g=totals.proposed_g,
                old_g=totals.current_g,
            )
        )
        notify(
            [resident_id],
            "methodology.changed",
            zh,
            en,
            ref=("methodology_version", version.id),
            dedupe=f"methodology:{version.id}",
        )
    db.session.commit()
    return version


class _InLanguage:
    """A bilingual text rendered in the language of the moment (inside ``in_both``)."""

    def __init__(self, text: Text) -> None:
        self.text = text

    def __str__(self) -> str:
        return self.text.get(current_lang())
