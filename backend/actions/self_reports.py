"""Self-reports with photo evidence, the review queue, and one appeal to another admin.

A self-report is checked when the resident submits it, by the rules that would refuse it later
(``check_self_report``): the methodology's own validation and plausibility rules under the
version in force (distance bounds, speed, the straight line between named stops, time order)
and the time rules (not in the future, not older than the claim window). A failing report is
refused with the error on its field, and nothing is stored. Verification applies the same
rules again when an administrator approves it, every one of them without leniency.

Self-declared waste earns no reduction (reference §3.5): it is kept as a check-in, or as a
duplicate of the hand-over already weighed at a station within ``WASTE_CHECK_IN_WINDOW``.
"""

from __future__ import annotations

import contextlib
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

import methodologies
from methodologies import ActivityError, Rejection, Text, Window
from methodologies.base import local_day

from ..accounts.models import User
from ..audit.services import record_audit
from ..extensions import db
from ..i18n import current_lang
from ..methodology_versions.services import history, in_force_at
from ..notifications.models import NotificationKind as K
from ..notifications.services import notify
from ..timeutil import aware, utcnow
from ..uploads import image_path, read_image, save_image
from .catalogue import RESIDENT_ACTIONS
from .exceptions import (
    ActivityRejected,
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
from .timerules import FUTURE, activity_problem, claim_window
from .verification import MALFORMED, SELF_DECLARED_ONLY, verify_records

# The form field a rule's refusal belongs to (the rest: the activity as a whole).
RULE_FIELDS = {
    "non_positive_distance": "distance_km",
    "below_min_distance": "distance_km",
    "distance_beyond_stops": "distance_km",
    "speed_implausible": "distance_km",
    "invalid_time_order": "ended_at",
    "below_min_duration": "ended_at",
    "duration_too_long": "ended_at",
    "same_stop": "alighting_stop",
    "diners_below_one": "diners",
    "diners_above_cap": "diners",
    "missing_portion_reduction": "portion_reduction_kg",
    "unknown_kind": "kind",
}
TIME_FIELDS = {
    "public_transit": ("started_at", "ended_at"),
    "bike_sharing": ("started_at", "ended_at"),
    "waste_sorting": ("collected_at",),
    "food_waste": ("meal_at",),
}
WASTE_CHECK_IN_WINDOW = timedelta(hours=2)  # a weighed hand-over this near is the same one


class _Localised:
    """A bilingual text shown in the request's language when the error is rendered."""

    def __init__(self, text: Text) -> None:
        self.text = text

    def __str__(self) -> str:
        return self.text.get(current_lang())


def _refuse(rejection: Rejection, field: str) -> ActivityRejected:
    return ActivityRejected(
        _Localised(rejection.reason), field=field, details={"rule": rejection.code, "field": field}
    )


def check_self_report(action: str, activity: Any) -> Window:
    """The window of a resident's report once it meets every rule that could refuse it;
    raises on the first failure, with the field it belongs to."""
    if action not in RESIDENT_ACTIONS:
        raise InvalidActivity(problem="action", field="action")
    module = methodologies.get(action)
    try:
        window = module.window(activity)
    except ActivityError as exc:
        raise InvalidActivity(problem=exc.message.get(current_lang()), field=exc.field) from None
    except (TypeError, AttributeError):
        raise InvalidActivity(problem="activity", field="activity") from None
    problem = activity_problem(action, Channel.SELF_REPORT, activity, utcnow())
    if problem is not None:  # the time rules of every channel (``timerules``)
        fields = TIME_FIELDS[action]
        field = fields[-1] if problem.code == FUTURE else fields[0]
        raise _refuse(Rejection(problem.code, Text(**problem.reason)), field)
    if action in SELF_DECLARED_ONLY:
        return window  # a check-in: no quantity is claimed, nothing to validate
    version = in_force_at(history([action]).get(action, []), window.start)
    if version is None:
        return window  # verified once a version is in force
    try:
        rule_module = methodologies.get(version.code, version.module_version)
        rejections = rule_module.validate(activity, version.decimal_params())
    except ActivityError as exc:
        raise InvalidActivity(problem=exc.message.get(current_lang()), field=exc.field) from None
    except MALFORMED:
        raise InvalidActivity(problem="activity", field="activity") from None
    if rejections:
        first = rejections[0]
        raise _refuse(first, RULE_FIELDS.get(first.code, "activity"))
    return window


def _weighed_hand_over(resident: User, window: Window) -> int | None:
    """A credited, weighed hand-over of the resident near this check-in (any station channel)."""
    return db.session.scalar(
        select(ActivityRecord.id)
        .where(
            ActivityRecord.resident_id == resident.id,
            ActivityRecord.dedupe_group == "waste",
            ActivityRecord.channel != Channel.SELF_REPORT,
            ActivityRecord.outcome == Outcome.CREDITED,
            ActivityRecord.occurred_start < window.end + WASTE_CHECK_IN_WINDOW,
            ActivityRecord.occurred_end > window.start - WASTE_CHECK_IN_WINDOW,
        )
        .order_by(ActivityRecord.id)
        .limit(1)
    )


def submit_self_report(
    resident: User, action: str, activity: dict[str, Any], photo: Any
) -> ActivityRecord:
    """A resident reports an action no partner reports; checked now, then it waits for an
    administrator (waste: kept as a check-in that earns no reduction)."""
    window = check_self_report(action, activity)
    module = methodologies.get(action)
    outcome, code, flags, duplicate_of = Outcome.REVIEW, "self_report", ["self_report"], None
    if action in SELF_DECLARED_ONLY:
        activity = {**activity, "weighed": False}
        duplicate_of = _weighed_hand_over(resident, window)
        outcome = Outcome.DUPLICATE if duplicate_of else Outcome.REJECTED
        code, flags = ("weighed_already" if duplicate_of else "self_declared_waste"), []
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
        dedupe_group=module.dedupe_group,
        outcome=outcome,
        flags=flags,
        reason_code=code,
        reason=reason(code),
        duplicate_of_id=duplicate_of,
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
    if record.appealed_at is not None:
        notify(record.resident_id, K.APPEAL_DECIDED, {"record_id": record.id, "approved": approve})
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
