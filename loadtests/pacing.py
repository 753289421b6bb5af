"""The platform's rate limits as the bench's personas meet them, and the pools that keep
each simulated credential within its limit (loadtests/locustfile.py uses them; kept apart
from locust, whose import patches the standard library with gevent, so tests can read them).
"""

from __future__ import annotations

import time
from collections import Counter, deque
from collections.abc import Callable
from typing import Any

# Per minute and per key (the account behind a token, the partner's key, or the client's
# address for sign-ins): backend/actions/routes.py, backend/rewards/routes.py,
# mobile_web/views.py, admin/views.py and backend/config.py's defaults.
# tests/loadtests/test_pacing.py proves they are the application's.
LIMITS = {
    "claim-code": 30,  # POST /api/v1/me/claim-codes, per resident
    "redeem": 30,  # POST /api/v1/offers/<id>/redeem, per resident (RATELIMIT_REDEEM)
    "claim": 120,  # POST /api/v1/claims, per counter account
    "fulfil": 60,  # POST /api/v1/merchant/fulfil, per counter account
    "push": 120,  # POST /api/v1/partner/batches, per partner key
    "login": 10,  # POST /login, /admin/login, /admin/2fa, /api/v1/auth/token, per address
}
# A credential is used for at most this share of its limit in any 60 s: the platform counts
# on arrival in fixed windows, and the margin covers the time between sending and arriving.
HEADROOM = 0.8
WINDOW = 60.0
# Per process: requests that waited for a free credential, and the seconds waited, by pool.
WAITS: Counter[str] = Counter()
WAITED: dict[str, float] = {}


class Pool:
    """Credentials of one rate-limited kind, each used at most ``HEADROOM`` of its limit in
    any ``WINDOW``; the least recently used comes next. When every one is at its share the
    caller sleeps (``sleep``: gevent's in locust) until the first frees up, and the wait is
    counted: a run that waited measured the simulated population, not the platform."""

    def __init__(self, kind: str, items: list[Any], sleep: Callable[[float], Any] = time.sleep):
        self.kind, self.items, self.sleep = kind, items, sleep
        self.cap = max(1, int(LIMITS[kind] * HEADROOM))
        self.used: list[deque[float]] = [deque() for _ in items]
        self.turn = 0

    def take(self) -> Any:
        if not self.items:
            return None
        while True:
            now = time.monotonic()
            for _ in range(len(self.items)):
                index, self.turn = self.turn, (self.turn + 1) % len(self.items)
                used = self.used[index]
                while used and now - used[0] >= WINDOW:
                    used.popleft()
                if len(used) < self.cap:
                    used.append(now)
                    return self.items[index]
            wait = min(WINDOW - (now - used[0]) for used in self.used) + 0.01
            WAITS[self.kind] += 1
            WAITED[self.kind] = WAITED.get(self.kind, 0.0) + wait
            self.sleep(wait)


def share(items: list[Any], process: int, processes: int) -> list[Any]:
    """This load-generator process's own slice: no two processes share a credential."""
    return items[process::processes] or items[:1]
