"""Admin pages for methodology versions: list, propose, review (four eyes), diff, retire."""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.exceptions import NotFound

from backend.errors import DomainError
from backend.i18n import current_lang
from backend.methodology_versions import impact, queries, services
from backend.methodology_versions.exceptions import InvalidParameters
from backend.methodology_versions.models import VersionStatus
from backend.timeutil import LOCAL_TZ

from . import bp
from .views import admin_only


@bp.get("/methodologies")
@admin_only
def methodologies() -> Any:
    return render_template("admin/methodologies.html", rows=queries.overview())


@bp.get("/methodologies/<code>")
@admin_only
def methodology(code: str) -> Any:
    return render_template(
        "admin/methodology.html",
        cls=services.methodology_class(code),
        code=code,
        versions=queries.versions_of(code),
        in_force=queries.in_force_or_none(code),
    )


def _number(text: str) -> Decimal | None:
    try:
        value = Decimal(text)
    except (InvalidOperation, ValueError):
        return None
    return value if value.is_finite() else None


def _field_problems(cls: Any, values: dict[str, str], rate: str) -> dict[str, str]:
    """Each value's own problem in words, on its field (all at once): not a number, or
    outside the parameter's bounds; the points rule must be a positive number."""
    problems: dict[str, str] = {}
    for p in cls.parameters:
        value = _number(values.get(p.name, ""))
        low, high = p.bounds()
        if value is None:
            problems[p.name] = _("Enter a number, for example %(example)s.", example=p.value)
        elif (low is not None and value < low) or (high is not None and value > high):
            problems[p.name] = _(
                "Enter a value from %(low)s to %(high)s %(unit)s.",
                low="—" if low is None else format(low, "f"),
                high="—" if high is None else format(high, "f"),
                unit=p.unit,
            )
    points = _number(rate)
    if points is None or points <= 0:
        problems["points_per_gram"] = _("Enter a number of points above 0, for example 1.")
    return problems


def _rule_problems(cls: Any, exc: InvalidParameters) -> dict[str, str]:
    """The values that break a rule of the methodology together (shares adding up to 1, a
    switch being 0 or 1): each field it names is marked, the rule said in words."""
    problems: dict[str, str] = {}
    names = {p.name: p for p in cls.parameters}
    for problem in exc.details or []:
        involved = [n for n in names if re.search(rf"\b{re.escape(n)}\b", str(problem))]
        labels = "、".join(str(names[n].label.get(current_lang())) for n in involved)
        if "sum to 1" in str(problem):
            text = _("Together these shares must add up to 1 (100%%): %(labels)s.", labels=labels)
        else:
            text = _("This value does not fit the methodology's rules: %(labels)s.", labels=labels)
        for name in involved:
            problems.setdefault(name, text)
    return problems


@bp.route("/methodologies/<code>/new", methods=["GET", "POST"])
@admin_only
def new_version(code: str) -> Any:
    services.methodology_class(code)
    base = queries.in_force_or_none(code)
    # a parameter change keeps the module version (and its rounding rule) of the base
    cls = services.version_class(base) if base else services.methodology_class(code)
    values = dict(base.params) if base else {p.name: str(p.value) for p in cls.parameters}
    rate = base.points_per_gram if base else "1"
    note = ""
    error: DomainError | str | None = None
    problems: dict[str, str] = {}
    if request.method == "POST":
        values = {p.name: request.form.get(f"param:{p.name}", "").strip() for p in cls.parameters}
        rate = request.form.get("points_per_gram", "").strip()
        note = request.form.get("note", "")
        problems = _field_problems(cls, values, rate)
        version = None
        if not problems:
            try:
                version = services.create_draft(current_user, code, values, rate, note)
            except InvalidParameters as exc:
                problems = _rule_problems(cls, exc)
                error = None if problems else exc
            except DomainError as exc:
                error = exc
        if problems:
            error = _("Please check the marked values; nothing was saved.")
        if version is not None:
            flash(
                _("Draft %(label)s saved. Submit it for review when ready.", label=version.label),
                "success",
            )
            return redirect(url_for("admin.version", version_id=version.id))
    page = render_template(
        "admin/version_form.html",
        cls=cls,
        code=code,
        values=values,
        rate=rate,
        note=note,
        error=error,
        problems=problems,
        base=base,
    )
    return page, 422 if error else 200


@bp.get("/methodology-versions/<int:version_id>")
@admin_only
def version(version_id: int) -> Any:
    v = services.get_version(version_id)
    others = [o for o in queries.versions_of(v.code) if o.id != v.id]
    in_force = queries.in_force_or_none(v.code)
    # a proposal is reviewed against what it would replace: each value next to the old one
    against = in_force if in_force is not None and in_force.id != v.id else None
    return render_template(
        "admin/version.html",
        v=v,
        cls=services.version_class(v),
        others=others,
        in_force=in_force,
        against=against,
        rows=queries.diff(against, v) if against else None,
        statuses=VersionStatus,
        preview=impact.preview(v.id)
        if v.status in (VersionStatus.DRAFT, VersionStatus.IN_REVIEW)
        else None,
    )


def _effective_from() -> datetime | None:
    raw = request.form.get("effective_from", "").strip()
    if not raw:
        return None
    return datetime.fromisoformat(raw).replace(tzinfo=LOCAL_TZ)


@bp.post("/methodology-versions/<int:version_id>/<action>")
@admin_only
def version_action(version_id: int, action: str) -> Any:
    comment = request.form.get("comment", "")
    try:
        if action == "submit":
            services.submit_version(current_user, version_id)
        elif action == "approve":
            impact.approve_and_notify(current_user, version_id, comment, _effective_from())
        elif action == "reject":
            services.reject_version(current_user, version_id, comment)
        elif action == "retire":
            services.retire_version(current_user, version_id, comment)
        else:
            raise NotFound()
    except DomainError as exc:
        flash(exc.localized_message(), "error")
    except ValueError:
        flash(_("The effective date is not a valid date and time."), "error")
    else:
        flash(_("Done."), "success")
    return redirect(url_for("admin.version", version_id=version_id))


@bp.get("/methodology-versions/<int:left_id>/diff/<int:right_id>")
@admin_only
def version_diff(left_id: int, right_id: int) -> Any:
    left, right = services.get_version(left_id), services.get_version(right_id)
    if left.code != right.code:
        raise NotFound()
    return render_template(
        "admin/version_diff.html", left=left, right=right, rows=queries.diff(left, right)
    )
