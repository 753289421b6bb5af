from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, insert, select, text, update

from backend.actions.models import ActivityRecord, Channel, Outcome, Reduction
from backend.bulk import insert_rows
from backend.extensions import db as _db
from backend.ledger import services
from backend.ledger.exceptions import InsufficientPoints, InvalidAmount, UnbalancedEntry
from backend.ledger.expiry import expire_account, expires_at, expiry_state
from backend.ledger.models import Account, AccountKind, EntryKind, LedgerEntry, Posting
from backend.ledger.reconcile import reconcile
from backend.ledger.services import Leg
from backend.methodology_versions.services import seed_versions
from backend.timeutil import utcnow
from tests.backend.events.helpers import reduction


def test_credit_moves_points_from_issuance(db, make):
    user = make.resident()
    entry, created = services.credit_points(user.id, 500, "credit:test:1", memo="bus")
    db.session.commit()
    assert created
    assert services.resident_account(user.id).balance == 500
    assert [p.amount for p in entry.postings] == [-500, 500]
    assert reconcile().clean


def test_same_idempotency_key_returns_the_first_entry(db, make):
    user = make.resident()
    first, _ = services.credit_points(user.id, 100, "credit:same")
    db.session.commit()
    again, created = services.credit_points(user.id, 100, "credit:same")
    db.session.commit()
    assert not created and again.id == first.id
    assert services.resident_account(user.id).balance == 100


def test_entries_must_balance_and_amounts_be_nonzero(db, make):
    user = make.resident()
    account = services.resident_account(user.id)
    issuance = services.system_account(AccountKind.ISSUANCE)
    with pytest.raises(UnbalancedEntry):
        services.post_entry(EntryKind.CREDIT, [Leg(issuance, -5), Leg(account, 4)], "bad:1")
    with pytest.raises(InvalidAmount):
        services.post_entry(EntryKind.CREDIT, [Leg(issuance, 0), Leg(account, 0)], "bad:2")
    with pytest.raises(InvalidAmount):
        services.credit_points(user.id, -3, "bad:3")


def test_a_resident_cannot_go_negative(db, make):
    user = make.resident()
    services.credit_points(user.id, 50, "c:1")
    db.session.commit()
    account = services.resident_account(user.id)
    holds = services.system_account(AccountKind.HOLDS)
    with pytest.raises(InsufficientPoints) as exc:
        services.post_entry(EntryKind.HOLD, [Leg(account, -60), Leg(holds, 60)], "h:1")
    assert exc.value.params == {"needed": 60, "available": 50}
    db.session.rollback()
    assert services.resident_account(user.id).balance == 50


def test_reversal_is_linked_and_restores_balances(db, make):
    user = make.resident()
    entry, _ = services.credit_points(user.id, 80, "c:rev")
    db.session.commit()
    reversal, _ = services.reverse_entry(entry, "rev:c:rev", memo="credited twice by mistake")
    db.session.commit()
    assert reversal.reverses_id == entry.id
    assert services.resident_account(user.id).balance == 0
    assert reconcile().clean


def test_reconcile_finds_a_tampered_cached_balance(db, make):
    user = make.resident()
    services.credit_points(user.id, 10, "c:tamper")
    db.session.commit()
    db.session.execute(update(Account).where(Account.user_id == user.id).values(balance=11))
    report = reconcile()
    assert not report.clean
    assert any("cached balance 11 != postings 10" in p for p in report.problems)


def test_reconcile_cli_exit_status(app, db, make):
    user = make.resident()
    services.credit_points(user.id, 10, "c:cli")
    db.session.commit()
    runner = app.test_cli_runner()
    ok = runner.invoke(args=["ledger", "reconcile"])
    assert ok.exit_code == 0 and "reconcile: clean" in ok.output
    db.session.execute(update(Account).where(Account.user_id == user.id).values(balance=3))
    db.session.commit()
    bad = runner.invoke(args=["ledger", "reconcile"])
    assert bad.exit_code == 1 and "PROBLEM" in bad.output


# --- expiry ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("earned", "expected_local"),
    [
        # earned in Nov 2026 -> the 24th month after is Nov 2028 -> expires at its end
        ("2026-11-25T10:00:00+08:00", "2028-12-01T00:00:00+08:00"),
        ("2026-01-01T00:30:00+08:00", "2028-02-01T00:00:00+08:00"),
        # 23:30 UTC on 31 Dec is already 1 Jan in Quzhou: the local month counts
        ("2026-12-31T23:30:00+00:00", "2029-02-01T00:00:00+08:00"),
    ],
)
def test_expiry_date_is_the_end_of_the_24th_month(app, earned, expected_local):
    with app.app_context():
        assert expires_at(datetime.fromisoformat(earned)) == datetime.fromisoformat(expected_local)


def test_unspent_points_expire_once_and_spent_ones_do_not(db, make):
    user = make.resident()
    services.credit_points(user.id, 100, "earn:100")
    db.session.commit()
    account = services.resident_account(user.id)
    holds = services.system_account(AccountKind.HOLDS)
    services.post_entry(EntryKind.HOLD, [Leg(account, -30), Leg(holds, 30)], "spend:30")
    db.session.commit()
    state = expiry_state(account)
    [(when, points)] = state.schedule(datetime.now(UTC))
    assert points == 70  # the 30 spent came out of these points first
    assert when == expires_at(datetime.now(UTC))
    assert expire_account(account, when) == 70
    db.session.commit()
    assert expire_account(account, when) == 0  # idempotent
    assert services.resident_account(user.id).balance == 0
    assert reconcile().clean


def test_expiry_state_arithmetic():
    from backend.ledger.expiry import ExpiryState

    t1 = datetime(2026, 2, 1, tzinfo=UTC)
    t2 = datetime(2026, 7, 1, tzinfo=UTC)
    state = ExpiryState(buckets=[(t1, 100), (t2, 50)], spent=120, expired=0)
    # 120 spent consumes all 100 of the first lot and 20 of the second
    assert state.due(t1) == 0
    assert state.due(t2) == 30
    released = ExpiryState(buckets=[(t1, 100), (t2, 50)], spent=0, expired=50)
    # points released after their lot expired expire at the next run
    assert released.due(t1) == 50


# --- PostgreSQL-enforced invariants --------------------------------------------------------


@pytest.mark.postgres
def test_postgres_refuses_updates_and_deletes_of_ledger_rows(db, make):
    user = make.resident()
    services.credit_points(user.id, 10, "c:pg-append")
    db.session.commit()
    with pytest.raises(Exception, match="append-only"), db.session.begin_nested():
        db.session.execute(text("UPDATE ledger_postings SET amount = amount * 2"))
    with pytest.raises(Exception, match="append-only"), db.session.begin_nested():
        db.session.execute(text("DELETE FROM ledger_entries"))


def _multi_leg_entry(conn, key: str, amounts: list[int]) -> None:
    """An entry with one leg per amount, each on an account of its own, as a chunk's credit
    has (a leg per resident and one issuance leg)."""
    entry_id = conn.execute(
        text(
            "INSERT INTO ledger_entries (kind, idempotency_key, created_at, memo) "
            "VALUES ('credit', :k, now(), '') RETURNING id"
        ),
        {"k": key},
    ).scalar()
    for index, amount in enumerate(amounts):
        account_id = conn.execute(
            text(
                "INSERT INTO ledger_accounts (code, kind, balance, created_at) "
                "VALUES (:c, 'issuance', 0, now()) RETURNING id"
            ),
            {"c": f"system:{key}-{index}"},
        ).scalar()
        conn.execute(
            text(
                "INSERT INTO ledger_postings (entry_id, account_id, amount, kind, created_at) "
                "VALUES (:e, :a, :amount, 'credit', now())"
            ),
            {"e": entry_id, "a": account_id, "amount": amount},
        )


@pytest.mark.postgres
@pytest.mark.parametrize("plans", ["auto", "force_generic_plan"])
def test_postgres_checks_a_multi_leg_entry_once_whatever_the_plan(app, plans):
    """The zero-sum trigger sums an entry at its last leg (migration 0017f): a balanced
    entry of many legs commits and an unbalanced one is refused, with the trigger's cached
    plans generic or custom."""
    with app.app_context():
        with _db.engine.connect() as conn:
            trans = conn.begin()
            conn.execute(text(f"SET LOCAL plan_cache_mode = {plans}"))
            _multi_leg_entry(conn, f"unbalanced-legs-{plans}", [3, 4, 5, -11])
            with pytest.raises(Exception, match="does not sum to zero"):
                trans.commit()
        with _db.engine.connect() as conn:
            trans = conn.begin()
            conn.execute(text(f"SET LOCAL plan_cache_mode = {plans}"))
            _multi_leg_entry(conn, f"balanced-legs-{plans}", [3, 4, 5, -12])
            # the deferred checks run now, as at commit; rolled back so that the shared
            # test database is left as it was
            conn.execute(text("SET CONSTRAINTS ALL IMMEDIATE"))
            trans.rollback()
        keys = [f"unbalanced-legs-{plans}", f"balanced-legs-{plans}"]
        count = _db.session.scalar(
            select(func.count())
            .select_from(LedgerEntry)
            .where(LedgerEntry.idempotency_key.in_(keys))
        )
        assert count == 0


@pytest.mark.postgres
def test_postgres_refuses_an_unbalanced_entry_at_commit(app):
    with app.app_context():
        engine = _db.engine
        with engine.connect() as conn:
            trans = conn.begin()
            account_id = conn.execute(
                text(
                    "INSERT INTO ledger_accounts (code, kind, balance, created_at) "
                    "VALUES ('system:test-unbalanced', 'issuance', 0, now()) RETURNING id"
                )
            ).scalar()
            entry_id = conn.execute(
                text(
                    "INSERT INTO ledger_entries (kind, idempotency_key, created_at, memo) "
                    "VALUES ('credit', 'unbalanced-test', now(), '') RETURNING id"
                )
            ).scalar()
            conn.execute(
                text(
                    "INSERT INTO ledger_postings (entry_id, account_id, amount, kind, created_at) "
                    "VALUES (:e, :a, 5, 'credit', now())"
                ),
                {"e": entry_id, "a": account_id},
            )
            with pytest.raises(Exception, match="does not sum to zero"):
                trans.commit()
        count = _db.session.scalar(
            select(func.count())
            .select_from(LedgerEntry)
            .where(LedgerEntry.idempotency_key == "unbalanced-test")
        )
        assert count == 0


@pytest.mark.postgres
def test_postgres_refuses_postings_and_reductions_naming_no_entry(db, make):
    """A leg's and a reduction's entry are checked once per statement, not by a foreign key
    (migration 0017h): one naming an entry that does not exist is refused, whether written by
    COPY (the ingestion's way), INSERT or UPDATE; one naming an existing entry is kept."""
    user = make.resident()
    entry, _ = services.credit_points(user.id, 10, "c:entry-exists")
    db.session.commit()
    missing = entry.id + 1000
    leg = {
        "entry_id": missing,
        "account_id": services.resident_account(user.id).id,
        "amount": 5,
        "kind": EntryKind.CREDIT,
        "created_at": utcnow(),
    }
    with pytest.raises(Exception, match="does not exist"), db.session.begin_nested():
        insert_rows(Posting.__table__, [leg, {**leg, "amount": -5}])
    with pytest.raises(Exception, match="does not exist"), db.session.begin_nested():
        db.session.execute(insert(Posting.__table__), [leg, {**leg, "amount": -5}])
    seed_versions()
    stored = reduction(user, 100)
    with pytest.raises(Exception, match="does not exist"), db.session.begin_nested():
        db.session.execute(
            update(Reduction).where(Reduction.id == stored.id).values(ledger_entry_id=missing)
        )
    record = ActivityRecord(
        channel=Channel.PARTNER,
        action="public_transit",
        resident_id=user.id,
        activity={},
        outcome=Outcome.CREDITED,
        received_at=utcnow(),
    )
    db.session.add(record)
    db.session.flush()
    row = {
        column.name: getattr(stored, column.key)
        for column in Reduction.__table__.columns
        if column.name != "id"
    }
    with pytest.raises(Exception, match="does not exist"), db.session.begin_nested():
        insert_rows(
            Reduction.__table__, [{**row, "record_id": record.id, "ledger_entry_id": missing}]
        )
    insert_rows(Reduction.__table__, [{**row, "record_id": record.id, "ledger_entry_id": entry.id}])
    db.session.execute(
        update(Reduction).where(Reduction.id == stored.id).values(ledger_entry_id=entry.id)
    )
    db.session.commit()
    assert (
        db.session.scalar(
            select(func.count()).select_from(Reduction).where(Reduction.ledger_entry_id == entry.id)
        )
        == 2
    )
