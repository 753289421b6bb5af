"""``record_audit`` writes its row with a Core INSERT in the caller's transaction (round 9):
the same row as the ORM object it used to add, durable with the caller's commit, gone with
its rollback, and without flushing what the caller still has pending."""

from __future__ import annotations

from sqlalchemy import select

from backend.audit.models import AuditEntry
from backend.audit.services import record_audit
from backend.merchants.models import Merchant


def _entries(db, action):
    return db.session.scalars(select(AuditEntry).where(AuditEntry.action == action)).all()


def test_the_entry_is_written_with_its_actor_details_and_time(make, db):
    staff = make.staff(make.merchant())
    record_audit(staff, "test.audit", "thing", 42, points=5, note="x")
    db.session.commit()
    [entry] = _entries(db, "test.audit")
    assert entry.actor_id == staff.id and entry.actor_label == f"{staff.role}:{staff.id}"
    assert (entry.object_type, entry.object_id, entry.details) == (
        "thing",
        "42",
        {"points": 5, "note": "x"},
    )
    assert entry.at is not None and entry.ip is None  # no request: no address
    record_audit(None, "test.system", "thing")
    db.session.commit()
    [system] = _entries(db, "test.system")
    assert (system.actor_id, system.actor_label, system.object_id, system.details) == (
        None,
        "system",
        None,
        {},
    )


def test_a_rollback_drops_the_entry(make, db):
    record_audit(make.resident(), "test.dropped", "thing", 1)
    db.session.rollback()
    assert _entries(db, "test.dropped") == []


def test_what_the_caller_has_pending_is_not_flushed_by_the_entry(db):
    pending = Merchant(
        name="待定", district="柯城区", address="府山街道2号", category="餐饮", contact="0570-1"
    )
    db.session.add(pending)
    record_audit(None, "test.pending", "merchant")
    assert pending in db.session.new  # flushed when the caller would have flushed it
    db.session.commit()
    assert pending.id is not None and len(_entries(db, "test.pending")) == 1
