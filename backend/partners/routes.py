"""Partner API (HMAC-signed). Batches arrive with the actions feature; ping checks signing."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from ..timeutil import utcnow
from .auth import current_partner, partner_required

blp = Blueprint(
    "partners",
    __name__,
    url_prefix="/api/v1/partner",
    description="Partner API: HMAC-SHA256 signed requests (see DESIGN.md)",
)


class PingSchema(Schema):
    partner = fields.String(required=True)
    kind = fields.String(required=True)
    server_time = fields.DateTime(required=True)


@blp.route("/ping")
class Ping(MethodView):
    @partner_required
    @blp.response(200, PingSchema)
    def get(self) -> dict[str, Any]:
        """Check that your signature is accepted; answers who you are and the server time."""
        partner = current_partner()
        return {"partner": partner.code, "kind": partner.kind.value, "server_time": utcnow()}
