"""One persona per user type, with a realistic mix (``make bench`` runs it headless).

Data comes from ``flask demo generate`` (residents 170xxxxxxxx, staff 160xxxxxxxx, password
bench-carbon-2026); the partner's key comes from the environment (BENCH_PARTNER_KEY_ID/SECRET).
Request names are "<persona>:<endpoint>" so the report can group them.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import re
import time
import uuid
from datetime import UTC, datetime, timedelta, timezone

from gevent.queue import Empty, Queue
from locust import FastHttpUser, between, constant, tag, task

from backend.partners.services import sign

PASSWORD = os.environ.get("BENCH_PASSWORD", "bench-carbon-2026")
RESIDENTS = int(os.environ.get("BENCH_RESIDENTS", "1000"))
STAFF = int(os.environ.get("BENCH_STAFF", "4"))
OFFERS = [int(x) for x in os.environ.get("BENCH_OFFERS", "1").split(",")]
PARTNER_KEY = os.environ.get("BENCH_PARTNER_KEY_ID", "")
PARTNER_SECRET = os.environ.get("BENCH_PARTNER_SECRET", "")
ADMINS = [a for a in os.environ.get("BENCH_ADMINS", "").split(",") if a]
ADMIN_TOTP = os.environ.get("BENCH_ADMIN_TOTP_SECRET", "")
_next_admin = itertools.count()
CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
# Throughput runs (the ratios against the ceilings) are closed loops without think time.
THROUGHPUT = bool(os.environ.get("BENCH_THROUGHPUT"))


def think(low: float, high: float) -> object:
    return constant(0) if THROUGHPUT else between(low, high)


# Redemptions made by residents, waiting to be fulfilled by merchant staff (per process).
OPEN_CODES: Queue[str] = Queue()
# Bearer tokens issued ahead by loadtests/tokens.py: users take them in turn.
TOKENS: dict[str, list[str]] = {"residents": [], "merchant": [], "station": [], "sessions": []}
if os.environ.get("BENCH_TOKENS"):
    with open(os.environ["BENCH_TOKENS"], encoding="utf-8") as _handle:
        TOKENS = json.load(_handle)
_turn = itertools.count()


def _bearer(kind: str) -> dict[str, str]:
    pool = TOKENS[kind]
    return {"Authorization": f"Bearer {pool[next(_turn) % len(pool)]}"} if pool else {}


def _resident_phone() -> str:
    return str(17_000_000_000 + random.randrange(RESIDENTS))


def _token(user: FastHttpUser, phone: str, name: str, **extra: str) -> dict[str, str]:
    with user.client.post(
        "/api/v1/auth/token",
        json={"phone": phone, "password": PASSWORD, **extra},
        name=f"{name}:token",
        catch_response=True,
    ) as response:
        if response.status_code != 201:
            response.failure(f"token {response.status_code}")
            return {}
        return {"Authorization": f"Bearer {response.json()['token']}"}


def _page_login(
    user: FastHttpUser, phone: str, path: str, name: str, extra: dict[str, str] | None = None
) -> bool:
    page = user.client.get(path, name=f"{name}:login-page")
    match = CSRF.search(page.text or "")
    if not match:
        return False
    form = {"csrf_token": match.group(1), "phone": phone, "password": PASSWORD, **(extra or {})}
    response = user.client.post(path, data=form, name=f"{name}:login", allow_redirects=False)
    return response.status_code in (302, 303)


def _session_cookie() -> str | None:
    """A signed-in page session of one of the residents, issued ahead (loadtests/tokens.py)."""
    pool = TOKENS.get("sessions") or []
    return f"session={pool[next(_turn) % len(pool)]}" if pool else None


class Resident(FastHttpUser):
    """Home, history, offers, a counter-signed claim and a redemption."""

    weight = 10
    wait_time = think(0.5, 2)

    def on_start(self) -> None:
        self.phone = _resident_phone()
        self.headers = _bearer("residents") or _token(self, self.phone, "resident")
        self.station = _bearer("station") or _token(
            self, str(16_000_000_100 + random.randrange(STAFF)), "station"
        )
        # The HTML home needs a page session: one issued ahead per resident, as the home is
        # measured, not argon2; sign-ins are a task of their own in the realistic mix.
        self.cookie = _session_cookie()
        if self.cookie is None:
            _page_login(self, self.phone, "/login", "resident")

    @tag("read")
    @task(4)
    def home(self) -> None:
        headers = {"Cookie": self.cookie} if self.cookie else None
        # Not signed in would redirect to /login: that is a failure, not a cheap success.
        self.client.get("/home", name="resident:home", headers=headers, allow_redirects=False)

    @tag("read")
    @task(3)
    def offers(self) -> None:
        self.client.get("/api/v1/offers", name="resident:offers")

    @tag("read")
    @task(2)
    def history(self) -> None:
        self.client.get("/api/v1/me/points?limit=20", headers=self.headers, name="resident:history")

    @tag("signin")
    @task(1)
    def sign_in(self) -> None:
        # A resident signs in again now and then (a new phone, a logged-out session); its own
        # request name, so argon2's deliberate cost is reported beside, not inside, the reads.
        # One task in ~100 (sessions last for days; argon2 costs ~0.1 s of a core by design).
        if random.random() < 0.1:
            _page_login(self, _resident_phone(), "/login", "resident")
            self.client.cookiejar.clear()  # the home keeps using this user's own session

    @tag("write")
    @task(1)
    def claim(self) -> None:
        # A claim code is rate-limited per resident (30 a minute, as a phone would never
        # need more): closed-loop users take the next pre-issued resident token each time.
        headers = _bearer("residents") or self.headers
        code = self.client.post(
            "/api/v1/me/claim-codes", headers=headers, name="resident:claim-code"
        )
        if code.status_code != 201:
            return
        # Each counter account is limited too (120 claims a minute): take the next counter's.
        station = _bearer("station") or self.station
        self.client.post(
            "/api/v1/claims",
            headers=station,
            name="station:claim",
            json={
                "code": code.json()["code"],
                "activity": {
                    "items": [{"category": "paper", "weight_kg": 1.2}],
                    "collected_at": datetime.now(UTC).isoformat(),
                },
            },
        )

    @tag("write")
    @task(1)
    def redeem(self) -> None:
        headers = {**self.headers, "Idempotency-Key": uuid.uuid4().hex}
        with self.client.post(
            f"/api/v1/offers/{random.choice(OFFERS)}/redeem",
            headers=headers,
            name="resident:redeem",
            catch_response=True,
        ) as response:
            if response.status_code == 201:
                OPEN_CODES.put(response.json()["short_code"])
            elif response.status_code == 409:  # not enough points is a valid answer
                response.success()


class MerchantStaff(FastHttpUser):
    """Fulfils redemptions by typed short code; looks at today's list."""

    weight = 2
    wait_time = think(0.5, 2)

    def on_start(self) -> None:
        self.headers = _bearer("merchant") or _token(
            self, str(16_000_000_000 + random.randrange(STAFF)), "merchant"
        )

    @tag("write")
    @task(3)
    def fulfil(self) -> None:
        try:
            code = OPEN_CODES.get(timeout=1)
        except Empty:
            return
        # Each staff account is limited (60 fulfilments a minute): take the next one's token.
        headers = {**(_bearer("merchant") or self.headers), "Idempotency-Key": uuid.uuid4().hex}
        self.client.post(
            "/api/v1/merchant/fulfil", json={"code": code}, headers=headers, name="merchant:fulfil"
        )

    @tag("read")
    @task(1)
    def today(self) -> None:
        self.client.get("/api/v1/merchant/redemptions", headers=self.headers, name="merchant:today")


class Partner(FastHttpUser):
    """Signed batch pushes of a transit operator (100 records each)."""

    weight = 1
    wait_time = think(2, 5)

    @tag("partner")
    @task
    def push(self) -> None:
        now = datetime.now(timezone(timedelta(hours=8)))
        records = []
        for _ in range(100):
            start = now - timedelta(days=random.randint(1, 20), minutes=random.randint(0, 600))
            records.append(
                {
                    "record_id": f"locust-{uuid.uuid4().hex}",
                    "action": "public_transit",
                    "identity": f"BUS{random.randrange(RESIDENTS):08d}",
                    "activity": {
                        "mode": "bus",
                        "distance_km": 5.5,
                        "started_at": start.isoformat(),
                        "ended_at": (start + timedelta(minutes=20)).isoformat(),
                    },
                }
            )
        body = json.dumps({"records": records}).encode()
        path = "/api/v1/partner/batches"
        stamp = str(int(time.time()))
        self.client.post(
            path,
            data=body,
            name="partner:push",
            headers={
                "Content-Type": "application/json",
                "X-Timestamp": stamp,
                "Authorization": f"HMAC-SHA256 key_id={PARTNER_KEY},"
                f"signature={sign(PARTNER_SECRET, 'POST', path, stamp, body)}",
            },
        )


class Administrator(FastHttpUser):
    """Looks at the programme dashboard."""

    weight = 1
    wait_time = think(2, 5)

    def on_start(self) -> None:
        # One account per simulated administrator: a TOTP code is accepted once per account.
        self.ready = False
        if ADMINS and ADMIN_TOTP:
            import pyotp

            # Each load-generator process takes its own accounts (a code replayed on one
            # account by another process would be refused).
            process = getattr(self.environment.runner, "worker_index", 0)
            phone = ADMINS[(process * 4 + next(_next_admin)) % len(ADMINS)]
            self.ready = _page_login(self, phone, "/admin/login", "admin")
            page = self.client.get("/admin/2fa", name="admin:2fa-page")
            match = CSRF.search(page.text or "")
            if self.ready and match:
                self.client.post(
                    "/admin/2fa",
                    name="admin:2fa",
                    data={"csrf_token": match.group(1), "code": pyotp.TOTP(ADMIN_TOTP).now()},
                )

    @tag("admin")
    @task
    def dashboard(self) -> None:
        if self.ready:
            self.client.get("/admin/", name="admin:dashboard")


class Hello(FastHttpUser):
    """Ceiling: the hello-world route of loadtests/ceiling_app.py."""

    wait_time = think(0.5, 2)

    @tag("hello")
    @task
    def hello(self) -> None:
        self.client.get("/hello", name="ceiling:hello")


class Insert(FastHttpUser):
    """Ceiling: one INSERT + COMMIT per request."""

    wait_time = think(0.5, 2)

    @tag("insert")
    @task
    def insert(self) -> None:
        self.client.get("/insert", name="ceiling:insert")


# The personas of this run. Locust's worker processes (--processes) do not receive the class
# names given on the command line and would run every persona, the ceilings' among them:
# ``BENCH_CLASSES`` (set by loadtests/bench.py) makes every other class abstract in each process.
_ONLY = {name for name in os.environ.get("BENCH_CLASSES", "").split(",") if name}
for _persona in (Resident, MerchantStaff, Partner, Administrator, Hello, Insert):
    if _ONLY and _persona.__name__ not in _ONLY:
        _persona.abstract = True
