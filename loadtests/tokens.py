"""Bearer tokens and page sessions for the load test's simulated users, issued ahead through
the service layer (signing in once per user would measure argon2, not the endpoints).

``python -m loadtests.tokens OUT.json --residents N`` (bench environment) writes
{"residents": [...], "merchant": [...], "station": [...], "sessions": [...]}: "sessions" are
the signed session cookies of the same residents, as a sign-in on /login would set them.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator

from flask import Flask
from sqlalchemy import select

from backend.accounts.models import User
from backend.accounts.services import issue_token
from backend.accounts.sessions import start_session
from backend.app import create_app
from backend.auth import SESSION_KEY
from backend.demo.generate import STAFF_BASE, STATION_STAFF_BASE, resident_phone
from backend.extensions import db

# Rows per transaction: one commit per token or session made ~10,000 commits (each a WAL
# flush) about 7 minutes of the bench's preparation.
BATCH = 500


def _batches(phones: list[str]) -> Iterator[list[User]]:
    """The users of ``phones`` a few hundred at a time, each batch read after the previous
    one's commit (a commit expires what was loaded) and committed once the caller has added
    its rows."""
    for start in range(0, len(phones), BATCH):
        wanted = phones[start : start + BATCH]
        yield list(db.session.scalars(select(User).where(User.phone.in_(wanted))))
        db.session.commit()


def tokens_for(phones: list[str]) -> list[str]:
    return [issue_token(user, commit=False)[0] for batch in _batches(phones) for user in batch]


def sessions_for(app: Flask, phones: list[str]) -> list[str]:
    """Cookie values of signed-in page sessions, one per resident, as ``auth.sign_in`` sets
    them: Flask's signed cookie with Flask-Login's ``<id>:<session_version>`` and the key of
    a live server-side session (``sid``); without that key the page would be a redirect."""
    serializer = app.session_interface.get_signing_serializer(app)  # type: ignore[attr-defined]
    return [
        str(
            serializer.dumps(
                {
                    "_user_id": f"{user.id}:{user.session_version}",
                    "_fresh": False,
                    SESSION_KEY: start_session(user, commit=False),
                }
            )
        )
        for batch in _batches(phones)
        for user in batch
    ]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("--residents", type=int, default=200)
    parser.add_argument("--staff", type=int, default=4)
    args = parser.parse_args()
    app = create_app()
    with app.app_context():
        residents = [resident_phone(i) for i in range(args.residents)]
        data = {
            "residents": tokens_for(residents),
            "sessions": sessions_for(app, residents),
            "merchant": tokens_for([str(STAFF_BASE + i) for i in range(args.staff)]),
            "station": tokens_for([str(STATION_STAFF_BASE + i) for i in range(args.staff)]),
        }
    with open(args.out, "w", encoding="utf-8") as handle:
        json.dump(data, handle)


if __name__ == "__main__":
    main()
