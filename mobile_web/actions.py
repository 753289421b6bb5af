"""Resident pages for green actions: log one, see each one's status and calculation,
appeal a rejection, link data sources; and the station/restaurant claim screen for staff."""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_login import current_user

from backend.accounts.models import Role
from backend.actions import claims, identities, queries, self_reports
from backend.actions.calculation import calculation
from backend.auth import page_roles
from backend.errors import DomainError
from backend.extensions import limiter
from backend.i18n import current_lang
from backend.qr import format_short_code, qr_svg
from backend.ratelimit import caller_key, limit_setting
from backend.uploads import image_path

from . import bp
from .forms import WASTE_CATEGORIES, activity_from_form

resident_only = page_roles(Role.RESIDENT)
staff_only = page_roles(Role.MERCHANT_STAFF)


@bp.get("/actions")
@resident_only
def actions() -> Any:
    return render_template(
        "mobile/actions.html", records=queries.actions_of(current_user.id, 100), lang=current_lang()
    )


@bp.get("/actions/<bigid:record_id>")
@resident_only
def action(record_id: int) -> Any:
    record = self_reports.own_record(current_user, record_id)
    return render_template(
        "mobile/action.html",
        r=record,
        lang=current_lang(),
        calc=calculation(record, current_lang()),
    )


@bp.get("/actions/<bigid:record_id>/evidence")
@page_roles(Role.RESIDENT, Role.ADMIN)
def evidence(record_id: int) -> Any:
    record = self_reports.get_record(record_id)
    if current_user.role is Role.RESIDENT and record.resident_id != current_user.id:
        abort(404)
    if not record.evidence_path:
        abort(404)
    try:
        return send_file(image_path(record.evidence_path), mimetype="image/jpeg", max_age=0)
    except FileNotFoundError:
        abort(404)


@bp.post("/actions/<bigid:record_id>/appeal")
@resident_only
def appeal(record_id: int) -> Any:
    try:
        self_reports.appeal_record(current_user, record_id, request.form.get("text", ""))
        flash(_("Your appeal was sent. Another administrator will decide."), "success")
    except DomainError as exc:
        flash(exc.localized_message(), "error")
    return redirect(url_for("mobile.action", record_id=record_id))


@bp.get("/log")
@resident_only
def log_action() -> Any:
    """Choose how to log an action: show your QR, report with a photo, or link a source."""
    return render_template("mobile/log.html")


@bp.get("/my-qr")
@resident_only
@limiter.limit(limit_setting("RATELIMIT_CLAIM_CODE"), key_func=caller_key)
def my_qr() -> Any:
    claim = claims.new_claim_code(current_user)
    token = claims.claim_token(claim)
    return render_template(
        "mobile/my_qr.html",
        qr=qr_svg(token),
        code=format_short_code(claim.code),
        expires_at=claim.expires_at,
    )


@bp.route("/report", methods=["GET", "POST"])
@resident_only
@limiter.limit(limit_setting("RATELIMIT_SELF_REPORT"), key_func=caller_key, methods=["POST"])
def self_report() -> Any:
    error = None
    if request.method == "POST":
        action_code = request.form.get("action", "")
        activity = activity_from_form(action_code, request.form)
        try:
            record = self_reports.submit_self_report(
                current_user, action_code, activity, request.files.get("photo")
            )
        except DomainError as exc:
            error = exc
        else:
            flash(_("Sent for review. You will see the result under My actions."), "success")
            return redirect(url_for("mobile.action", record_id=record.id))
    return render_template(
        "mobile/report.html", error=error, form=request.form, categories=WASTE_CATEGORIES
    ), 422 if error else 200


@bp.route("/sources", methods=["GET", "POST"])
@resident_only
def sources() -> Any:
    error = error_field = None
    if request.method == "POST":
        if not request.form.get("consent"):
            error = _(
                "Please tick the consent box: the partner will send us your trips or drop-offs."
            )
            error_field = "consent"
        else:
            try:
                identities.bind_identity(
                    current_user, request.form.get("partner", ""), request.form.get("identity", "")
                )
            except DomainError as exc:
                error, error_field = exc.localized_message(), exc.field
            else:
                flash(_("Linked. New records from this source will be credited."), "success")
                return redirect(url_for("mobile.sources"))
    return render_template(
        "mobile/sources.html",
        bindings=identities.bindings_of(current_user.id),
        partners=identities.partners_for_binding(),
        error=error,
        error_field=error_field,
        card=claims.active_card(current_user.id),
    )


@bp.post("/sources/<int:binding_id>/revoke")
@resident_only
def revoke_source(binding_id: int) -> Any:
    try:
        identities.revoke_binding(current_user, binding_id)
        flash(_("Unlinked. This source will no longer send us your data."), "success")
    except DomainError as exc:
        flash(exc.localized_message(), "error")
    return redirect(url_for("mobile.sources"))


@bp.route("/card", methods=["GET", "POST"])
@resident_only
@limiter.limit(limit_setting("RATELIMIT_CARD"), key_func=caller_key, methods=["POST"])
def household_card() -> Any:
    card = claims.active_card(current_user.id)
    if request.method == "POST":
        card = claims.issue_card(current_user)
        flash(_("A new card was issued; the old one no longer works."), "success")
        return redirect(url_for("mobile.household_card"))
    qr = qr_svg(claims.card_token(card)) if card else None
    return render_template("mobile/card.html", card=card, qr=qr)
