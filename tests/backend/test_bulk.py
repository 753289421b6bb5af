"""The bulk writers take two ways on PostgreSQL: a temp table filled by COPY for many rows,
plain executemany statements for a few. Both must write the same thing, and may run any
number of times in one transaction (the temp table's name is reused)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from backend.bulk import FEW, add_to_column, insert_returning, update_rows
from backend.ledger.models import Account, AccountKind
from backend.timeutil import utcnow

ACCOUNTS = Account.__table__


def _rows(prefix: str, count: int) -> list[dict[str, object]]:
    return [
        {
            "code": f"bulk:{prefix}-{i}",
            "kind": AccountKind.RESIDENT,
            "balance": i,
            "created_at": utcnow(),
        }
        for i in range(count)
    ]


@pytest.mark.parametrize("count", [3, FEW + 20], ids=["few", "many"])
def test_insert_update_and_add_write_the_same_either_way(db, count):
    for round_ in range(2):  # twice in one transaction: the temp table is made again
        prefix = f"{count}-{round_}"
        created = insert_returning(
            ACCOUNTS, _rows(prefix, count), conflict=["code"], returning=["id", "code"]
        )
        assert len(created) == count
        again = insert_returning(
            ACCOUNTS, _rows(prefix, count), conflict=["code"], returning=["id"]
        )
        assert again == []  # ON CONFLICT DO NOTHING: nothing returned for existing codes
        ids = [row[0] for row in created]
        update_rows(ACCOUNTS, "id", [{"id": i, "balance": 1000} for i in ids])
        add_to_column(ACCOUNTS, "id", "balance", [(i, n) for n, i in enumerate(ids)])
        balances = dict(
            db.session.execute(select(Account.id, Account.balance).where(Account.id.in_(ids))).all()
        )
        assert balances == {i: 1000 + n for n, i in enumerate(ids)}
        db.session.commit()


@pytest.mark.postgres
@pytest.mark.parametrize("count", [3, FEW + 20], ids=["few", "many"])
def test_on_postgresql_too(db, count):
    assert db.session.get_bind().dialect.name == "postgresql"
    test_insert_update_and_add_write_the_same_either_way(db, count)


@pytest.mark.postgres
def test_a_temp_table_left_behind_in_the_transaction_is_replaced(db):
    from sqlalchemy import text

    db.session.execute(text("CREATE TEMP TABLE tmp_ledger_accounts (id integer)"))
    created = insert_returning(
        ACCOUNTS, _rows("left", FEW + 5), conflict=["code"], returning=["id"]
    )
    assert len(created) == FEW + 5


ODD_CODES = ["plain", 'with "quotes"', "back\\slash", "a,b{c}", "NULL", "", " space ", "碳"]


def test_any_of_finds_exactly_the_listed_values(db):
    """``any_of`` sends the array as its text on PostgreSQL (``array_literal``): every value
    that needs quoting in that text (quotes, backslashes, commas, braces, the word NULL, an
    empty string) matches itself and nothing else; ints and values of no array form too."""
    from backend.bulk import any_of, array_literal, insert_rows

    insert_rows(
        ACCOUNTS,
        [
            {
                "code": f"odd:{code}",
                "kind": AccountKind.RESIDENT.value,
                "balance": n,
                "created_at": utcnow(),
            }
            for n, code in enumerate(ODD_CODES)
        ],
    )
    wanted = [f"odd:{code}" for code in ODD_CODES]
    found = db.session.scalars(select(Account.code).where(any_of(Account.code, wanted))).all()
    assert sorted(found) == sorted(wanted)
    assert db.session.scalars(select(Account.code).where(any_of(Account.code, ["odd:"]))).all() == [
        "odd:"
    ]
    ids = db.session.scalars(select(Account.id).where(any_of(Account.code, wanted))).all()
    assert sorted(db.session.scalars(select(Account.id).where(any_of(Account.id, ids)))) == sorted(
        ids
    )
    assert db.session.scalars(select(Account.id).where(any_of(Account.id, []))).all() == []
    kinds = db.session.scalars(
        select(Account.code).where(
            any_of(Account.kind, [AccountKind.RESIDENT]), any_of(Account.code, wanted)
        )
    ).all()
    assert len(kinds) == len(wanted)
    assert array_literal([1, 2]) == "{1,2}"
    assert array_literal(['a"b', "c\\d"]) == '{"a\\"b","c\\\\d"}'
    assert array_literal([None]) is None and array_literal([1.5]) is None


@pytest.mark.postgres
def test_any_of_on_postgresql_too(db):
    assert db.session.get_bind().dialect.name == "postgresql"
    test_any_of_finds_exactly_the_listed_values(db)
