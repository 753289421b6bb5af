"""Carbon-neutral event pages: organisers' events, activity data, reports, planting plans and
retirements; the public certificate verification and planting project pages; residents'
donations to a project."""

from __future__ import annotations

import uuid
from decimal import Decimal, InvalidOperation
from typing import Any

from flask import Response, abort, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.datastructures import MultiDict

from backend.accounts.models import Role
from backend.auth import page_roles
from backend.errors import DomainError
from backend.events import (
    certificates,
    donations,
    forest,
    previews,
    queries,
    reports,
    retirements,
    services,
)
from backend.events.models import Event, EventFootprint, FootprintStage, PlanStatus
from backend.ledger.queries import resident_balance
from backend.notices.queries import notices_of
from backend.uploads import image_path
from methodologies import afforestation as af
from methodologies import event_footprint as ef

from . import bp

organiser_only = page_roles(Role.ORGANISER)
organiser_or_admin = page_roles(Role.ORGANISER, Role.ADMIN)
resident_only = page_roles(Role.RESIDENT)

for _name, _filter in reports.TEMPLATE_FILTERS.items():
    bp.add_app_template_filter(_filter, _name)
for _name, _value in reports.TEMPLATE_GLOBALS.items():
    bp.add_app_template_global(_value, _name)

# The activity-data form: one amount per non-travel source, and travel as rows of
# mode x travellers x one-way trips x distance (several rows per mode for several origins).
AMOUNT_KINDS = [
    (category, kind)
    for category in ef.CATEGORIES
    if category != "travel"
    for kind in ef.KINDS[category]
]
TRAVEL_ROWS = 4
TRAVEL_FIELDS = ("kind", "travellers", "trips", "distance_km")
MAX_TRAVEL_ROWS = 40
MIX_ROWS = 3


def _travel_rows(form: MultiDict[str, str]) -> int:
    raw = form.get("travel_rows", "")
    return min(int(raw), MAX_TRAVEL_ROWS) if raw.isdigit() else TRAVEL_ROWS


# --- organisers: events --------------------------------------------------------------------


@bp.get("/organiser")
@organiser_only
def organiser_home() -> Any:
    events = queries.events_of(current_user.id)
    return render_template(
        "mobile/events/list.html",
        rows=[(event, queries.standing(event)) for event in events],
        notices=notices_of(current_user.id, limit=5),
    )


@bp.route("/organiser/events/new", methods=["GET", "POST"])
@organiser_only
def new_event() -> Any:
    error = None
    if request.method == "POST":
        try:
            event = services.create_event(current_user, request.form)
        except DomainError as exc:
            error = exc
        else:
            flash(_("Event created. Next: enter the planned activity data."), "success")
            return redirect(url_for("mobile.footprint_form", event_id=event.id, stage="planned"))
    return render_template(
        "mobile/events/new.html", form=request.form, error=error
    ), 422 if error else 200


@bp.get("/organiser/events/<int:event_id>")
@organiser_only
def event_detail(event_id: int) -> Any:
    event = services.own_event(current_user, event_id)
    return render_template(
        "mobile/events/detail.html",
        event=event,
        planned=event.footprint(FootprintStage.PLANNED),
        actual=event.footprint(FootprintStage.ACTUAL),
        standing=queries.standing(event),
        retirements=queries.retirements_of(event.id),
        pool_g=queries.pool_g(),
        request_key=uuid.uuid4().hex,
        ended=services.local_today() >= event.ends_on,
    )


# --- organisers: activity data and the 碳计量报告 -------------------------------------------


def _lines_from_form(form: MultiDict[str, str]) -> tuple[list[dict[str, Any]], list[str]]:
    """The methodology lines the form describes, and the form key of each line."""
    lines: list[dict[str, Any]] = []
    keys: list[str] = []
    for category, kind in AMOUNT_KINDS:
        key = f"amount-{category}-{kind}"
        value = form.get(key, "").strip()
        if value:
            lines.append({"category": category, "kind": kind, "amount": value})
            keys.append(key)
    for i in range(_travel_rows(form)):
        values = {f: form.get(f"travel-{i}-{f}", "").strip() for f in TRAVEL_FIELDS}
        if not any(values[f] for f in TRAVEL_FIELDS[1:]):
            continue
        lines.append({"category": "travel", **{f: v for f, v in values.items() if v}})
        keys.append(f"travel-{i}")
    return lines, keys


def _form_from_footprint(footprint: EventFootprint | None) -> MultiDict[str, str]:
    """Prefill the form from stored activity data (travel given as passenger-km becomes
    1 traveller x 1 trip x the passenger-km)."""
    out: MultiDict[str, str] = MultiDict()
    if footprint is None:
        return out
    totals: dict[str, Decimal] = {}
    row = 0
    for line in footprint.activity.get("lines", []):
        if line.get("category") == "travel":
            trip = "amount" not in line
            out[f"travel-{row}-kind"] = line.get("kind", "")
            out[f"travel-{row}-travellers"] = str(line.get("travellers", "")) if trip else "1"
            out[f"travel-{row}-trips"] = str(line.get("trips", "")) if trip else "1"
            out[f"travel-{row}-distance_km"] = str(
                line.get("distance_km", "") if trip else line.get("amount", "")
            )
            row += 1
        else:
            key = f"amount-{line.get('category')}-{line.get('kind')}"
            totals[key] = totals.get(key, Decimal(0)) + Decimal(str(line.get("amount", 0)))
    for key, value in totals.items():
        out[key] = reports.number(value).replace(",", "")
    out["travel_rows"] = str(min(max(TRAVEL_ROWS, row + 2), MAX_TRAVEL_ROWS))
    return out


@bp.route(
    "/organiser/events/<int:event_id>/footprint/<any(planned, actual):stage>",
    methods=["GET", "POST"],
)
@organiser_only
def footprint_form(event_id: int, stage: str) -> Any:
    event = services.own_event(current_user, event_id)
    phase = FootprintStage(stage)
    error: DomainError | None = None
    field_errors: dict[str, str] = {}
    if request.method == "POST":
        form = request.form
        lines, keys = _lines_from_form(form)
        try:
            services.record_footprint(
                current_user, event.id, phase, lines, form.get("participants", "").strip()
            )
        except DomainError as exc:
            error = exc
            if exc.field:
                field_errors[exc.field] = exc.localized_message()
            for problem in exc.details or []:
                if isinstance(problem, dict) and problem.get("line"):
                    field_errors.setdefault(keys[problem["line"] - 1], problem["message"])
        else:
            flash(_("Saved. The emissions are calculated below."), "success")
            return redirect(url_for("mobile.report", event_id=event.id, stage=stage))
    else:
        form = _form_from_footprint(
            event.footprint(phase) or event.footprint(FootprintStage.PLANNED)
        )
        if phase is FootprintStage.PLANNED and "participants" not in form:
            form["participants"] = str(event.expected_participants)
    return render_template(
        "mobile/events/footprint_form.html",
        event=event,
        stage=phase,
        form=form,
        error=error,
        field_errors=field_errors,
        amount_kinds=AMOUNT_KINDS,
        travel_rows=_travel_rows(form),
        kinds=ef.KINDS,
        ended=services.local_today() >= event.ends_on,
    ), 422 if error else 200


def _report_footprint(event: Event, stage: str) -> EventFootprint:
    footprint = event.footprint(FootprintStage(stage))
    if footprint is None:
        abort(404)
    return footprint


@bp.get("/organiser/events/<int:event_id>/report/<any(planned, actual):stage>")
@organiser_or_admin
def report(event_id: int, stage: str) -> Any:
    event = services.own_event(current_user, event_id)
    footprint = _report_footprint(event, stage)
    return render_template(
        "mobile/events/report.html", **reports.footprint_context(event, footprint)
    )


@bp.get("/organiser/events/<int:event_id>/report/<any(planned, actual):stage>.pdf")
@organiser_or_admin
def report_pdf(event_id: int, stage: str) -> Any:
    event = services.own_event(current_user, event_id)
    footprint = _report_footprint(event, stage)
    return Response(
        reports.footprint_pdf(event, footprint),
        mimetype="application/pdf",
        headers={"Content-Disposition": f"inline; filename=carbon-report-{event.id}-{stage}.pdf"},
    )


# --- organisers: the neutralisation plan and retirements -----------------------------------


def _share(percent: str) -> str | None:
    """A percentage from the form as the methodology's share (0..1); text passes through so
    the methodology can name the problem."""
    if not percent:
        return None
    try:
        return str(Decimal(percent) / 100)
    except InvalidOperation:
        return percent


def _plan_problems(form: MultiDict[str, str]) -> dict[str, str]:
    """The plan form's own problems, all at once: the site left empty, and species shares
    that are not numbers or do not add up to 100 percent (the service judges the rest)."""
    problems: dict[str, str] = {}
    if not form.get("site", "").strip():
        problems["site"] = _("Enter the site: a township, village or forest farm.")
    total = Decimal(0)
    chosen = 0
    for i in range(MIX_ROWS):
        if not form.get(f"mix-{i}-species", "").strip():
            continue
        chosen += 1
        try:
            total += Decimal(form.get(f"mix-{i}-percent", "").strip())
        except InvalidOperation:
            problems["species_mix"] = _("Enter each species' share as a number of percent.")
    if not chosen:
        problems["species_mix"] = _("Choose at least one species.")
    elif "species_mix" not in problems and total != 100:
        problems["species_mix"] = _(
            "The shares add up to %(total)s%%; they must add up to 100%%.", total=f"{total:f}"
        )
    return problems


def _plan_data(form: MultiDict[str, str]) -> dict[str, Any]:
    mix = []
    for i in range(MIX_ROWS):
        species = form.get(f"mix-{i}-species", "").strip()
        if species:
            mix.append({"species": species, "share": _share(form.get(f"mix-{i}-percent", ""))})
    return {
        "district": form.get("district", ""),
        "site": form.get("site", ""),
        "planting_year": form.get("planting_year", ""),
        "horizon_years": form.get("horizon_years", ""),
        "species_mix": mix,
    }


def _form_from_plan(event: Event) -> MultiDict[str, str]:
    plan = event.latest_plan
    out: MultiDict[str, str] = MultiDict(
        {
            "district": event.district,
            "planting_year": str(event.ends_on.year + 1),
            "horizon_years": str(forest.DEFAULT_HORIZON),
            "mix-0-species": "chinese_fir",
            "mix-0-percent": "100",
        }
    )
    if plan is not None:
        out["district"] = plan.district
        out["site"] = plan.site
        out["planting_year"] = str(plan.planting_year)
        out["horizon_years"] = str(plan.horizon_years)
        del out["mix-0-species"], out["mix-0-percent"]
        for i, item in enumerate(plan.species_mix[:MIX_ROWS]):
            out[f"mix-{i}-species"] = item["species"]
            out[f"mix-{i}-percent"] = reports.number(
                (Decimal(item["share"]) * 100).quantize(Decimal("0.1"))
            )
    return out


@bp.route("/organiser/events/<int:event_id>/plan", methods=["GET", "POST"])
@organiser_only
def plan(event_id: int) -> Any:
    event = services.own_event(current_user, event_id)
    error: DomainError | None = None
    problems: dict[str, str] = {}
    if request.method == "POST":
        form = request.form
        problems = _plan_problems(form)
        if not problems:
            try:
                forest.create_plan(current_user, event.id, _plan_data(form))
            except DomainError as exc:
                error = exc
            else:
                flash(_("Plan calculated. Check it, then submit it for review."), "success")
                return redirect(url_for("mobile.plan", event_id=event.id) + "#plan")
    else:
        form = _form_from_plan(event)
    current = event.latest_plan
    return render_template(
        "mobile/events/plan.html",
        event=event,
        plan=current,
        chart=reports.sequestration_chart(current) if current else None,
        deduction=reports.percent(1 - af.net_fraction(current.version.decimal_params()))
        if current
        else None,
        standing=queries.standing(event),
        form=form,
        error=error,
        problems=problems,
        horizons=forest.HORIZONS,
        years=range(event.starts_on.year, event.ends_on.year + 2),
        mix_rows=MIX_ROWS,
        species=af.SPECIES,
        statuses=PlanStatus,
    ), 422 if error or problems else 200


@bp.post("/organiser/plans/<int:plan_id>/submit")
@organiser_only
def submit_plan(plan_id: int) -> Any:
    try:
        item = forest.submit_plan(current_user, plan_id)
    except DomainError as exc:
        flash(exc.localized_message(), "error")
        item = forest.own_plan(current_user, plan_id)
    else:
        flash(_("Submitted. An administrator will review the plan."), "success")
    return redirect(url_for("mobile.plan", event_id=item.event_id))


@bp.post("/organiser/events/<int:event_id>/retire")
@organiser_only
def retire(event_id: int) -> Any:
    """First a preview of exactly which reductions would be retired and how many kg (each is
    retired whole, so it may be more than asked); the organiser then confirms, accepting at
    most what the preview showed."""
    raw = request.form.get("kg", "").strip()
    back = url_for("mobile.event_detail", event_id=event_id) + "#retire"
    grams: Any = int(raw) * 1000 if raw.isdigit() else raw
    if not request.form.get("confirm"):
        try:
            preview = previews.preview_retirement(current_user, event_id, grams)
        except DomainError as exc:
            flash(exc.localized_message(), "error")
            return redirect(back)
        return render_template(
            "mobile/events/retire_preview.html",
            p=preview,
            kg=reports.kilograms,
            raw=raw,
            request_key=request.form.get("request_key", ""),
            back=back,
        )
    try:
        at_most = request.form.get("at_most_g", "")
        rows = retirements.retire_reductions(
            current_user,
            event_id,
            grams,
            request.form.get("request_key"),
            at_most_g=int(at_most) if at_most.isdigit() else grams if isinstance(grams, int) else 0,
        )
    except DomainError as exc:
        flash(exc.localized_message(), "error")
    else:
        flash(
            _(
                "Retired %(n)s reductions (%(kg)s kg CO2e), serial numbers %(first)s to %(last)s.",
                n=len(rows),
                kg=reports.kilograms(sum(r.grams for r in rows)),
                first=rows[0].serial,
                last=rows[-1].serial,
            ),
            "success",
        )
    return redirect(back)


# --- public: certificate verification -------------------------------------------------------


@bp.get("/verify/<code>")
def verify(code: str) -> Any:
    cert = certificates.certificate_by_code(code)
    return render_template(
        "mobile/events/verify.html",
        cert=cert,
        snap=cert.snapshot,
        standing=queries.standing(cert.event),
    )


@bp.get("/verify/<code>/certificate.pdf")
def certificate_pdf(code: str) -> Any:
    cert = certificates.certificate_by_code(code)
    return Response(
        reports.certificate_pdf(cert),
        mimetype="application/pdf",
        headers={"Content-Disposition": f"inline; filename={cert.serial}.pdf"},
    )


# --- public planting projects and residents' donations -----------------------------------


@bp.get("/projects")
def projects() -> Any:
    return render_template(
        "mobile/events/projects.html",
        items=[queries.project(plan) for plan in queries.projects()],
    )


@bp.get("/projects/<int:plan_id>")
def project(plan_id: int) -> Any:
    item = queries.project(donations.get_project(plan_id))
    resident = current_user.is_authenticated and current_user.role is Role.RESIDENT
    return render_template(
        "mobile/events/project.html",
        item=item,
        standing=item.standing,
        mine=queries.donor_share(item, current_user.id) if resident else None,
        balance=resident_balance(current_user.id) if resident else None,
        idempotency_key=uuid.uuid4().hex,
    )


@bp.post("/projects/<int:plan_id>/donate")
@resident_only
def donate(plan_id: int) -> Any:
    back = url_for("mobile.project", plan_id=plan_id) + "#donate"
    if not request.form.get("confirm"):
        try:
            preview = previews.preview_donation(current_user, plan_id, request.form.get("points"))
        except DomainError as exc:
            flash(exc.localized_message(), "error")
            return redirect(back)
        return render_template(
            "mobile/confirm.html",
            title=_("Donate points"),
            lines=[
                _(
                    "%(points)s points go to the forest fund of %(project)s.",
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
            action=url_for("mobile.donate", plan_id=plan_id),
            fields={
                "points": preview.points,
                "idempotency_key": request.form.get("idempotency_key", ""),
            },
            button=_("Donate %(points)s points", points=preview.points),
            back=back,
            danger=False,
        )
    try:
        donation = donations.donate_points(
            current_user,
            plan_id,
            request.form.get("points", ""),
            request.form.get("idempotency_key"),
        )
    except DomainError as exc:
        flash(exc.localized_message(), "error")
    else:
        flash(_("Thank you! You donated %(points)s points.", points=donation.points), "success")
    return redirect(url_for("mobile.project", plan_id=plan_id) + "#donate")


@bp.get("/projects/<int:plan_id>/photos/<int:planting_id>/<int:index>")
def planting_photo(plan_id: int, planting_id: int, index: int) -> Any:
    project_plan = donations.get_project(plan_id)
    planting = next((p for p in project_plan.plantings if p.id == planting_id), None)
    if planting is None or not 0 <= index < len(planting.photos):
        abort(404)
    try:
        return send_file(image_path(planting.photos[index]), mimetype="image/jpeg", max_age=86400)
    except FileNotFoundError:
        abort(404)
