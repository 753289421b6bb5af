"""Self-reports with photo evidence, the review queue, and one appeal to another admin."""

from __future__ import annotations

import contextlib
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

import methodologies
from methodologies import ActivityError
from methodologies.base import local_day

from ..accounts.models import User
from ..audit.services import record_audit
from ..extensions import db
from ..timeutil import aware, utcnow
from ..uploads import image_path, read_image, save_image
from .catalogue import RESIDENT_ACTIONS
from .exceptions import (
    AppealNotAllowed,
    AppealTooLate,
    InvalidActivity,
    NotReviewable,
    PhotoReused,
    SameReviewer,
    UnknownAction,
)
from .models import ActivityRecord, Channel, Outcome
from .reasons import reason
from .timerules import claim_window
from .verification import verify_records


def submit_self_report(
    resident: User, action: str, activity: dict[str, Any], photo: Any
) -> ActivityRecord:
    """A resident reports an action no partner reports; it waits for an administrator."""
    if action not in RESIDENT_ACTIONS:
        raise InvalidActivity(problem="action", field="action")
    try:
        window = methodologies.get(action).window(activity)
    except (ActivityError, TypeError, AttributeError) as exc:
        detail = exc.message.en if isinstance(exc, ActivityError) else "activity"
        raise InvalidActivity(problem=detail, field="activity") from None
    data, digest = read_image(photo)
    if (
        db.session.scalar(select(ActivityRecord.id).where(ActivityRecord.evidence_hash == digest))
        is not None
    ):
        raise PhotoReused(field="photo")
    path = save_image(data, "evidence")
    record = ActivityRecord(
        channel=Channel.SELF_REPORT,
        action=action,
        resident_id=resident.id,
        activity=activity,
        occurred_start=window.start,
        occurred_end=window.end,
        local_day=local_day(window.start),
        dedupe_group=methodologies.get(action).dedupe_group,
        outcome=Outcome.REVIEW,
        flags=["self_report"],
        reason_code="self_report",
        reason=reason("self_report"),
        evidence_path=path,
        evidence_hash=digest,
    )
    try:
        with db.session.begin_nested():
            db.session.add(record)
    except IntegrityError:
        _discard(path)
        raise PhotoReused(field="photo") from None
    record_audit(resident, "self_report.submit", "activity_record", record.id)
    db.session.commit()
    return record


def _discard(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        image_path(path).unlink()


def get_record(record_id: int) -> ActivityRecord:
    record = db.session.get(ActivityRecord, record_id)
    if record is None:
        raise UnknownAction()
    return record


def own_record(resident: User, record_id: int) -> ActivityRecord:
    record = get_record(record_id)
    if record.resident_id != resident.id:
        raise UnknownAction()
    return record


def review_record(admin: User, record_id: int, approve: bool, comment: str = "") -> ActivityRecord:
    """Decide a record in the review queue; an appeal needs a different administrator."""
    record = get_record(record_id)
    if record.outcome is not Outcome.REVIEW:
        raise NotReviewable()
    if record.appealed_at is not None:
        if admin.id == record.reviewed_by_id:
            raise SameReviewer()
        record.appeal_reviewed_by_id = admin.id
    else:
        record.reviewed_by_id = admin.id
    record.reviewed_at = utcnow()
    record.review_comment = comment.strip()[:500]
    record_audit(
        admin,
        "review.approve" if approve else "review.reject",
        "activity_record",
        record.id,
        appeal=record.appealed_at is not None,
        comment=record.review_comment,
    )
    if approve:
        verify_records([record.id], approve_review=True)  # validates, dedupes, caps, credits
    else:
        text = reason("review_rejected", record.review_comment or None)
        record.outcome, record.reason_code, record.reason = (
            Outcome.REJECTED,
            "review_rejected",
            text,
        )
        db.session.commit()
    db.session.refresh(record)
    return record


def appeal_record(resident: User, record_id: int, text: str) -> ActivityRecord:
    """Appeal a rejection decided in review, once; it goes back to the queue."""
    record = own_record(resident, record_id)
    if (
        record.outcome is not Outcome.REJECTED
        or record.reviewed_by_id is None
        or record.appealed_at is not None
        or not text.strip()
    ):
        raise AppealNotAllowed()
    window = claim_window(Channel.SELF_REPORT)  # the residents' claim window (timerules)
    if record.reviewed_at is not None and utcnow() - aware(record.reviewed_at) > window:
        raise AppealTooLate(days=window.days)
    record.appeal_text = text.strip()[:1000]
    record.appealed_at = utcnow()
    record.outcome = Outcome.REVIEW
    record_audit(resident, "review.appeal", "activity_record", record.id)
    db.session.commit()
    return record
