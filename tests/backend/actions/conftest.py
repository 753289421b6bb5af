from __future__ import annotations

from typing import Any

import pytest

from backend.actions.identities import bind_identity
from backend.methodology_versions.services import seed_versions

from ...helpers import DAY, as_json, signed_headers

BATCHES = "/api/v1/partner/batches"


def bus(
    record_id: str,
    identity: str = "CARD0001",
    start: str = f"{DAY}T08:00:00+08:00",
    end: str = f"{DAY}T08:25:00+08:00",
    km: Any = 8.2,
) -> dict[str, Any]:
    return {
        "record_id": record_id,
        "action": "public_transit",
        "identity": identity,
        "activity": {"mode": "bus", "distance_km": km, "started_at": start, "ended_at": end},
    }


class Pusher:
    def __init__(self, client: Any, key_id: str, secret: str) -> None:
        self.client, self.key_id, self.secret = client, key_id, secret

    def push(
        self,
        records: list[dict[str, Any]] | None = None,
        *,
        body: bytes | None = None,
        content_type: str = "application/json",
    ) -> Any:
        body = body if body is not None else as_json({"records": records})
        headers = signed_headers(
            self.key_id, self.secret, "POST", BATCHES, body, content_type=content_type
        )
        return self.client.post(BATCHES, data=body, headers=headers)

    def get(self, batch_id: int, query: str = "") -> Any:
        path = f"{BATCHES}/{batch_id}" + (f"?{query}" if query else "")
        return self.client.get(path, headers=signed_headers(self.key_id, self.secret, "GET", path))


@pytest.fixture
def seeded(db):
    seed_versions()


@pytest.fixture
def transit(client, make, seeded):
    partner, key_id, secret = make.partner("bus-co", kind="transit")
    return partner, Pusher(client, key_id, secret)


@pytest.fixture
def rider(make, transit):
    user = make.resident()
    bind_identity(user, "bus-co", "CARD0001")
    return user
