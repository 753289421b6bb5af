"""Schemas shared by every API module."""

from __future__ import annotations

from marshmallow import EXCLUDE, Schema, fields, validate

# The largest value of the database's INTEGER columns: client numbers above it are refused
# (422) instead of overflowing the driver.
MAX_INT = 2**31 - 1


class ErrorSchema(Schema):
    """Every API error: a stable machine code, a localized message and optional details."""

    code = fields.String(required=True, metadata={"example": "invalid_phone"})
    message = fields.String(required=True, metadata={"example": "请输入11位手机号"})
    details = fields.Raw(allow_none=True)


class IdempotencyHeaderSchema(Schema):
    """``Idempotency-Key``: repeating a request with the same key returns the first result."""

    class Meta:
        unknown = EXCLUDE

    idempotency_key = fields.String(
        data_key="Idempotency-Key", load_default=None, validate=validate.Length(min=1, max=100)
    )


class PageArgsSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))
