"""Configuration read from the environment (12-factor).

``APP_ENV`` picks the class: ``production`` (the default, and what gunicorn and the RQ
workers run), ``development`` (``make run``) or ``test``. Production refuses to start
without ``SECRET_KEY``; only the debug configuration has a built-in one.
"""

from __future__ import annotations

import os
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
INSTANCE = ROOT / "instance"

DISTRICTS = ("柯城区", "衢江区", "龙游县", "江山市", "常山县", "开化县")


def database_url(raw: str | None, default: str) -> str:
    """Normalise a DATABASE_URL to the SQLAlchemy dialect we ship (psycopg 3)."""
    url = raw or default
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _number(name: str, default: int) -> int:
    """An integer from the environment; a value that is not one is kept as text, so that
    ``Config.check`` stops the app with a clear message rather than a traceback at import."""
    raw = os.environ.get(name)
    if raw is None:
        return default
    try:
        return int(raw.strip())
    except ValueError:
        return raw  # type: ignore[return-value]  # refused by Config.check


# Settings that decide credits or take points away, with the range that makes sense:
# anything else stops the app at start (``Config.check``) instead of minting or expiring.
CREDIT_SETTINGS: dict[str, tuple[int, int, str]] = {
    "ACTION_CLOCK_SKEW_SECONDS": (0, 3600, "seconds an action may be dated after its arrival"),
    "CLAIM_WINDOW_RESIDENT_DAYS": (1, 90, "days residents have to report or appeal an action"),
    "CLAIM_WINDOW_PARTNER_DAYS": (1, 366, "days partner data may be late"),
    "POINTS_EXPIRY_MONTHS": (1, 600, "months before unspent points expire"),
    "BURST_LIMIT": (1, 10_000, "actions per local day before the rest go to review"),
    "VERIFIER_OUTLIER_FACTOR": (1, 1000, "times the peers' median that flags a verifier"),
    "VERIFIER_MIN": (1, 1_000_000, "credits a day before a verifier can be an outlier"),
    "REDEMPTION_HOLD_HOURS": (1, 24 * 366, "hours points are held for a redemption"),
}


def _bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return raw.strip().lower() in {"1", "true", "yes", "on"}


class Config:
    APP_ENV = "production"
    DEBUG = False
    TESTING = False
    SECRET_KEY = os.environ.get("SECRET_KEY")
    # Keyed hashes of external identities (card numbers, accounts) and encryption of partner
    # secrets use their own keys so the session key can rotate without losing bindings.
    IDENTITY_KEY = os.environ.get("IDENTITY_KEY")
    SQLALCHEMY_DATABASE_URI = database_url(
        os.environ.get("DATABASE_URL"), f"sqlite:///{INSTANCE / 'carbon.db'}"
    )
    # hide_parameters: a database error's message (logged) never carries the values bound to
    # the statement, which can be phone numbers or identity hashes (PIPL).
    SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True, "hide_parameters": True}
    REDIS_URL = os.environ.get("REDIS_URL") or None
    # Run jobs in the calling process even when Redis is configured (tests, one-off scripts).
    JOBS_INLINE = _bool("JOBS_INLINE", False)
    RATELIMIT_STORAGE_URI = os.environ.get("RATELIMIT_STORAGE_URI") or REDIS_URL or "memory://"
    RATELIMIT_HEADERS_ENABLED = True
    RATELIMIT_ENABLED = True
    # Redis down: count in memory meanwhile, and never turn a limiter error into a 500.
    RATELIMIT_IN_MEMORY_FALLBACK_ENABLED = True
    RATELIMIT_SWALLOW_ERRORS = True
    RATELIMIT_STORAGE_OPTIONS = {"socket_connect_timeout": 1, "socket_timeout": 1}
    RATELIMIT_LOGIN = os.environ.get("RATELIMIT_LOGIN", "10 per minute")
    RATELIMIT_REGISTER = os.environ.get("RATELIMIT_REGISTER", "5 per minute")
    # Per signed-in user on the pages, the numbers of their API twins (per token there): a
    # claim QR (``/my-qr``), a counter confirmation (fulfil's number, the stricter of the two
    # things it can do), a self-report, a household card.
    RATELIMIT_CLAIM_CODE = os.environ.get("RATELIMIT_CLAIM_CODE", "30 per minute")
    RATELIMIT_COUNTER = os.environ.get("RATELIMIT_COUNTER", "60 per minute")
    RATELIMIT_SELF_REPORT = os.environ.get("RATELIMIT_SELF_REPORT", "20 per hour")
    RATELIMIT_CARD = os.environ.get("RATELIMIT_CARD", "5 per hour")
    # Redemption QR codes, on the pages and the API alike: a new redemption (points held) and
    # a redemption opened again (a fresh signed QR token each time).
    RATELIMIT_REDEEM = os.environ.get("RATELIMIT_REDEEM", "30 per minute")
    RATELIMIT_REDEMPTION_QR = os.environ.get("RATELIMIT_REDEMPTION_QR", "60 per minute")

    BABEL_DEFAULT_LOCALE = "zh_CN"
    BABEL_DEFAULT_TIMEZONE = "Asia/Shanghai"
    LANGUAGES = ("zh_CN", "en")

    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = _bool("SESSION_COOKIE_SECURE", True)
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SECURE = SESSION_COOKIE_SECURE
    WTF_CSRF_TIME_LIMIT = 3600 * 8
    MAX_CONTENT_LENGTH = 16 * 1024 * 1024

    # Reverse proxies in front of gunicorn whose X-Forwarded-* headers are trusted.
    TRUSTED_PROXIES = int(os.environ.get("TRUSTED_PROXIES", "0"))

    LOGIN_MAX_FAILURES = int(os.environ.get("LOGIN_MAX_FAILURES", "5"))
    LOGIN_LOCK_MINUTES = int(os.environ.get("LOGIN_LOCK_MINUTES", "15"))
    API_TOKEN_HOURS = int(os.environ.get("API_TOKEN_HOURS", "12"))

    # Leaderboard and admin dashboard figures are recomputed at most this often per process.
    READ_CACHE_SECONDS = int(os.environ.get("READ_CACHE_SECONDS", "300"))
    # The offers list is the same for every resident: each process serves one copy per
    # language for this long (stock shown may lag a few seconds; redeeming checks it).
    OFFERS_CACHE_SECONDS = int(os.environ.get("OFFERS_CACHE_SECONDS", "5"))
    POINTS_EXPIRY_MONTHS = _number("POINTS_EXPIRY_MONTHS", 24)
    REDEMPTION_HOLD_HOURS = _number("REDEMPTION_HOLD_HOURS", 72)
    # An event's neutrality must be completed this many months after it ends (ISO 14068-1;
    # Beijing 2025, Guangdong 2026: one year).
    NEUTRALITY_DEADLINE_MONTHS = _number("NEUTRALITY_DEADLINE_MONTHS", 12)
    REDEEM_QR_SECONDS = int(os.environ.get("REDEEM_QR_SECONDS", "300"))
    CLAIM_QR_SECONDS = int(os.environ.get("CLAIM_QR_SECONDS", "60"))
    BATCH_MAX_RECORDS = int(os.environ.get("BATCH_MAX_RECORDS", "10000"))
    INGEST_CHUNK = int(os.environ.get("INGEST_CHUNK", "5000"))
    # Anomaly flags: more actions than this on one local day sends the rest to review ...
    BURST_LIMIT = _number("BURST_LIMIT", 15)
    # ... and a verifier crediting this many times the median of peers (and at least
    # VERIFIER_MIN credits today) has further credits reviewed.
    VERIFIER_OUTLIER_FACTOR = _number("VERIFIER_OUTLIER_FACTOR", 3)
    VERIFIER_MIN = _number("VERIFIER_MIN", 20)
    CARD_CAP_FACTOR = os.environ.get("CARD_CAP_FACTOR", "0.5")  # household cards: tighter caps
    # The time rules (backend/actions/timerules.py): an action dated more than the skew after
    # it arrived, older than its claim window (residents' own reports and appeals; partners'
    # data), or from longer than that window before the resident linked its source, earns
    # nothing.
    ACTION_CLOCK_SKEW_SECONDS = _number("ACTION_CLOCK_SKEW_SECONDS", 300)
    CLAIM_WINDOW_RESIDENT_DAYS = _number("CLAIM_WINDOW_RESIDENT_DAYS", 7)
    CLAIM_WINDOW_PARTNER_DAYS = _number("CLAIM_WINDOW_PARTNER_DAYS", 30)
    RAW_RECORD_RETENTION_DAYS = int(os.environ.get("RAW_RECORD_RETENTION_DAYS", "730"))
    UPLOAD_DIR = os.environ.get("UPLOAD_DIR") or str(INSTANCE / "uploads")
    MAX_IMAGE_BYTES = int(os.environ.get("MAX_IMAGE_BYTES", str(5 * 1024 * 1024)))
    # Checked from the header before decoding: a 5 MB PNG can declare ~178 M pixels, which
    # decoding would allocate (GBs). 40 M pixels is far more than a phone photo (12 M).
    MAX_IMAGE_PIXELS = int(os.environ.get("MAX_IMAGE_PIXELS", str(40_000_000)))

    API_TITLE = "衢州碳普惠 API"
    API_VERSION = "v1"
    OPENAPI_VERSION = "3.0.3"
    OPENAPI_URL_PREFIX = "/api/v1"
    OPENAPI_JSON_PATH = "openapi.json"

    @classmethod
    def check(cls, config: dict[str, object]) -> None:
        """Refuse to start with an unsafe configuration."""
        if not config.get("SECRET_KEY"):
            raise RuntimeError(
                "SECRET_KEY is not set. Set it in the environment "
                "(for example: export SECRET_KEY=$(python -c 'import secrets; "
                "print(secrets.token_hex(32))'))."
            )
        if not config.get("IDENTITY_KEY"):
            config["IDENTITY_KEY"] = config["SECRET_KEY"]
        check_credit_settings(config)


def check_credit_settings(config: dict[str, object]) -> None:
    """Stop with a clear message when a setting that decides credits is nonsense."""
    problems = []
    for name, (low, high, meaning) in CREDIT_SETTINGS.items():
        value = config.get(name)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            problems.append(
                f"{name} must be a whole number from {low} to {high} ({meaning}), not {value!r}"
            )
    factor = config.get("CARD_CAP_FACTOR")
    try:
        valid = 0 < Decimal(str(factor)) <= 1
    except ArithmeticError:
        valid = False
    if not valid:
        problems.append(
            f"CARD_CAP_FACTOR must be a number above 0 and at most 1 (the share of the "
            f"daily caps a household card gets), not {factor!r}"
        )
    if problems:
        raise RuntimeError("Refusing to start: " + "; ".join(problems) + ".")


class DevelopmentConfig(Config):
    """``make run``: embedded SQLite, jobs inline, a well-known key. Never deploy this."""

    APP_ENV = "development"
    DEBUG = True
    SECRET_KEY = os.environ.get("SECRET_KEY") or "dev-only-insecure-secret-key"
    IDENTITY_KEY = os.environ.get("IDENTITY_KEY") or "dev-only-insecure-identity-key"
    SESSION_COOKIE_SECURE = _bool("SESSION_COOKIE_SECURE", False)
    REMEMBER_COOKIE_SECURE = SESSION_COOKIE_SECURE


class TestConfig(Config):
    APP_ENV = "test"
    TESTING = True
    SECRET_KEY = "test-secret-key"  # noqa: S105 - test-only key
    IDENTITY_KEY = "test-identity-key"
    SQLALCHEMY_DATABASE_URI = database_url(os.environ.get("TEST_DATABASE_URL"), "sqlite://")
    REDIS_URL = os.environ.get("TEST_REDIS_URL") or None
    JOBS_INLINE = True
    RATELIMIT_STORAGE_URI = "memory://"
    RATELIMIT_ENABLED = False
    SESSION_COOKIE_SECURE = False
    REMEMBER_COOKIE_SECURE = False
    WTF_CSRF_ENABLED = False
    LOGIN_MAX_FAILURES = 3
    ARGON2_PARAMS = (1, 1024, 1)  # cheap hashes keep the suite fast; never in production
    READ_CACHE_SECONDS = 0  # tests check exact figures
    OFFERS_CACHE_SECONDS = 0


CONFIGS: dict[str, type[Config]] = {
    "production": Config,
    "development": DevelopmentConfig,
    "test": TestConfig,
}


def config_for_env() -> type[Config]:
    name = os.environ.get("APP_ENV", "production")
    try:
        return CONFIGS[name]
    except KeyError:
        raise RuntimeError(f"APP_ENV must be one of {', '.join(CONFIGS)}, not {name!r}") from None
