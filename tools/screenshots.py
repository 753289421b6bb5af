"""Screenshots of pages for a look by eye: python tools/screenshots.py OUTDIR [BASE_URL].

Signs in with the demo logins (``make run`` prints them) and saves each page at 360x640 and,
for the admin console, at 1280x800. Uses Debian's Chromium through Playwright.
"""

from __future__ import annotations

import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
PASSWORD = "quzhou-demo-2026"
PAGES = {
    None: ["/", "/login", "/register", "/?lang=en", "/methodologies", "/offers"],
    "13800000001": [
        "/home",
        "/home?lang=en",
        "/actions",
        "/log",
        "/my-qr",
        "/report",
        "/sources",
        "/offers",
        "/points",
        "/redemptions",
        "/?lang=zh_CN",
    ],
    "13800000011": ["/merchant", "/merchant/offers"],
    "13800000012": ["/merchant"],
    "13800000021": ["/organiser"],
}
ADMIN_PAGES = [
    "/admin/",
    "/admin/methodologies",
    "/admin/review",
    "/admin/partners",
    "/admin/batches",
    "/admin/merchants",
    "/admin/offers",
    "/admin/reports",
    "/admin/people",
    "/admin/residents",
    "/admin/audit",
    "/admin/settings",
]


def shoot(out: Path, base: str, extra: list[str]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=ARGS)
        for phone, paths in PAGES.items():
            ctx = browser.new_context(viewport={"width": 360, "height": 640})
            page = ctx.new_page()
            if phone:
                page.goto(base + "/login")
                page.fill("#phone", phone)
                page.fill("#password", PASSWORD)
                page.click("button[type=submit]")
            for path in paths + (extra if phone == "13800000001" else []):
                page.goto(base + path)
                name = (phone or "anon") + path.replace("/", "_").replace("?", "_") + ".png"
                page.screenshot(path=str(out / name), full_page=True)
            ctx.close()
        ctx = browser.new_context(viewport={"width": 1280, "height": 800})
        page = ctx.new_page()
        page.goto(base + "/admin/login")
        page.screenshot(path=str(out / "admin_login.png"), full_page=True)
        page.fill("#phone", "13800000031")
        page.fill("#password", PASSWORD)
        page.click("button[type=submit]")
        if "/admin/2fa" in page.url:  # the second step, with the demo key (development only)
            import pyotp

            from backend.demo.data import DEMO_TOTP_SECRET

            page.fill("#code", pyotp.TOTP(DEMO_TOTP_SECRET).now())
            page.click("button[type=submit]")
        for path in ADMIN_PAGES + [p for p in extra if p.startswith("/admin")]:
            page.goto(base + path)
            page.screenshot(
                path=str(out / ("admin" + path.replace("/", "_") + ".png")), full_page=True
            )
        browser.close()


if __name__ == "__main__":
    shoot(
        Path(sys.argv[1]),
        sys.argv[2] if len(sys.argv) > 2 else "http://127.0.0.1:5000",
        sys.argv[3:],
    )
