"""Merchant staff pages: fulfil by QR photo or typed code, today's list, offers, settlement."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from flask import Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from backend.accounts.models import Role, mask_phone
from backend.actions import corrections, identities
from backend.actions import queries as action_queries
from backend.actions.catalogue import STATION_ACTIONS
from backend.actions.exceptions import CounterInputInvalid
from backend.actions.words import describe_activity, kg
from backend.auth import page_roles
from backend.errors import DomainError
from backend.extensions import limiter
from backend.i18n import current_lang
from backend.ledger.queries import merchant_balance
from backend.merchants.counter import confirm_at_counter
from backend.qr import decode_image, format_short_code
from backend.ratelimit import caller_key, counts_as_attempt, input_rejected, limit_setting
from backend.rewards import queries, services
from backend.rewards.exceptions import InvalidPeriod, OtherMerchant
from backend.timeutil import LOCAL_TZ, local, utcnow

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
@limiter.limit(
    limit_setting("RATELIMIT_COUNTER"), key_func=caller_key, deduct_when=counts_as_attempt
)
def merchant_confirm() -> Any:
    activity = _station_activity(request.form)
    token = request.form.get("token") or None
    try:
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
        if isinstance(exc, CounterInputInvalid):
            input_rejected()  # a staff typo is not abuse: it does not count against the limit
        # The page comes back with what was typed and every problem on its field; a scanned
        # code is kept (hidden) so the corrected form needs no second scan.
        return _counter_page(None, error=exc, form=request.form, token=token), exc.status
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


@bp.post("/merchant/link")
@staff_only
@limiter.limit(limit_setting("RATELIMIT_COUNTER"), key_func=caller_key)
def merchant_link() -> Any:
    """Confirm a resident's card link: the card in hand, the resident's QR or code with it."""
    try:
        token = request.form.get("link_token") or None
        photo = request.files.get("link_photo")
        if not token and photo and photo.filename:
            token = decode_image(photo.read())
        binding = identities.confirm_at_counter(
            current_user,
            request.form.get("identity", ""),
            token=token,
            code=request.form.get("link_resident_code") or None,
        )
    except DomainError as exc:
        flash(exc.localized_message(), "error")
    else:
        flash(
            _(
                "Card %(hint)s confirmed for this resident: its records are credited to them.",
                hint=binding.identity_hint,
            ),
            "success",
        )
    return redirect(url_for("mobile.merchant_home"))


def _station_activity(form: Any) -> dict[str, Any] | None:
    action_code = STATION_ACTIONS.get(current_user.merchant.kind)
    if not action_code:
        return None
    activity = activity_from_form(action_code, form)
    for key in ("collected_at", "meal_at"):
        if activity.get(key) is None:
            activity.pop(key, None)
    return activity


def _field_errors(error: DomainError | None) -> dict[str, str]:
    if error is None:
        return {}
    if isinstance(error, CounterInputInvalid) and isinstance(error.details, dict):
        return {str(k): str(v) for k, v in error.details.items()}
    return {error.field or "form": error.localized_message()}


def _counter_page(
    record: Any,
    *,
    error: DomainError | None = None,
    form: Any = None,
    token: str | None = None,
    period_error: DomainError | None = None,
    period: tuple[str, str] | None = None,
) -> Any:
    merchant = current_user.merchant
    today_actions = action_queries.verified_by(current_user.id)
    shown = [*today_actions, *([record] if record is not None else [])]
    return render_template(
        "mobile/merchant_home.html",
        merchant=merchant,
        result=record,
        error=error,
        errors=_field_errors(error),
        form=form or {},
        token=token,
        action_code=STATION_ACTIONS.get(merchant.kind),
        categories=WASTE_CATEGORIES,
        lang=current_lang(),
        today_rows=queries.merchant_day(merchant.id),
        today_actions=today_actions,
        residents=action_queries.masked_residents(shown),
        correctable=lambda r: corrections.correctable(r, current_user.id),
        correction_minutes=corrections.correction_minutes(),
        describe=describe_activity,
        balance=merchant_balance(merchant.id),
        today=local(utcnow()).date().isoformat(),
        period=period,
        period_error=period_error,
        format_code=format_short_code,
        confirm_key=uuid.uuid4().hex,
    )


@bp.route("/merchant/entries/<bigid:record_id>", methods=["GET", "POST"])
@staff_only
def merchant_entry(record_id: int) -> Any:
    """One entry this staff member confirmed: correct its weights or diners (a new entry
    replaces it), or see exactly what cancelling takes back before confirming it."""
    record = corrections.counter_entry(current_user, record_id)
    error = None
    if request.method == "POST":
        try:
            if request.form.get("do") == "cancel":
                corrections.cancel_counter_entry(current_user, record.id)
                flash(_("Entry cancelled; its points were taken back."), "success")
                return redirect(url_for("mobile.merchant_home"))
            _old, new = corrections.correct_counter_entry(
                current_user, record.id, _station_activity(request.form) or {}
            )
        except DomainError as exc:
            error = exc
        else:
            return _counter_page(new)
    return render_template(
        "mobile/merchant_entry.html",
        r=record,
        error=error,
        errors=_field_errors(error),
        form=request.form if error else _form_of(record),
        open=corrections.correctable(record, current_user.id),
        minutes=corrections.correction_minutes(),
        resident=action_queries.masked_residents([record]).get(record.resident_id or 0, ""),
        describe=describe_activity,
        categories=WASTE_CATEGORIES,
    ), error.status if error else 200


def _form_of(record: Any) -> dict[str, Any]:
    """The entry's values as the counter form's fields (for correcting them)."""
    activity = record.activity or {}
    if record.action == "waste_sorting":
        return {
            f"weight_{item.get('category')}": kg(item.get("weight_kg"))
            for item in activity.get("items") or []
            if isinstance(item, dict)
        }
    return {
        "kind": activity.get("kind", "clean_plate"),
        "diners": kg(activity.get("diners", 1)),
        "portion_reduction_kg": kg(activity.get("portion_reduction_kg") or ""),
    }


@bp.route("/merchant/redemptions/<int:redemption_id>/refund", methods=["GET", "POST"])
@staff_only
def merchant_refund(redemption_id: int) -> Any:
    """A refund cannot be undone: the page first shows exactly what it does (the points, to
    whom, off the shop's settled points), then the staff member confirms it."""
    redemption = services.get_redemption(redemption_id)
    if redemption.merchant_id != current_user.merchant_id:
        raise OtherMerchant()
    if request.method == "POST":
        try:
            services.refund_redemption(
                current_user,
                redemption_id,
                request.form.get("reason") or _("refund at the counter"),
            )
            flash(_("Refunded: the points went back to the resident."), "success")
        except DomainError as exc:
            flash(exc.localized_message(), "error")
        return redirect(url_for("mobile.merchant_home"))
    return render_template(
        "mobile/merchant_refund.html",
        r=redemption,
        resident=mask_phone(redemption.resident.phone) if redemption.resident else "",
        format_code=format_short_code,
        balance=merchant_balance(current_user.merchant_id),
    )


@bp.get("/merchant/settlement.csv")
@staff_only
def merchant_settlement() -> Any:
    start_day, end_day = request.args.get("from", ""), request.args.get("to", "")
    try:
        body = queries.settlement(current_user.merchant_id, start_day, end_day, for_people=True)
    except InvalidPeriod as exc:
        # back on the counter page, the dates as chosen and the problem under them
        return _counter_page(None, period_error=exc, period=(start_day, end_day)), exc.status
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
@limiter.limit(limit_setting("RATELIMIT_OFFER"), key_func=caller_key, methods=["POST"])
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
            services.create_offer(current_user, data, image=request.files.get("image"))
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
