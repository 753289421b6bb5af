"""Accounts API: register, obtain and revoke a bearer token, read yourself."""

from __future__ import annotations

from typing import Any

from flask import g
from flask.views import MethodView
from flask_smorest import Blueprint

from ..auth import api_roles, api_user, bearer_token
from ..extensions import limiter
from ..ratelimit import limit_setting
from . import phone_codes, services, two_factor
from .models import CodePurpose
from .schemas import (
    CodeSentSchema,
    LoginSchema,
    NewPhoneCodeSchema,
    PasswordChangeSchema,
    PasswordResetSchema,
    PhoneChangeSchema,
    PhoneCodeRequestSchema,
    RegisterSchema,
    TokenSchema,
    UserSchema,
)

blp = Blueprint(
    "accounts",
    __name__,
    url_prefix="/api/v1",
    description="Accounts: registration, tokens and the current user",
)


_login_limit = limit_setting("RATELIMIT_LOGIN")


_register_limit = limit_setting("RATELIMIT_REGISTER")


@blp.route("/auth/register")
class Register(MethodView):
    decorators = [limiter.limit(_register_limit, methods=["POST"])]

    @blp.arguments(RegisterSchema)
    @blp.response(201, TokenSchema)
    def post(self, data: dict[str, Any]) -> dict[str, Any]:
        """Register a resident whose number is proven by the code sent to it (``POST
        /auth/phone-codes`` with ``purpose=register``); returns a bearer token. A wrong code
        and a number that already has an account get the same ``invalid_code``."""
        user = phone_codes.register_with_code(
            data["phone"], data["code"], data["password"], data["district"], data.get("nickname")
        )
        raw, token = services.issue_token(user)
        g.api_user = user
        return {"token": raw, "token_type": "Bearer", "expires_at": token.expires_at, "user": user}


@blp.route("/auth/token")
class Token(MethodView):
    decorators = [limiter.limit(_login_limit, methods=["POST"])]

    @blp.arguments(LoginSchema)
    @blp.response(201, TokenSchema)
    def post(self, data: dict[str, Any]) -> dict[str, Any]:
        """Sign in with mobile number and password; returns a bearer token (any role).

        Administrators also send ``totp`` (a current code or a recovery code): without it the
        answer is 401 ``totp_required``, with a wrong one 401 ``invalid_totp``; an
        administrator who has not set up the authenticator yet gets 403
        ``totp_setup_required``."""
        user = services.authenticate(data["phone"], data["password"])
        two_factor.check_for_token(user, data.get("totp"))
        raw, token = services.issue_token(user)
        g.api_user = user
        return {"token": raw, "token_type": "Bearer", "expires_at": token.expires_at, "user": user}

    @api_roles()
    @blp.response(204)
    def delete(self) -> None:
        """Revoke the bearer token used for this request."""
        api_user()
        services.revoke_token(bearer_token() or "")


@blp.route("/me")
class Me(MethodView):
    @api_roles()
    @blp.response(200, UserSchema)
    def get(self) -> Any:
        """The signed-in user (phone unmasked: it is your own)."""
        return api_user()


@blp.route("/auth/password")
class Password(MethodView):
    decorators = [limiter.limit(_login_limit, methods=["POST"])]

    @api_roles()
    @blp.arguments(PasswordChangeSchema)
    @blp.response(204)
    def post(self, data: dict[str, Any]) -> None:
        """Change your password. Every other session and token of the account ends; the
        token of this request stays valid."""
        services.change_password(
            api_user(),
            data["current_password"],
            data["new_password"],
            keep_token=bearer_token(),
        )


@blp.route("/auth/sessions")
class Sessions(MethodView):
    @api_roles()
    @blp.response(204)
    def delete(self) -> None:
        """Sign out everywhere: every session and token of the account ends, this one too."""
        services.sign_out_everywhere(api_user())


_code_limit = limit_setting("RATELIMIT_PHONE_CODE")


@blp.route("/auth/phone-codes")
class PhoneCodes(MethodView):
    decorators = [limiter.limit(_code_limit, methods=["POST"])]

    @blp.arguments(PhoneCodeRequestSchema)
    @blp.response(202, CodeSentSchema)
    def post(self, data: dict[str, Any]) -> dict[str, Any]:
        """Send a one-time code by text message, to register (``register``) or to reset a
        forgotten password (``reset``). The answer is the same whether or not the number
        has an account."""
        phone_codes.request_code(data["phone"], data["purpose"])
        return {"sent": True}


@blp.route("/auth/password-reset")
class PasswordReset(MethodView):
    decorators = [limiter.limit(_login_limit, methods=["POST"])]

    @blp.arguments(PasswordResetSchema)
    @blp.response(204)
    def post(self, data: dict[str, Any]) -> None:
        """Set a new password with the code sent to the number; every session and token of
        the account ends."""
        phone_codes.reset_password(data["phone"], data["code"], data["new_password"])


@blp.route("/me/phone-codes")
class NewPhoneCodes(MethodView):
    decorators = [limiter.limit(_code_limit, methods=["POST"])]

    @api_roles()
    @blp.arguments(NewPhoneCodeSchema)
    @blp.response(202, CodeSentSchema)
    def post(self, data: dict[str, Any]) -> dict[str, Any]:
        """Send a code to the number you want to move your account to."""
        api_user()
        phone_codes.request_code(data["phone"], CodePurpose.CHANGE_PHONE)
        return {"sent": True}


@blp.route("/me/phone")
class MyPhone(MethodView):
    decorators = [limiter.limit(_login_limit, methods=["PUT"])]

    @api_roles()
    @blp.arguments(PhoneChangeSchema)
    @blp.response(200, UserSchema)
    def put(self, data: dict[str, Any]) -> Any:
        """Move your account to a new number, proven by its code, confirmed by your password."""
        return phone_codes.change_phone(api_user(), data["phone"], data["code"], data["password"])
