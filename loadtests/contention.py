"""Ledger contention: concurrent redemptions through the service layer on PostgreSQL.

``python -m loadtests.contention --offer ID --concurrency 50 --redemptions 1000`` (with the
bench environment) prints JSON: on one account (balance for half the attempts) and on as many
accounts as attempts (balance for one each): attempts, successes, seconds, redemptions/s,
and whether the ledger reconciles afterwards.
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from backend.accounts.models import User
from backend.accounts.services import register_resident
from backend.app import create_app
from backend.errors import DomainError
from backend.extensions import db
from backend.ledger.reconcile import reconcile
from backend.ledger.services import credit_points
from backend.rewards.models import Offer
from backend.rewards.services import redeem_offer


def _fund(app: Any, offer_id: int, user_ids: list[int], each: int) -> None:
    with app.app_context():
        price = db.session.get(Offer, offer_id).points_price
        for user_id in set(user_ids):
            credit_points(user_id, price * each, f"bench-contention:{user_id}:{time.time()}")
        db.session.commit()


def _race(app: Any, offer_id: int, user_ids: list[int], concurrency: int) -> dict[str, Any]:
    successes = 0
    lock = threading.Lock()

    def work(user_id: int) -> None:
        nonlocal successes
        with app.app_context():
            try:
                redeem_offer(db.session.get(User, user_id), offer_id)
                with lock:
                    successes += 1
            except DomainError:
                db.session.rollback()
            finally:
                db.session.remove()

    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(work, user_ids))
    seconds = time.perf_counter() - started
    return {
        "attempts": len(user_ids),
        "successes": successes,
        "seconds": round(seconds, 2),
        "redemptions_per_s": round(successes / seconds, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--offer", type=int, required=True)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--redemptions", type=int, default=1000)
    args = parser.parse_args()
    # one account holds points for half the attempts: exactly that many must succeed
    app = create_app()
    with app.app_context():
        phone = f"179{int(time.time()) % 10**8:08d}"  # a fresh resident: no earlier points
        first = register_resident(phone, "bench-carbon-2026x", "柯城区").id
        many = list(
            db.session.scalars(
                db.select(User.id)
                .where(User.phone.like("170%"))
                .order_by(User.id)
                .limit(args.redemptions)
            )
        )
    _fund(app, args.offer, [first], args.redemptions // 2)
    one = _race(app, args.offer, [first] * args.redemptions, args.concurrency)
    _fund(app, args.offer, many, 1)
    spread = _race(app, args.offer, many, args.concurrency)
    with app.app_context():
        clean = reconcile().clean
    print(
        json.dumps(
            {
                "one_account": one,
                "many_accounts": spread,
                "reconcile_clean": clean,
                "concurrency": args.concurrency,
            }
        )
    )


if __name__ == "__main__":
    main()
