"""No page, CSV or report meant for people speaks in our internal names: every role's pages
on the demo data, reached by following links from each home page, in Chinese and English,
are scanned for snake_case words and file names (tests/web/plain_words.py)."""

from __future__ import annotations

import re
from urllib.parse import urljoin, urlparse

import pytest

from backend.accounts.models import Role
from backend.demo.data import DEMO_PASSWORD, load_demo

from .plain_words import internal_words, visible_text

LOGINS = {
    "resident": "13800000001",
    "resident with clean plates": "13800000002",
    "shop staff": "13800000011",
    "station attendant": "13800000012",
    "restaurant staff": "13800000013",
    "organiser": "13800000021",
}
SKIP = ("/static", "/logout", "/api", "/sw.js", "/manifest")


def crawl(
    client, start: str, lang: str, limit: int = 120, skip: tuple[str, ...] = ()
) -> dict[str, list[str]]:
    """Internal words per page or CSV reached from ``start`` by GET links."""
    found: dict[str, list[str]] = {}
    seen: set[str] = set()
    todo = [start]
    while todo and len(seen) < limit:
        url = todo.pop(0)
        parts = urlparse(url)
        if parts.netloc or url in seen or parts.path.startswith(SKIP + skip) or "lang=" in url:
            continue
        seen.add(url)
        response = client.get(url, headers={"Accept-Language": lang})
        kind = response.headers.get("Content-Type", "")
        if "html" in kind:
            html = response.get_data(as_text=True)
            text = visible_text(html)
            todo += [
                urljoin(url, h.replace("&amp;", "&")) for h in re.findall(r'href="([^"#]+)"', html)
            ]
        elif "csv" in kind:
            text = response.get_data().decode("utf-8-sig")
        else:
            continue
        words = internal_words(text)
        if words:
            found[url] = words
    assert len(seen) > 3, seen
    return found


def test_the_scanner_finds_internal_words():
    assert internal_words("paper 1000 kg，portion_reduction_kg，events_forest.md") == [
        "events_forest",
        "events_forest.md",
        "portion_reduction_kg",
    ]
    html = "<p>纸类 2.5 kg</p><details data-audit><p>EF_BL − EF_bus</p></details><p>ok_go</p>"
    assert internal_words(visible_text(html)) == ["ok_go"]


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
@pytest.mark.parametrize("role", list(LOGINS))
def test_every_page_of_every_role_speaks_plain_words(app, client, db, role, lang):
    load_demo()
    response = client.post("/login", data={"phone": LOGINS[role], "password": DEMO_PASSWORD})
    assert response.status_code == 302
    found = crawl(client, response.headers["Location"], lang)
    assert not found, "\n".join(f"{u}: {w}" for u, w in found.items())


def test_the_residents_statement_is_in_beijing_time_and_words(client, db):
    load_demo()
    client.post("/login", data={"phone": LOGINS["resident"], "password": DEMO_PASSWORD})
    zh = client.get("/privacy/export.csv", headers={"Accept-Language": "zh-CN"})
    text = zh.get_data().decode("utf-8-sig")
    header = text.splitlines()[0]
    assert "北京时间" in header and "积分" in header
    assert "已加分" in text and "公交" in text
    assert not re.search(r"\d{2}:\d{2}:\d{2}\+00:00|T\d{2}:", text)  # no UTC ISO stamps


# every page is scanned, and the dashboard's CSV files as people download them
ADMIN_SKIP = ("/admin/logout", "/admin/2fa", "/admin/recovery")


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_every_admin_page_speaks_plain_words(app, client, db, make, auth, lang):
    """The administrator's pages (audit log, review, methodology versions, reports and their
    CSV files) on the demo data speak in words too; codes stay only inside audit details."""
    load_demo()
    admin = make.user(Role.ADMIN, nickname="值班管理员")
    assert auth.login_page(admin, admin=True).status_code == 302
    client.get("/admin/", query_string={"lang": lang})  # pages follow the chosen language
    found = crawl(client, "/admin/", lang, limit=160, skip=ADMIN_SKIP)
    audit = client.get("/admin/audit", headers={"Accept-Language": lang}).get_data(as_text=True)
    shown = visible_text(audit.split("<tbody>", 1)[1])  # the entries, not the filter's hints
    # actors by role and name, never "admin:6"; the stored codes only in the "as recorded" part
    assert not re.search(r"\b(admin|resident|organiser|merchant_staff):\d", shown)
    assert ("管理员" if lang == "zh-CN" else "Administrator") in shown
    assert re.search(r"data-audit[^>]*>.*?admin:\d", audit, re.S)
    assert not found, "\n".join(f"{u}: {w}" for u, w in found.items())
