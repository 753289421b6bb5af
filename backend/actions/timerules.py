"""The time rules of crediting, one place for every channel (DESIGN.md invariant 5).

Partner pushes, file imports, counter claims, self-reports, appeals and administrators'
approvals all ask ``time_problem`` (verification does, for every record it decides), so
an action is never credited when it is

* **dated after its arrival** by more than the clock skew (``ACTION_CLOCK_SKEW_SECONDS``,
  5 minutes): nobody can report a trip they have not made yet, and no future day brings a
  fresh daily cap;
* **older than the claim window** when it arrived: ``CLAIM_WINDOW_RESIDENT_DAYS`` (7) for
  what residents bring themselves (self-reports and their appeals, counter claims, household
  cards), ``CLAIM_WINDOW_PARTNER_DAYS`` (30) for operators' data;
* **before the resident's consent to its source** by more than that claim window (a card
  linked today does not bring in the trips of years past).

"When" is the action's own span (``Methodology.span``: a trip from boarding to alighting, a
hand-over's or a meal's instant), never the wider dedupe window; the same moment decides the
local (Asia/Shanghai) day of caps and meal slots, and the methodology version in force.
"Arrival" is when the platform received the record (a partner batch's receipt, not when a
worker reached it), so a queue backlog never costs a resident a credit.

Each problem comes with a stable code (what a partner reads in ``reason``) and a plain
sentence in Chinese and English for the resident.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import current_app

import methodologies
from methodologies import Window

from ..timeutil import aware, local
from .models import Channel

FUTURE = "dated_in_future"
TOO_OLD = "outside_claim_window"
BEFORE_CONSENT = "before_consent"
CODES = (FUTURE, TOO_OLD, BEFORE_CONSENT)


@dataclass(frozen=True)
class TimeProblem:
    """Why an action's time keeps it from being credited."""

    code: str
    reason: dict[str, str]  # {"zh_CN": ..., "en": ...}


def skew() -> timedelta:
    """How far after its arrival an action may be dated (clocks disagree a little)."""
    return timedelta(seconds=int(current_app.config["ACTION_CLOCK_SKEW_SECONDS"]))


def claim_window(channel: Channel) -> timedelta:
    """How old an action may be when it arrives through ``channel``."""
    config = current_app.config
    days = (
        config["CLAIM_WINDOW_PARTNER_DAYS"]
        if channel is Channel.PARTNER
        else config["CLAIM_WINDOW_RESIDENT_DAYS"]
    )
    return timedelta(days=int(days))


def _when(moment: datetime) -> str:
    return local(moment).strftime("%Y-%m-%d %H:%M")


def time_problem(
    channel: Channel,
    span: Window,
    arrival: datetime,
    consented_at: datetime | None = None,
) -> TimeProblem | None:
    """The first time rule the action ``span`` breaks, arriving at ``arrival`` through
    ``channel`` from a source the resident consented to at ``consented_at`` (None where the
    resident brings the action themselves); None when it may be credited."""
    arrival = aware(arrival)
    start, end = aware(span.start), aware(max(span.start, span.end))
    if end > arrival + skew():
        return TimeProblem(
            FUTURE,
            {
                "zh_CN": f"行为时间（{_when(end)}）晚于平台收到记录的时间（{_when(arrival)}），"
                "不能计入：请在行为发生之后再提交",
                "en": f"The action is dated {_when(end)}, after the record reached us "
                f"({_when(arrival)}): an action can be credited only once it has happened",
            },
        )
    window = claim_window(channel)
    days = window.days
    if start < arrival - window:
        return TimeProblem(
            TOO_OLD,
            {
                "zh_CN": f"行为发生于 {_when(start)}，收到时已超过 {days} 天的申领期限，不再计入",
                "en": f"The action took place on {_when(start)}, more than {days} days before "
                f"it reached us: the {days}-day claim window has passed",
            },
        )
    if consented_at is not None and start < aware(consented_at) - window:
        return TimeProblem(
            BEFORE_CONSENT,
            {
                "zh_CN": f"行为发生于 {_when(start)}，早于您授权该数据来源（{_when(consented_at)}）"
                f"超过 {days} 天，不予计入",
                "en": f"The action took place on {_when(start)}, more than {days} days before "
                f"you linked this source ({_when(consented_at)}): not counted",
            },
        )
    return None


def action_span(action: str, activity: Any) -> Window:
    """When ``activity`` of ``action`` took place (raises ``ActivityError`` or a
    ``ValueError`` when its times are malformed; ``KeyError`` for an unknown action)."""
    return methodologies.get(action).span(activity)


def activity_problem(
    action: str,
    channel: Channel,
    activity: Any,
    arrival: datetime,
    consented_at: datetime | None = None,
) -> TimeProblem | None:
    """``time_problem`` for a raw activity (for checks at entry, e.g. a self-report form)."""
    return time_problem(channel, action_span(action, activity), arrival, consented_at)
