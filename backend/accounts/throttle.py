"""Sign-in throttling that a stranger cannot turn against an account's owner.

Failed password attempts are counted under three keys (keyed hashes: neither the number nor
the address is stored):

* **account from one address**: after ``LOGIN_FREE_FAILURES`` failures, each further one
  makes that address wait before it may try that account again, twice as long each time
  (``LOGIN_DELAY_SECONDS``, doubling, at most ``LOGIN_MAX_DELAY_SECONDS``);
* **address**, whatever the account: the same, after ``LOGIN_ADDRESS_FREE_FAILURES``
  failures (one address spraying many numbers);
* **account from anywhere**: never blocks (that would hand anyone a lock on anyone), but
  ``LOGIN_ALERT_FAILURES`` failures in a row raise an alert for administrators, as do as
  many from one address.

A throttled attempt gets exactly the answer of a wrong password (and its password is
still hashed, so it takes as long). Counts are forgotten after ``LOGIN_FAILURE_WINDOW_MINUTES``
without a failure; a successful sign-in clears its account-and-address count.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import current_app, has_request_context, request
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError

from ..audit.models import AuditEntry
from ..audit.services import record_audit
from ..crypto import keyed_hash
from ..extensions import db
from ..timeutil import aware, utcnow
from .models import LoginThrottle, mask_phone

ALERT_ACTION = "security.login_burst"


def caller_address() -> str:
    return (request.remote_addr or "") if has_request_context() else "cli"


def _keys(account: str, address: str) -> dict[str, str]:
    return {
        "pair": keyed_hash(f"{account}|{address}", purpose="login:pair"),
        "address": keyed_hash(address, purpose="login:address"),
        "account": keyed_hash(account, purpose="login:account"),
    }


def is_throttled(account: str, address: str | None = None, now: datetime | None = None) -> bool:
    """Whether this address must wait before trying this account again."""
    now = now or utcnow()
    keys = _keys(account, address if address is not None else caller_address())
    blocked = db.session.scalars(
        select(LoginThrottle.blocked_until).where(
            LoginThrottle.key_hash.in_([keys["pair"], keys["address"]])
        )
    ).all()
    return any(until is not None and aware(until) > now for until in blocked)


def _row(key: str, now: datetime) -> LoginThrottle:
    row = db.session.get(LoginThrottle, key, with_for_update=True)
    if row is not None:
        return row
    try:
        with db.session.begin_nested():
            row = LoginThrottle(key_hash=key, failures=0, last_failure_at=now)
            db.session.add(row)
        return row
    except IntegrityError:  # a parallel failure made it first
        found = db.session.get(LoginThrottle, key, with_for_update=True, populate_existing=True)
        assert found is not None
        return found


def _count(row: LoginThrottle, now: datetime) -> int:
    window = timedelta(minutes=current_app.config["LOGIN_FAILURE_WINDOW_MINUTES"])
    if row.failures and aware(row.last_failure_at) + window <= now:
        row.failures = 0  # a quiet spell: start counting again
        row.blocked_until = None
    row.failures += 1
    row.last_failure_at = now
    return row.failures


def _delay(failures: int, free: int) -> timedelta | None:
    if failures <= free:
        return None
    config = current_app.config
    seconds = config["LOGIN_DELAY_SECONDS"] * 2 ** min(failures - free - 1, 30)
    return timedelta(seconds=min(seconds, config["LOGIN_MAX_DELAY_SECONDS"]))


def record_failure(
    account: str,
    address: str | None = None,
    *,
    user_id: int | None = None,
    now: datetime | None = None,
) -> None:
    """Count a failed attempt under its three keys and commit; alerts on a burst."""
    now = now or utcnow()
    config = current_app.config
    keys = _keys(account, address if address is not None else caller_address())
    alert_at = config["LOGIN_ALERT_FAILURES"]
    for scope, free in (
        ("pair", config["LOGIN_FREE_FAILURES"]),
        ("address", config["LOGIN_ADDRESS_FREE_FAILURES"]),
        ("account", None),
    ):
        row = _row(keys[scope], now)
        failures = _count(row, now)
        if free is not None:
            delay = _delay(failures, free)
            if delay is not None:
                row.blocked_until = now + delay
        if scope != "pair" and failures == alert_at:
            record_audit(
                None,
                ALERT_ACTION,
                "user" if scope == "account" and user_id else "login",
                user_id if scope == "account" else None,
                scope=scope,
                failures=failures,
                account=mask_phone(account) if scope == "account" else None,
            )
    db.session.commit()


def record_success(account: str, address: str | None = None) -> None:
    """A successful sign-in clears the count of its account from its address (not
    committed: the sign-in commits)."""
    keys = _keys(account, address if address is not None else caller_address())
    db.session.execute(delete(LoginThrottle).where(LoginThrottle.key_hash == keys["pair"]))


def purge_throttles(now: datetime | None = None) -> int:
    """Forget counts idle for longer than the window (a periodic job)."""
    now = now or utcnow()
    window = timedelta(minutes=current_app.config["LOGIN_FAILURE_WINDOW_MINUTES"])
    result = db.session.execute(
        delete(LoginThrottle).where(LoginThrottle.last_failure_at < now - window)
    )
    db.session.commit()
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def recent_alerts(hours: int = 24, now: datetime | None = None) -> int:
    """How many sign-in bursts were recorded in the last ``hours`` (the admin banner)."""
    now = now or utcnow()
    return int(
        db.session.scalar(
            select(func.count(AuditEntry.id)).where(
                AuditEntry.action == ALERT_ACTION, AuditEntry.at >= now - timedelta(hours=hours)
            )
        )
        or 0
    )
