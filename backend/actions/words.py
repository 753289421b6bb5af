"""The words people read about an action: waste categories, meal kinds, and a one-line
summary of what was handed in or eaten ("纸类 2.5 kg、塑料 0.8 kg"), never a field name."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

CATEGORY_NAMES = {
    "paper": _l("paper"),
    "plastic": _l("plastic"),
    "metal": _l("metal"),
    "glass": _l("glass"),
    "textile": _l("textiles"),
    "kitchen": _l("kitchen waste"),
}
MEAL_KINDS = {"clean_plate": _l("clean plate"), "small_portion": _l("small portion")}
# the outcome words of the badges (mobile/_outcome.html), for messages written in Python
OUTCOME_WORDS = {
    "pending": _l("processing"),
    "review": _l("to be confirmed"),
    "credited": _l("points added"),
    "rejected": _l("not accepted"),
    "unmatched": _l("no linked resident"),
    "duplicate": _l("duplicate, no points"),
}


def category_name(category: Any) -> str:
    return str(CATEGORY_NAMES.get(str(category), _("other waste")))


def kg(value: Any) -> str:
    """A weight as people write it: 2.5, not 2.500 or 2.5E+0."""
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return str(value)
    if not number.is_finite():
        return str(value)
    text = f"{number:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def list_join(parts: list[str]) -> str:
    return _(", ").join(parts) if parts else ""


def describe_activity(action: str, activity: dict[str, Any] | None) -> str:
    """What was handed in or eaten, in one line: "paper 2.5 kg, plastic 0.8 kg" or
    "clean plate, 2 diners". Empty when the activity says nothing a person would read."""
    activity = activity or {}
    if action == "waste_sorting":
        items = activity.get("items")
        if not isinstance(items, list):
            return ""
        return list_join(
            [
                _(
                    "%(category)s %(kg)s kg",
                    category=category_name(item.get("category")),
                    kg=kg(item.get("weight_kg")),
                )
                for item in items
                if isinstance(item, dict)
            ]
        )
    if action == "food_waste":
        kind = str(MEAL_KINDS.get(str(activity.get("kind")), _("meal")))
        diners = activity.get("diners") or 1
        text = _("%(kind)s, %(diners)s diners", kind=kind, diners=kg(diners))
        if activity.get("kind") == "small_portion" and activity.get("portion_reduction_kg"):
            text += _(", %(kg)s kg less food ordered", kg=kg(activity.get("portion_reduction_kg")))
        return str(text)
    if action in ("public_transit", "bike_sharing") and activity.get("distance_km"):
        return str(_("%(km)s km", km=kg(activity.get("distance_km"))))
    return ""


BASELINES = {
    "public_transit": _l("less than the usual mix of cars and taxis"),
    "bike_sharing": _l("less than the usual mix of cars and taxis"),
    "waste_sorting": _l("less than as residual waste"),
    "food_waste": _l("less than if the food had been wasted"),
}
OTHER_BASELINE = _l("less than the baseline")


def co2e(grams: int) -> str:
    """Grams CO2e as people read them: 359 g, 5.35 kg."""
    if grams < 1000:
        return str(_("%(g)s g CO2e", g=grams))
    return str(_("%(kg)s kg CO2e", kg=kg(Decimal(grams) / 1000)))


def summary_line(action: str, activity: dict[str, Any] | None, credited_g: int) -> str:
    """One plain line above a calculation: "paper 2.5 kg, plastic 0.8 kg: 5.35 kg CO2e less
    than as residual waste"."""
    what = describe_activity(action, activity)
    saved = _(
        "%(amount)s %(baseline)s",
        amount=co2e(credited_g),
        baseline=BASELINES.get(action, OTHER_BASELINE),
    )
    return str(_("%(what)s: %(saved)s", what=what, saved=saved) if what else saved)
