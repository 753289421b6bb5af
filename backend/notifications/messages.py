"""What a notification says, in the current language, from its kind and params."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import url_for
from flask_babel import gettext as _

from ..i18n import current_lang
from .models import NotificationKind as K


@dataclass(frozen=True)
class Message:
    title: str
    body: str
    url: str


def message(kind: str, params: dict[str, Any]) -> Message:
    p = params
    if kind == K.CREDIT_ARRIVED:
        return Message(
            _("Credit arrived"),
            _("%(points)s points for your verified green actions.", points=p.get("points")),
            url_for("mobile.points"),
        )
    if kind == K.CREDIT_WAITING:
        return Message(
            _("Credit waiting"),
            _(
                "Records from %(partner)s wait for your card link to be confirmed "
                "(until %(until)s).",
                partner=p.get("partner", ""),
                until=p.get("until", ""),
            ),
            url_for("mobile.sources"),
        )
    if kind == K.VOUCHER_FULFILLED:
        title = p.get("title_en") if current_lang() == "en" else p.get("title_zh")
        return Message(
            _("Voucher used"),
            _("Your voucher “%(title)s” was fulfilled by the merchant.", title=title or ""),
            url_for("mobile.redemption", redemption_id=p.get("redemption_id", 0)),
        )
    if kind == K.POINTS_EXPIRING:
        return Message(
            _("Points expiring"),
            _("%(points)s points expire on %(date)s.", points=p.get("points"), date=p.get("date")),
            url_for("mobile.points"),
        )
    if kind == K.APPEAL_DECIDED:
        return Message(
            _("Appeal decided"),
            _("Your appeal was accepted: the action is credited.")
            if p.get("approved")
            else _("Your appeal was rejected. The page of the action says why."),
            url_for("mobile.action", record_id=p.get("record_id", 0)),
        )
    if kind == K.METHODOLOGY_CHANGED:
        return Message(
            _("Methodology updated"),
            _(
                "Version %(number)s of a methodology behind your credits is now in force.",
                number=p.get("number"),
            ),
            url_for("mobile.methodology", code=p.get("code", "")),
        )
    if kind == K.TEAM_GOAL_REACHED:
        return Message(
            _("Team goal reached"),
            _("Your team %(name)s reached its goal.", name=p.get("name", "")),
            url_for("mobile.team", team_id=p.get("team_id", 0))
            if p.get("team_id")
            else url_for("mobile.notifications"),
        )
    return Message(kind, "", url_for("mobile.notifications"))
