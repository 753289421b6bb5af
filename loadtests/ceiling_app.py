"""The machine's ceilings, served by the same gunicorn settings as the platform:
``/hello`` (no work) and ``/insert`` (one ORM-free INSERT + COMMIT on PostgreSQL).

``gunicorn -c gunicorn.conf.py loadtests.ceiling_app:app`` with DATABASE_URL set.
"""

from __future__ import annotations

import os

from flask import Flask
from sqlalchemy import create_engine, text
from sqlalchemy.exc import IntegrityError

from backend.config import database_url

app = Flask(__name__)
engine = create_engine(
    database_url(os.environ.get("DATABASE_URL"), "sqlite://"), pool_size=10, pool_pre_ping=True
)

try:
    with engine.begin() as conn:
        conn.execute(
            text(
                "CREATE TABLE IF NOT EXISTS bench_hits "
                "(id BIGSERIAL PRIMARY KEY, name TEXT NOT NULL)"
            )
        )
except IntegrityError:
    pass  # two workers booting at once on a fresh database: the other one created it


@app.get("/hello")
def hello() -> str:
    return "Hello, World!"


@app.get("/insert")
def insert() -> str:
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO bench_hits (name) VALUES ('x')"))
    return "ok"
