"""Verification: validate -> deduplicate -> daily caps -> anomaly flags -> quantify -> credit.

``verify_records`` works on a chunk of records at a time (DESIGN.md "batch, don't loop"): it
loads what it needs in a few queries per resident, row-locks each resident's ledger account
(so two workers never verify the same resident at once), writes the reductions and posts one
ledger credit per resident per chunk, and commits the whole chunk once. A worker killed
half-way leaves nothing; re-running the chunk is safe because only PENDING records are taken.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from statistics import median
from typing import Any

from flask import current_app
from sqlalchemy import func, select

import methodologies
from methodologies import ActivityError
from methodologies.base import local_day

from ..extensions import db
from ..ledger.services import credit_points, lock_accounts, resident_account
from ..methodology_versions.exceptions import NoActiveVersion
from ..methodology_versions.models import MethodologyVersion
from ..methodology_versions.services import active_version, points_for
from ..settings.services import get_setting
from ..timeutil import utcnow
from .models import ActivityRecord, Channel, Outcome, Reduction
from .reasons import reason

ACCEPTED = (Outcome.CREDITED, Outcome.REVIEW)


@dataclass
class Summary:
    credited: int = 0
    rejected: int = 0
    duplicate: int = 0
    review: int = 0
    unmatched: int = 0
    reduction_g: int = 0
    points: int = 0

    def add(self, other: Summary) -> None:
        for name in (
            "credited",
            "rejected",
            "duplicate",
            "review",
            "unmatched",
            "reduction_g",
            "points",
        ):
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass
class _Day:
    count: int = 0
    grams: int = 0


@dataclass
class _Context:
    """What one resident already has, loaded once per chunk."""

    # (dedupe group, start, end, record id, a self-report still waiting for review)
    windows: list[tuple[str, Any, Any, int, bool]] = field(default_factory=list)
    days: dict[tuple[str, str], _Day] = field(default_factory=lambda: defaultdict(_Day))
    actions_per_day: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    points_per_day: dict[str, int] = field(default_factory=lambda: defaultdict(int))


def _reject(record: ActivityRecord, code: str, text: dict[str, str]) -> None:
    record.outcome = Outcome.REJECTED
    record.reason_code = code
    record.reason = text


def _malformed(exc: Exception) -> dict[str, str]:
    if isinstance(exc, ActivityError):
        return {
            "zh_CN": f"{reason('malformed_record')['zh_CN']}：{exc.message.zh_CN}",
            "en": f"{reason('malformed_record')['en']}: {exc.message.en}",
        }
    return reason("malformed_record")


def _versions() -> dict[str, MethodologyVersion | None]:
    out: dict[str, MethodologyVersion | None] = {}
    for code in ("public_transit", "bike_sharing", "waste_sorting", "food_waste"):
        try:
            out[code] = active_version(code)
        except NoActiveVersion:
            out[code] = None
    return out


def _context(resident_id: int, records: list[ActivityRecord]) -> _Context:
    ctx = _Context()
    starts = [r.occurred_start for r in records if r.occurred_start]
    if not starts:
        return ctx
    lo, hi = (
        min(starts),
        max(r.occurred_end or r.occurred_start for r in records if r.occurred_start),
    )
    own = {r.id for r in records}
    rows = db.session.execute(
        select(
            ActivityRecord.dedupe_group,
            ActivityRecord.occurred_start,
            ActivityRecord.occurred_end,
            ActivityRecord.id,
            ActivityRecord.channel,
            ActivityRecord.outcome,
        ).where(
            ActivityRecord.resident_id == resident_id,
            ActivityRecord.outcome.in_(ACCEPTED),
            ActivityRecord.occurred_start <= hi,
            ActivityRecord.occurred_end >= lo,
        )
    )
    ctx.windows = [
        (
            row.dedupe_group,
            row.occurred_start,
            row.occurred_end,
            row.id,
            row.channel is Channel.SELF_REPORT and row.outcome is Outcome.REVIEW,
        )
        for row in rows
        if row.id not in own
    ]
    days = {r.local_day for r in records if r.local_day}
    for action, day, count, grams in db.session.execute(
        select(
            Reduction.methodology_code,
            Reduction.local_day,
            func.count(),
            func.coalesce(func.sum(Reduction.credited_g), 0),
        )
        .where(Reduction.resident_id == resident_id, Reduction.local_day.in_(days))
        .group_by(Reduction.methodology_code, Reduction.local_day)
    ):
        ctx.days[(action, day)] = _Day(int(count), int(grams))
    for day, count in db.session.execute(
        select(ActivityRecord.local_day, func.count())
        .where(
            ActivityRecord.resident_id == resident_id,
            ActivityRecord.local_day.in_(days),
            ActivityRecord.outcome.in_(ACCEPTED),
            ActivityRecord.id.not_in(own),
        )
        .group_by(ActivityRecord.local_day)
    ):
        ctx.actions_per_day[day] = int(count)
    return ctx


def _supersede(self_report_id: int, record: ActivityRecord) -> None:
    other = db.session.get(ActivityRecord, self_report_id)
    if other is not None and other.outcome is Outcome.REVIEW:
        db.session.flush()
        other.outcome = Outcome.DUPLICATE
        other.duplicate_of_id = record.id
        other.reason_code = "duplicate_action"
        other.reason = reason("duplicate_action")


def _prepare(record: ActivityRecord) -> bool:
    """Fill the window, day and group from the activity; False (rejected) when malformed."""
    try:
        module = methodologies.get(record.action)
    except KeyError:
        _reject(record, "unknown_action", reason("unknown_action"))
        return False
    try:
        window = module.window(record.activity)
    except (ActivityError, TypeError, ValueError, AttributeError) as exc:
        _reject(record, "malformed_record", _malformed(exc))
        return False
    record.occurred_start, record.occurred_end = window.start, window.end
    record.local_day = local_day(window.start)
    record.dedupe_group = module.dedupe_group
    return True


def _verifier_outliers(records: list[ActivityRecord]) -> set[int]:
    verifiers = {r.verifier_id for r in records if r.verifier_id}
    if not verifiers:
        return set()
    today = local_day(utcnow())
    counts = dict(
        db.session.execute(
            select(ActivityRecord.verifier_id, func.count())
            .where(
                ActivityRecord.local_day == today,
                ActivityRecord.verifier_id.is_not(None),
                ActivityRecord.outcome == Outcome.CREDITED,
            )
            .group_by(ActivityRecord.verifier_id)
        ).all()
    )
    config = current_app.config
    outliers = set()
    for verifier in verifiers:
        own = counts.get(verifier, 0)
        peers = [c for v, c in counts.items() if v != verifier]
        if own >= config["VERIFIER_MIN"] and (
            not peers or own > config["VERIFIER_OUTLIER_FACTOR"] * median(peers)
        ):
            outliers.add(verifier)
    return outliers


def verify_records(record_ids: list[int], *, approve_review: bool = False) -> Summary:
    """Verify records (PENDING ones; with ``approve_review``, REVIEW ones). Commits once."""
    summary = Summary()
    if not record_ids:
        return summary
    if get_setting("crediting_paused"):
        return summary  # records stay pending and are verified when crediting resumes
    wanted = Outcome.REVIEW if approve_review else Outcome.PENDING
    resident_ids = sorted(
        set(
            db.session.scalars(
                select(ActivityRecord.resident_id).where(
                    ActivityRecord.id.in_(record_ids),
                    ActivityRecord.outcome == wanted,
                    ActivityRecord.resident_id.is_not(None),
                )
            )
        )
    )
    versions = _versions()
    for resident_id in resident_ids:
        account = resident_account(resident_id)
        lock_accounts([account])  # one resident verified by one worker at a time
        records = list(
            db.session.scalars(
                select(ActivityRecord)
                .where(
                    ActivityRecord.id.in_(record_ids),
                    ActivityRecord.resident_id == resident_id,
                    ActivityRecord.outcome == wanted,
                )
                .order_by(ActivityRecord.id)
                .execution_options(populate_existing=True)
            )
        )
        summary.add(_verify_resident(resident_id, records, versions, approve_review))
    db.session.commit()
    return summary


def _verify_resident(
    resident_id: int,
    records: list[ActivityRecord],
    versions: dict[str, MethodologyVersion | None],
    approve_review: bool,
) -> Summary:
    summary = Summary()
    ready = [r for r in records if _prepare(r)]
    summary.rejected += len(records) - len(ready)
    ready.sort(key=lambda r: (r.occurred_start, r.id))
    ctx = _context(resident_id, ready)
    points_cap = get_setting("daily_points_cap")
    outliers = set() if approve_review else _verifier_outliers(ready)
    config = current_app.config
    reductions: list[Reduction] = []
    now = utcnow()
    for record in ready:
        record.verified_at = now
        version = versions.get(record.action)
        if version is None:
            _reject(record, "no_active_methodology", reason("no_active_methodology"))
            summary.rejected += 1
            continue
        clash = next(
            (
                w
                for w in ctx.windows
                if w[0] == record.dedupe_group
                and w[1] < record.occurred_end
                and record.occurred_start < w[2]
            ),
            None,
        )
        if clash is not None and clash[4] and record.channel is not Channel.SELF_REPORT:
            # Operator or counter-signed data beats a self-report still waiting for review:
            # this record counts, the self-report becomes its duplicate.
            _supersede(clash[3], record)
            ctx.windows.remove(clash)
            clash = None
        if clash is not None:
            record.outcome = Outcome.DUPLICATE
            record.duplicate_of_id = clash[3]
            record.reason_code = "duplicate_action"
            record.reason = reason("duplicate_action")
            summary.duplicate += 1
            continue
        module = methodologies.get(record.action)
        params = version.decimal_params()
        try:
            rejections = module.validate(record.activity, params)
        except ActivityError as exc:
            _reject(record, "malformed_record", _malformed(exc))
            summary.rejected += 1
            continue
        if rejections:
            first = rejections[0]
            _reject(record, first.code, first.reason.as_dict())
            summary.rejected += 1
            continue
        flags = []
        if not approve_review:
            if ctx.actions_per_day[record.local_day or ""] >= config["BURST_LIMIT"]:
                flags.append("burst")
            if record.verifier_id in outliers:
                flags.append("verifier_outlier")
        ctx.windows.append(
            (
                record.dedupe_group or "",
                record.occurred_start,
                record.occurred_end,
                record.id,
                False,
            )
        )
        ctx.actions_per_day[record.local_day or ""] += 1
        if flags:
            record.outcome = Outcome.REVIEW
            record.flags = flags
            record.reason_code = flags[0]
            record.reason = reason(flags[0])
            summary.review += 1
            continue
        result = module.quantify(record.activity, params)
        factor = (
            Decimal(config["CARD_CAP_FACTOR"]) if record.channel is Channel.CARD else Decimal(1)
        )
        day = ctx.days[(record.action, record.local_day or "")]
        if day.count >= int(params["max_actions_per_day"] * factor):
            _reject(record, "daily_limit_reached", reason("daily_limit_reached"))
            summary.rejected += 1
            continue
        remaining = int(params["daily_cap_g"] * factor) - day.grams
        if remaining <= 0:
            _reject(record, "daily_cap_reached", reason("daily_cap_reached"))
            summary.rejected += 1
            continue
        credited = min(result.reduction_g, remaining)
        points = points_for(version, credited)
        if points_cap:
            earned_today = ctx.points_per_day[record.local_day or ""]
            if earned_today >= points_cap:
                _reject(record, "programme_cap_reached", reason("programme_cap_reached"))
                summary.rejected += 1
                continue
            points = min(points, points_cap - earned_today)
        ctx.points_per_day[record.local_day or ""] += points
        day.count += 1
        day.grams += credited
        record.outcome = Outcome.CREDITED
        record.reason_code = None
        record.reason = None
        reductions.append(
            Reduction(
                record_id=record.id,
                resident_id=resident_id,
                methodology_code=version.code,
                module_version=version.module_version,
                version_id=version.id,
                params_hash=version.params_hash,
                activity=dict(record.activity),
                baseline_g=result.baseline_g,
                project_g=result.project_g,
                reduction_g=result.reduction_g,
                credited_g=credited,
                points=points,
                steps=[s.as_dict() for s in result.steps],
                local_day=record.local_day or "",
            )
        )
        summary.credited += 1
        summary.reduction_g += credited
        summary.points += points
    if reductions:
        db.session.add_all(reductions)
        db.session.flush()
        if summary.points > 0:
            ids = sorted(r.record_id for r in reductions)
            entry, _ = credit_points(
                resident_id,
                summary.points,
                f"credit:records:{ids[0]}-{ids[-1]}:{len(ids)}",
                memo=f"{len(ids)} verified actions",
                ref=("records", f"{ids[0]}-{ids[-1]}"),
            )
            for reduction in reductions:
                reduction.ledger_entry_id = entry.id
    return summary


def verify_pending(limit: int = 20_000, chunk: int = 1000) -> int:
    """The periodic job: verify records left pending (crediting was paused, or a methodology
    had no version in force); returns how many were looked at."""
    ids = list(
        db.session.scalars(
            select(ActivityRecord.id)
            .where(
                ActivityRecord.outcome == Outcome.PENDING, ActivityRecord.resident_id.is_not(None)
            )
            .order_by(ActivityRecord.id)
            .limit(limit)
        )
    )
    for start in range(0, len(ids), chunk):
        verify_records(ids[start : start + chunk])
    return len(ids)
