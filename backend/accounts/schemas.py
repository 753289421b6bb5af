from __future__ import annotations

from typing import Any

from flask import g
from marshmallow import Schema, fields

from ..config import DISTRICTS


class RegisterSchema(Schema):
    # Formats are checked by the service so the error carries a precise, translated code.
    phone = fields.String(required=True, metadata={"example": "13812345678"})
    password = fields.String(required=True, load_only=True, metadata={"example": "green2026"})
    district = fields.String(required=True, metadata={"enum": list(DISTRICTS)})
    nickname = fields.String(load_default=None, allow_none=True)


class LoginSchema(Schema):
    phone = fields.String(required=True, metadata={"example": "13812345678"})
    password = fields.String(required=True, load_only=True)
    totp = fields.String(
        load_default=None,
        allow_none=True,
        load_only=True,
        metadata={
            "description": "administrators only: the current code from their authenticator "
            "app, or one of their recovery codes (each works once)",
            "example": "123456",
        },
    )


class UserSchema(Schema):
    id = fields.Integer()
    role = fields.Method(
        "get_role", metadata={"enum": ["resident", "merchant_staff", "organiser", "admin"]}
    )
    phone = fields.Method("get_phone", metadata={"description": "masked except to the owner"})
    nickname = fields.String(allow_none=True)
    district = fields.String(allow_none=True)
    merchant_id = fields.Integer(allow_none=True)
    created_at = fields.DateTime()

    def get_role(self, user: Any) -> str:
        return str(user.role.value)

    def get_phone(self, user: Any) -> str:
        owner = self.context_owner_id() == user.id
        return str(user.phone) if owner else str(user.masked_phone)

    def context_owner_id(self) -> int | None:
        api_user = g.get("api_user")
        return api_user.id if api_user is not None else None


class TokenSchema(Schema):
    token = fields.String(required=True)
    token_type = fields.String(required=True, metadata={"example": "Bearer"})
    expires_at = fields.DateTime(required=True)
    user = fields.Nested(UserSchema, required=True)
