from __future__ import annotations

import time

from sqlalchemy import select

from backend.audit.models import AuditEntry
from backend.partners.models import PartnerKey
from backend.timeutil import utcnow

from ...helpers import signed_headers

PING = "/api/v1/partner/ping"


def test_a_correctly_signed_request_is_accepted(client, make):
    partner, key_id, secret = make.partner("bus-co")
    response = client.get(PING, headers=signed_headers(key_id, secret, "GET", PING))
    assert response.status_code == 200
    assert response.get_json()["partner"] == "bus-co"


def test_bad_signature_wrong_key_and_missing_header(client, make):
    _, key_id, secret = make.partner()
    wrong_secret = client.get(PING, headers=signed_headers(key_id, "not-the-secret", "GET", PING))
    wrong_key = client.get(PING, headers=signed_headers("pk_unknown", secret, "GET", PING))
    wrong_path = client.get(PING, headers=signed_headers(key_id, secret, "GET", "/other"))
    missing = client.get(PING)
    for response in (wrong_secret, wrong_key, wrong_path, missing):
        assert response.status_code == 401
        assert response.get_json()["code"] == "invalid_signature"


def test_expired_or_future_timestamp_is_refused(client, make):
    _, key_id, secret = make.partner()
    for skew in (-301, 301):
        headers = signed_headers(key_id, secret, "GET", PING, timestamp=int(time.time()) + skew)
        response = client.get(PING, headers=headers)
        assert response.status_code == 401
        assert response.get_json()["code"] == "stale_timestamp"


def test_a_replayed_signature_is_refused(client, make):
    _, key_id, secret = make.partner()
    headers = signed_headers(key_id, secret, "GET", PING)
    assert client.get(PING, headers=headers).status_code == 200
    replay = client.get(PING, headers=headers)
    assert replay.status_code == 401
    assert replay.get_json()["code"] == "replayed_request"


def test_body_is_covered_by_the_signature(client, make):
    _, key_id, secret = make.partner()
    headers = signed_headers(key_id, secret, "GET", PING, body=b'{"a": 1}')
    response = client.get(PING, headers=headers, data=b'{"a": 2}')
    assert response.status_code == 401


def test_rotation_keeps_the_old_key_for_a_grace_period(client, make, db):
    from datetime import timedelta

    from backend.partners.services import rotate_partner_key

    partner, old_id, old_secret = make.partner("bike-co", kind="bike_share")
    new_id, new_secret = rotate_partner_key("bike-co")
    assert (
        client.get(PING, headers=signed_headers(new_id, new_secret, "GET", PING)).status_code == 200
    )
    assert (
        client.get(PING, headers=signed_headers(old_id, old_secret, "GET", PING)).status_code == 200
    )
    old = db.session.scalar(select(PartnerKey).where(PartnerKey.key_id == old_id))
    old.expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    assert (
        client.get(PING, headers=signed_headers(old_id, old_secret, "GET", PING)).status_code == 401
    )
    actions = db.session.scalars(select(AuditEntry.action)).all()
    assert "partner.create" in actions and "partner.rotate_key" in actions


def test_secrets_are_not_stored_in_clear(make, db):
    _, key_id, secret = make.partner()
    key = db.session.scalar(select(PartnerKey).where(PartnerKey.key_id == key_id))
    assert secret not in key.secret_encrypted
