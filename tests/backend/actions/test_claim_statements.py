"""A counter claim in few statements (issue 18, item 4): one that credits took 24 in the bench
(25 here) before round 5 (loadtests/README.md), 21 here before round 6 (and a second
transaction to read the answer), 20 before round 7, 19 before round 8 (21 with a key);
counted as in ../rewards/test_statements.py."""

from __future__ import annotations

from backend.extensions import db as _db
from backend.merchants.models import MerchantKind

from ..rewards.test_statements import counted

# A counter claim that credits, with an idempotency key (its row is a statement; a key used
# before is not looked up first), on PostgreSQL, the bearer token's lookup included (COPY is
# not a cursor statement); the suite reads the verifiers' counts every time
# (READ_CACHE_SECONDS 0).
CLAIM_MAX = 14
# A claim code: the token's lookup and the INSERT (expired codes are purged by a job).
CLAIM_CODE_MAX = 2


def test_a_counter_claim_stays_within_its_statement_budget(client, make, auth, seeded, monkeypatch):
    staff = make.staff(make.merchant(name="station", kind=MerchantKind.WASTE_STATION))
    resident = make.resident()
    make.points(resident, 10)  # the steady state: a resident with a ledger account
    resident_headers = auth.bearer(resident)
    begun: list[str] = []
    with counted(begun) as issued:
        code = client.post("/api/v1/me/claim-codes", headers=resident_headers).get_json()
    assert code["code"] and code["token"] and code["expires_at"]
    assert len(issued) <= CLAIM_CODE_MAX and len(begun) == 1, "\n".join(issued)
    headers = auth.bearer(staff)  # signed in before counting
    begun.clear()
    # one resident's context is read at once: a server-side cursor (an ingestion chunk's) adds
    # a DECLARE, FETCHes and a CLOSE that the statement count does not see
    cursors: list[object] = []
    if _db.engine.dialect.name == "postgresql":
        import psycopg

        opened = psycopg.ServerCursor.__init__

        def server_cursor(self: object, *args: object, **kwargs: object) -> None:
            cursors.append(self)
            opened(self, *args, **kwargs)

        monkeypatch.setattr(psycopg.ServerCursor, "__init__", server_cursor)
    with counted(begun) as claim:
        response = client.post(
            "/api/v1/claims",
            json={
                "code": code["code"],
                "activity": {"items": [{"category": "paper", "weight_kg": 2}]},
            },
            headers={**headers, "Idempotency-Key": "claim-1"},  # as the counters send them
        )
    assert response.status_code == 201 and response.get_json()["outcome"] == "credited"
    assert len(begun) == 1, begun  # one transaction: the answer is read before the commit
    # SQLite reads the day's stored actions and the reductions' sums in two queries (one on
    # PostgreSQL, with the windows) and writes rows one by one
    extra = 4 if _db.engine.dialect.name == "sqlite" else 0
    assert len(claim) <= CLAIM_MAX + extra, "\n".join(claim)
    assert not cursors
