"""Verification: time rules -> validate -> deduplicate -> daily caps -> anomaly flags ->
quantify -> credit.

Every record meets the time rules first (``timerules``: not dated after its arrival, not
older than its channel's claim window, not from long before the resident's consent to its
source), then is quantified under the methodology version that was in force at the
action's own time, with the module version that version was approved with; caps count per
local day of that same moment (DESIGN.md invariant 5).

``verify_records`` works on a chunk of records at a time (DESIGN.md "batch, don't loop"): it
row-locks the residents' ledger accounts (so two workers never verify the same resident at
once), loads what it needs in a few queries per chunk, decides each record in memory, then
writes the outcomes in one bulk UPDATE, inserts the reductions in one statement, posts one
ledger credit per chunk (a leg per resident), and commits the whole chunk once. A worker killed
half-way leaves nothing; re-running is safe because only PENDING records are taken.

``verify_new`` does the same for a partner's records not stored yet: they are decided first
and written once, with their outcomes, by COPY (no UPDATE pass, no re-read).

One idea, one file (over 500 lines): the verification pipeline, whose steps share the chunk's
loaded context and must be read in order; ``self_reports``, ``claims`` and ``ingest`` feed it.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from statistics import median
from typing import Any

from flask import current_app
from sqlalchemy import bindparam, func, select, text, update

import methodologies
from methodologies import ActivityError, Methodology, Quantification
from methodologies.base import local_day

from ..bulk import allocate_ids, any_of, array_literal, insert_rows, json_text, update_rows
from ..cache import cached
from ..extensions import db
from ..ledger.services import credit_many, lock_resident_accounts
from ..methodology_versions.models import MethodologyVersion
from ..methodology_versions.services import history, in_force_at, points_for
from ..notifications.services import NotificationKind, notify_many
from ..settings.services import get_settings
from ..timeutil import aware, utcnow
from . import columnar
from .catalogue import RESIDENT_ACTIONS
from .models import ActivityRecord, BindingStatus, Channel, IdentityBinding, Outcome, Reduction
from .reasons import reason
from .timerules import time_problem

ACCEPTED = (Outcome.CREDITED, Outcome.REVIEW)
# What a malformed activity may raise inside a methodology (ActivityError is a ValueError);
# ArithmeticError is the last guard: one bad record never stops its chunk.
MALFORMED = (TypeError, ValueError, AttributeError, ArithmeticError)
# Rule rejections that are anomalies to look at rather than certain refusals: the record goes
# to the review queue with the rule's reason, and an administrator may approve it.
# Operator data only: a resident's own report must meet every rule (checked when submitted,
# and again when approved), so no approval can credit a self-report that fails one.
TO_REVIEW = frozenset({"speed_implausible", "distance_beyond_stops"})
# Actions a resident's own word never earns a reduction for (reference §3.5: only
# collector-weighed waste); their self-reports are check-ins.
SELF_DECLARED_ONLY = frozenset({"waste_sorting"})
RECORDS = ActivityRecord.__table__


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
class Item:
    """One record being verified (read once with Core, written back with one UPDATE)."""

    id: int
    resident_id: int
    action: str
    channel: Channel
    activity: dict[str, Any]
    verifier_id: int | None
    partner_id: int | None = None
    identity_hash: str | None = None
    received_at: datetime | None = None
    consented_at: datetime | None = None  # of the partner identity's binding
    moment: datetime | None = None  # when the action took place (its span's start)
    occurred_start: datetime | None = None
    occurred_end: datetime | None = None
    local_day: str | None = None
    dedupe_group: str | None = None
    outcome: Outcome = Outcome.PENDING
    reason_code: str | None = None
    reason: dict[str, str] | None = None
    duplicate_of_id: int | None = None
    flags: list[str] = field(default_factory=list)
    reduction: dict[str, Any] | None = None
    supersedes: int | None = None  # a self-report this operator record replaces, if credited
    version: MethodologyVersion | None = None  # in force at ``moment`` (``_decide``)
    # the local days of (occurred_start - 1 day, occurred_start, occurred_end), when
    # ``columnar.prepare`` found them over columns (``_day_pairs``)
    context_days: tuple[str, str, str] | None = None


@dataclass
class _Day:
    count: int = 0
    grams: int = 0


@dataclass
class _Context:
    """What one resident already has on the chunk's days."""

    # (dedupe group, start, end, record id, a self-report still waiting for review)
    windows: list[tuple[str, Any, Any, int, bool]] = field(default_factory=list)
    days: dict[tuple[str, str], _Day] = field(default_factory=lambda: defaultdict(_Day))
    actions_per_day: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    points_per_day: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    superseded: list[tuple[int, int]] = field(default_factory=list)  # (self-report, winner)


def _reject(item: Item, code: str, text: dict[str, str]) -> None:
    item.outcome, item.reason_code, item.reason = Outcome.REJECTED, code, text


def _malformed(exc: Exception) -> dict[str, str]:
    base = reason("malformed_record")
    if isinstance(exc, ActivityError):
        return {
            "zh_CN": f"{base['zh_CN']}：{exc.message.zh_CN}",
            "en": f"{base['en']}: {exc.message.en}",
        }
    return base


_PARAMS: dict[tuple[int, str], dict[str, Decimal]] = {}


def _params(version: MethodologyVersion) -> dict[str, Decimal]:
    """A version's parameters as Decimals, parsed once per process (versions are frozen)."""
    key = (version.id, version.params_hash)
    if key not in _PARAMS:
        _PARAMS[key] = version.decimal_params()
    return _PARAMS[key]


class _Terms:
    """What crediting reads of one version, read once a chunk: its module and parameters,
    the reduction's version columns, its caps per channel and its points per amount (ORM
    attribute reads and Decimal arithmetic, a dozen per record in ``_verify_resident``)."""

    def __init__(self, version: MethodologyVersion) -> None:
        self.version = version
        self.module = methodologies.get(version.code, version.module_version)
        self.params = _params(version)
        self.columns = {
            "methodology_code": version.code,
            "module_version": version.module_version,
            "version_id": version.id,
            "params_hash": version.params_hash,
        }
        self._caps: dict[Decimal, tuple[int, int]] = {}
        self._points: dict[int, int] = {}

    def caps(self, factor: Decimal) -> tuple[int, int]:
        """(actions a day, grams a day) under this version, scaled by ``factor``."""
        caps = self._caps.get(factor)
        if caps is None:
            caps = self._caps[factor] = (
                int(self.params["max_actions_per_day"] * factor),
                int(self.params["daily_cap_g"] * factor),
            )
        return caps

    def points(self, grams: int) -> int:
        points = self._points.get(grams)
        if points is None:
            points = self._points[grams] = points_for(self.version, grams)
        return points


_RESULTS: dict[Hashable, Quantification] = {}


def _quantify(
    module: Methodology,
    version: MethodologyVersion,
    activity: dict[str, Any],
    params: dict[str, Decimal],
) -> Quantification:
    """``module.quantify``, reused for activities that agree on the module's declared
    ``quantity_fields`` under the same version (a city's bus trips repeat a few hundred
    distances). Pure functions of frozen versions, so reuse gives the same grams; the
    stored inputs are re-derived in full by ``recompute --check``."""
    fields = module.quantity_fields
    if fields is None:
        return module.quantify(activity, params)
    values = [activity.get(name) for name in fields]
    key: Hashable = (version.id, version.params_hash, *((type(v), v) for v in values))
    try:
        hash(key)
    except TypeError:  # a list or an object among them (waste items)
        key = (version.id, version.params_hash, json.dumps(values, sort_keys=True, default=str))
    result = _RESULTS.get(key)
    if result is None:
        if len(_RESULTS) >= 4096:  # bounded memory: a city has a few hundred distances
            _RESULTS.clear()
        result = _RESULTS[key] = module.quantify(activity, params)
    return result


def _prepare(item: Item) -> bool:
    """Fill the window, day and group from the activity, and apply the time rules; False
    (rejected) when malformed or out of time."""
    if item.action not in RESIDENT_ACTIONS:
        _reject(item, "unknown_action", reason("unknown_action"))
        return False
    module = methodologies.get(item.action)
    try:
        window = module.window(item.activity)
        span = module.span(item.activity)
    except MALFORMED as exc:
        _reject(item, "malformed_record", _malformed(exc))
        return False
    item.occurred_start, item.occurred_end = window.start, window.end
    item.moment = span.start
    item.local_day = local_day(span.start)  # the local day of the action itself
    item.dedupe_group = module.dedupe_group
    problem = time_problem(
        item.channel,
        span,
        item.received_at or utcnow(),
        item.consented_at if item.channel is Channel.PARTNER else None,
    )
    if problem is not None:
        _reject(item, problem.code, problem.reason)
        return False
    return True


def _day_pairs(groups: dict[int, list[Item]]) -> set[tuple[int, str]]:
    """(resident, local day) pairs a chunk touches, with the day before (overnight trips)."""
    pairs = set()
    for resident_id, items in groups.items():
        for item in items:
            days = item.context_days
            if days is None:
                if item.occurred_start is None or item.occurred_end is None:
                    continue
                days = (
                    local_day(item.occurred_start - timedelta(days=1)),
                    local_day(item.occurred_start),
                    local_day(item.occurred_end),
                )
            for day in days:
                pairs.add((resident_id, day))
    return pairs


def _bounds(groups: dict[int, list[Item]]) -> dict[int, tuple[datetime, datetime]]:
    """Per resident, the earliest start and the latest end of the chunk's windows: a stored
    window outside them overlaps none of the resident's items (it can neither be a clash
    nor be superseded), so it need not be read."""
    bounds = {}
    for resident_id, items in groups.items():
        starts = [i.occurred_start for i in items if i.occurred_start is not None]
        ends = [i.occurred_end for i in items if i.occurred_end is not None]
        if starts and ends:
            bounds[resident_id] = (min(starts), max(ends))
    return bounds


# Rows of the context fetched at a time (a server-side cursor): the client holds a batch, not
# the whole result, whatever the size of the chunk's days.
CONTEXT_BATCH = 5_000
# Up to this many residents (a counter claim, an approval) the context is fetched at once:
# the cursor's DECLARE, FETCHes and CLOSE would cost more round trips than its rows.
FEW_RESIDENTS = 50

# PostgreSQL, in one statement (three parts told apart by ``part``): only the stored
# windows that may overlap the chunk's items (the same (resident, day) selection as
# ``_stored``, bounded by the chunk's earliest start and latest end, then by each resident's
# own bounds here); the accepted actions per resident and day counted by the database rather
# than read row by row (the outcome and channel words are the stored values of ``Outcome``
# and ``Channel``); and the reductions' count, grams and points per resident, action and day
# (``_reduced``). A join with per-resident bounds was tried: the planner, guessing 100 rows
# for unnest(), chose plans that scanned the table. The windows and the counts come from one
# read of the residents' accepted records on the days (``accepted``, materialised): two
# reads of the same rows were a third of the statement's buffers at 1M records, and the
# windows' own read chose ``ix_activity_resident_window`` (resident, start before the
# chunk's end), which reads every resident's whole history (README, round 9).
_CONTEXT_SQL = text(
    "WITH accepted AS MATERIALIZED ("
    "SELECT resident_id, dedupe_group, occurred_start, occurred_end, id, outcome, channel, "
    "local_day FROM activity_records "
    "WHERE resident_id = ANY(CAST(:residents AS integer[])) "
    "AND local_day = ANY(CAST(:days AS varchar[])) "
    "AND outcome IN ('credited', 'review')) "
    "SELECT 'w' AS part, resident_id, dedupe_group AS name, occurred_start, occurred_end, id, "
    "outcome = 'review' AS waiting, CAST(NULL AS varchar) AS day, CAST(0 AS bigint) AS n, "
    "CAST(0 AS bigint) AS grams, CAST(0 AS bigint) AS points FROM accepted "
    "WHERE occurred_start < :hi AND occurred_end > :lo "
    "AND (outcome = 'credited' OR (channel = 'self_report' AND outcome = 'review')) "
    "UNION ALL "
    "SELECT 'c', resident_id, NULL, NULL, NULL, NULL, NULL, local_day, "
    "count(*) FILTER (WHERE id <> ALL(CAST(:own AS bigint[]))), 0, 0 FROM accepted "
    "GROUP BY resident_id, local_day "
    "UNION ALL "
    "SELECT 'r', resident_id, methodology_code, NULL, NULL, NULL, NULL, local_day, count(*), "
    "coalesce(sum(credited_g), 0), coalesce(sum(points), 0) FROM reductions "
    "WHERE resident_id = ANY(CAST(:residents AS integer[])) "
    "AND local_day = ANY(CAST(:days AS varchar[])) "
    "GROUP BY resident_id, methodology_code, local_day "
    "ORDER BY part, id"
)


def _stored_pg(
    contexts: dict[int, _Context],
    residents: list[int],
    days: list[str],
    bounds: dict[int, tuple[datetime, datetime]],
    own: set[int],
    own_stored: bool,
) -> None:
    # the chunk's own records, stored already, are not "already had"
    mine = sorted(own) if own_stored else []
    found = db.session.execute(
        _CONTEXT_SQL,
        {  # the arrays as text: see ``array_literal``
            "residents": array_literal(residents),
            "days": array_literal(days),
            "lo": min(lo for lo, _ in bounds.values()),
            "hi": max(hi for _, hi in bounds.values()),
            "own": array_literal(mine),
        },
        # A chunk's context in batches (``CONTEXT_BATCH``, a server-side cursor): the whole of
        # it as Python rows at once raised the import's peak RSS at 1M records to 364 MB,
        # iterated 309, in batches 285 (README, round 8). A few residents' context (a counter
        # claim, an approval) is small: fetched at once, without the cursor's DECLARE, FETCHes
        # and CLOSE (four round trips more per claim).
        execution_options={"yield_per": CONTEXT_BATCH} if len(residents) > FEW_RESIDENTS else {},
    )
    for part, resident_id, name, start, end, record_id, waiting, day, n, grams, points in found:
        ctx = contexts[resident_id]
        if part == "w":
            lo, hi = bounds[resident_id]
            if start < hi and end > lo and record_id not in own:
                ctx.windows.append((name, start, end, record_id, bool(waiting)))
        elif part == "c":
            if n:
                ctx.actions_per_day[day] += int(n)
        else:
            ctx.days[(name, day)] = _Day(int(n), int(grams))
            ctx.points_per_day[day] += int(points)


def _stored(
    contexts: dict[int, _Context],
    residents: list[int],
    days: list[str],
    bounds: dict[int, tuple[datetime, datetime]],
    own: set[int],
) -> None:
    on_days = any_of(ActivityRecord.resident_id, residents) & ActivityRecord.local_day.in_(days)
    for row in db.session.execute(
        select(
            ActivityRecord.resident_id,
            ActivityRecord.dedupe_group,
            ActivityRecord.occurred_start,
            ActivityRecord.occurred_end,
            ActivityRecord.id,
            ActivityRecord.channel,
            ActivityRecord.outcome,
            ActivityRecord.local_day,
        )
        .where(on_days, ActivityRecord.outcome.in_(ACCEPTED))
        .order_by(ActivityRecord.id)
    ):
        if row.id in own:
            continue
        ctx = contexts[row.resident_id]
        waiting_report = row.channel is Channel.SELF_REPORT and row.outcome is Outcome.REVIEW
        # A duplicate is always a duplicate of a credited record: an anomaly waiting for
        # review blocks nothing (approved later, it is checked against what was credited).
        lo, hi = bounds[row.resident_id]
        if (row.outcome is Outcome.CREDITED or waiting_report) and (
            row.occurred_start is None
            or row.occurred_end is None
            or (aware(row.occurred_start) < hi and aware(row.occurred_end) > lo)
        ):
            ctx.windows.append(
                (row.dedupe_group, row.occurred_start, row.occurred_end, row.id, waiting_report)
            )
        ctx.actions_per_day[row.local_day or local_day(row.occurred_start)] += 1


def _contexts(
    groups: dict[int, list[Item]], own: set[int], *, own_stored: bool = True
) -> dict[int, _Context]:
    """What each resident already has on the chunk's days: one statement per chunk on
    PostgreSQL, two elsewhere.
    ``own_stored``: whether the chunk's own records may be stored already (not so in
    ``verify_new``); they are not counted as what the resident already has."""
    contexts = {resident_id: _Context() for resident_id in groups}
    pairs = _day_pairs(groups)
    if not pairs:
        return contexts
    # Two plain IN lists (indexable, cheap to plan) select a superset of the pairs; a chunk
    # usually holds one or two days, so the superset is small.
    residents, days = sorted({p[0] for p in pairs}), sorted({p[1] for p in pairs})
    bounds = _bounds(groups)
    if db.session.get_bind().dialect.name == "postgresql":
        _stored_pg(contexts, sorted(bounds), days, bounds, own, own_stored)
    else:
        _stored(contexts, residents, days, bounds, own)
        _reduced(contexts, residents, days)
    return contexts


def _reduced(contexts: dict[int, _Context], residents: list[int], days: list[str]) -> None:
    """The reductions' count, grams and points per resident, action and day (SQLite;
    PostgreSQL reads them in ``_stored_pg``'s statement)."""
    for resident_id, action, day, count, grams, points in db.session.execute(
        select(
            Reduction.resident_id,
            Reduction.methodology_code,
            Reduction.local_day,
            func.count(),
            func.coalesce(func.sum(Reduction.credited_g), 0),
            func.coalesce(func.sum(Reduction.points), 0),
        )
        .where(any_of(Reduction.resident_id, residents), Reduction.local_day.in_(days))
        .group_by(Reduction.resident_id, Reduction.methodology_code, Reduction.local_day)
    ).all():
        ctx = contexts[resident_id]
        ctx.days[(action, day)] = _Day(int(count), int(grams))
        ctx.points_per_day[day] += int(points)


def _verifier_outliers(items: list[Item]) -> set[int]:
    verifiers = {i.verifier_id for i in items if i.verifier_id}
    if not verifiers:
        return set()
    config = current_app.config
    today = local_day(utcnow())
    # Today's credits per verifier: a scan of the day that grows with it, so each process
    # counts again at most once a minute (a statistical signal; a minute late is in time).
    counts: dict[int, int] = cached(
        ("verifier_counts", today),
        lambda: dict(
            db.session.execute(
                select(ActivityRecord.verifier_id, func.count())
                .where(
                    ActivityRecord.local_day == today,
                    ActivityRecord.verifier_id.is_not(None),
                    ActivityRecord.outcome == Outcome.CREDITED,
                )
                .group_by(ActivityRecord.verifier_id)
            ).all()
        ),
        seconds=min(60, config["READ_CACHE_SECONDS"]),
    )
    outliers = set()
    for verifier in verifiers:
        own = counts.get(verifier, 0)
        peers = [c for v, c in counts.items() if v != verifier]
        if own >= config["VERIFIER_MIN"] and (
            not peers or own > config["VERIFIER_OUTLIER_FACTOR"] * median(peers)
        ):
            outliers.add(verifier)
    return outliers


def _load(record_ids: list[int], wanted: Outcome) -> list[Item]:
    rows = db.session.execute(
        select(
            ActivityRecord.id,
            ActivityRecord.resident_id,
            ActivityRecord.action,
            ActivityRecord.channel,
            ActivityRecord.activity,
            ActivityRecord.verifier_id,
            ActivityRecord.partner_id,
            ActivityRecord.identity_hash,
            ActivityRecord.received_at,
        )
        .where(
            any_of(ActivityRecord.id, record_ids),
            ActivityRecord.outcome == wanted,
            ActivityRecord.resident_id.is_not(None),
        )
        .order_by(ActivityRecord.id)
    )
    return [
        Item(
            row.id,
            row.resident_id,
            row.action,
            row.channel,
            row.activity or {},
            row.verifier_id,
            row.partner_id,
            row.identity_hash,
            row.received_at,
        )
        for row in rows
    ]


def _consent_withdrawn(items: list[Item]) -> set[int]:
    """Partner records whose identity binding is no longer active for their resident (the
    resident unlinked it, or withdrew consent, after the record was matched): earn nothing.
    The others get their binding's consent time (for the time rules)."""
    partner_items = [i for i in items if i.channel is Channel.PARTNER]
    if not partner_items:
        return set()
    active = {
        (row.partner_id, row.identity_hash, row.resident_id): row.consented_at
        for row in db.session.execute(
            select(
                IdentityBinding.partner_id,
                IdentityBinding.identity_hash,
                IdentityBinding.resident_id,
                IdentityBinding.consented_at,
            ).where(
                IdentityBinding.status == BindingStatus.ACTIVE,
                any_of(IdentityBinding.identity_hash, {i.identity_hash for i in partner_items}),
            )
        ).all()
    }
    withdrawn = set()
    for item in partner_items:
        key = (item.partner_id, item.identity_hash, item.resident_id)
        if key in active:
            item.consented_at = active[key]
        else:
            withdrawn.add(item.id)
    return withdrawn


def verify_records(
    record_ids: list[int], *, approve_review: bool = False, commit: bool = True
) -> Summary:
    """Verify stored records (PENDING ones; with ``approve_review``, REVIEW ones). Commits once
    (``commit=False``: the caller commits)."""
    summary = Summary()
    if not record_ids:
        return summary
    settings = get_settings("crediting_paused", "daily_points_cap")
    if settings["crediting_paused"]:
        return summary  # when paused, records stay pending until crediting resumes
    wanted = Outcome.REVIEW if approve_review else Outcome.PENDING
    resident_ids = sorted(
        set(
            db.session.scalars(
                select(ActivityRecord.resident_id).where(
                    any_of(ActivityRecord.id, record_ids),
                    ActivityRecord.outcome == wanted,
                    ActivityRecord.resident_id.is_not(None),
                )
            )
        )
    )
    if not resident_ids:
        return summary
    # then read: another worker may just have committed
    accounts = lock_resident_accounts(resident_ids)
    items = _load(record_ids, wanted)
    _verify_loaded(items, accounts, summary, settings["daily_points_cap"], approve_review)
    if commit:
        db.session.commit()
    return summary


def verify_stored(
    record: ActivityRecord, versions: dict[str, list[MethodologyVersion]] | None = None
) -> Summary:
    """``verify_records`` for one PENDING record this transaction has just stored (a counter
    claim's), from the values in hand: no other transaction can see it before the commit, so
    its resident and activity need not be read back. ``versions`` as ``history`` gives them,
    when the caller has read them already. The caller commits."""
    summary = Summary()
    settings = get_settings("crediting_paused", "daily_points_cap")
    if settings["crediting_paused"] or record.resident_id is None:
        return summary  # when paused, the record stays pending until crediting resumes
    accounts = lock_resident_accounts([record.resident_id])
    items = [
        Item(
            record.id,
            record.resident_id,
            record.action,
            record.channel,
            record.activity or {},
            record.verifier_id,
            record.partner_id,
            record.identity_hash,
            record.received_at,
        )
    ]
    _verify_loaded(items, accounts, summary, settings["daily_points_cap"], versions=versions)
    return summary


def _verify_loaded(
    items: list[Item],
    accounts: dict[int, int],
    summary: Summary,
    points_cap: int,
    approve_review: bool = False,
    versions: dict[str, list[MethodologyVersion]] | None = None,
) -> None:
    """Decide stored records read into ``items`` (their residents' accounts locked), then write
    their outcomes, reductions and credit."""
    withdrawn = _consent_withdrawn(items)
    for item in items:
        if item.id in withdrawn:
            _reject(item, "consent_withdrawn", reason("consent_withdrawn"))
            summary.rejected += 1
    entry_of, superseded = _decide(
        items, accounts, approve_review, summary, points_cap=points_cap, versions=versions
    )
    now = utcnow()
    update_rows(RECORDS, "id", [{"id": i.id, **_outcome(i, now)} for i in items])
    _write(items, entry_of, superseded, now)


def verify_new(rows: list[dict[str, Any]]) -> Summary:
    """Records not stored yet (a partner's chunk, matched to residents by ``ingest``): those
    still PENDING are decided in memory, then every row is inserted once, with its outcome,
    and the reductions and ledger credits with it (on PostgreSQL each row's ``activity``
    is left as its JSON text). The caller commits, and must have made
    sure no row's (partner, record id) is stored already: the unique constraint refuses a
    concurrent copy, and the whole chunk then rolls back (nothing is credited twice)."""
    summary = Summary()
    if not rows:
        return summary
    for row, record_id in zip(rows, allocate_ids(RECORDS, len(rows)), strict=True):
        row.update({key: None for key in FRESH_KEYS if key not in row}, id=record_id)
    pending = [row for row in rows if row["outcome"] is Outcome.PENDING]
    entry_of: dict[int, int] = {}
    superseded: list[tuple[int, int]] = []
    items: list[Item] = []
    settings = get_settings("crediting_paused", "daily_points_cap") if pending else {}
    if pending and not settings["crediting_paused"]:
        accounts = lock_resident_accounts({row["resident_id"] for row in pending})
        items = [
            Item(
                row["id"],
                row["resident_id"],
                row["action"],
                row["channel"],
                row["activity"],
                None,
                row["partner_id"],
                row["identity_hash"],
                row["received_at"],
            )
            for row in pending
        ]
        # matched to active bindings a moment ago, under the resident's lock now
        withdrawn = _consent_withdrawn(items)
        for item in items:
            if item.id in withdrawn:
                _reject(item, "consent_withdrawn", reason("consent_withdrawn"))
                summary.rejected += 1
        entry_of, superseded = _decide(
            items,
            accounts,
            False,
            summary,
            own_stored=False,
            points_cap=settings["daily_points_cap"],
        )
        now = utcnow()
        decided = {item.id: item for item in items}
        for row in pending:
            row.update(_outcome(decided[row["id"]], now))
    activity_text: dict[int, str] = {}
    if db.session.get_bind().dialect.name == "postgresql":
        # Each activity's JSON text made once (COPY stores a str as it is): the record and
        # its reduction store the same document, the same encoder's text either would get.
        for row in rows:
            row["activity"] = activity_text[row["id"]] = json_text(row["activity"])
    # a duplicate may point at a record of the same chunk: that one goes in first
    insert_rows(RECORDS, sorted(rows, key=lambda row: row["duplicate_of_id"] is not None))
    _write(items, entry_of, superseded, utcnow(), activity_text)
    return summary


# The columns verification fills in; a fresh row carries them all (COPY needs every key).
FRESH_KEYS = (
    "occurred_start",
    "occurred_end",
    "local_day",
    "dedupe_group",
    "duplicate_of_id",
    "verified_at",
    "verifier_id",
)


def _outcome(item: Item, now: datetime) -> dict[str, Any]:
    return {
        "outcome": item.outcome,
        "reason_code": item.reason_code,
        "reason": item.reason,
        "duplicate_of_id": item.duplicate_of_id,
        "flags": item.flags,
        "occurred_start": item.occurred_start,
        "occurred_end": item.occurred_end,
        "local_day": item.local_day,
        "dedupe_group": item.dedupe_group,
        "verified_at": now,
    }


def _decide(
    items: list[Item],
    accounts: dict[int, int],
    approve_review: bool,
    summary: Summary,
    *,
    own_stored: bool = True,
    points_cap: int,
    versions: dict[str, list[MethodologyVersion]] | None = None,
) -> tuple[dict[int, int], list[tuple[int, int]]]:
    """Decide every PENDING item (the caller holds the residents' account locks) and post
    one ledger credit for them all; returns the entry of each resident credited and the
    self-reports superseded by operator data. ``versions``: ``history``'s, if read already."""
    groups: dict[int, list[Item]] = defaultdict(list)
    todo = [item for item in items if item.outcome is Outcome.PENDING]  # not withdrawn
    use_columns = columnar.enabled(len(todo))
    frames: columnar.Frames = {}
    prepared = (
        columnar.prepare(todo, _prepare, frames) if use_columns else [_prepare(i) for i in todo]
    )
    for item, ok in zip(todo, prepared, strict=True):
        if ok:
            groups[item.resident_id].append(item)
        else:
            summary.rejected += 1
    contexts = _contexts(groups, {i.id for i in items}, own_stored=own_stored)
    outliers = set() if approve_review else _verifier_outliers(items)
    if versions is None:
        versions = history(RESIDENT_ACTIONS)
    for own in groups.values():
        for i in own:  # the version in force when the action took place, not when it arrived
            i.version = in_force_at(versions.get(i.action, []), i.moment or utcnow())
    decided = (
        columnar.precompute(
            [i for own in groups.values() for i in own], lambda i: i.version, _params, frames
        )
        if use_columns
        else {}
    )
    credits: list[tuple[int, int]] = []
    credited: list[int] = []
    config = current_app.config  # once a chunk, not once a resident
    terms: dict[int, _Terms] = {}  # by version id, for the chunk
    for resident_id in sorted(groups):
        own = groups[resident_id]
        _verify_resident(
            own,
            contexts[resident_id],
            approve_review,
            outliers,
            points_cap,
            summary,
            decided,
            config,
            terms,
        )
        credited += [i.id for i in own if i.reduction and i.reduction["points"] > 0]
        points = sum(i.reduction["points"] for i in own if i.reduction)
        if points > 0:
            credits.append((resident_id, points))
    entry_of: dict[int, int] = {}
    if credits:
        # One entry for the chunk, a leg per resident: an entry and an issuance leg per
        # resident were two of the five rows a credited record wrote. The key names the
        # records credited; in verify_new their ids were drawn just now, so it is new.
        credited.sort()
        key = f"credit:records:{credited[0]}-{credited[-1]}:{len(credited)}"
        entry_id = credit_many(
            credits, key, accounts, memo="verified actions", new_key=not own_stored
        )
        entry_of = dict.fromkeys((resident_id for resident_id, _ in credits), entry_id)
    notify_many([(r, NotificationKind.CREDIT_ARRIVED, {"points": p}) for r, p in credits])
    return entry_of, [pair for ctx in contexts.values() for pair in ctx.superseded]


def _write(
    items: list[Item],
    entry_of: dict[int, int],
    superseded: list[tuple[int, int]],
    now: datetime,
    activity_text: Mapping[int, str] | None = None,
) -> None:
    """Reductions in bulk (COPY on PostgreSQL), then superseded self-reports.
    ``activity_text``: the records' activities as JSON text already, by record id (a
    reduction's activity is its record's)."""
    texts = activity_text or {}
    if superseded:
        # Self-reports overtaken by operator data: duplicates of the record that counted.
        db.session.execute(
            update(RECORDS)
            .where(RECORDS.c.id == bindparam("b_id"), RECORDS.c.outcome == Outcome.REVIEW)
            .values(
                outcome=Outcome.DUPLICATE,
                duplicate_of_id=bindparam("b_winner"),
                reason_code="duplicate_action",
                reason=reason("duplicate_action"),
            ),
            [{"b_id": loser, "b_winner": winner} for loser, winner in superseded],
        )
    insert_rows(
        Reduction.__table__,
        [
            {
                **i.reduction,
                "activity": texts.get(i.id, i.reduction["activity"]),
                "record_id": i.id,
                "resident_id": i.resident_id,
                "ledger_entry_id": entry_of.get(i.resident_id),
                "created_at": now,
            }
            for i in items
            if i.reduction
        ],
    )
    db.session.expire_all()  # ORM copies of these records are stale now


def _verify_resident(
    items: list[Item],
    ctx: _Context,
    approve_review: bool,
    outliers: set[int],
    points_cap: int,
    summary: Summary,
    decided: dict[int, columnar.Precomputed] | None = None,
    config: Mapping[str, Any] | None = None,
    terms: dict[int, _Terms] | None = None,
) -> None:
    """Dedupe, cap, flag and quantify one resident's items, in time order, each under the
    version ``_decide`` found in force at its time (``Item.version``); ``decided`` holds
    what the methodologies' batch forms settled ahead (``columnar.precompute``), ``terms``
    what was read of each version already (by version id)."""
    config = current_app.config if config is None else config
    terms = {} if terms is None else terms
    card_factor = Decimal(config["CARD_CAP_FACTOR"])
    one = Decimal(1)
    items.sort(key=lambda i: (i.occurred_start, i.id))
    for item in items:
        version = item.version
        if version is None:
            _reject(item, "no_active_methodology", reason("no_active_methodology"))
            summary.rejected += 1
            continue
        if item.channel is Channel.SELF_REPORT and item.action in SELF_DECLARED_ONLY:
            # Reference §3.5: self-declared waste is a check-in, never a reduction.
            _reject(item, "self_declared_waste", reason("self_declared_waste"))
            summary.rejected += 1
            continue
        clashes = [
            w
            for w in ctx.windows
            if w[0] == item.dedupe_group and w[1] < item.occurred_end and item.occurred_start < w[2]
        ]
        clash = next((w for w in clashes if not w[4]), None)  # a credited record
        if clash is None and item.channel is not Channel.SELF_REPORT:
            # Operator or counter-signed data beats a self-report still waiting for review
            # (made a duplicate of it only once this record is credited).
            item.supersedes = next((w[3] for w in clashes if w[4]), None)
        if clash is not None:
            item.outcome, item.duplicate_of_id = Outcome.DUPLICATE, clash[3]
            item.reason_code, item.reason = "duplicate_action", reason("duplicate_action")
            summary.duplicate += 1
            continue
        term = terms.get(version.id)
        if term is None or term.version is not version:
            term = terms[version.id] = _Terms(version)
        module, params = term.module, term.params
        ahead = decided.get(item.id) if decided else None
        try:
            rejections = [] if ahead and ahead.valid else module.validate(item.activity, params)
        except MALFORMED as exc:
            _reject(item, "malformed_record", _malformed(exc))
            summary.rejected += 1
            continue
        lenient = TO_REVIEW if item.channel is not Channel.SELF_REPORT else frozenset()
        hard = [r for r in rejections if r.code not in lenient]
        if hard:
            _reject(item, hard[0].code, hard[0].reason.as_dict())
            summary.rejected += 1
            continue
        day_key = item.local_day or ""
        if not approve_review:  # an administrator who approves has seen the signals
            for rejection in rejections:
                item.flags.append(rejection.code)
                item.reason = rejection.reason.as_dict()
            if ctx.actions_per_day[day_key] >= config["BURST_LIMIT"]:
                item.flags.append("burst")
            if item.verifier_id in outliers:
                item.flags.append("verifier_outlier")
        ctx.actions_per_day[day_key] += 1
        if item.flags:
            item.outcome, item.reason_code = Outcome.REVIEW, item.flags[0]
            item.reason = item.reason or reason(item.flags[0])
            summary.review += 1
            continue
        try:
            result = (
                ahead.result
                if ahead and ahead.result is not None
                else _quantify(module, version, item.activity, params)
            )
        except MALFORMED as exc:
            _reject(item, "malformed_record", _malformed(exc))
            summary.rejected += 1
            continue
        max_actions, cap_g = term.caps(card_factor if item.channel is Channel.CARD else one)
        day = ctx.days[(item.action, day_key)]
        if day.count >= max_actions:
            _reject(item, "daily_limit_reached", reason("daily_limit_reached"))
            summary.rejected += 1
            continue
        remaining = cap_g - day.grams
        if remaining <= 0:
            _reject(item, "daily_cap_reached", reason("daily_cap_reached"))
            summary.rejected += 1
            continue
        credited = min(result.reduction_g, remaining)
        points = full_points = term.points(credited)
        if points_cap:
            earned_today = ctx.points_per_day[day_key]
            if earned_today >= points_cap:
                _reject(item, "programme_cap_reached", reason("programme_cap_reached"))
                summary.rejected += 1
                continue
            points = min(points, points_cap - earned_today)
        ctx.points_per_day[day_key] += points
        day.count += 1
        day.grams += credited
        ctx.windows.append(
            (item.dedupe_group or "", item.occurred_start, item.occurred_end, item.id, False)
        )
        if item.supersedes is not None:
            ctx.superseded.append((item.supersedes, item.id))
            ctx.windows[:] = [w for w in ctx.windows if w[3] != item.supersedes]
        item.outcome, item.reason_code, item.reason = Outcome.CREDITED, None, None
        item.reduction = {
            **term.columns,
            "activity": dict(item.activity),
            "baseline_g": result.baseline_g,
            "project_g": result.project_g,
            "reduction_g": result.reduction_g,
            "credited_g": credited,
            "points": points,
            "programme_capped": points < full_points,
            "steps": [],
            "local_day": day_key,
        }  # steps are re-derived on display
        summary.credited += 1
        summary.reduction_g += credited
        summary.points += points


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
