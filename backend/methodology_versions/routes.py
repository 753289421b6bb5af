"""Methodologies API: public reading, and the administrators' version workflow."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint

import methodologies

from ..accounts.models import Role
from ..auth import api_roles, api_user
from ..i18n import current_lang
from . import impact, queries, services
from .schemas import (
    DraftSchema,
    MethodologySchema,
    PreviewSchema,
    ReviewSchema,
    VersionSchema,
)

blp = Blueprint(
    "methodologies",
    __name__,
    url_prefix="/api/v1",
    description="Methodologies: how each action becomes grams of CO2e",
)
admin_only = api_roles(Role.ADMIN)


def _public(code: str) -> dict[str, Any]:
    cls = services.methodology_class(code)
    lang = current_lang()
    return {
        "code": code,
        "name": cls.name.get(lang),
        "summary": cls.summary.get(lang),
        "follows": cls.follows,
        "version": queries.in_force_or_none(code),
    }


@blp.route("/methodologies")
class Methodologies(MethodView):
    @blp.response(200, MethodologySchema(many=True))
    def get(self) -> list[dict[str, Any]]:
        """Every methodology with its version in force, parameters and their sources."""
        return [_public(code) for code in methodologies.available()]


@blp.route("/methodologies/<code>")
class MethodologyDetail(MethodView):
    @blp.response(200, MethodologySchema)
    def get(self, code: str) -> dict[str, Any]:
        """One methodology with its version in force."""
        return _public(code)


@blp.route("/admin/methodologies/<code>/versions")
class Versions(MethodView):
    @admin_only
    @blp.response(200, VersionSchema(many=True))
    def get(self, code: str) -> Any:
        """All versions of a methodology, newest first (administrators)."""
        return queries.versions_of(code)

    @admin_only
    @blp.arguments(DraftSchema)
    @blp.response(201, VersionSchema)
    def post(self, data: dict[str, Any], code: str) -> Any:
        """Propose a new version (a draft); another administrator must approve it."""
        return services.create_draft(
            api_user(), code, data["params"], data["points_per_gram"], data["note"]
        )


@blp.route("/admin/methodology-versions/<int:version_id>/submit")
class Submit(MethodView):
    @admin_only
    @blp.response(200, VersionSchema)
    def post(self, version_id: int) -> Any:
        """Send a draft for review."""
        return services.submit_version(api_user(), version_id)


@blp.route("/admin/methodology-versions/<int:version_id>/approve")
class Approve(MethodView):
    @admin_only
    @blp.arguments(ReviewSchema)
    @blp.response(200, VersionSchema)
    def post(self, data: dict[str, Any], version_id: int) -> Any:
        """Approve a version in review (not your own); it takes effect at effective_from.
        Residents whose records of the last 30 days would earn differently are told what
        changes and from when."""
        return impact.approve_and_notify(
            api_user(), version_id, data["comment"], data["effective_from"]
        )


@blp.route("/admin/methodology-versions/<int:version_id>/preview")
class Preview(MethodView):
    @admin_only
    @blp.response(200, PreviewSchema)
    def get(self, version_id: int) -> Any:
        """The version's effect on the last 30 days of records: total grams and points under
        the version in force and under this one, by action and district, and a sample of
        records (the methodology's arithmetic, before caps)."""
        return impact.preview(version_id)


@blp.route("/admin/methodology-versions/<int:version_id>/reject")
class Reject(MethodView):
    @admin_only
    @blp.arguments(ReviewSchema)
    @blp.response(200, VersionSchema)
    def post(self, data: dict[str, Any], version_id: int) -> Any:
        """Reject a version in review, with a reason."""
        return services.reject_version(api_user(), version_id, data["comment"])


@blp.route("/admin/methodology-versions/<int:version_id>/retire")
class Retire(MethodView):
    @admin_only
    @blp.arguments(ReviewSchema)
    @blp.response(200, VersionSchema)
    def post(self, data: dict[str, Any], version_id: int) -> Any:
        """Retire a superseded version, with a reason."""
        return services.retire_version(api_user(), version_id, data["comment"])
