"""Admin pages: onboard merchants and their staff, approve offers before they go live."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from backend.errors import DomainError
from backend.extensions import db
from backend.merchants.models import Merchant, MerchantKind
from backend.merchants.services import add_staff, onboard_merchant
from backend.nearby.services import set_location
from backend.rewards import queries, services

from . import bp
from .views import admin_only


@bp.route("/merchants", methods=["GET", "POST"])
@admin_only
def merchants() -> Any:
    error = None
    if request.method == "POST":
        try:
            merchant = onboard_merchant(current_user, request.form.to_dict())
        except DomainError as exc:
            error = exc
        else:
            flash(_("Merchant %(name)s onboarded.", name=merchant.name), "success")
            return redirect(url_for("admin.merchant", merchant_id=merchant.id))
    rows = db.session.scalars(select(Merchant).order_by(Merchant.id)).all()
    return render_template(
        "admin/merchants.html", merchants=rows, error=error, form=request.form, kinds=MerchantKind
    )


@bp.route("/merchants/<int:merchant_id>", methods=["GET", "POST"])
@admin_only
def merchant(merchant_id: int) -> Any:
    item = db.get_or_404(Merchant, merchant_id)
    error = None
    if request.method == "POST":
        try:
            add_staff(
                current_user,
                item.id,
                request.form.get("phone", ""),
                request.form.get("password", ""),
                request.form.get("nickname"),
            )
        except DomainError as exc:
            error = exc
        else:
            flash(_("Staff account created."), "success")
            return redirect(url_for("admin.merchant", merchant_id=item.id))
    return render_template(
        "admin/merchant.html",
        merchant=item,
        error=error,
        offers=queries.offers_of_merchant(item.id),
    )


@bp.post("/merchants/<int:merchant_id>/location")
@admin_only
def merchant_location(merchant_id: int) -> Any:
    try:
        set_location(
            current_user, merchant_id, request.form.get("latitude"), request.form.get("longitude")
        )
        flash(_("Saved."), "success")
    except DomainError as exc:
        if exc.status == 404:
            raise
        flash(exc.localized_message(), "error")
    return redirect(url_for("admin.merchant", merchant_id=merchant_id) + "#location")


@bp.post("/merchants/<int:merchant_id>/funding")
@admin_only
def set_funding(merchant_id: int) -> Any:
    offer = request.form.get("offer_id") or None
    try:
        services.set_funding_rate(
            current_user,
            merchant_id,
            request.form.get("yuan_per_point", ""),
            int(offer) if offer and offer.isdigit() else None,
        )
    except DomainError as exc:
        flash(exc.localized_message(), "error")
    else:
        flash(_("Funding rate saved."), "success")
    return redirect(url_for("admin.merchant", merchant_id=merchant_id))


@bp.get("/offers")
@admin_only
def offers() -> Any:
    return render_template("admin/offers.html", offers=queries.pending_offers())


@bp.post("/offers/<int:offer_id>/<any(approve, reject):decision>")
@admin_only
def review_offer(offer_id: int, decision: str) -> Any:
    try:
        services.review_offer(
            current_user, offer_id, decision == "approve", request.form.get("comment", "")
        )
        flash(_("Done."), "success")
    except DomainError as exc:
        flash(exc.localized_message(), "error")
    return redirect(url_for("admin.offers"))
