"""One persona per user type, with a realistic mix (``make bench`` runs it headless).

Data comes from ``flask demo generate`` (residents 170xxxxxxxx, staff 160xxxxxxxx, password
bench-carbon-2026); the partner's key comes from the environment (BENCH_PARTNER_KEY_ID/SECRET).
Request names are "<persona>:<endpoint>" so the report can group them.

Every persona respects the platform's rate limits (``loadtests.pacing.LIMITS``): a limited
request takes its credential (a resident's or a counter's token, the partner's key, a client
address) from a ``Pool`` that never uses one more often than its limit allows, so the
platform never has to answer 429 and the bench simulates more people instead. When a pool
runs dry the user waits for the next free credential; the waits are written out
(``BENCH_OUT``) and the report shows them, since a run that waited measured the simulated
population, not the platform.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import re
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import gevent
from gevent.queue import Empty, Queue
from locust import FastHttpUser, between, constant, events, tag, task
from locust.env import Environment
from locust.runners import WorkerRunner

from backend.demo.generate import STAFF_BASE, STATION_STAFF_BASE
from backend.partners.services import sign
from loadtests.pacing import WAITED, WAITS, Pool, share

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
# Residents' reads behave like a browser (or an app using its HTTP cache): the ETag of each
# URL is kept per simulated resident and sent back as If-None-Match on the next load, as the
# platform's "private, no-cache" / "no-cache" answers ask; BENCH_ETAGS=0 sends none (every
# read a full 200, as the rounds before 2026-12-04 measured).
ETAGS = os.environ.get("BENCH_ETAGS", "1") != "0"
# Where this run writes what the CSV does not hold: per-name response-time histograms (for
# the percentiles of endpoint classes) and each process's pool waits (loadtests/bench.py).
OUT = os.environ.get("BENCH_OUT", "")
PROCESSES = max(1, int(os.environ.get("BENCH_PROCESSES", "1")))
# Where to write every request of this process (start time, milliseconds, name, status), to
# line the slow requests up in time against each other (unset: nothing is recorded).
TIMELINE = os.environ.get("BENCH_TIMELINE", "")

# Simulated client addresses for sign-ins (the bench runs the platform behind one trusted
# proxy, TRUSTED_PROXIES=1, as a deployment behind a load balancer does): one phone each.
ADDRESSES = [f"10.{a}.{b}.{c}" for a in range(4) for b in range(256) for c in range(1, 255)]


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
# Per process: answers that were valid but moved no points (a redemption refused for want
# of points, a counter claim not credited); the pools' waits are counted in loadtests.pacing.
ANSWERS: Counter[str] = Counter()


POOLS: dict[str, Pool] = {}


def pools(environment: Environment) -> dict[str, Pool]:
    """This process's pools, made on first use (the worker index is known by then)."""
    if not POOLS:
        process = max(0, getattr(environment.runner, "worker_index", 0)) % PROCESSES
        residents = share(TOKENS.get("residents", []), process, PROCESSES)
        POOLS.update(
            {
                "claim-code": Pool("claim-code", residents, gevent.sleep),
                "redeem": Pool("redeem", residents, gevent.sleep),
                "claim": Pool(
                    "claim", share(TOKENS.get("station", []), process, PROCESSES), gevent.sleep
                ),
                "fulfil": Pool(
                    "fulfil", share(TOKENS.get("merchant", []), process, PROCESSES), gevent.sleep
                ),
                "push": Pool("push", [(PARTNER_KEY, PARTNER_SECRET)], gevent.sleep),
                "login": Pool("login", share(ADDRESSES, process, PROCESSES), gevent.sleep),
            }
        )
    return POOLS


def _bearer(kind: str) -> dict[str, str]:
    pool = TOKENS[kind]
    return {"Authorization": f"Bearer {pool[next(_turn) % len(pool)]}"} if pool else {}


def _limited(user: FastHttpUser, kind: str) -> dict[str, str]:
    """The Authorization header of the next credential of a rate-limited kind with room."""
    token = pools(user.environment)[kind].take()
    return {"Authorization": f"Bearer {token}"} if token else {}


def _address(user: FastHttpUser) -> dict[str, str]:
    """A simulated client address for a sign-in (limited per address)."""
    return {"X-Forwarded-For": str(pools(user.environment)["login"].take())}


def _resident_phone() -> str:
    return str(17_000_000_000 + random.randrange(RESIDENTS))


def _token(user: FastHttpUser, phone: str, name: str, **extra: str) -> dict[str, str]:
    with user.client.post(
        "/api/v1/auth/token",
        json={"phone": phone, "password": PASSWORD, **extra},
        name=f"{name}:token",
        headers=_address(user),
        catch_response=True,
    ) as response:
        if response.status_code != 201:
            response.failure(f"token {response.status_code}")
            return {}
        return {"Authorization": f"Bearer {response.json()['token']}"}


def _page_login(
    user: FastHttpUser, phone: str, path: str, name: str, address: dict[str, str] | None = None
) -> bool:
    page = user.client.get(path, name=f"{name}:login-page")
    match = CSRF.search(page.text or "")
    if not match:
        return False
    form = {"csrf_token": match.group(1), "phone": phone, "password": PASSWORD}
    response = user.client.post(
        path,
        data=form,
        name=f"{name}:login",
        headers=address or _address(user),
        allow_redirects=False,
    )
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
            self, str(STATION_STAFF_BASE + random.randrange(STAFF)), "station"
        )
        # The HTML home needs a page session: one issued ahead per resident, as the home is
        # measured, not argon2; sign-ins are a task of their own in the realistic mix.
        self.cookie = _session_cookie()
        if self.cookie is None:
            _page_login(self, self.phone, "/login", "resident")
        self.etags: dict[str, str] = {}  # this resident's browser cache: URL -> ETag

    def _read(self, path: str, name: str, headers: dict[str, str]) -> None:
        """A read as the resident's browser makes it: If-None-Match with the ETag it holds
        for the URL; 200 (a new copy, its ETag kept) and 304 (the copy still current) are
        both answers. Anything else (a redirect to /login included) is a failure."""
        held = self.etags.get(path) if ETAGS else None
        if held:
            headers = {**headers, "If-None-Match": held}
        with self.client.get(
            path, name=name, headers=headers, allow_redirects=False, catch_response=True
        ) as response:
            if response.status_code == 200:
                etag = response.headers.get("ETag")
                if etag:
                    self.etags[path] = etag
            elif response.status_code != 304:
                response.failure(f"{name} {response.status_code}")

    @tag("read")
    @task(4)
    def home(self) -> None:
        self._read("/home", "resident:home", {"Cookie": self.cookie} if self.cookie else {})

    @tag("read")
    @task(3)
    def offers(self) -> None:
        self._read("/api/v1/offers", "resident:offers", {})

    @tag("read")
    @task(2)
    def history(self) -> None:
        self._read("/api/v1/me/points?limit=20", "resident:history", self.headers)

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
        # need more): each claim is the next resident's with room under that limit.
        headers = _limited(self, "claim-code") or self.headers
        code = self.client.post(
            "/api/v1/me/claim-codes", headers=headers, name="resident:claim-code"
        )
        if code.status_code != 201:
            return
        # Each counter account is limited too (120 claims a minute): the next one with room.
        station = _limited(self, "claim") or self.station
        with self.client.post(
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
            catch_response=True,
        ) as response:
            if response.status_code == 201:
                # a claim the rules did not credit (a duplicate, over the day's limit, sent
                # to review) is a valid answer that moves no points: counted apart
                action = response.json()
                if action.get("outcome") != "credited" or not action.get("reduction_g"):
                    ANSWERS[f"station:claim {action.get('outcome')}"] += 1

    @tag("write")
    @task(1)
    def redeem(self) -> None:
        # Limited per resident (30 a minute): the next resident with room redeems.
        headers = {
            **(_limited(self, "redeem") or self.headers),
            "Idempotency-Key": uuid.uuid4().hex,
        }
        with self.client.post(
            f"/api/v1/offers/{random.choice(OFFERS)}/redeem",
            headers=headers,
            name="resident:redeem",
            catch_response=True,
        ) as response:
            if response.status_code == 201:
                OPEN_CODES.put(response.json()["short_code"])
            elif response.status_code == 409:  # not enough points is a valid answer
                response.success()  # that moves no points: counted apart for the report
                ANSWERS["resident:redeem 409"] += 1


class MerchantStaff(FastHttpUser):
    """Fulfils redemptions by typed short code; looks at today's list."""

    weight = 2
    wait_time = think(0.5, 2)

    def on_start(self) -> None:
        self.headers = _bearer("merchant") or _token(
            self, str(STAFF_BASE + random.randrange(STAFF)), "merchant"
        )

    @tag("write")
    @task(3)
    def fulfil(self) -> None:
        try:
            code = OPEN_CODES.get(timeout=1)
        except Empty:
            return
        # Each staff account is limited (60 fulfilments a minute): the next one with room.
        headers = {
            **(_limited(self, "fulfil") or self.headers),
            "Idempotency-Key": uuid.uuid4().hex,
        }
        self.client.post(
            "/api/v1/merchant/fulfil", json={"code": code}, headers=headers, name="merchant:fulfil"
        )

    @tag("read")
    @task(1)
    def today(self) -> None:
        self.client.get("/api/v1/merchant/redemptions", headers=self.headers, name="merchant:today")


class Partner(FastHttpUser):
    """Signed batch pushes of a transit operator (100 records each): one operator's
    integration, however many residents are simulated (limited per partner key)."""

    fixed_count = 1
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
        key, secret = pools(self.environment)["push"].take()
        stamp = str(int(time.time()))
        self.client.post(
            path,
            data=body,
            name="partner:push",
            headers={
                "Content-Type": "application/json",
                "X-Timestamp": stamp,
                "Authorization": f"HMAC-SHA256 key_id={key},"
                f"signature={sign(secret, 'POST', path, stamp, body)}",
            },
        )


class Administrator(FastHttpUser):
    """Looks at the programme dashboard: two administrators on duty, however many residents
    are simulated."""

    fixed_count = 2
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
            address = _address(self)  # both steps from the same phone (limited per address)
            self.ready = _page_login(self, phone, "/admin/login", "admin", address)
            page = self.client.get("/admin/2fa", name="admin:2fa-page")
            match = CSRF.search(page.text or "")
            if self.ready and match:
                self.client.post(
                    "/admin/2fa",
                    name="admin:2fa",
                    headers=address,
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


_REQUESTS: list[tuple[float, float, str, int]] = []
_SPAWNED: list[float] = []

if TIMELINE:

    @events.request.add_listener
    def _record(
        name: str, response_time: float, response: Any = None, start_time: float = 0.0, **_: Any
    ) -> None:
        status = getattr(response, "status_code", 0) or 0
        _REQUESTS.append((start_time, response_time, name, status))

    @events.spawning_complete.add_listener
    def _spawned(**_: Any) -> None:
        _SPAWNED.append(time.time())

    @events.quitting.add_listener
    def _write_timeline(**_: Any) -> None:
        path = Path(f"{TIMELINE}-{os.getpid()}.json")
        path.write_text(json.dumps({"spawned": _SPAWNED, "requests": _REQUESTS}))


@events.quitting.add_listener
def _write_out(environment: Environment, **_kwargs: Any) -> None:
    """Each process writes its pool waits; the process holding the statistics (the master,
    or the only one) writes every name's response-time histogram, for class percentiles."""
    if not OUT:
        return
    out = Path(OUT)
    out.mkdir(parents=True, exist_ok=True)
    waits = {"waits": dict(WAITS), "waited_s": dict(WAITED), "answers": dict(ANSWERS)}
    (out / f"pools-{os.getpid()}.json").write_text(json.dumps(waits))
    if isinstance(environment.runner, WorkerRunner):
        return
    histograms = {
        name: {str(ms): count for ms, count in entry.response_times.items()}
        for (name, _method), entry in environment.stats.entries.items()
    }
    (out / "histograms.json").write_text(json.dumps(histograms))
