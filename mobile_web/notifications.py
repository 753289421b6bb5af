"""The resident's notification centre, the badge count in the top bar, and Web Push opt-in."""

from __future__ import annotations

from typing import Any

from flask import current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from backend.accounts.models import Role
from backend.auth import page_roles
from backend.errors import DomainError
from backend.notifications import services
from backend.notifications.messages import message

from . import bp

resident_only = page_roles(Role.RESIDENT)

bp.after_app_request(services.deliver_after_request)


@bp.app_context_processor
def _unread() -> dict[str, Any]:
    def unread_notifications() -> int:
        if not current_user.is_authenticated or current_user.role is not Role.RESIDENT:
            return 0
        return services.unread_count(current_user.id)

    return {"unread_notifications": unread_notifications}


@bp.get("/notifications")
@resident_only
def notifications() -> Any:
    items = services.notifications_of(current_user.id)
    shown = [(item, message(item.kind, item.params)) for item in items]
    unread = {item.id for item in items if item.read_at is None}
    if items:
        services.mark_read(current_user, items[0].id)  # seen now: the badge count clears
    return render_template(
        "mobile/notifications.html",
        items=shown,
        unread=unread,
        push_key=current_app.config.get("VAPID_PUBLIC_KEY") if services.push_enabled() else None,
        subscribed=services.has_subscription(current_user.id),
    )


@bp.post("/notifications/push")
@resident_only
def push_subscribe() -> Any:
    try:
        services.subscribe(current_user, request.get_json(silent=True))
    except DomainError as exc:
        return jsonify(exc.to_dict()), exc.status
    return jsonify({"subscribed": True}), 201


@bp.post("/notifications/push/delete")
@resident_only
def push_unsubscribe() -> Any:
    services.unsubscribe(current_user, request.form.get("endpoint"))
    flash(_("Push notifications are off on this device."), "success")
    return redirect(url_for("mobile.notifications"))
