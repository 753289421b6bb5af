"""Partner API: the HMAC-signed ping, and the administrators' onboarding and key rotation.

Batches arrive with the actions feature (``backend/actions/routes.py``).
"""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from ..accounts.models import Role
from ..auth import api_roles, api_user
from ..timeutil import utcnow
from .auth import current_partner, partner_required
from .schemas import PartnerCreateSchema, PartnerKeySchema
from .services import create_partner, rotate_partner_key

blp = Blueprint(
    "partners",
    __name__,
    url_prefix="/api/v1",
    description="Partner API: HMAC-SHA256 signed requests (see DESIGN.md)",
)
admin_only = api_roles(Role.ADMIN)


class PingSchema(Schema):
    partner = fields.String(required=True)
    kind = fields.String(required=True)
    server_time = fields.DateTime(required=True)


@blp.route("/partner/ping")
class Ping(MethodView):
    @partner_required
    @blp.response(200, PingSchema)
    def get(self) -> dict[str, Any]:
        """Check that your signature is accepted; answers who you are and the server time."""
        partner = current_partner()
        return {"partner": partner.code, "kind": partner.kind.value, "server_time": utcnow()}


@blp.route("/admin/partners")
class AdminPartners(MethodView):
    @admin_only
    @blp.arguments(PartnerCreateSchema)
    @blp.response(201, PartnerKeySchema)
    def post(self, data: dict[str, Any]) -> dict[str, Any]:
        """Onboard a partner; the key id and secret are shown once."""
        partner, key_id, secret = create_partner(
            data["code"], data["name"], data["kind"], actor=api_user()
        )
        return {"code": partner.code, "key_id": key_id, "secret": secret}


@blp.route("/admin/partners/<code>/rotate")
class RotatePartner(MethodView):
    @admin_only
    @blp.response(201, PartnerKeySchema)
    def post(self, code: str) -> dict[str, Any]:
        """Issue a new key; the previous ones keep working for 24 hours."""
        key_id, secret = rotate_partner_key(code, actor=api_user())
        return {"code": code, "key_id": key_id, "secret": secret}
