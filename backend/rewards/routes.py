"""Offers, redemptions and the points account (residents, merchant staff, administrators)."""

from __future__ import annotations

import hashlib
from typing import Any

from flask import Response, current_app, jsonify, request
from flask.views import MethodView
from flask_smorest import Blueprint
from flask_smorest.fields import Upload
from marshmallow import Schema

from .. import pagecache
from ..accounts.models import Role
from ..auth import api_roles, api_user
from ..cache import cached
from ..extensions import limiter
from ..ledger.queries import points_overview
from ..pagecache import ledger_version
from ..qr import decode_image
from ..ratelimit import caller_key, limit_setting
from ..schemas import IdempotencyHeaderSchema, PageArgsSchema
from . import queries, services
from .schemas import (
    FulfilSchema,
    FundingResultSchema,
    FundingSchema,
    OfferCreateSchema,
    OfferSchema,
    PointsSchema,
    RedemptionSchema,
    RefundSchema,
    ResidentRedemptionSchema,
    ReviewOfferSchema,
    SettlementArgsSchema,
    StateIdempotencyHeaderSchema,
)

blp = Blueprint(
    "rewards", __name__, url_prefix="/api/v1", description="Points, offers and redemptions"
)
resident_only = api_roles(Role.RESIDENT)
staff_only = api_roles(Role.MERCHANT_STAFF)
admin_only = api_roles(Role.ADMIN)


class PhotoSchema(Schema):
    photo = Upload(required=True)


@blp.route("/me/points")
class MyPoints(MethodView):
    @resident_only
    @blp.arguments(PageArgsSchema, location="query")
    @blp.response(200, PointsSchema)
    def get(self, args: dict[str, Any]) -> Any:
        """Balance, points expiring and by when, and the latest movements.

        Sent with an ETag: ``If-None-Match`` with it answers 304 while the points are
        unchanged."""
        user_id, limit = api_user().id, args["limit"]

        def body() -> bytes:
            data = PointsSchema().dump(points_overview(user_id, limit))
            return bytes(jsonify(data).get_data())

        return pagecache.serve(
            "points", user_id, ledger_version(user_id), body, "application/json", limit
        )


@blp.route("/offers")
class Offers(MethodView):
    @blp.response(200, OfferSchema(many=True))
    def get(self) -> Any:
        """Live offers, cheapest first."""

        def body() -> tuple[bytes, str]:
            offers = OfferSchema(many=True).dump(queries.offers_for_residents())
            data = bytes(jsonify(offers).get_data())
            return data, hashlib.sha256(data).hexdigest()[:32]

        data, etag = cached(
            pagecache.offers_key(), body, seconds=current_app.config["OFFERS_CACHE_SECONDS"]
        )
        if request.if_none_match.contains(etag):  # the version the client holds: 304
            return pagecache.offers_validated(Response(status=304), etag)
        return pagecache.offers_validated(Response(data, mimetype="application/json"), etag)


@blp.route("/offers/<int:offer_id>")
class OfferDetail(MethodView):
    @blp.response(200, OfferSchema)
    def get(self, offer_id: int) -> Any:
        return queries.visible_offer(offer_id)


@blp.route("/offers/<int:offer_id>/redeem")
class Redeem(MethodView):
    decorators = [limiter.limit(limit_setting("RATELIMIT_REDEEM"), key_func=caller_key)]

    @resident_only
    @blp.arguments(IdempotencyHeaderSchema, location="headers")
    @blp.response(201, ResidentRedemptionSchema)
    def post(self, headers: dict[str, Any], offer_id: int) -> Any:
        """Hold the offer's points and get a redemption code (send an Idempotency-Key)."""
        return services.redeem_offer(api_user(), offer_id, headers["idempotency_key"])


@blp.route("/redemptions")
class MyRedemptions(MethodView):
    @resident_only
    @blp.response(200, RedemptionSchema(many=True))
    def get(self) -> Any:
        """Your redemptions, newest first."""
        return queries.redemptions_of(api_user().id)


@blp.route("/redemptions/<int:redemption_id>")
class MyRedemption(MethodView):
    decorators = [limiter.limit(limit_setting("RATELIMIT_REDEMPTION_QR"), key_func=caller_key)]

    @resident_only
    @blp.response(200, ResidentRedemptionSchema)
    def get(self, redemption_id: int) -> Any:
        """One of your redemptions with a fresh QR token while it is held."""
        return services.own_redemption(api_user(), redemption_id)


@blp.route("/redemptions/<int:redemption_id>/cancel")
class CancelRedemption(MethodView):
    @resident_only
    @blp.arguments(StateIdempotencyHeaderSchema, location="headers")
    @blp.response(200, RedemptionSchema)
    def post(self, headers: dict[str, Any], redemption_id: int) -> Any:
        """Cancel a held redemption; the points come back.

        Idempotent by state, so the Idempotency-Key is optional: cancelling again, with the
        same key or none, returns the cancelled redemption and changes nothing."""
        return services.cancel_redemption(api_user(), redemption_id)


@blp.route("/merchant/fulfil")
class Fulfil(MethodView):
    decorators = [limiter.limit("60 per minute", key_func=caller_key)]

    @staff_only
    @blp.arguments(FulfilSchema)
    @blp.arguments(IdempotencyHeaderSchema, location="headers")
    @blp.response(200, RedemptionSchema)
    def post(self, data: dict[str, Any], headers: dict[str, Any]) -> Any:
        """Fulfil a redemption by its short code or its QR token."""
        return services.fulfil_redemption(
            api_user(),
            code=data["code"],
            token=data["token"],
            idempotency_key=headers["idempotency_key"],
        )


@blp.route("/merchant/fulfil/photo")
class FulfilPhoto(MethodView):
    decorators = [limiter.limit("30 per minute", key_func=caller_key)]

    @staff_only
    @blp.arguments(PhotoSchema, location="files")
    @blp.arguments(IdempotencyHeaderSchema, location="headers")
    @blp.response(200, RedemptionSchema)
    def post(self, files: dict[str, Any], headers: dict[str, Any]) -> Any:
        """Fulfil a redemption from a photo of its QR code (decoded on the server)."""
        token = decode_image(files["photo"].read())
        return services.fulfil_redemption(
            api_user(), token=token, idempotency_key=headers["idempotency_key"]
        )


@blp.route("/merchant/redemptions")
class MerchantToday(MethodView):
    @staff_only
    @blp.response(200, RedemptionSchema(many=True))
    def get(self) -> Any:
        """Today's fulfilled and refunded redemptions at your merchant."""
        return queries.merchant_day(api_user().merchant_id)


@blp.route("/merchant/redemptions/<int:redemption_id>/refund")
class Refund(MethodView):
    @staff_only
    @blp.arguments(RefundSchema)
    @blp.arguments(StateIdempotencyHeaderSchema, location="headers")
    @blp.response(200, RedemptionSchema)
    def post(self, data: dict[str, Any], headers: dict[str, Any], redemption_id: int) -> Any:
        """Give a fulfilled redemption's points back to the resident (reversing entry).

        Idempotent by state, so the Idempotency-Key is optional: refunding again, with the
        same key or none, returns the refunded redemption and moves no points."""
        return services.refund_redemption(api_user(), redemption_id, data["reason"])


@blp.route("/merchant/settlement.csv")
class Settlement(MethodView):
    @staff_only
    @blp.arguments(SettlementArgsSchema, location="query")
    @blp.response(200, content_type="text/csv")
    def get(self, args: dict[str, Any]) -> Response:
        """Settlement CSV of a period (local calendar days, both included)."""
        body = queries.settlement(
            api_user().merchant_id, args["start"].isoformat(), args["end"].isoformat()
        )
        return Response(
            body,
            mimetype="text/csv",
            headers={
                "Content-Disposition": f"attachment; filename=settlement-{args['start']}-"
                f"{args['end']}.csv"
            },
        )


@blp.route("/merchant/offers")
class MerchantOffers(MethodView):
    @staff_only
    @blp.response(200, OfferSchema(many=True))
    def get(self) -> Any:
        """Your merchant's offers, in every status."""
        return queries.offers_of_merchant(api_user().merchant_id)

    @staff_only
    @blp.arguments(OfferCreateSchema)
    @blp.response(201, OfferSchema)
    def post(self, data: dict[str, Any]) -> Any:
        """Propose an offer; it goes live once an administrator approves it."""
        return services.create_offer(api_user(), data)


@blp.route("/merchant/offers/<int:offer_id>/<any(pause, resume):action>")
class PauseOffer(MethodView):
    @staff_only
    @blp.response(200, OfferSchema)
    def post(self, offer_id: int, action: str) -> Any:
        """Pause or resume one of your offers."""
        return services.set_offer_paused(api_user(), offer_id, action == "pause")


@blp.route("/admin/offers/<int:offer_id>/<any(approve, reject):decision>")
class AdminReviewOffer(MethodView):
    @admin_only
    @blp.arguments(ReviewOfferSchema)
    @blp.response(200, OfferSchema)
    def post(self, data: dict[str, Any], offer_id: int, decision: str) -> Any:
        """Approve an offer (it goes live) or reject it."""
        return services.review_offer(api_user(), offer_id, decision == "approve", data["comment"])


@blp.route("/admin/merchants/<int:merchant_id>/funding")
class AdminFunding(MethodView):
    @admin_only
    @blp.arguments(FundingSchema)
    @blp.response(200, FundingResultSchema)
    def put(self, data: dict[str, Any], merchant_id: int) -> Any:
        """Set the yuan the city pays per point redeemed at a merchant, or on one of its
        offers (``offer_id``, taking precedence); null clears it. Settlement exports and the
        programme economics use it."""
        return services.set_funding_rate(
            api_user(), merchant_id, data["yuan_per_point"], data["offer_id"]
        )
