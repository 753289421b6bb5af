"""The resident's privacy page: sources and consents, leaderboard, export, delete."""

from __future__ import annotations

import json
from typing import Any

from flask import Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, logout_user

from backend import privacy as service
from backend.accounts.models import Role
from backend.actions.identities import bindings_of
from backend.auth import page_roles
from backend.errors import DomainError

from . import bp

resident_only = page_roles(Role.RESIDENT)


@bp.route("/privacy", methods=["GET", "POST"])
@resident_only
def privacy() -> Any:
    if request.method == "POST":
        try:
            service.set_leaderboard(
                current_user, bool(request.form.get("leaderboard")), request.form.get("nickname")
            )
            flash(_("Saved."), "success")
        except DomainError as exc:
            flash(exc.localized_message(), "error")
        return redirect(url_for("mobile.privacy"))
    return render_template("mobile/privacy.html", bindings=bindings_of(current_user.id))


@bp.get("/privacy/export.<any(json, csv):fmt>")
@resident_only
def export(fmt: str) -> Any:
    if fmt == "json":
        body = json.dumps(service.export_data(current_user), ensure_ascii=False, indent=2)
        mimetype = "application/json"
    else:
        body, mimetype = "\ufeff" + service.export_csv(current_user), "text/csv"
    return Response(
        body,
        mimetype=mimetype,
        headers={
            "Content-Disposition": f"attachment; filename=my-carbon-data.{fmt}",
            "Cache-Control": "no-store",
        },
    )


@bp.post("/privacy/delete")
@resident_only
def delete_account() -> Any:
    try:
        service.delete_account(current_user, request.form.get("password", ""))
    except DomainError as exc:
        flash(exc.localized_message(), "error")
        return redirect(url_for("mobile.privacy"))
    logout_user()
    flash(
        _("Your account was deleted. Your anonymous history stays in the public ledger."), "success"
    )
    return redirect(url_for("mobile.index"))
