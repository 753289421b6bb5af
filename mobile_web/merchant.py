"""Merchant staff pages: fulfil by QR photo or typed code, today's list, offers, settlement."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from flask import Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from backend.accounts.models import Role
from backend.actions import queries as action_queries
from backend.actions.catalogue import STATION_ACTIONS
from backend.auth import page_roles
from backend.errors import DomainError
from backend.extensions import limiter
from backend.i18n import current_lang
from backend.ledger.queries import merchant_balance
from backend.merchants.counter import confirm_at_counter
from backend.qr import decode_image, format_short_code
from backend.ratelimit import caller_key, limit_setting
from backend.rewards import queries, services
from backend.timeutil import LOCAL_TZ, local, utcnow
from backend.uploads import store_image

from . import bp
from .forms import WASTE_CATEGORIES, activity_from_form

staff_only = page_roles(Role.MERCHANT_STAFF)


@bp.get("/merchant")
@staff_only
def merchant_home() -> Any:
    """One screen: scan or type any code, confirm it, and see today's list."""
    return _counter_page(None)


@bp.post("/merchant/confirm")
@staff_only
@limiter.limit(limit_setting("RATELIMIT_COUNTER"), key_func=caller_key)
def merchant_confirm() -> Any:
    merchant = current_user.merchant
    action_code = STATION_ACTIONS.get(merchant.kind)
    activity = None
    if action_code:
        activity = activity_from_form(action_code, request.form)
        for key in ("collected_at", "meal_at"):
            if activity.get(key) is None:
                activity.pop(key, None)
    try:
        token = request.form.get("token") or None
        photo = request.files.get("photo")
        if not token and photo and photo.filename:
            token = decode_image(photo.read())
        result = confirm_at_counter(
            current_user,
            code=request.form.get("code"),
            token=token,
            activity=activity,
            idempotency_key=request.form.get("key"),
        )
    except DomainError as exc:
        flash(exc.localized_message(), "error")
        return redirect(url_for("mobile.merchant_home"))
    if result.redemption is not None:
        flash(
            _(
                "Fulfilled: %(title)s, %(points)s points.",
                title=result.redemption.offer.title_zh,
                points=result.redemption.points,
            ),
            "success",
        )
        return redirect(url_for("mobile.merchant_home"))
    return _counter_page(result.record)


def _counter_page(record: Any) -> Any:
    merchant = current_user.merchant
    return render_template(
        "mobile/merchant_home.html",
        merchant=merchant,
        result=record,
        action_code=STATION_ACTIONS.get(merchant.kind),
        categories=WASTE_CATEGORIES,
        lang=current_lang(),
        today_rows=queries.merchant_day(merchant.id),
        today_actions=action_queries.verified_by(current_user.id),
        balance=merchant_balance(merchant.id),
        today=local(utcnow()).date().isoformat(),
        format_code=format_short_code,
        confirm_key=uuid.uuid4().hex,
    )


@bp.post("/merchant/redemptions/<int:redemption_id>/refund")
@staff_only
def merchant_refund(redemption_id: int) -> Any:
    try:
        services.refund_redemption(
            current_user, redemption_id, request.form.get("reason") or _("refund at the counter")
        )
        flash(_("Refunded: the points went back to the resident."), "success")
    except DomainError as exc:
        flash(exc.localized_message(), "error")
    return redirect(url_for("mobile.merchant_home"))


@bp.get("/merchant/settlement.csv")
@staff_only
def merchant_settlement() -> Any:
    start_day, end_day = request.args.get("from", ""), request.args.get("to", "")
    body = queries.settlement(current_user.merchant_id, start_day, end_day)
    return Response(
        "\ufeff" + body,
        mimetype="text/csv",
        headers={
            "Content-Disposition": f"attachment; filename=settlement-{start_day}-{end_day}.csv"
        },
    )


@bp.get("/merchant/offers")
@staff_only
def merchant_offers() -> Any:
    return render_template(
        "mobile/merchant_offers.html", offers=queries.offers_of_merchant(current_user.merchant_id)
    )


def _local_datetime(value: str) -> datetime | None:
    try:
        return datetime.fromisoformat(value).replace(tzinfo=LOCAL_TZ)
    except ValueError:
        return None


@bp.route("/merchant/offers/new", methods=["GET", "POST"])
@staff_only
def merchant_new_offer() -> Any:
    form = request.form
    error = None
    if request.method == "POST":
        data = {
            key: form.get(key, "")
            for key in (
                "title_zh",
                "title_en",
                "description_zh",
                "description_en",
                "points_price",
                "stock",
                "per_resident_limit",
            )
        }
        data["valid_from"] = _local_datetime(form.get("valid_from", ""))
        data["valid_until"] = _local_datetime(form.get("valid_until", ""))
        try:
            image = request.files.get("image")
            path = store_image(image, "offers")[0] if image and image.filename else None
            services.create_offer(current_user, data, image_path=path)
        except DomainError as exc:
            error = exc
        else:
            flash(
                _("Offer submitted. It goes live once the programme office approves it."), "success"
            )
            return redirect(url_for("mobile.merchant_offers"))
    return render_template(
        "mobile/merchant_offer_form.html", form=form, error=error
    ), 422 if error else 200


@bp.post("/merchant/offers/<int:offer_id>/<any(pause, resume):action>")
@staff_only
def merchant_pause_offer(offer_id: int, action: str) -> Any:
    try:
        services.set_offer_paused(current_user, offer_id, action == "pause")
    except DomainError as exc:
        flash(exc.localized_message(), "error")
    return redirect(url_for("mobile.merchant_offers"))
