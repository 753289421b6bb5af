"""Carbon-neutral events and their footprints (planned and actual activity data).

The small parsers here are shared by the other modules of the package; see the package
docstring (``backend/events/__init__.py``) for the whole flow.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from methodologies import ActivityError
from methodologies import event_footprint as ef

from ..accounts.models import Role, User
from ..audit.services import record_audit
from ..config import DISTRICTS
from ..errors import DomainError, Forbidden
from ..extensions import db, unit_of_work
from ..methodology_versions.services import active_version
from ..timeutil import local, utcnow
from .exceptions import ActualBeforeEventEnd, InvalidEvent, InvalidFootprint, UnknownEvent
from .models import Event, EventFootprint, FootprintStage

MAX_EVENT_DAYS = 366

LINE_FIELDS = ("category", "kind", "unit", "amount", "travellers", "trips", "distance_km")

# Form-friendly messages for the event_footprint rejections (the methodology's own reasons
# carry line numbers meant for the API's batch form).
LINE_MESSAGES: dict[str, Any] = {
    "no_lines": _l("Enter at least one emission source."),
    "unknown_category": _l("Unknown emission category."),
    "unknown_kind": _l("Unknown emission source."),
    "unit_mismatch": _l("The unit does not match this emission source."),
    "amount_not_positive": _l(
        "Enter a number greater than zero (distances, travellers and trips too)."
    ),
    "travel_without_participants": _l("Travel is entered but the event has 0 participants."),
    "travellers_exceed_participants": _l("More travellers than participants."),
    "malformed": _l("Enter numbers only; a travel row needs travellers, trips and distance."),
}


def lang() -> str:
    locale = get_locale()
    return "en" if locale is not None and locale.language == "en" else "zh_CN"


def local_today() -> date:
    return local(utcnow()).date()


# --- small parsers (the services accept page strings and API values alike) ----------------


def _text(data: Mapping[str, Any], name: str, limit: int, error: type[DomainError]) -> str:
    value = str(data.get(name) or "").strip()
    if not value:
        raise error(problem=_("this field is required"), field=name)
    if len(value) > limit:
        raise error(problem=_("at most %(n)s characters", n=limit), field=name)
    return value


def _date(data: Mapping[str, Any], name: str, error: type[DomainError]) -> date:
    raw = data.get(name)
    if isinstance(raw, date):
        value = raw
    else:
        try:
            value = date.fromisoformat(str(raw or "").strip())
        except ValueError:
            raise error(problem=_("enter a date as YYYY-MM-DD"), field=name) from None
    if not 2000 <= value.year <= 2100:
        raise error(problem=_("enter a date between 2000 and 2100"), field=name)
    return value


def _whole(
    data: Mapping[str, Any],
    name: str,
    error: type[DomainError],
    minimum: int = 0,
    maximum: int = 10_000_000,
) -> int:
    raw = data.get(name)
    if isinstance(raw, bool):
        raise error(problem=_("enter a whole number"), field=name)
    try:
        value = Decimal(str(raw).strip())
    except (InvalidOperation, ValueError):
        raise error(problem=_("enter a whole number"), field=name) from None
    if not value.is_finite() or value != value.to_integral_value():
        raise error(problem=_("enter a whole number"), field=name)
    if value < minimum:
        raise error(problem=_("enter a number of at least %(n)s", n=minimum), field=name)
    if value > maximum:
        raise error(problem=_("this number is too large"), field=name)
    return int(value)


def _district(data: Mapping[str, Any], error: type[DomainError]) -> str:
    value = str(data.get("district") or "").strip()
    if value not in DISTRICTS:
        raise error(problem=_("choose one of Quzhou's districts and counties"), field="district")
    return value


# --- events ------------------------------------------------------------------------------


def _event_fields(data: Mapping[str, Any]) -> dict[str, Any]:
    starts = _date(data, "starts_on", InvalidEvent)
    ends = _date(data, "ends_on", InvalidEvent)
    if ends < starts:
        raise InvalidEvent(problem=_("the event ends before it starts"), field="ends_on")
    if (ends - starts).days >= MAX_EVENT_DAYS:
        raise InvalidEvent(
            problem=_("an event lasts at most %(n)s days", n=MAX_EVENT_DAYS), field="ends_on"
        )
    return {
        "name": _text(data, "name", 120, InvalidEvent),
        "venue": _text(data, "venue", 200, InvalidEvent),
        "district": _district(data, InvalidEvent),
        "starts_on": starts,
        "ends_on": ends,
        "expected_participants": _whole(data, "expected_participants", InvalidEvent),
    }


def create_event(organiser: User, data: Mapping[str, Any]) -> Event:
    """An organiser registers an event (name, dates, venue, district, expected participants)."""
    if organiser.role is not Role.ORGANISER:
        raise Forbidden()
    event = Event(organiser_id=organiser.id, **_event_fields(data))
    db.session.add(event)
    db.session.flush()
    record_audit(organiser, "event.create", "event", event.id)
    db.session.commit()
    return event


def get_event(event_id: int) -> Event:
    event = db.session.get(Event, event_id)
    if event is None:
        raise UnknownEvent()
    return event


def own_event(user: User, event_id: int) -> Event:
    """The event if ``user`` organises it (administrators see every event); else 404."""
    event = get_event(event_id)
    if user.role is Role.ADMIN or event.organiser_id == user.id:
        return event
    raise UnknownEvent()


# --- footprints --------------------------------------------------------------------------


def _clean_line(raw: Any) -> Any:
    """Keep the contract's fields of one line, as JSON-safe values; blanks dropped."""
    if not isinstance(raw, Mapping):
        return raw  # the methodology reports it
    out: dict[str, Any] = {}
    for name in LINE_FIELDS:
        value = raw.get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            continue
        out[name] = str(value).strip() if isinstance(value, Decimal | str) else value
    return out


def _problem(line: int | None, code: str, fallback: Any = None) -> dict[str, Any]:
    message = LINE_MESSAGES.get(code)
    text = str(message) if message is not None else (fallback.get(lang()) if fallback else code)
    return {"line": line, "code": code, "message": text}


def footprint_problems(activity: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every problem of an event_footprint activity, by line (1-based), form-friendly."""
    lines = activity.get("lines") or []
    participants = activity.get("participants")
    out: list[dict[str, Any]] = []
    if not lines:
        out.append(_problem(None, "no_lines"))
    for i, line in enumerate(lines, start=1):
        try:
            found = ef.rejections({"lines": [line], "participants": participants})
        except ActivityError as exc:
            out.append(_problem(i, "malformed", exc.message))
            continue
        out += [_problem(i, r.code, r.reason) for r in found]
    return out


def record_footprint(
    organiser: User,
    event_id: int,
    stage: FootprintStage | str,
    lines: Sequence[Any],
    participants: Any = None,
) -> EventFootprint:
    """Quantify the event's planned (estimate) or actual (report) activity data with the
    event_footprint version in force, and keep it with that version's id and parameter hash.

    ``participants`` defaults to the expected participants for the planned stage."""
    with unit_of_work():
        event = own_event(organiser, event_id)
        stage = FootprintStage(stage)
        if stage is FootprintStage.ACTUAL and local_today() < event.ends_on:
            raise ActualBeforeEventEnd()
        if participants is None or participants == "":
            if stage is FootprintStage.ACTUAL:
                raise InvalidFootprint(
                    problem=_("enter the actual number of participants"), field="participants"
                )
            participants = event.expected_participants
        count = _whole({"participants": participants}, "participants", InvalidFootprint)
        activity = {
            "lines": [_clean_line(line) for line in lines],
            "participants": count,
            "starts_on": event.starts_on.isoformat(),
            "ends_on": event.ends_on.isoformat(),
        }
        problems = footprint_problems(activity)
        if problems:
            first = problems[0]
            where = _("source %(n)s: ", n=first["line"]) if first["line"] else ""
            raise InvalidFootprint(problem=where + first["message"], details=problems)
        version = active_version(ef.EventFootprint.code)
        result = ef.footprint(activity, version.decimal_params())
        row = EventFootprint(
            event_id=event.id,
            stage=stage,
            participants=count,
            activity=activity,
            result=result.as_dict(),
            total_g=result.total_g,
            version_id=version.id,
            module_version=version.module_version,
            params_hash=version.params_hash,
            created_by_id=organiser.id,
        )
        db.session.add(row)
        db.session.flush()
        record_audit(
            organiser,
            f"event.footprint.{stage.value}",
            "event",
            event.id,
            footprint_id=row.id,
            total_g=row.total_g,
            version_id=version.id,
        )
    return row


def _kg(grams: int) -> str:
    return f"{Decimal(grams) / 1000:,.3f}"
