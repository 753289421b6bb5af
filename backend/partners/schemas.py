"""Schemas of the partner administration API."""

from __future__ import annotations

from marshmallow import Schema, fields, validate


class PartnerCreateSchema(Schema):
    code = fields.String(required=True)
    name = fields.String(required=True)
    kind = fields.String(
        required=True,
        validate=validate.OneOf(["transit", "bike_share", "waste_station", "restaurant"]),
    )


class PartnerKeySchema(Schema):
    code = fields.String()
    key_id = fields.String()
    secret = fields.String(metadata={"description": "shown once"})
