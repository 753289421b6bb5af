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
    "LINK_CODE_HOURS": (1, 24 * 30, "hours a link code can confirm a card's link"),
    "LINK_CLAIMS_PER_DAY": (1, 100, "card or account links a resident may claim a day"),
    "LINK_OPEN_CLAIMS": (1, 100, "unconfirmed links a resident may hold at once"),
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
    # the statement, which can be phone numbers or identity hashes (PIPL). No pre-ping: a
    # connection the server closed is found without a round trip (app._closed_by_the_server).
    SQLALCHEMY_ENGINE_OPTIONS = {"hide_parameters": True}
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
    RATELIMIT_PHONE_CODE = os.environ.get("RATELIMIT_PHONE_CODE", "5 per minute")
    # Per signed-in user on the pages, the numbers of their API twins (per token there): a
    # claim QR (``/my-qr``), a counter confirmation (fulfil's number, the stricter of the two
    # things it can do), a self-report, a household card.
    RATELIMIT_CLAIM_CODE = os.environ.get("RATELIMIT_CLAIM_CODE", "30 per minute")
    RATELIMIT_COUNTER = os.environ.get("RATELIMIT_COUNTER", "60 per minute")
    RATELIMIT_SELF_REPORT = os.environ.get("RATELIMIT_SELF_REPORT", "20 per hour")
    RATELIMIT_OFFER = os.environ.get("RATELIMIT_OFFER", "20 per hour")  # a new offer (image)
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

    # Links that leave the site (a certificate's verify link and QR code) start with this
    # (https://carbon.quzhou.gov.cn), never with the Host a request names.
    PUBLIC_BASE_URL = os.environ.get("PUBLIC_BASE_URL") or None
    # Reverse proxies in front of gunicorn whose X-Forwarded-* headers are trusted.
    TRUSTED_PROXIES = int(os.environ.get("TRUSTED_PROXIES", "0"))

    # Wrong passwords (backend.accounts.throttle): free attempts per account from one address
    # and per address, then a delay doubling from LOGIN_DELAY_SECONDS up to the maximum;
    # counts are forgotten after a quiet window; administrators are alerted on a burst.
    LOGIN_FREE_FAILURES = int(os.environ.get("LOGIN_FREE_FAILURES", "5"))
    LOGIN_ADDRESS_FREE_FAILURES = int(os.environ.get("LOGIN_ADDRESS_FREE_FAILURES", "50"))
    LOGIN_DELAY_SECONDS = int(os.environ.get("LOGIN_DELAY_SECONDS", "2"))
    LOGIN_MAX_DELAY_SECONDS = int(os.environ.get("LOGIN_MAX_DELAY_SECONDS", "900"))
    LOGIN_FAILURE_WINDOW_MINUTES = int(os.environ.get("LOGIN_FAILURE_WINDOW_MINUTES", "60"))
    LOGIN_ALERT_FAILURES = int(os.environ.get("LOGIN_ALERT_FAILURES", "20"))
    # argon2 hashes run on threads at this niceness (backend.accounts.services): a sign-in
    # takes every core for a few hundred milliseconds, and requests served meanwhile come
    # first; the cost parameters are unchanged. 0 runs them at the worker's own priority.
    PASSWORD_HASH_NICE = int(os.environ.get("PASSWORD_HASH_NICE", "10"))
    # One-time codes by text message (backend.accounts.sms, phone_codes): "console" prints
    # them (development, tests; refused in production), "http" posts to the provider's API.
    SMS_BACKEND = os.environ.get("SMS_BACKEND", "http")
    SMS_API_URL = os.environ.get("SMS_API_URL") or None
    SMS_API_KEY = os.environ.get("SMS_API_KEY") or None
    SMS_SIGN_NAME = os.environ.get("SMS_SIGN_NAME", "衢州碳普惠")
    SMS_TIMEOUT_SECONDS = float(os.environ.get("SMS_TIMEOUT_SECONDS", "5"))
    SMS_CODE_MINUTES = int(os.environ.get("SMS_CODE_MINUTES", "10"))
    SMS_CODE_ATTEMPTS = int(os.environ.get("SMS_CODE_ATTEMPTS", "5"))
    SMS_PER_NUMBER_PER_HOUR = int(os.environ.get("SMS_PER_NUMBER_PER_HOUR", "5"))
    SMS_PER_ADDRESS_PER_HOUR = int(os.environ.get("SMS_PER_ADDRESS_PER_HOUR", "20"))
    # Wrong second-factor codes (only after the right password): a lock on the account.
    LOGIN_MAX_FAILURES = int(os.environ.get("LOGIN_MAX_FAILURES", "5"))
    LOGIN_LOCK_MINUTES = int(os.environ.get("LOGIN_LOCK_MINUTES", "15"))
    API_TOKEN_HOURS = int(os.environ.get("API_TOKEN_HOURS", "12"))
    # Page sessions (server-side, backend.accounts.sessions): idle timeout and absolute
    # lifetime, shorter for administrators.
    SESSION_IDLE_MINUTES = int(os.environ.get("SESSION_IDLE_MINUTES", str(24 * 60)))
    SESSION_LIFETIME_HOURS = int(os.environ.get("SESSION_LIFETIME_HOURS", str(7 * 24)))
    ADMIN_SESSION_IDLE_MINUTES = int(os.environ.get("ADMIN_SESSION_IDLE_MINUTES", "30"))
    ADMIN_SESSION_LIFETIME_HOURS = int(os.environ.get("ADMIN_SESSION_LIFETIME_HOURS", "8"))

    # Leaderboard and admin dashboard figures are recomputed at most this often per process.
    READ_CACHE_SECONDS = int(os.environ.get("READ_CACHE_SECONDS", "300"))
    # The offers list is the same for every resident: each process serves one copy per
    # language for this long (stock shown may lag a few seconds; redeeming checks it).
    OFFERS_CACHE_SECONDS = int(os.environ.get("OFFERS_CACHE_SECONDS", "5"))
    # A resident's home and points, rendered once per version of what they show, are kept
    # in Redis this long (0: rendered every time; the ETag / 304 stays). backend/pagecache.py
    PAGE_CACHE_SECONDS = int(os.environ.get("PAGE_CACHE_SECONDS", "600"))
    # What the home shows of other people (leaderboard, team goals) lags at most this long.
    PAGE_SHARED_SECONDS = int(os.environ.get("PAGE_SHARED_SECONDS", "60"))
    # Conditional GETs of those pages answered 304 ahead of Flask (backend/revalidate.py).
    FAST_REVALIDATION = _bool("FAST_REVALIDATION", True)
    POINTS_EXPIRY_MONTHS = _number("POINTS_EXPIRY_MONTHS", 24)
    REDEMPTION_HOLD_HOURS = _number("REDEMPTION_HOLD_HOURS", 72)
    # An event's neutrality must be completed this many months after it ends (ISO 14068-1;
    # Beijing 2025, Guangdong 2026: one year).
    NEUTRALITY_DEADLINE_MONTHS = _number("NEUTRALITY_DEADLINE_MONTHS", 12)
    REDEEM_QR_SECONDS = int(os.environ.get("REDEEM_QR_SECONDS", "300"))
    CLAIM_QR_SECONDS = int(os.environ.get("CLAIM_QR_SECONDS", "60"))
    # Counter staff may correct or cancel their own drop-off or meal entry for this long.
    COUNTER_CORRECTION_MINUTES = int(os.environ.get("COUNTER_CORRECTION_MINUTES", "30"))
    BATCH_MAX_RECORDS = int(os.environ.get("BATCH_MAX_RECORDS", "10000"))
    INGEST_CHUNK = int(os.environ.get("INGEST_CHUNK", "5000"))
    # Verification's per-record passes over polars columns (backend/actions/columnar.py);
    # off: the scalar path alone (the same outcomes, one Python object at a time).
    INGEST_COLUMNAR = _bool("INGEST_COLUMNAR", True)
    # ... for chunks of at least this many records: below it, building the frames costs more
    # than it saves (a counter claim is one record: ~25 ms of CPU columnar, ~2 ms scalar).
    INGEST_COLUMNAR_MIN = int(os.environ.get("INGEST_COLUMNAR_MIN", "64"))
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
    # Linking a partner identity (DESIGN.md invariant 6): a claim's one-time link code lasts
    # LINK_CODE_HOURS; a resident makes at most LINK_CLAIMS_PER_DAY claims a day and holds at
    # most LINK_OPEN_CLAIMS unproven ones. (Records waiting for a claimed identity are credited
    # when it is proven within the partner claim window of the action.)
    LINK_CODE_HOURS = _number("LINK_CODE_HOURS", 24)
    LINK_CLAIMS_PER_DAY = _number("LINK_CLAIMS_PER_DAY", 5)
    LINK_OPEN_CLAIMS = _number("LINK_OPEN_CLAIMS", 3)
    RATELIMIT_LINK = os.environ.get("RATELIMIT_LINK", "10 per hour")
    RAW_RECORD_RETENTION_DAYS = int(os.environ.get("RAW_RECORD_RETENTION_DAYS", "730"))
    # Web Push (RFC 8292): the VAPID key pair (base64url raw keys) and contact; push is off
    # without the private key. `flask notifications vapid-keys` makes a pair.
    VAPID_PRIVATE_KEY = os.environ.get("VAPID_PRIVATE_KEY") or None
    VAPID_PUBLIC_KEY = os.environ.get("VAPID_PUBLIC_KEY") or None
    VAPID_SUBJECT = os.environ.get("VAPID_SUBJECT", "mailto:carbon@example.invalid")
    PUSH_ALLOW_HTTP = False  # push endpoints are https; tests point one at a local fake
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
    SMS_BACKEND = os.environ.get("SMS_BACKEND", "console")


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
    LOGIN_FREE_FAILURES = 3
    LOGIN_ADDRESS_FREE_FAILURES = 8
    LOGIN_ALERT_FAILURES = 6
    SMS_BACKEND = "console"
    SMS_PER_ADDRESS_PER_HOUR = 1000  # every test client shares 127.0.0.1
    ARGON2_PARAMS = (1, 1024, 1)  # cheap hashes keep the suite fast; never in production
    READ_CACHE_SECONDS = 0  # tests check exact figures
    INGEST_COLUMNAR_MIN = 1  # the suite's small files take the columnar steps too
    OFFERS_CACHE_SECONDS = 0
    PAGE_CACHE_SECONDS = 0  # tests of the page cache turn it on
    # The time bucket in a page's ETag never turns mid-test: a test that loads a page and
    # then asks for it again with its ETag would get a 200 when a minute turned in between.
    PAGE_SHARED_SECONDS = 10**9


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
