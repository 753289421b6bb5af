"""The audit log in words an administrator reads: actors by name and role, actions, object
kinds and detail keys translated. The stored codes stay in the log and on the page, but only
inside the audit detail element (for searching and for auditors)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

import methodologies

from ..accounts.models import Role, User
from ..extensions import db
from ..i18n import action_name
from ..timeutil import local

ROLES = {
    Role.RESIDENT.value: _l("Resident"),
    Role.MERCHANT_STAFF.value: _l("Merchant staff"),
    Role.ORGANISER.value: _l("Organiser"),
    Role.ADMIN.value: _l("Administrator"),
}

OBJECTS = {
    "activity_record": _l("Activity record"),
    "event": _l("Event"),
    "household_card": _l("Household card"),
    "identity_binding": _l("Linked account"),
    "login": _l("Sign-in"),
    "merchant": _l("Shop"),
    "methodology_version": _l("Methodology version"),
    "offer": _l("Reward"),
    "partner": _l("Partner"),
    "planting": _l("Planting"),
    "planting_plan": _l("Planting plan"),
    "redemption": _l("Redemption"),
    "setting": _l("Setting"),
    "team": _l("Team"),
    "user": _l("Account"),
}

VERBS = {
    "approve": _l("approved"),
    "appeal": _l("appealed"),
    "cancel": _l("cancelled"),
    "certify": _l("certificate issued"),
    "change": _l("changed"),
    "claim": _l("claimed"),
    "confirm": _l("confirmed"),
    "correct": _l("corrected"),
    "create": _l("created"),
    "delete": _l("deleted"),
    "draft": _l("draft proposed"),
    "footprint.actual": _l("actual data recorded"),
    "footprint.planned": _l("planned data recorded"),
    "fulfil": _l("handed over"),
    "funding": _l("funding changed"),
    "goal": _l("goal set"),
    "issue": _l("issued"),
    "join": _l("joined"),
    "leaderboard": _l("leaderboard choice changed"),
    "leave": _l("left"),
    "location": _l("location changed"),
    "locked": _l("locked after failed sign-ins"),
    "measure": _l("measured"),
    "onboard": _l("onboarded"),
    "password_change": _l("password changed"),
    "password_reset": _l("password reset"),
    "pause": _l("paused"),
    "phone_change": _l("mobile number changed"),
    "record": _l("recorded"),
    "recovery_code_used": _l("recovery code used"),
    "refund": _l("refunded"),
    "register": _l("registered"),
    "reject": _l("rejected"),
    "release": _l("released"),
    "restore": _l("restored"),
    "resume": _l("resumed"),
    "retire": _l("retired"),
    "return": _l("returned for changes"),
    "reversal": _l("reversed"),
    "revoke": _l("revoked"),
    "rotate_key": _l("key rotated"),
    "seed": _l("first version loaded"),
    "sign_out_everywhere": _l("signed out everywhere"),
    "submit": _l("submitted"),
    "survival": _l("survival checked"),
    "suspend": _l("suspended"),
    "totp_enabled": _l("second factor set up"),
    "totp_reset": _l("second factor reset"),
}

SUBJECTS = {
    "account": _l("Account"),
    "binding": _l("Linked account"),
    "card": _l("Household card"),
    "claim": _l("Claim"),
    "donation": _l("Donation"),
    "event": _l("Event"),
    "merchant": _l("Shop"),
    "methodology": _l("Methodology"),
    "offer": _l("Reward"),
    "partner": _l("Partner"),
    "plan": _l("Planting plan"),
    "planting": _l("Planting"),
    "privacy": _l("Privacy"),
    "redemption": _l("Redemption"),
    "review": _l("Review"),
    "self_report": _l("Self-report"),
    "settings": _l("Setting"),
    "team": _l("Team"),
}

DETAILS = {
    "appeal": _l("appeal"),
    "area_mu": _l("area (mu)"),
    "by": _l("by"),
    "channel": _l("channel"),
    "check_id": _l("survival check"),
    "code": _l("code"),
    "comment": _l("comment"),
    "date": _l("date"),
    "effective_from": _l("in force from"),
    "event_id": _l("event"),
    "failures": _l("failed tries"),
    "footprint_id": _l("footprint"),
    "hours": _l("hours"),
    "key": _l("key"),
    "key_id": _l("key"),
    "latitude": _l("latitude"),
    "longitude": _l("longitude"),
    "merchant_id": _l("shop"),
    "minutes": _l("minutes"),
    "name": _l("name"),
    "new": _l("new value"),
    "number": _l("number"),
    "offer_id": _l("reward"),
    "old": _l("old value"),
    "opt_in": _l("shown on the leaderboard"),
    "partner": _l("partner"),
    "plan_id": _l("planting plan"),
    "points": _l("points"),
    "previous": _l("before"),
    "reason": _l("reason"),
    "remaining": _l("remaining"),
    "replaced_by": _l("replaced by"),
    "requested_g": _l("asked for (g CO2e)"),
    "retired_g": _l("retired (g CO2e)"),
    "role": _l("role"),
    "scope": _l("scope"),
    "serial": _l("serial number"),
    "stock_g": _l("stock (g CO2e)"),
    "surviving": _l("surviving"),
    "total_g": _l("total (g CO2e)"),
    "version_id": _l("methodology version"),
    "via": _l("via"),
}


def _plain(code: str) -> str:
    """An unknown code, readable: words instead of underscores and dots."""
    return code.replace("_", " ").replace(".", " · ")


def object_word(object_type: str) -> str:
    return str(OBJECTS.get(object_type) or _plain(object_type))


def action_words(action: str) -> str:
    subject, _dot, verb = action.partition(".")
    if subject in SUBJECTS and verb in VERBS:
        return f"{SUBJECTS[subject]} · {VERBS[verb]}"
    return _plain(action)


def detail_word(key: str) -> str:
    return str(DETAILS.get(key) or _plain(key))


CHANNELS = {
    "partner": _l("operator data"),
    "claim": _l("confirmed by staff"),
    "card": _l("household card"),
    "self_report": _l("self-report"),
}


def _when(text: str) -> str | None:
    """A stored ISO time as the pages show times (Beijing time, to the minute)."""
    if len(text) < 16 or text[4:5] != "-" or "T" not in text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return local(moment).strftime("%Y-%m-%d %H:%M") if moment.tzinfo else None


def detail_value(value: Any, key: str | None = None) -> str:
    """Values as read: roles, channels and methodologies in words, times in Beijing time;
    anything else as stored."""
    if isinstance(value, str) and value in ROLES:
        return str(ROLES[value])
    if value is None:
        return "—"
    if isinstance(value, bool):
        return str(_("yes") if value else _("no"))
    text = str(value)
    if key in ("channel", "via") and text in CHANNELS:
        return str(CHANNELS[text])
    if key == "code" and text in methodologies.available():
        return action_name(text)
    when = _when(text)
    if when is not None:
        return when
    return _plain(text) if "_" in text and " " not in text else text


def actor_name(label: str, actor_id: int | None) -> str:
    """ "Administrator 王芳" rather than "admin:6"; "the system"; "partner quzhou-bus"."""
    if actor_id is not None:
        user = db.session.get(User, actor_id)
        if user is not None:
            role = ROLES.get(user.role.value, "")
            return f"{role} {user.display_name()}".strip()
    if label == "system":
        return str(_("The system"))
    kind, _colon, rest = label.partition(":")
    if kind == "partner" and rest:
        return str(_("Partner %(code)s", code=rest))
    if kind in ROLES:
        return f"{ROLES[kind]} #{rest}"
    return _plain(label)


def template_helpers() -> dict[str, Any]:
    return {
        "audit_actor": actor_name,
        "audit_action": action_words,
        "audit_object": object_word,
        "audit_key": detail_word,
        "audit_value": detail_value,
    }
