"""Schemas shared by every API module."""

from __future__ import annotations

from marshmallow import Schema, fields


class ErrorSchema(Schema):
    """Every API error: a stable machine code, a localized message and optional details."""

    code = fields.String(required=True, metadata={"example": "invalid_phone"})
    message = fields.String(required=True, metadata={"example": "请输入11位手机号"})
    details = fields.Raw(allow_none=True)
