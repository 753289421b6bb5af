"""Write audit entries in the same transaction as the change they describe."""

from __future__ import annotations

from typing import Any

from flask import has_request_context, request

from ..extensions import db
from .models import AuditEntry


def record_audit(
    actor: Any, action: str, object_type: str, object_id: Any = None, **details: Any
) -> AuditEntry:
    """Add an audit entry to the session; the caller's commit makes it durable.

    ``actor`` is a User, a Partner, or None for the system (CLI, jobs). Details must never
    contain phone numbers or external identities in clear (PIPL).
    """
    if actor is None:
        actor_id, label = None, "system"
    elif getattr(actor, "role", None):
        actor_id, label = actor.id, f"{actor.role}:{actor.id}"
    else:
        actor_id, label = None, f"partner:{getattr(actor, 'code', '?')}"
    ip = request.remote_addr if has_request_context() else None
    entry = AuditEntry(
        actor_id=actor_id,
        actor_label=label,
        action=action,
        object_type=object_type,
        object_id=None if object_id is None else str(object_id),
        details=details,
        ip=ip,
    )
    db.session.add(entry)
    return entry
