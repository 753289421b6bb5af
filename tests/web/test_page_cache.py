"""A resident's home and points served again by version, with ETag / 304 (issue 18).

Every test holds a response's ETag and sends it back: while nothing the page shows has
changed the answer is 304; after a credit, a redemption, a release, an expiry, a reversal, a
notice or a notification it is the new page at once, and another resident's change leaves it
alone. The body cache is on (``PAGE_CACHE_SECONDS``), so a stale body would be served here."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from backend import pagecache
from backend.extensions import db as _db
from backend.ledger.expiry import expire_due_points
from backend.ledger.models import LedgerEntry
from backend.ledger.services import reverse_entry
from backend.notices.models import Notice
from backend.notifications.models import NotificationKind
from backend.notifications.services import notify
from backend.timeutil import utcnow

from .test_resident_pages import _credit_a_trip

pytestmark = pytest.mark.postgres  # row versions (xmin) are PostgreSQL's


@pytest.fixture(autouse=True)
def _page_cache_on(app: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(app.config, "PAGE_CACHE_SECONDS", 600)


def _points(client: Any, headers: dict[str, str], etag: str | None = None) -> Any:
    extra = {"If-None-Match": etag} if etag else {}
    return client.get("/api/v1/me/points", headers={**headers, **extra})


def _changed(client: Any, headers: dict[str, str], etag: str) -> tuple[dict[str, Any], str]:
    response = _points(client, headers, etag)
    assert response.status_code == 200, "the points changed: the old ETag must not match"
    assert response.headers["ETag"].strip('"') != etag.strip('"')
    return response.get_json(), response.headers["ETag"]


def _unchanged(client: Any, headers: dict[str, str], etag: str) -> None:
    response = _points(client, headers, etag)
    assert response.status_code == 304 and response.headers["ETag"] == etag
    assert response.get_data() == b""


def test_points_answer_304_until_any_ledger_write_changes_them(client, make, auth, db):
    resident, other = make.resident(), make.resident()
    headers = auth.bearer(resident)
    first = _points(client, headers)
    assert first.status_code == 200 and first.get_json()["balance"] == 0
    assert first.headers["Cache-Control"] == "private, no-cache"
    etag = first.headers["ETag"]
    _unchanged(client, headers, etag)
    assert _points(client, headers).get_json() == first.get_json()  # served again, same body

    make.points(resident, 500)  # a credit
    body, etag = _changed(client, headers, etag)
    assert body["balance"] == 500 and body["history"][0]["kind"] == "credit"
    _unchanged(client, headers, etag)

    make.points(other, 700)  # someone else's credit is not this resident's change
    _unchanged(client, headers, etag)

    offer = make.offer(points_price=100)
    redeemed = client.post(
        f"/api/v1/offers/{offer.id}/redeem", headers={**headers, "Idempotency-Key": "k-1"}
    )
    assert redeemed.status_code == 201
    body, etag = _changed(client, headers, etag)  # a redemption holds points
    assert body["balance"] == 400 and body["history"][0]["kind"] == "hold"

    pricey = make.offer(points_price=10_000)
    refused = client.post(
        f"/api/v1/offers/{pricey.id}/redeem", headers={**headers, "Idempotency-Key": "k-2"}
    )
    assert refused.status_code == 409
    _unchanged(client, headers, etag)  # a refused (rolled back) write changes nothing

    cancelled = client.post(
        f"/api/v1/redemptions/{redeemed.get_json()['id']}/cancel", headers=headers
    )
    assert cancelled.status_code == 200
    body, etag = _changed(client, headers, etag)  # released
    assert body["balance"] == 500 and body["history"][0]["kind"] == "release"

    credit = _db.session.get(LedgerEntry, body["history"][-1]["entry_id"])
    reverse_entry(credit, f"test-reverse:{credit.id}", memo="correction")
    _db.session.commit()
    body, etag = _changed(client, headers, etag)  # a correction
    assert body["balance"] == 0 and body["history"][0]["kind"] == "reversal"

    make.points(resident, 300)
    body, etag = _changed(client, headers, etag)
    assert body["expiring"]
    expire_due_points(utcnow() + timedelta(days=40 * 31))  # years later: they expire
    body, etag = _changed(client, headers, etag)
    assert body["balance"] == 0 and body["history"][0]["kind"] == "expire"
    _unchanged(client, headers, etag)


def test_points_of_two_residents_never_mix(client, make, auth, db):
    one, two = make.resident(), make.resident()
    make.points(one, 111)
    make.points(two, 222)
    a, b = auth.bearer(one), auth.bearer(two)
    assert _points(client, a).get_json()["balance"] == 111
    assert _points(client, b).get_json()["balance"] == 222
    etag = _points(client, a).headers["ETag"]
    assert _points(client, b, etag).status_code == 200  # one's ETag is not two's


def _home(client: Any, etag: str | None = None, query: str = "") -> Any:
    return client.get("/home" + query, headers={"If-None-Match": etag} if etag else {})


def test_home_answers_304_until_something_it_shows_changes(client, make, auth, db):
    resident, other = make.resident(nickname="回访者"), make.resident()
    auth.login_page(resident)
    first = _home(client)
    assert first.status_code == 200 and "回访者" in first.get_data(as_text=True)
    # the resident's own copy, never a shared cache's, revalidated before every use
    assert first.headers["Cache-Control"] == "private, no-cache"
    etag = first.headers["ETag"]
    again = _home(client, etag)
    assert again.status_code == 304 and again.headers["Cache-Control"] == "private, no-cache"
    assert _home(client).get_data() == first.get_data()  # served again from the cache

    make.points(other, 900)  # another resident's credit
    assert _home(client, etag).status_code == 304

    _credit_a_trip(client, make, resident)  # a partner record, verified and credited
    page = _home(client, etag)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "0.36" in html and "359" in html
    etag = page.headers["ETag"]
    assert _home(client, etag).status_code == 304

    _db.session.add(
        Notice(user_id=resident.id, topic="test", text={"zh_CN": "新通知甲", "en": "A"})
    )
    _db.session.commit()
    page = _home(client, etag)
    assert page.status_code == 200 and "新通知甲" in page.get_data(as_text=True)
    etag = page.headers["ETag"]

    notify(
        resident.id,
        NotificationKind.VOUCHER_FULFILLED,
        {"redemption_id": 1, "title_zh": "杯", "title_en": "Cup"},
    )
    _db.session.commit()
    page = _home(client, etag)
    assert page.status_code == 200 and 'class="bell-count"' in page.get_data(as_text=True)


def test_home_language_logout_and_flash_do_not_leak(client, make, auth, db):
    one, two = make.resident(nickname="甲居民"), make.resident(nickname="乙居民")
    make.points(one, 4321)
    auth.login_page(one)
    zh = _home(client)
    assert "4321" in zh.get_data(as_text=True) and 'lang="zh-CN"' in zh.get_data(as_text=True)
    en = _home(client, zh.headers["ETag"], "?lang=en")
    assert en.status_code == 200 and 'lang="en"' in en.get_data(as_text=True)
    assert en.headers["ETag"] != zh.headers["ETag"]
    assert 'lang="en"' in _home(client).get_data(as_text=True)  # the chosen language stays

    with client.session_transaction() as session:
        session["_flashes"] = [("success", "一条提示")]
    flashed = _home(client, en.headers["ETag"])
    assert flashed.status_code == 200 and "一条提示" in flashed.get_data(as_text=True)
    assert "一条提示" not in _home(client).get_data(as_text=True)  # shown once

    logout = client.post("/logout")
    assert logout.headers["Clear-Site-Data"] == '"cache"'  # the phone keeps no copy
    assert _home(client, en.headers["ETag"]).status_code == 302  # signed out: no page, no 304
    auth.login_page(two)
    html = _home(client).get_data(as_text=True)
    assert "乙居民" in html and "甲居民" not in html and "4321" not in html
    assert _home(client, en.headers["ETag"]).status_code == 200


def test_home_version_moves_with_every_write_to_the_records_and_reductions(client, make, db):
    """The records' and reductions' part of the home's version is their counts and the
    resident's rows in the change log the database's triggers append to (migration 0018):
    an insert, an update (a review, an appeal, a correction, even one that rewrites a value
    unchanged) or a delete of any of them moves it, whoever writes it; a rolled-back write or
    another resident's write does not."""
    resident, other = make.resident(), make.resident()

    def version(user: Any = resident) -> str:
        value = pagecache.home_version(user.id)
        assert value is not None
        return value

    seen = [version()]

    def moved() -> None:
        now = version()
        assert now not in seen
        seen.append(now)

    _credit_a_trip(client, make, resident)  # a record and its reduction inserted (COPY)
    moved()
    record, reduction = db.session.execute(
        text(
            "SELECT r.id, d.id FROM activity_records r JOIN reductions d ON d.record_id = r.id"
            " WHERE r.resident_id = :u"
        ),
        {"u": resident.id},
    ).one()

    def run(sql: str, **values: Any) -> None:
        db.session.execute(text(sql), values)

    run("UPDATE activity_records SET outcome = outcome WHERE id = :i", i=record)
    moved()
    run("UPDATE reductions SET points = points WHERE id = :i", i=reduction)
    moved()

    run("UPDATE activity_records SET outcome = outcome WHERE resident_id = :o", o=other.id)
    run("UPDATE activity_records SET outcome = outcome WHERE id = -1")
    assert version() == seen[-1]  # no row of this resident touched

    with db.session.begin_nested() as nested:  # a write rolled back leaves no trace
        run("UPDATE activity_records SET outcome = 'review' WHERE id = :i", i=record)
        assert version() not in seen
        nested.rollback()
    assert version() == seen[-1]

    others = version(other)
    run("UPDATE activity_records SET resident_id = :o WHERE id = :i", o=other.id, i=record)
    moved()  # a record moved to another resident moves both versions
    assert version(other) != others
    run("UPDATE activity_records SET resident_id = :u WHERE id = :i", u=resident.id, i=record)
    moved()

    run("DELETE FROM reductions WHERE id = :i", i=reduction)
    moved()
    run("DELETE FROM activity_records WHERE id = :i", i=record)
    moved()
    assert len(set(seen)) == len(seen)

    for sql in ("UPDATE resident_changes SET resident_id = 0", "DELETE FROM resident_changes"):
        with pytest.raises(DBAPIError, match="append-only"), db.session.begin_nested():
            run(sql)
