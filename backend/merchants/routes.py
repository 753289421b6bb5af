"""Merchant administration API: onboarding merchants and their staff accounts."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint

from ..accounts.models import Role
from ..auth import api_roles, api_user
from .models import Merchant
from .schemas import MerchantCreateSchema, MerchantSchema, StaffCreateSchema
from .services import add_staff, onboard_merchant

blp = Blueprint(
    "merchants",
    __name__,
    url_prefix="/api/v1",
    description="Merchants: onboarding and staff accounts (administrators)",
)
admin_only = api_roles(Role.ADMIN)


@blp.route("/admin/merchants")
class AdminMerchants(MethodView):
    @admin_only
    @blp.arguments(MerchantCreateSchema)
    @blp.response(201, MerchantSchema)
    def post(self, data: dict[str, Any]) -> Merchant:
        """Onboard a merchant."""
        return onboard_merchant(api_user(), data)


@blp.route("/admin/merchants/<int:merchant_id>/staff")
class AdminStaff(MethodView):
    @admin_only
    @blp.arguments(StaffCreateSchema)
    @blp.response(201, MerchantSchema)
    def post(self, data: dict[str, Any], merchant_id: int) -> Any:
        """Create a staff account for a merchant."""
        user = add_staff(api_user(), merchant_id, data["phone"], data["password"], data["nickname"])
        return user.merchant
