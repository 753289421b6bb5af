from __future__ import annotations

from typing import Any

from flask import current_app
from marshmallow import EXCLUDE, Schema, fields, pre_dump, validate

from ..i18n import current_lang
from ..ledger.queries import PointsOverview
from ..qr import format_short_code
from ..schemas import MAX_INT, IdempotencyHeaderSchema
from .models import RedemptionStatus
from .services import redemption_token


class OfferSchema(Schema):
    id = fields.Integer()
    merchant_id = fields.Integer()
    merchant_name = fields.Function(lambda o: o.merchant.name)
    district = fields.Function(lambda o: o.merchant.district)
    title = fields.Method("get_title")
    description = fields.Method("get_description")
    title_zh = fields.String()
    title_en = fields.String()
    points_price = fields.Integer()
    stock = fields.Integer()
    per_resident_limit = fields.Integer()
    valid_from = fields.DateTime()
    valid_until = fields.DateTime()
    status = fields.Function(lambda o: o.status.value)
    image_url = fields.Method("get_image_url", allow_none=True)

    def get_title(self, offer: Any) -> str:
        return str(offer.title(current_lang()))

    def get_description(self, offer: Any) -> str:
        return str(offer.description(current_lang()))

    def get_image_url(self, offer: Any) -> str | None:
        return f"/offers/{offer.id}/image" if offer.image_path else None


class OfferCreateSchema(Schema):
    title_zh = fields.String(required=True, validate=validate.Length(min=1, max=80))
    title_en = fields.String(load_default="")
    description_zh = fields.String(load_default="")
    description_en = fields.String(load_default="")
    # ranges are checked by the service (code invalid_offer, as for the pages' form)
    points_price = fields.Integer(required=True, strict=True)
    stock = fields.Integer(required=True, strict=True)
    per_resident_limit = fields.Integer(load_default=1, strict=True)
    valid_from = fields.AwareDateTime(required=True, default_timezone=None)
    valid_until = fields.AwareDateTime(required=True, default_timezone=None)


class RedemptionSchema(Schema):
    id = fields.Integer()
    offer_id = fields.Integer()
    offer_title = fields.Function(lambda r: r.offer.title(current_lang()))
    merchant_id = fields.Integer()
    points = fields.Integer()
    status = fields.Function(
        lambda r: r.status.value, metadata={"enum": [s.value for s in RedemptionStatus]}
    )
    short_code = fields.Function(lambda r: format_short_code(r.short_code))
    created_at = fields.DateTime()
    expires_at = fields.DateTime()
    closed_at = fields.DateTime(allow_none=True)
    refunded_at = fields.DateTime(allow_none=True)


class ResidentRedemptionSchema(RedemptionSchema):
    qr_token = fields.Method(
        "get_qr_token",
        allow_none=True,
        metadata={"description": "signed, valid for a few minutes; fetch again for a fresh one"},
    )
    qr_valid_seconds = fields.Method("get_qr_seconds")

    def get_qr_token(self, r: Any) -> str | None:
        return redemption_token(r)

    def get_qr_seconds(self, r: Any) -> int:
        return int(current_app.config["REDEEM_QR_SECONDS"])


class FulfilSchema(Schema):
    code = fields.String(
        load_default=None,
        allow_none=True,
        metadata={"description": "the short code typed by staff"},
    )
    token = fields.String(
        load_default=None,
        allow_none=True,
        metadata={"description": "the QR token read by a scanner"},
    )


class StateIdempotencyHeaderSchema(IdempotencyHeaderSchema):
    """An optional ``Idempotency-Key`` where the redemption's state already makes a repeat
    harmless: a repeat, with the same key or none, returns the redemption as the first left it."""

    idempotency_key = fields.String(
        data_key="Idempotency-Key",
        load_default=None,
        validate=validate.Length(min=1, max=100),
        metadata={
            "description": "optional; the redemption's state makes this request idempotent: "
            "a repeat returns the first result and changes nothing"
        },
    )


class RefundSchema(Schema):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=200))


class ReviewOfferSchema(Schema):
    comment = fields.String(load_default="")


class SettlementArgsSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    start = fields.Date(required=True, data_key="from")
    end = fields.Date(required=True, data_key="to")


class PointsSchema(Schema):
    balance = fields.Integer()
    expiring = fields.List(fields.Dict(), metadata={"description": "[{expires_at, points}]"})
    history = fields.List(fields.Dict())

    @pre_dump
    def _plain(self, overview: PointsOverview, **_: Any) -> dict[str, Any]:
        return {
            "balance": overview.balance,
            "expiring": [
                {"expires_at": when.isoformat(), "points": points}
                for when, points in overview.expiring
            ],
            "history": [
                {
                    "entry_id": row.entry_id,
                    "kind": row.kind.value,
                    "points": row.amount,
                    "at": row.at.isoformat(),
                    "memo": row.memo,
                    "ref_type": row.ref_type,
                    "ref_id": row.ref_id,
                }
                for row in overview.history
            ],
        }


class FundingSchema(Schema):
    """The yuan the city pays per point redeemed (blank or null clears it)."""

    yuan_per_point = fields.String(load_default=None, allow_none=True, metadata={"example": "0.01"})
    offer_id = fields.Integer(
        load_default=None, allow_none=True, strict=True, validate=validate.Range(min=1, max=MAX_INT)
    )


class FundingResultSchema(Schema):
    merchant_id = fields.Function(lambda m: m.id)
    yuan_per_point = fields.Function(lambda m: m.funded_yuan_per_point)
