"""The offers list carries an ETag of its content: 304 while unchanged (issue 18)."""

from __future__ import annotations


def test_offers_answer_304_until_the_list_changes(client, make, db):
    make.offer(title_zh="第一杯")
    first = client.get("/api/v1/offers")
    etag = first.headers["ETag"]
    again = client.get("/api/v1/offers", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.get_data() == b"" and again.headers["ETag"] == etag
    # the same list for everyone: any cache may keep it but must ask every time
    assert first.headers["Cache-Control"] == "no-cache" and "Accept-Language" in first.vary

    make.offer(title_zh="第二杯")  # a new live offer: the list changed
    changed = client.get("/api/v1/offers", headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["ETag"] != etag
    assert [o["title_zh"] for o in changed.get_json()].count("第二杯") == 1
    english = client.get("/api/v1/offers", headers={"Accept-Language": "en"})
    assert english.headers["ETag"] != changed.headers["ETag"] or english.get_data() == (
        changed.get_data()
    )
