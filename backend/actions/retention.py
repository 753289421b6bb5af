"""Retention of raw partner and self-reported data (PIPL: keep personal data no longer than
the purpose needs).

A record that earned nothing (rejected, duplicate, unmatched) keeps its outcome, reason and
times for the audit trail, but its raw ``activity`` (trip times, places, weights) and its
evidence photo are erased once older than ``RAW_RECORD_RETENTION_DAYS``. A credited record's
reduction keeps its own copy of the inputs, so recomputing it still gives the same grams;
records still waiting (pending, review) are never touched.
"""

from __future__ import annotations

import contextlib
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import String, cast, exists, select, update

from ..extensions import db
from ..timeutil import utcnow
from ..uploads import image_path
from .models import ActivityRecord, Outcome, Reduction

CLOSED = (Outcome.REJECTED, Outcome.DUPLICATE, Outcome.UNMATCHED)


def purge_raw_records(now: datetime | None = None, chunk: int = 5000) -> int:
    """Erase the raw data of closed, uncredited records past retention; returns how many."""
    days = current_app.config["RAW_RECORD_RETENTION_DAYS"]
    cutoff = (now or utcnow()) - timedelta(days=days)
    purged = 0
    while True:
        rows = db.session.execute(
            select(ActivityRecord.id, ActivityRecord.evidence_path)
            .where(
                ActivityRecord.received_at < cutoff,
                ActivityRecord.outcome.in_(CLOSED),
                ~exists().where(Reduction.record_id == ActivityRecord.id),
                (cast(ActivityRecord.activity, String) != "{}")
                | ActivityRecord.evidence_path.is_not(None),
            )
            .order_by(ActivityRecord.id)
            .limit(chunk)
        ).all()
        if not rows:
            return purged
        db.session.execute(
            update(ActivityRecord)
            .where(ActivityRecord.id.in_([row.id for row in rows]))
            .values(activity={}, evidence_path=None)
        )
        db.session.commit()
        for row in rows:  # after the commit: a photo is never lost while its row still points at it
            if row.evidence_path:
                with contextlib.suppress(FileNotFoundError):
                    image_path(row.evidence_path).unlink()
        purged += len(rows)
