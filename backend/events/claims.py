"""The two kinds of claim an event can make, never mixed (events_forest.md §7).

* **Carbon neutral** (碳中和): the actual footprint is covered by retired reductions (each
  with its serial) plus *measured* forest removals counted for the event (the forest
  register's COUNTED rows less cancellations), within the neutrality deadline: 12 months
  after the event's end (``NEUTRALITY_DEADLINE_MONTHS``), as ISO 14068-1:2023 and the
  Beijing and Guangdong rules ask. Only then is a certificate issued.
* **碳中和林 neutralisation in progress** (碳中和林中和进行中): the seed's forest commitment
  (an approved planting plan), shown with its schedule (the year its expected growth covers
  the footprint) and its measured progress, never called neutral before measured removals
  and retirements cover the footprint.

Every figure is told apart: retired now, measured forest removals (counted), and pledged
forest removals (the plan's projection not yet measured: not counted). A certificate whose
cover falls below what it certified (a survival check or measurement cancelling counted
removals) is suspended publicly with the reason, and restored when covered again; the
organiser and the administrators are told either way. Past the deadline without cover an
event is shown as not neutral.

This module reads the registers directly and imports no other events service, so the
services that change cover (measurements, survival checks, retirements) can call
``review_certificate`` in their own transaction.
"""

from __future__ import annotations

import calendar
import enum
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import case, func, select

from ..accounts.models import User
from ..audit.services import record_audit
from ..extensions import db
from ..notices.services import admin_ids, in_both, notify
from ..timeutil import local, utcnow
from .models import (
    CertificateStatus,
    Event,
    FootprintStage,
    ForestCredit,
    ForestCreditKind,
    PlanStatus,
    ReductionRetirement,
)

DEFAULT_DEADLINE_MONTHS = 12


class Claim(enum.StrEnum):
    """What may be said of an event now."""

    NEUTRAL = "neutral"  # certified: retirements + measured removals cover it, in time
    SUSPENDED = "suspended"  # certified, but cover fell below what was certified
    COVERED = "covered"  # covered in time, actual footprint: a certificate may be issued
    IN_PROGRESS = "in_progress"  # 碳中和林 neutralisation in progress (approved plan)
    OPEN = "open"  # before the deadline, not covered, no forest commitment
    NOT_NEUTRAL = "not_neutral"  # past the deadline without cover
    NO_FOOTPRINT = "no_footprint"


def add_months(day: date, months: int) -> date:
    """The same day ``months`` later (the month's last day where it has fewer days)."""
    month0 = day.month - 1 + months
    year, month = day.year + month0 // 12, month0 % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def deadline(event: Event) -> date:
    """The last day neutrality may be completed: N months after the event's end."""
    months = int(current_app.config.get("NEUTRALITY_DEADLINE_MONTHS", DEFAULT_DEADLINE_MONTHS))
    return add_months(event.ends_on, months)


def local_today() -> date:
    return local(utcnow()).date()


def retired_g(event_id: int) -> int:
    """Grams of reductions retired for the event (the retirement register)."""
    total = db.session.scalar(
        select(func.coalesce(func.sum(ReductionRetirement.grams), 0)).where(
            ReductionRetirement.event_id == event_id
        )
    )
    return int(total or 0)


def _signed() -> Any:
    """+grams for counted removals, −grams for their cancellation, 0 for buffer rows."""
    return case(
        (ForestCredit.kind == ForestCreditKind.COUNTED, ForestCredit.grams),
        (ForestCredit.kind == ForestCreditKind.CANCEL_COUNTED, -ForestCredit.grams),
        else_=0,
    )


def measured_g(event_id: int) -> int:
    """Measured forest removals counted for the event, less what reversals cancelled."""
    total = db.session.scalar(
        select(func.coalesce(func.sum(_signed()), 0)).where(ForestCredit.event_id == event_id)
    )
    return int(total or 0)


@dataclass(frozen=True)
class Cover:
    """The three figures, told apart."""

    emissions_g: int | None  # the footprint in force (actual once reported)
    actual: bool
    retired_g: int  # retired reductions (with serials): counted
    measured_g: int  # measured forest removals (counted, net of reversals)
    pledged_g: int  # the approved plan's projection not yet measured: NOT counted
    committed_g: int  # the approved plan's projection at its horizon
    break_even_year: int | None  # when the plan's expected growth covers its target

    @property
    def counted_g(self) -> int:
        return self.retired_g + self.measured_g

    @property
    def covered(self) -> bool:
        return self.emissions_g is not None and self.counted_g >= self.emissions_g > 0

    @property
    def shortfall_g(self) -> int:
        return max(0, (self.emissions_g or 0) - self.counted_g)

    @property
    def progress(self) -> Decimal | None:
        """Counted share of the footprint, 0..1 (to 0.001)."""
        if not self.emissions_g:
            return None
        share = min(Decimal(1), Decimal(self.counted_g) / Decimal(self.emissions_g))
        return share.quantize(Decimal("0.001"), rounding=ROUND_HALF_UP)


def cover(event: Event) -> Cover:
    footprint = event.current_footprint
    plan = event.approved_plan
    retired = retired_g(event.id)
    measured = measured_g(event.id)
    committed = plan.removal_g if plan is not None else 0
    return Cover(
        emissions_g=footprint.total_g if footprint else None,
        actual=footprint is not None and footprint.stage is FootprintStage.ACTUAL,
        retired_g=retired,
        measured_g=measured,
        pledged_g=max(0, committed - measured),
        committed_g=committed,
        break_even_year=plan.break_even_year if plan is not None else None,
    )


def completed_at(event: Event) -> datetime | None:
    """When neutrality was completed: the moment since which retirements and measured
    removals have covered the footprint in force (None while they do not)."""
    footprint = event.current_footprint
    if footprint is None or footprint.total_g <= 0:
        return None
    moves: list[tuple[datetime, int]] = [
        (at, grams)
        for at, grams in db.session.execute(
            select(ReductionRetirement.retired_at, ReductionRetirement.grams).where(
                ReductionRetirement.event_id == event.id
            )
        )
    ]
    moves += [
        (at, int(grams))
        for at, grams in db.session.execute(
            select(ForestCredit.created_at, _signed()).where(
                ForestCredit.event_id == event.id,
                ForestCredit.kind.in_((ForestCreditKind.COUNTED, ForestCreditKind.CANCEL_COUNTED)),
            )
        )
    ]
    total, since = 0, None
    for at, grams in sorted(moves, key=lambda m: m[0]):
        total += grams
        if total >= footprint.total_g and since is None:
            since = at
        elif total < footprint.total_g:
            since = None
    return since


@dataclass(frozen=True)
class Standing:
    """The claim an event may make today, with its figures, deadline and completion."""

    claim: Claim
    cover: Cover
    deadline: date
    days_left: int  # negative once past
    completed_at: datetime | None
    in_progress: bool  # an approved 碳中和林 plan is growing towards the footprint

    @property
    def past_deadline(self) -> bool:
        return self.days_left < 0


def claim_of(event: Event, today: date | None = None) -> Standing:
    """Which of the two claims (or neither) an event may make ``today``."""
    today = today or local_today()
    figures = cover(event)
    due = deadline(event)
    done = completed_at(event)
    in_time = done is not None and local(done).date() <= due
    forest = event.approved_plan is not None and event.approved_plan.status is PlanStatus.APPROVED
    cert = event.certificate
    if figures.emissions_g is None:
        claim = Claim.NO_FOOTPRINT
    elif cert is not None:
        claim = Claim.SUSPENDED if cert.status is CertificateStatus.SUSPENDED else Claim.NEUTRAL
    elif figures.covered and figures.actual and (in_time or today <= due):
        claim = Claim.COVERED
    elif today > due:
        claim = Claim.NOT_NEUTRAL
    elif forest:
        claim = Claim.IN_PROGRESS
    else:
        claim = Claim.OPEN
    return Standing(claim, figures, due, (due - today).days, done, forest)


def review_certificate(event: Event, actor: User | None, cause: Any) -> bool:
    """Suspend the event's certificate when retirements and measured removals no longer
    cover what it certified, or restore it once they do; tell the organiser and the
    administrators. ``cause`` (a lazy ``_l()`` text) says what changed the cover.
    Returns whether the status changed. The caller commits."""
    cert = event.certificate
    if cert is None:
        return False
    certified = int(cert.snapshot.get("emissions_g") or 0)
    figures = cover(event)
    covered = figures.counted_g >= certified
    if cert.status is CertificateStatus.VALID and not covered:
        short = _kg(certified - figures.counted_g)
        cert.status = CertificateStatus.SUSPENDED
        zh, en = in_both(
            lambda: _(
                "%(cause)s: retired reductions and measured forest removals now fall %(kg)s kg "
                "CO2e short of the emissions certified.",
                cause=str(cause),
                kg=short,
            )
        )
        topic = "certificate.suspended"
        heads = in_both(
            lambda: _(
                "Certificate %(serial)s of %(event)s suspended",
                serial=cert.serial,
                event=event.name,
            )
        )
    elif cert.status is CertificateStatus.SUSPENDED and covered:
        cert.status = CertificateStatus.VALID
        zh, en = in_both(
            lambda: _("%(cause)s: the emissions certified are covered again.", cause=str(cause))
        )
        topic = "certificate.restored"
        heads = in_both(
            lambda: _(
                "Certificate %(serial)s of %(event)s restored",
                serial=cert.serial,
                event=event.name,
            )
        )
    else:
        return False
    cert.status_reason = {"zh_CN": zh, "en": en}
    cert.status_changed_at = utcnow()
    record_audit(
        actor,
        topic,
        "event",
        event.id,
        serial=cert.serial,
        retired_g=figures.retired_g,
        measured_g=figures.measured_g,
        certified_g=certified,
    )
    notify(
        [event.organiser_id, *admin_ids()],
        topic,
        f"{heads[0]}：{zh}",
        f"{heads[1]}. {en}",
        ref=("event", event.id),
    )
    return True


def _kg(grams: int) -> str:
    return f"{Decimal(grams) / 1000:,.3f}"


REMINDER_DAYS = (90, 30, 7)


def remind_deadlines(today: date | None = None) -> int:
    """Tell organisers of events not yet neutral how long they have: at 90, 30 and 7 days
    before the deadline (the nearest threshold reached, once each, so a missed day still
    reminds), and once when it has passed. A daily job; returns the notices sent."""
    today = today or local_today()
    sent = 0
    for event in db.session.scalars(select(Event).order_by(Event.id)):
        state = claim_of(event, today)
        if state.claim in (Claim.NEUTRAL, Claim.COVERED, Claim.NO_FOOTPRINT):
            continue
        if state.claim is Claim.NOT_NEUTRAL:
            key, days = f"deadline:{event.id}:passed", None
        else:
            due = [d for d in REMINDER_DAYS if state.days_left <= d]
            if not due:
                continue
            key, days = f"deadline:{event.id}:{min(due)}", state.days_left
        zh, en = in_both(_reminder(event, state, days))
        sent += len(
            notify(
                [event.organiser_id],
                "deadline.passed" if days is None else "deadline.reminder",
                zh,
                en,
                ref=("event", event.id),
                dedupe=key,
            )
        )
    db.session.commit()
    return sent


def _reminder(event: Event, state: Standing, days: int | None) -> Any:
    if days is None:
        return _l(
            "%(event)s: the neutrality deadline %(date)s has passed without cover; it is shown "
            "as not neutral.",
            event=event.name,
            date=state.deadline.isoformat(),
        )
    return _l(
        "%(event)s: %(n)s days left to complete neutrality (deadline %(date)s). Retired "
        "reductions and measured forest removals cover %(kg)s kg CO2e of the footprint's "
        "%(total)s kg.",
        event=event.name,
        n=days,
        date=state.deadline.isoformat(),
        kg=_kg(state.cover.counted_g),
        total=_kg(state.cover.emissions_g or 0),
    )
