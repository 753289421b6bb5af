"""Page forms. They carry CSRF and field types; the rules live in the services."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import PasswordField, SelectField, StringField, TelField
from wtforms.fields.choices import SelectChoice

from backend.config import DISTRICTS


class LoginForm(FlaskForm):
    phone = TelField(_l("Mobile number"))
    password = PasswordField(_l("Password"))


class RegisterForm(FlaskForm):
    phone = TelField(_l("Mobile number"))
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
