"""Admin pages for carbon-neutral events: plan review, planting records, survival checks and
the certificate."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from backend.errors import DomainError
from backend.events import certificates, forest, queries, removals, reports, services
from backend.events.models import PlanStatus
from backend.notices.queries import notices_of
from backend.timeutil import local, utcnow
from methodologies import afforestation as af

from . import bp
from .views import admin_only


@bp.get("/events")
@admin_only
def events() -> Any:
    return render_template(
        "admin/events/list.html",
        pending=queries.plans_awaiting_review(),
        rows=[(event, queries.standing(event)) for event in queries.all_events()],
        notices=notices_of(current_user.id, limit=10),
    )


def _detail(event_id: int, status: int = 200, **forms: Any) -> Any:
    event = services.get_event(event_id)
    state = queries.standing(event)
    plan = state.plan
    return render_template(
        "admin/events/detail.html",
        event=event,
        standing=state,
        plan=plan,
        chart=reports.sequestration_chart(plan) if plan else None,
        retirements=queries.retirements_of(event.id),
        species=af.SPECIES,
        statuses=PlanStatus,
        today=local(utcnow()).date().isoformat(),
        planting_form=forms.get("planting_form", {}),
        planting_error=forms.get("planting_error"),
        check_form=forms.get("check_form", {}),
        check_error=forms.get("check_error"),
        check_planting=forms.get("check_planting"),
        measurements={b.planting.id: removals.measurements_of(b.planting.id) for b in state.blocks},
        forest_credits={
            b.planting.id: removals.credits_of_planting(b.planting.id) for b in state.blocks
        },
        buffer_pool_g=removals.buffer_pool_g(),
        buffer_share=removals.buffer_share(),
        plot_rows=PLOT_ROWS,
        measure_form=forms.get("measure_form", {}),
        measure_error=forms.get("measure_error"),
        measure_planting=forms.get("measure_planting"),
    ), status


@bp.get("/events/<int:event_id>")
@admin_only
def event(event_id: int) -> Any:
    return _detail(event_id)


@bp.post("/plans/<int:plan_id>/<any(approve, return):decision>")
@admin_only
def review_plan(plan_id: int, decision: str) -> Any:
    plan = forest.get_plan(plan_id)
    try:
        forest.review_plan(
            current_user, plan_id, decision == "approve", request.form.get("comment", "")
        )
    except DomainError as exc:
        flash(exc.localized_message(), "error")
    else:
        flash(_("Plan approved.") if decision == "approve" else _("Plan returned."), "success")
    return redirect(url_for("admin.event", event_id=plan.event_id))


@bp.post("/plans/<int:plan_id>/plantings")
@admin_only
def record_planting(plan_id: int) -> Any:
    plan = forest.get_plan(plan_id)
    try:
        forest.record_planting(current_user, plan_id, request.form, request.files.getlist("photos"))
    except DomainError as exc:
        return _detail(plan.event_id, 422, planting_form=request.form, planting_error=exc)
    flash(_("Planting recorded."), "success")
    return redirect(url_for("admin.event", event_id=plan.event_id) + "#plantings")


@bp.post("/plantings/<int:planting_id>/survival")
@admin_only
def record_survival(planting_id: int) -> Any:
    planting = forest.get_planting(planting_id)
    event_id = planting.plan.event_id
    try:
        forest.record_survival_check(current_user, planting_id, request.form)
    except DomainError as exc:
        return _detail(
            event_id, 422, check_form=request.form, check_error=exc, check_planting=planting_id
        )
    flash(_("Survival check recorded."), "success")
    return redirect(url_for("admin.event", event_id=event_id) + "#plantings")


PLOT_ROWS = 3
PLOT_FIELDS = ("area_m2", "stock_m3", "trees", "mean_dbh_cm", "mean_height_m")


def _plots(form: Any) -> list[dict[str, str]]:
    """The measurement form's plot rows (``plot-<n>-<field>``), blank rows left out."""
    rows = []
    for n in range(1, PLOT_ROWS + 1):
        row = {f: form.get(f"plot-{n}-{f}", "").strip() for f in PLOT_FIELDS}
        if any(row.values()):
            rows.append({f: v for f, v in row.items() if v})
    return rows


@bp.post("/plantings/<int:planting_id>/measurement")
@admin_only
def record_measurement(planting_id: int) -> Any:
    planting = removals.get_planting(planting_id)
    event_id = planting.plan.event_id
    try:
        removals.record_growth_measurement(
            current_user,
            planting_id,
            request.form.get("measured_on", ""),
            _plots(request.form),
            request.form.get("trees_alive") or None,
            request.form.get("note", ""),
        )
    except DomainError as exc:
        return _detail(
            event_id,
            422,
            measure_form=request.form,
            measure_error=exc,
            measure_planting=planting_id,
        )
    flash(_("Growth measurement recorded."), "success")
    return redirect(url_for("admin.event", event_id=event_id) + "#measurements")


@bp.post("/events/<int:event_id>/certificate")
@admin_only
def issue_certificate(event_id: int) -> Any:
    try:
        cert = certificates.issue_certificate(current_user, event_id)
    except DomainError as exc:
        flash(exc.localized_message(), "error")
    else:
        flash(_("Certificate %(serial)s issued.", serial=cert.serial), "success")
    return redirect(url_for("admin.event", event_id=event_id))
