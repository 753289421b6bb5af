"""Page forms. They carry CSRF and field types; the rules live in the services."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import PasswordField, SelectField, StringField, TelField
from wtforms.fields.choices import SelectChoice

from backend.config import DISTRICTS


class LoginForm(FlaskForm):
    phone = TelField(_l("Mobile number"))
    password = PasswordField(_l("Password"))


class PhoneForm(FlaskForm):
    phone = TelField(_l("Mobile number"))


class RegisterForm(FlaskForm):
    phone = TelField(_l("Mobile number"))
    code = StringField(_l("Code from the text message"))
    password = PasswordField(_l("Password"))
    # validate_choice=False: the service checks the district and answers with its own code
    district = SelectField(
        _l("District or county"),
        validate_choice=False,
        choices=[SelectChoice("", "—")] + [SelectChoice(d, d) for d in DISTRICTS],
    )
    nickname = StringField(_l("Nickname (optional)"))


# The waste categories of the self-report and station forms (one weight field each).
WASTE_CATEGORIES = ("paper", "plastic", "metal", "glass", "textile", "kitchen")


def _local_iso(value: str | None) -> str | None:
    return f"{value}:00+08:00" if value and len(value) == 16 else value or None


def _number(text: Any) -> bool:
    """A number as typed (its range is the methodology's to judge, in its own words)."""
    try:
        number = Decimal(str(text).strip())
    except (InvalidOperation, ValueError):
        return False
    return number.is_finite()


# what to say on a field the methodology found malformed (its own words name the field)
FIELD_PROBLEMS = {
    "distance_km": _l("Enter the distance in km as a number, for example 6.5."),
    "started_at": _l("Enter when the trip started."),
    "ended_at": _l("Enter when the trip ended, after it started."),
    "items": _l("Enter the weight of at least one kind of waste."),
    "collected_at": _l("Enter when you handed the waste in."),
    "diners": _l("Enter the number of diners, a whole number from 1."),
    "portion_reduction_kg": _l(
        "A small portion needs the food not ordered, in kg (for example 0.3)."
    ),
    "meal_at": _l("Enter when you ate."),
    "kind": _l("Choose clean plate or small portion."),
}


def self_report_problems(action_code: str, form: Any, photo: Any) -> dict[str, str]:
    """Every problem of the self-report form at once, each on its field, in words."""
    problems: dict[str, Any] = {}
    if action_code in ("public_transit", "bike_sharing"):
        if not _number(form.get("distance_km", "")):
            problems["distance_km"] = FIELD_PROBLEMS["distance_km"]
        for name in ("started_at", "ended_at"):
            if not form.get(name):
                problems[name] = FIELD_PROBLEMS[name]
        start, end = form.get("started_at"), form.get("ended_at")
        if start and end and end <= start:
            problems["ended_at"] = FIELD_PROBLEMS["ended_at"]
    elif action_code == "waste_sorting":
        weights = {c: form.get(f"weight_{c}", "").strip() for c in WASTE_CATEGORIES}
        if not any(weights.values()):
            problems["weight_paper"] = FIELD_PROBLEMS["items"]
        for category, weight in weights.items():
            if weight and not _number(weight):
                problems[f"weight_{category}"] = _l(
                    "Enter the weight in kg as a number, for example 2.5."
                )
        if not form.get("collected_at"):
            problems["collected_at"] = FIELD_PROBLEMS["collected_at"]
    elif action_code == "food_waste":
        diners = str(form.get("diners") or "1").strip()
        if not diners.isdigit() or int(diners) < 1:
            problems["diners"] = FIELD_PROBLEMS["diners"]
        portion = form.get("portion_reduction_kg", "")
        if form.get("kind") == "small_portion" and not _number(portion):
            problems["portion_reduction_kg"] = FIELD_PROBLEMS["portion_reduction_kg"]
        if not form.get("meal_at"):
            problems["meal_at"] = FIELD_PROBLEMS["meal_at"]
    if photo is None or not photo.filename:
        problems["photo"] = _l("Add a photo of the ticket, receipt or scale.")
    return {name: str(text) for name, text in problems.items()}


def activity_from_form(action_code: str, form: Any) -> dict[str, Any]:
    if action_code in ("public_transit", "bike_sharing"):
        key = "mode" if action_code == "public_transit" else "bike_type"
        return {
            key: form.get(key) or ("bus" if key == "mode" else "pedal"),
            "distance_km": form.get("distance_km"),
            "started_at": _local_iso(form.get("started_at")),
            "ended_at": _local_iso(form.get("ended_at")),
        }
    if action_code == "waste_sorting":
        items = [
            {"category": c, "weight_kg": form.get(f"weight_{c}")}
            for c in WASTE_CATEGORIES
            if form.get(f"weight_{c}")
        ]
        return {"items": items, "collected_at": _local_iso(form.get("collected_at"))}
    return {
        "kind": form.get("kind") or "clean_plate",
        "meal_at": _local_iso(form.get("meal_at")),
        "diners": form.get("diners") or 1,
        **(
            {"portion_reduction_kg": form.get("portion_reduction_kg")}
            if form.get("portion_reduction_kg")
            else {}
        ),
    }


class PasswordResetForm(FlaskForm):
    phone = TelField(_l("Mobile number"))
    code = StringField(_l("Code from the text message"))
    new_password = PasswordField(_l("New password"))


class PhoneChangeForm(FlaskForm):
    phone = TelField(_l("New mobile number"))
    code = StringField(_l("Code from the text message"))
    password = PasswordField(_l("Password"))


class PasswordChangeForm(FlaskForm):
    current_password = PasswordField(_l("Current password"))
    new_password = PasswordField(_l("New password"))
