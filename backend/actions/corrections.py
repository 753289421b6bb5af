"""Correcting a counter entry: the staff member who confirmed a drop-off or a meal may
cancel it, or replace it with corrected weights or diners, for a short while
(``COUNTER_CORRECTION_MINUTES``) — a mis-weighing should not need the programme office.

Nothing is erased: the entry's record stays, marked rejected with the reason
``voided_at_counter``; its points go back with a REVERSAL ledger entry linked to the credit
(ledger rows are never updated or deleted); its reduction, which never happened, leaves the
pool (its numbers are kept in the audit entry); a correction is a new record for the same
resident and hand-over time, verified as any other. All of it in one transaction.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import current_app
from sqlalchemy import select

from ..accounts.models import User
from ..audit.services import record_audit
from ..errors import DomainError
from ..extensions import db
from ..ledger.models import AccountKind, EntryKind, LedgerEntry
from ..ledger.services import Leg, post_entry, resident_account, system_account
from ..timeutil import utcnow
from .claims import STATION_ACTIONS, _with_defaults, check_counter_input
from .exceptions import CounterEntryClosed, CounterEntryInUse, UnknownCounterEntry
from .models import ActivityRecord, Channel, Outcome
from .reasons import reason
from .verification import verify_records

VOIDED = "voided_at_counter"
TIME_FIELD = {"waste_sorting": "collected_at", "food_waste": "meal_at"}


def correction_minutes() -> int:
    return int(current_app.config["COUNTER_CORRECTION_MINUTES"])


def correctable(record: ActivityRecord, staff_id: int) -> bool:
    """Whether ``staff_id`` may still correct or cancel this entry (for the today list)."""
    return (
        record.verifier_id == staff_id
        and record.channel in (Channel.CLAIM, Channel.CARD)
        and record.reason_code != VOIDED
        and record.outcome is not Outcome.PENDING
        and utcnow() - record.received_at <= timedelta(minutes=correction_minutes())
    )


def counter_entry(staff: User, record_id: int) -> ActivityRecord:
    """One of the entries this staff member confirmed (any other id is unknown to them)."""
    record = db.session.get(ActivityRecord, record_id)
    if (
        record is None
        or record.verifier_id != staff.id
        or record.channel not in (Channel.CLAIM, Channel.CARD)
    ):
        raise UnknownCounterEntry()
    return record


def _retired(reduction_id: int) -> bool:
    # The events' register, read through the metadata: actions import nothing of events.
    register = db.metadata.tables.get("reduction_retirements")
    if register is None:
        return False
    return (
        db.session.scalar(select(register.c.id).where(register.c.reduction_id == reduction_id))
        is not None
    )


def _void(staff: User, record: ActivityRecord, corrected: bool) -> dict[str, Any]:
    """Take back an entry's points and reduction; returns what was taken (for the audit)."""
    taken: dict[str, Any] = {"activity": record.activity, "points": 0, "grams": 0}
    reduction = record.reduction
    if reduction is not None:
        if _retired(reduction.id):
            raise CounterEntryInUse()
        taken.update(points=reduction.points, grams=reduction.credited_g)
        if reduction.points > 0:
            credit = (
                db.session.get(LedgerEntry, reduction.ledger_entry_id)
                if reduction.ledger_entry_id
                else None
            )
            sole = credit is not None and credit.idempotency_key == (
                f"credit:records:{record.id}-{record.id}:1"
            )
            entry, _created = post_entry(
                EntryKind.REVERSAL,
                [
                    Leg(resident_account(reduction.resident_id), -reduction.points),
                    Leg(system_account(AccountKind.ISSUANCE), reduction.points),
                ],
                f"void:record:{record.id}",
                resident_id=reduction.resident_id,
                reverses=credit if sole else None,
                ref=("activity_record", record.id),
                memo=f"counter entry {record.id} {'corrected' if corrected else 'cancelled'}",
            )
            taken["reversal_entry_id"] = entry.id
        db.session.delete(reduction)
    text = reason("counter_corrected" if corrected else "counter_cancelled")
    record.outcome = Outcome.REJECTED
    record.reason_code = VOIDED
    record.reason = text
    db.session.flush()
    return taken


def cancel_counter_entry(staff: User, record_id: int) -> ActivityRecord:
    """The staff member takes back an entry they confirmed (wrong resident, no hand-over)."""
    return _change(staff, record_id, None)[0]


def correct_counter_entry(
    staff: User, record_id: int, activity: dict[str, Any]
) -> tuple[ActivityRecord, ActivityRecord]:
    """Replace an entry by one with corrected weights or diners: (old, new)."""
    old, new = _change(staff, record_id, activity)
    assert new is not None
    return old, new


def _change(
    staff: User, record_id: int, activity: dict[str, Any] | None
) -> tuple[ActivityRecord, ActivityRecord | None]:
    record = counter_entry(staff, record_id)
    if not correctable(record, staff.id):
        raise CounterEntryClosed(minutes=correction_minutes())
    action = STATION_ACTIONS.get(staff.merchant.kind) if staff.merchant else None
    if activity is not None:
        check_counter_input(record.action, activity)  # nothing changes on a typo
    if action != record.action:
        raise UnknownCounterEntry()
    # Lock the record: two taps on "cancel" take the points back once.
    db.session.execute(
        select(ActivityRecord.id).where(ActivityRecord.id == record.id).with_for_update()
    )
    db.session.refresh(record)
    if record.reason_code == VOIDED:
        db.session.rollback()
        raise CounterEntryClosed(minutes=correction_minutes())
    new: ActivityRecord | None = None
    try:
        taken = _void(staff, record, corrected=activity is not None)
        if activity is not None:
            time_field = TIME_FIELD[record.action]
            fixed = _with_defaults(record.action, activity)
            fixed[time_field] = record.activity.get(time_field, fixed[time_field])
            new = ActivityRecord(
                channel=record.channel,
                action=record.action,
                resident_id=record.resident_id,
                verifier_id=staff.id,
                verifier_merchant_id=record.verifier_merchant_id,
                activity=fixed,
                received_at=record.received_at,  # the same hand-over: the same window
                flags=[],
            )
            db.session.add(new)
            db.session.flush()
        record_audit(
            staff,
            "claim.correct" if new is not None else "claim.cancel",
            "activity_record",
            record.id,
            replaced_by=new.id if new is not None else None,
            **taken,
        )
        if new is not None:
            verify_records([new.id])  # commits the cancellation and the new credit together
        db.session.commit()
    except DomainError:
        db.session.rollback()
        raise
    except Exception:
        db.session.rollback()
        raise
    db.session.refresh(record)
    if new is not None:
        db.session.refresh(new)
    return record, new
