"""Bearer tokens for the load test's simulated users, issued ahead through the service layer
(signing in once per user would measure argon2, not the endpoints).

``python -m loadtests.tokens OUT.json --residents N`` (bench environment) writes
{"residents": [...], "merchant": [...], "station": [...]}.
"""

from __future__ import annotations

import argparse
import json

from sqlalchemy import select

from backend.accounts.models import User
from backend.accounts.services import issue_token
from backend.app import create_app
from backend.demo.generate import STAFF_BASE, STATION_STAFF_BASE, resident_phone
from backend.extensions import db


def tokens_for(phones: list[str]) -> list[str]:
    users = db.session.scalars(select(User).where(User.phone.in_(phones))).all()
    return [issue_token(user)[0] for user in users]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("--residents", type=int, default=200)
    parser.add_argument("--staff", type=int, default=4)
    args = parser.parse_args()
    with create_app().app_context():
        data = {
            "residents": tokens_for([resident_phone(i) for i in range(args.residents)]),
            "merchant": tokens_for([str(STAFF_BASE + i) for i in range(args.staff)]),
            "station": tokens_for([str(STATION_STAFF_BASE + i) for i in range(args.staff)]),
        }
    with open(args.out, "w", encoding="utf-8") as handle:
        json.dump(data, handle)


if __name__ == "__main__":
    main()
