"""Write audit entries in the same transaction as the change they describe."""

from __future__ import annotations

from typing import Any

from flask import has_request_context, request
from sqlalchemy import insert

from ..extensions import db
from ..timeutil import utcnow
from .models import AuditEntry

# Built once: the row's values are bound at execution.
_INSERT = insert(AuditEntry.__table__)


def record_audit(
    actor: Any, action: str, object_type: str, object_id: Any = None, **details: Any
) -> None:
    """Insert an audit entry in the caller's transaction; the caller's commit makes it
    durable (its rollback drops it). A Core ``INSERT``, not an ORM object flushed later: no
    caller reads the entry back, and the unit of work cost more Python than the statement.

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
    with db.session.no_autoflush:  # what the caller has pending flushes when it would have
        db.session.execute(
            _INSERT,
            {
                "at": utcnow(),
                "actor_id": actor_id,
                "actor_label": label,
                "action": action,
                "object_type": object_type,
                "object_id": None if object_id is None else str(object_id),
                "details": details,
                "ip": ip,
            },
        )
