"""Resident pages for points: offers, redeeming, my redemptions with their QR, points history."""

from __future__ import annotations

import uuid
from typing import Any

from flask import abort, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_login import current_user

from backend.accounts.models import Role
from backend.auth import page_roles
from backend.errors import DomainError
from backend.extensions import limiter
from backend.ledger.queries import points_overview, resident_balance
from backend.qr import format_short_code, qr_svg
from backend.ratelimit import caller_key, limit_setting
from backend.rewards import queries, services
from backend.uploads import image_path

from . import bp

resident_only = page_roles(Role.RESIDENT)


@bp.get("/offers")
def offers() -> Any:
    balance = (
        resident_balance(current_user.id)
        if current_user.is_authenticated and current_user.role is Role.RESIDENT
        else None
    )
    return render_template(
        "mobile/offers.html", offers=queries.offers_for_residents(), balance=balance
    )


@bp.get("/offers/<int:offer_id>")
def offer(offer_id: int) -> Any:
    item = queries.visible_offer(offer_id)
    balance = (
        resident_balance(current_user.id)
        if current_user.is_authenticated and current_user.role is Role.RESIDENT
        else None
    )
    return render_template(
        "mobile/offer.html",
        offer=item,
        balance=balance,
        available=services.is_available(item),
        idempotency_key=uuid.uuid4().hex,
    )


@bp.get("/offers/<int:offer_id>/image")
def offer_image(offer_id: int) -> Any:
    item = services.get_offer(offer_id)
    if not item.image_path:
        abort(404)
    try:
        return send_file(image_path(item.image_path), mimetype="image/jpeg", max_age=86400)
    except FileNotFoundError:
        abort(404)


@bp.post("/offers/<int:offer_id>/redeem")
@resident_only
@limiter.limit(limit_setting("RATELIMIT_REDEEM"), key_func=caller_key)
def redeem(offer_id: int) -> Any:
    try:
        redemption = services.redeem_offer(
            current_user, offer_id, request.form.get("idempotency_key")
        )
    except DomainError as exc:
        flash(exc.localized_message(), "error")
        return redirect(url_for("mobile.offer", offer_id=offer_id))
    return redirect(url_for("mobile.redemption", redemption_id=redemption.id))


@bp.get("/redemptions")
@resident_only
def redemptions() -> Any:
    return render_template(
        "mobile/redemptions.html", redemptions=queries.redemptions_of(current_user.id)
    )


@bp.get("/redemptions/<int:redemption_id>")
@resident_only
@limiter.limit(limit_setting("RATELIMIT_REDEMPTION_QR"), key_func=caller_key)
def redemption(redemption_id: int) -> Any:
    item = services.own_redemption(current_user, redemption_id)
    token = services.redemption_token(item)
    qr = qr_svg(token) if token else None
    return render_template(
        "mobile/redemption.html", r=item, qr=qr, code=format_short_code(item.short_code)
    )


@bp.post("/redemptions/<int:redemption_id>/cancel")
@resident_only
def cancel(redemption_id: int) -> Any:
    try:
        services.cancel_redemption(current_user, redemption_id)
        flash(_("Cancelled. The points are back in your account."), "success")
    except DomainError as exc:
        flash(exc.localized_message(), "error")
    return redirect(url_for("mobile.redemption", redemption_id=redemption_id))


@bp.get("/points")
@resident_only
def points() -> Any:
    overview = points_overview(current_user.id, 100)
    return render_template(
        "mobile/points.html",
        balance=overview.balance,
        expiring=overview.expiring,
        rows=overview.history,
    )
