"""Admin pages: people and organisations (residents, organisers, administrators; merchants and
partners have their own pages), suspension with a reason, the audit log, programme caps."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import flash, get_template_attribute, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from backend.accounts import queries as people_queries
from backend.accounts import services
from backend.accounts.models import Role, User
from backend.accounts.two_factor import has_totp, recovery_codes_left
from backend.audit import queries as audit_queries
from backend.audit.models import AuditEntry
from backend.config import DISTRICTS
from backend.errors import DomainError
from backend.extensions import db
from backend.merchants.models import Merchant
from backend.partners.models import Partner
from backend.settings.services import SETTINGS, get_setting, set_setting
from backend.timeutil import utcnow

from . import bp
from .views import admin_only


def _page() -> int:
    try:
        return max(1, int(request.args.get("page", "1")))
    except ValueError:
        return 1


def _page_args() -> dict[str, str]:
    """The current query arguments without ``page``, for the pager's links."""
    return {k: v for k, v in request.args.items() if k != "page" and v}


@bp.get("/people")
@admin_only
def people() -> Any:
    counts = people_queries.count_by_role()
    return render_template(
        "admin/people/index.html",
        counts=counts,
        merchants=db.session.scalar(select(db.func.count()).select_from(Merchant)) or 0,
        partners=db.session.scalar(select(db.func.count()).select_from(Partner)) or 0,
        Role=Role,
    )


@bp.get("/residents")
@admin_only
def residents() -> Any:
    status = request.args.get("status") or None
    district = request.args.get("district") or None
    filters = people_queries.PeopleFilters(
        query=request.args.get("q", "")[:40],
        district=district if district in DISTRICTS else None,
        status=status if status in people_queries.STATUSES else None,
    )
    page = people_queries.search_people(Role.RESIDENT, filters, _page())
    return render_template(
        "admin/people/residents.html",
        page=page,
        filters=filters,
        shown_query=people_queries.shown_query(filters.query),
        balances=people_queries.balances([u.id for u in page.items]),
        statuses=people_queries.STATUSES,
        page_args=_page_args(),
        now=utcnow(),
    )


@bp.get("/people/<int:user_id>")
@admin_only
def person(user_id: int) -> Any:
    user = db.get_or_404(User, user_id)
    entries = db.session.scalars(
        select(AuditEntry)
        .where(AuditEntry.object_type == "user", AuditEntry.object_id == str(user.id))
        .order_by(AuditEntry.id.desc())
        .limit(20)
    ).all()
    return render_template(
        "admin/people/person.html",
        person=user,
        balance=people_queries.balances([user.id]).get(user.id, 0),
        entries=entries,
        masked=audit_queries.masked,
        manageable=user.role is not Role.ADMIN and user.id != current_user.id,
        now=utcnow(),
    )


@bp.post("/people/<int:user_id>/<any(suspend, restore):action>")
@admin_only
def change_status(user_id: int, action: str) -> Any:
    change = services.suspend_user if action == "suspend" else services.restore_user
    try:
        change(current_user, user_id, request.form.get("reason"))
    except DomainError as exc:
        flash(exc.localized_message(), "error")
    else:
        flash(_("Account suspended.") if action == "suspend" else _("Account restored."), "success")
    return redirect(url_for("admin.person", user_id=user_id))


@bp.route("/organisers", methods=["GET", "POST"])
@admin_only
def organisers() -> Any:
    error = None
    if request.method == "POST":
        try:
            user = services.create_user(
                Role.ORGANISER,
                request.form.get("phone", ""),
                request.form.get("password", ""),
                actor=current_user,
                nickname=request.form.get("nickname"),
                district=request.form.get("district") or None,
            )
        except DomainError as exc:
            error = exc
        else:
            flash(_("Organiser account %(phone)s created.", phone=user.masked_phone), "success")
            return redirect(url_for("admin.organisers"))
    filters = people_queries.PeopleFilters(query=request.args.get("q", "")[:40])
    page = people_queries.search_people(Role.ORGANISER, filters, _page())
    form = request.form.to_dict()
    form.pop("password", None)
    return render_template(
        "admin/people/organisers.html",
        page=page,
        filters=filters,
        shown_query=people_queries.shown_query(filters.query),
        error=error,
        form=form,
        page_args=_page_args(),
        now=utcnow(),
    ), (422 if error else 200)


@bp.get("/administrators")
@admin_only
def administrators() -> Any:
    admins = people_queries.administrators()
    return render_template(
        "admin/people/administrators.html",
        admins=admins,
        has_totp=has_totp,
        codes_left=recovery_codes_left,
    )


def _day(name: str) -> date | None:
    try:
        return date.fromisoformat(request.args.get(name, ""))
    except ValueError:
        return None


@bp.get("/audit")
@admin_only
def audit_log() -> Any:
    filters = audit_queries.AuditFilters(
        actor=request.args.get("actor", "")[:80],
        object_type=request.args.get("object_type", "")[:40],
        object_id=request.args.get("object_id", "")[:80],
        action=request.args.get("action", "")[:80],
        day_from=_day("from"),
        day_to=_day("to"),
    )
    return render_template(
        "admin/audit.html",
        page=audit_queries.search_audit(filters, _page()),
        filters=filters,
        object_types=audit_queries.object_types(),
        actions=audit_queries.actions(),
        masked=audit_queries.masked,
        page_args=_page_args(),
    )


@bp.route("/settings", methods=["GET", "POST"])
@admin_only
def settings() -> Any:
    """Programme-wide caps (offers are approved on the offers page)."""
    error = None
    if request.method == "POST":
        key = request.form.get("key", "")
        try:
            value = set_setting(current_user, key, request.form.get("value", ""))
        except DomainError as exc:
            error = exc.localized_message()
        else:
            name = get_template_attribute("admin/_status.html", "setting_name")(key)
            flash(_("%(key)s is now %(value)s.", key=str(name).strip(), value=value), "success")
            return redirect(url_for("admin.settings"))
    rows = [
        {"key": key, "value": get_setting(key), "default": default, "description": description}
        for key, (default, description) in SETTINGS.items()
    ]
    changes = db.session.scalars(
        select(AuditEntry)
        .where(AuditEntry.action == "settings.change")
        .order_by(AuditEntry.id.desc())
        .limit(20)
    ).all()
    return render_template("admin/settings.html", rows=rows, error=error, changes=changes), (
        422 if error else 200
    )
