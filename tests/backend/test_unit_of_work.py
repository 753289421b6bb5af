"""``unit_of_work``: the one commit / roll-back-and-re-raise of the services."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from backend.audit.models import AuditEntry
from backend.errors import DomainError
from backend.extensions import unit_of_work


def _count(db) -> int:
    return len(db.session.scalars(select(AuditEntry)).all())


def _entry() -> AuditEntry:
    return AuditEntry(actor_label="test", action="test.unit_of_work", object_type="test")


def test_the_block_is_committed_when_it_ends(db):
    before = _count(db)
    with unit_of_work() as session:
        session.add(_entry())
    db.session.rollback()  # nothing left to roll back: it was committed
    assert _count(db) == before + 1


def test_a_domain_error_rolls_the_whole_block_back_and_is_raised_again(db):
    before = _count(db)
    with pytest.raises(DomainError), unit_of_work() as session:
        session.add(_entry())
        session.flush()
        raise DomainError()
    assert _count(db) == before


def test_any_other_error_is_rolled_back_too(db):
    before = _count(db)
    with pytest.raises(RuntimeError), unit_of_work() as session:
        session.add(_entry())
        session.flush()
        raise RuntimeError("a lost race")
    assert _count(db) == before
