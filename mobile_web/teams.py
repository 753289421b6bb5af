"""Teams: my teams, create or join (code or QR), a team's page, pooled donations, rankings."""

from __future__ import annotations

import uuid
from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from backend.accounts.models import Role
from backend.auth import page_roles
from backend.config import DISTRICTS
from backend.errors import DomainError
from backend.events import queries as event_queries
from backend.ledger.queries import resident_balance
from backend.qr import format_short_code, qr_svg
from backend.teams import queries, services
from backend.teams.models import TeamKind

from . import bp

resident_only = page_roles(Role.RESIDENT)


def team_kind_name(kind: str) -> str:
    return {
        "household": _("Household"),
        "community": _("Community (社区)"),
        "workplace": _("Workplace"),
        "class": _("Class"),
    }.get(str(kind), str(kind))


@bp.get("/teams")
@resident_only
def teams() -> Any:
    return render_template(
        "mobile/teams.html",
        memberships=queries.memberships_of(current_user.id),
        kinds=list(TeamKind),
        team_kind_name=team_kind_name,
    )


@bp.post("/teams")
@resident_only
def create_team() -> Any:
    try:
        team = services.create_team(current_user, request.form.to_dict())
    except DomainError as exc:
        flash(exc.localized_message(), "error")
        return redirect(url_for("mobile.teams"))
    flash(_("Team created. Share its code or QR to invite others."), "success")
    return redirect(url_for("mobile.team", team_id=team.id))


@bp.route("/teams/join", methods=["GET", "POST"])
@resident_only
def join_team() -> Any:
    code = request.values.get("code", "")
    if request.method == "POST":
        try:
            team = services.join_team(current_user, code)
        except DomainError as exc:
            flash(exc.localized_message(), "error")
            return redirect(url_for("mobile.teams"))
        flash(_("Welcome to %(name)s!", name=team.name), "success")
        return redirect(url_for("mobile.team", team_id=team.id))
    try:  # the QR opens this page: say which team before joining
        team = services.team_by_code(code)
    except DomainError as exc:
        flash(exc.localized_message(), "error")
        return redirect(url_for("mobile.teams"))
    return render_template(
        "mobile/team_join.html", team=team, code=code, team_kind_name=team_kind_name
    )


@bp.get("/teams/<int:team_id>")
@resident_only
def team(team_id: int) -> Any:
    item, member = services.own_team(current_user, team_id)
    page = queries.team_page(item, current_user.id)
    join_url = url_for("mobile.join_team", code=item.invite_code, _external=True)
    return render_template(
        "mobile/team.html",
        page=page,
        team=item,
        member=member,
        code=format_short_code(item.invite_code),
        qr=qr_svg(join_url),
        projects=event_queries.projects() if item.created_by_id == current_user.id else [],
        balance=resident_balance(current_user.id),
        idempotency_key=uuid.uuid4().hex,
        team_kind_name=team_kind_name,
    )


def _act(team_id: int, action: Any, done: str) -> Any:
    try:
        action()
    except DomainError as exc:
        if exc.status == 404:
            raise
        flash(exc.localized_message(), "error")
    else:
        flash(done, "success")
    return redirect(url_for("mobile.team", team_id=team_id))


@bp.post("/teams/<int:team_id>/goal")
@resident_only
def team_goal(team_id: int) -> Any:
    form = request.form
    return _act(
        team_id,
        lambda: services.set_goal(current_user, team_id, form.get("plan_id"), form.get("points")),
        _("The team's goal is set."),
    )


@bp.post("/teams/<int:team_id>/donate")
@resident_only
def team_donate(team_id: int) -> Any:
    form = request.form
    if not form.get("confirm"):
        # preview first: donated points cannot be returned
        back = url_for("mobile.team", team_id=team_id)
        try:
            preview = services.preview_co_donation(current_user, team_id, form.get("points"))
        except DomainError as exc:
            if exc.status == 404:
                raise
            flash(exc.localized_message(), "error")
            return redirect(back)
        return render_template(
            "mobile/confirm.html",
            title=_("Plant together with your team"),
            lines=[
                _(
                    "%(points)s points go to the forest fund of %(project)s, "
                    "counted for your team's goal.",
                    points=preview.points,
                    project=preview.plan.event.name,
                ),
                _(
                    "Your points: %(before)s now, %(after)s after the donation.",
                    before=preview.balance,
                    after=preview.balance_after,
                ),
            ],
            warning=_("Donated points cannot be returned."),
            action=url_for("mobile.team_donate", team_id=team_id),
            fields={
                "points": preview.points,
                "idempotency_key": form.get("idempotency_key", ""),
            },
            button=_("Donate %(points)s points", points=preview.points),
            back=back,
            danger=False,
        )
    return _act(
        team_id,
        lambda: services.co_donate(
            current_user, team_id, form.get("points"), form.get("idempotency_key")
        ),
        _("Thank you! Your points were planted together with your team."),
    )


@bp.post("/teams/<int:team_id>/privacy")
@resident_only
def team_privacy(team_id: int) -> Any:
    return _act(
        team_id,
        lambda: services.set_nickname_shown(current_user, team_id, bool(request.form.get("show"))),
        _("Saved."),
    )


@bp.post("/teams/<int:team_id>/leave")
@resident_only
def leave_team(team_id: int) -> Any:
    team = services.leave_team(current_user, team_id)
    flash(_("You left %(name)s. Your history stays.", name=team.name), "success")
    return redirect(url_for("mobile.teams"))


@bp.get("/teams/rankings")
@resident_only
def team_rankings() -> Any:
    district = request.args.get("district") or current_user.district
    if district not in DISTRICTS:
        district = current_user.district
    return render_template(
        "mobile/team_rankings.html",
        district=district,
        rows=queries.district_rankings(district),
        team_kind_name=team_kind_name,
    )
