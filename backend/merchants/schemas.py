"""Schemas of the merchant administration API."""

from __future__ import annotations

from marshmallow import Schema, fields, validate


class MerchantSchema(Schema):
    id = fields.Integer()
    name = fields.String()
    district = fields.String()
    address = fields.String()
    category = fields.String()
    contact = fields.String()
    kind = fields.Function(lambda m: m.kind.value)


class MerchantCreateSchema(Schema):
    name = fields.String(required=True)
    district = fields.String(required=True)
    address = fields.String(load_default="")
    category = fields.String(load_default="")
    contact = fields.String(load_default="")
    kind = fields.String(
        load_default="retail", validate=validate.OneOf(["retail", "restaurant", "waste_station"])
    )


class StaffCreateSchema(Schema):
    phone = fields.String(required=True)
    password = fields.String(required=True, load_only=True)
    nickname = fields.String(load_default=None, allow_none=True)
