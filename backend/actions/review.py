"""What a reviewer (and the resident) reads about a record: what was reported, in words; the
computed speed and every anomaly signal; the credit approval would give; the resident's
recent history and the records nearby, with the credited one a duplicate would repeat."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

import methodologies
from methodologies import ActivityError
from methodologies.base import parse_time, seconds, to_decimal
from methodologies.public_transit import stop_distance

from ..extensions import db
from ..methodology_versions.services import history, in_force_at, points_for
from ..timeutil import local, utcnow
from .models import ActivityRecord, Channel, Outcome
from .reasons import REASONS
from .verification import MALFORMED, SELF_DECLARED_ONLY, TO_REVIEW
from .words import MEAL_KINDS, category_name, kg

NEARBY = timedelta(hours=2)
TRAVEL = ("public_transit", "bike_sharing")


def _number(activity: dict[str, Any], name: str) -> Decimal | None:
    try:
        return to_decimal(activity, name)
    except (ActivityError, *MALFORMED):
        return None


MODE_NAMES = {
    "bus": _l("bus"),
    "rail": _l("rail"),
    "pedal": _l("pedal bike"),
    "ebike": _l("e-bike"),
}


def _when(activity: dict[str, Any], name: str) -> str:
    """A reported time as the pages show times: Beijing time, to the minute (a time sent in
    UTC, as the counter stores it, is not shown as the UTC hour); other text as sent."""
    if not activity.get(name):
        return ""
    try:
        moment = parse_time(activity, name)
    except ActivityError:
        return str(activity.get(name))[:16]
    return local(moment).strftime("%Y-%m-%d %H:%M")


def reported_text(record: ActivityRecord, lang: str) -> str:
    """The activity as the resident or the operator reported it, in a line of words (in the
    page's language: categories, meal kinds and modes by name, times in Beijing time)."""
    a = record.activity or {}
    parts: list[str] = []
    if record.action in TRAVEL:
        mode = a.get("mode") or a.get("bike_type")
        if mode:
            parts.append(str(MODE_NAMES.get(str(mode), mode)))
        km = _number(a, "distance_km")
        if km is not None:
            parts.append(f"{km} km")
        for stop in ("boarding_stop", "alighting_stop"):
            if a.get(stop):
                parts.append(str(a[stop]))
        times = [_when(a, k) for k in ("started_at", "ended_at")]
        if any(times):
            parts.append(" – ".join(times))
    elif record.action == "waste_sorting":
        items = a.get("items")
        if isinstance(items, list):
            parts += [
                _(
                    "%(category)s %(kg)s kg",
                    category=category_name(i.get("category")),
                    kg=kg(i.get("weight_kg")),
                )
                for i in items
                if isinstance(i, dict)
            ]
        elif isinstance(items, str):
            parts.append(items)
        parts.append(_when(a, "collected_at"))
        if a.get("weighed") is False:
            parts.append(_("self-declared"))
    else:
        kind = a.get("kind")
        parts += [str(MEAL_KINDS.get(str(kind), kind or "")), f"× {a.get('diners') or 1}"]
        if a.get("portion_reduction_kg"):
            parts.append(f"-{a.get('portion_reduction_kg')} kg")
        parts.append(_when(a, "meal_at"))
    return " · ".join(p for p in parts if p)


@dataclass
class Signals:
    """Everything the review page shows beside the record."""

    speed_kmh: Decimal | None = None
    straight_km: Decimal | None = None
    signals: list[str] = field(default_factory=list)  # in words, the request's language
    blocking: list[str] = field(default_factory=list)  # rules an approval cannot overrule
    credit_g: int | None = None  # what approval would credit before the daily caps
    points: int | None = None
    version: str | None = None
    duplicates: list[ActivityRecord] = field(default_factory=list)  # credited, overlapping
    nearby: list[ActivityRecord] = field(default_factory=list)
    history: list[ActivityRecord] = field(default_factory=list)


def _speed(record: ActivityRecord) -> Decimal | None:
    if record.action not in TRAVEL:
        return None
    a = record.activity or {}
    try:
        km = to_decimal(a, "distance_km")
        span = parse_time(a, "ended_at") - parse_time(a, "started_at")
    except (ActivityError, *MALFORMED):
        return None
    if span.total_seconds() <= 0:
        return None
    return (km * 3600 / seconds(span)).quantize(Decimal("0.1"))


def review_signals(record: ActivityRecord, lang: str) -> Signals:
    out = Signals(speed_kmh=_speed(record))
    if record.action == "public_transit":
        try:
            out.straight_km = stop_distance(record.activity or {})
        except (ActivityError, *MALFORMED):
            out.straight_km = None
    words = [REASONS[f].get(lang) for f in record.flags or [] if f in REASONS]
    if record.channel is Channel.SELF_REPORT and record.action in SELF_DECLARED_ONLY:
        out.blocking.append(REASONS["self_declared_waste"].get(lang))
    # the version in force when the action took place, as verification picks it
    version = in_force_at(
        history([record.action]).get(record.action, []), record.occurred_start or utcnow()
    )
    if version is not None and record.action in methodologies.available():
        module = methodologies.get(version.code, version.module_version)
        out.version = f"{version.code} v{version.number}"
        params = version.decimal_params()
        try:
            rejections = module.validate(record.activity or {}, params)
            result = module.quantify(record.activity or {}, params)
        except (ActivityError, *MALFORMED) as exc:
            problem = exc.message if isinstance(exc, ActivityError) else REASONS["malformed_record"]
            out.blocking.append(problem.get(lang))
            rejections, result = [], None
        lenient = TO_REVIEW if record.channel is not Channel.SELF_REPORT else frozenset()
        for rejection in rejections:
            (words if rejection.code in lenient else out.blocking).append(
                rejection.reason.get(lang)
            )
        if result is not None and not out.blocking:
            out.credit_g = result.reduction_g
            out.points = points_for(version, result.reduction_g)
    out.signals = list(dict.fromkeys(words))
    start, end = record.occurred_start, record.occurred_end
    if record.resident_id is not None and start is not None and end is not None:
        near = db.session.scalars(
            select(ActivityRecord)
            .where(
                ActivityRecord.resident_id == record.resident_id,
                ActivityRecord.dedupe_group == record.dedupe_group,
                ActivityRecord.id != record.id,
                ActivityRecord.occurred_start < end + NEARBY,
                ActivityRecord.occurred_end > start - NEARBY,
            )
            .order_by(ActivityRecord.occurred_start)
            .limit(20)
        ).all()
        out.nearby = list(near)
        out.duplicates = [
            r
            for r in near
            if r.outcome is Outcome.CREDITED
            and r.occurred_start is not None
            and r.occurred_end is not None
            and r.occurred_start < end
            and start < r.occurred_end
        ]
    if record.resident_id is not None:
        when = func.coalesce(ActivityRecord.occurred_start, ActivityRecord.received_at)
        out.history = list(
            db.session.scalars(
                select(ActivityRecord)
                .where(
                    ActivityRecord.resident_id == record.resident_id,
                    ActivityRecord.id != record.id,
                )
                .order_by(when.desc())
                .limit(10)
            )
        )
    return out
