"""Point-moving writes in few statements (issue 18, item 4): a redemption and a fulfilment
each run in one transaction; the statements each request sends are counted (SQLAlchemy
cursor events) and bounded here. Before round 4: redeem 20, fulfil 15 (with the bearer
token's lookup); before round 6: 13 and 11, and each read its answer again after the commit
in a second transaction; before round 7: 12 and 10; before round 8: 9 and 8. A counter claim:
tests/backend/actions/test_claim_statements.py."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event

from backend.extensions import db as _db

REDEEM_MAX = 8
FULFIL_MAX = 7


@contextmanager
def counted(transactions: list[str] | None = None) -> Iterator[list[str]]:
    """The statements sent meanwhile; ``transactions`` collects the transactions begun (the
    suite's session runs each in a SAVEPOINT of the test's transaction)."""
    statements: list[str] = []
    engine = _db.engine

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        first = statement.split(None, 1)[0].upper()
        if first not in ("SAVEPOINT", "RELEASE", "ROLLBACK"):
            statements.append(statement)
        elif first == "SAVEPOINT" and transactions is not None:
            transactions.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", count)


def _redeem_and_fulfil(client: Any, offer_id: int, resident: Any, staff: Any, key: str) -> Any:
    """The statements of each request, and the transactions each began."""
    redeem_begun: list[str] = []
    with counted(redeem_begun) as redeem:
        redeemed = client.post(
            f"/api/v1/offers/{offer_id}/redeem", headers={**resident, "Idempotency-Key": key}
        )
    assert redeemed.status_code == 201
    assert redeemed.get_json()["status"] == "held" and redeemed.get_json()["qr_token"]
    fulfil_begun: list[str] = []
    with counted(fulfil_begun) as fulfil:
        fulfilled = client.post(
            "/api/v1/merchant/fulfil",
            json={"code": redeemed.get_json()["short_code"]},
            headers={**staff, "Idempotency-Key": key},
        )
    assert fulfilled.status_code == 200 and fulfilled.get_json()["status"] == "fulfilled"
    assert fulfilled.get_json()["closed_at"] and fulfilled.get_json()["offer_title"]
    return redeem, fulfil, redeem_begun + fulfil_begun


def test_redeem_and_fulfil_stay_within_their_statement_budget(client, make, auth, db):
    resident = make.resident()
    make.points(resident, 500)
    offer = make.offer(points_price=100)
    offer_id, staff = offer.id, make.staff(offer.merchant)
    resident_headers, staff_headers = auth.bearer(resident), auth.bearer(staff)
    # the first ever creates the holds and merchant accounts; the budget is the steady state
    _redeem_and_fulfil(client, offer_id, resident_headers, staff_headers, "s-1")
    redeem, fulfil, begun = _redeem_and_fulfil(
        client, offer_id, resident_headers, staff_headers, "s-2"
    )
    # one transaction each: the answer is not read again after the commit
    assert len(begun) == 2, begun
    # SQLite inserts an entry, then its legs (no INSERT inside a WITH there)
    extra = 1 if _db.engine.dialect.name == "sqlite" else 0
    assert len(redeem) <= REDEEM_MAX + extra, "\n".join(redeem)
    assert len(fulfil) <= FULFIL_MAX + extra, "\n".join(fulfil)
    balance = client.get("/api/v1/me/points", headers=resident_headers).get_json()["balance"]
    assert balance == 300
