"""Partner data in: signed batches through the API (processed by RQ jobs) and day files
through ``flask partners import`` (streamed). Both end in ``ingest_chunk``, so the rules and
outcomes are the same.

A record is ``{"record_id", "action", "identity", "activity": {...}}``; in CSV the columns
are ``record_id,action,identity`` followed by the activity fields (waste items as
``category:kg;category:kg``). A request carries them as a JSON object ``{"records": [...]}``,
a bare JSON array, a raw CSV body, or a multipart/form-data upload whose one file field
``file`` holds the CSV or JSON (see ``BATCH_TYPES`` and ``upload_format``); the signature
covers the request body as sent, whatever its type.

Re-sending a record id is idempotent: the unique constraint on (partner, record id) keeps the
first, and the resend is reported as a duplicate. A batch counts its resends
(``resent_count``) and lists the ids of the first ones (``resent``), at most as many as one
request may carry, so an API batch's outcomes are listed whole while a re-imported file of
millions keeps a bounded row, rewritten only until the list is full.

One idea, one file (over 500 lines): a partner's records from the bytes received to the
chunks handed to verification, for the API and the day files alike.
"""

from __future__ import annotations

import csv
import gc
import io
import zlib
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import IO, Any

from flask import current_app
from redis.exceptions import RedisError
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus
from sqlalchemy import Engine, select, text
from sqlalchemy.exc import IntegrityError
from werkzeug.datastructures import FileStorage, MultiDict

from ..bulk import any_of
from ..extensions import db
from ..jobs import enqueue, get_queue
from ..notifications.models import NotificationKind
from ..notifications.services import notify
from ..partners.models import Partner
from ..timeutil import aware, local, utcnow
from . import numbers
from .catalogue import ALLOWED_ACTIONS
from .exceptions import (
    BatchTooLarge,
    InvalidBatch,
    JobsUnavailable,
    UnknownBatch,
    UnsupportedBatchFile,
)
from .identities import WAITING, identity_hashes
from .models import (
    ActivityRecord,
    BatchStatus,
    BindingStatus,
    Channel,
    IdentityBinding,
    Outcome,
    PartnerBatch,
)
from .reasons import reason
from .verification import Summary, verify_new

CSV_FIXED = ("record_id", "action", "identity")
MULTIPART = "multipart/form-data"
BATCH_TYPES = ("application/json", "text/csv", MULTIPART)  # what POST /partner/batches takes
UPLOAD_FIELD = "file"
# An uploaded file's type, by its part's content type, else by its name (browsers and curl
# send a .csv as text/csv, application/vnd.ms-excel or application/octet-stream).
CSV_TYPES = {"text/csv", "application/csv", "application/vnd.ms-excel"}
JSON_TYPES = {"application/json", "text/json"}


# --- parsing -------------------------------------------------------------------------------


def csv_row_to_record(row: dict[str, str | None]) -> dict[str, Any]:
    activity = {
        k: v for k, v in row.items() if k not in CSV_FIXED and k is not None and v not in (None, "")
    }
    return {
        "record_id": row.get("record_id"),
        "action": row.get("action"),
        "identity": row.get("identity"),
        "activity": activity,
    }


def parse_body(body: bytes, content_type: str) -> list[dict[str, Any]]:
    """The records of a body: CSV for ``text/csv``, else JSON (``{"records": [...]}`` or a
    bare array of records)."""
    limit = current_app.config["BATCH_MAX_RECORDS"]
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidBatch() from None
    if content_type.startswith("text/csv"):
        reader = csv.DictReader(io.StringIO(text))
        if not reader.fieldnames or not set(CSV_FIXED) <= set(reader.fieldnames):
            raise InvalidBatch()
        records = []
        for row in reader:
            records.append(csv_row_to_record(row))
            if len(records) > limit:
                raise BatchTooLarge(limit=limit)
        return records
    try:
        data = numbers.loads(text)  # numbers exact, never through float
    except ValueError:
        raise InvalidBatch() from None
    records = data.get("records") if isinstance(data, dict) else data
    if not isinstance(records, list):
        raise InvalidBatch()
    if len(records) > limit:
        raise BatchTooLarge(limit=limit)
    return list(records)


def upload_format(content_type: str, filename: str) -> str | None:
    """``"csv"`` or ``"json"`` for an uploaded file: by its content type, else by its name."""
    content_type = content_type.lower()
    if content_type in CSV_TYPES:
        return "csv"
    if content_type in JSON_TYPES:
        return "json"
    name = filename.lower()
    if name.endswith(".csv"):
        return "csv"
    if name.endswith(".json"):
        return "json"
    return None


def _uploaded(files: MultiDict[str, FileStorage] | None) -> tuple[bytes, str]:
    """The body and format of a multipart request's one ``file`` upload."""
    uploads = files.getlist(UPLOAD_FIELD) if files is not None else []
    if len(uploads) != 1:
        raise InvalidBatch(details={"field": UPLOAD_FIELD})
    upload = uploads[0]
    kind = upload_format(upload.mimetype or "", upload.filename or "")
    if kind is None:
        raise UnsupportedBatchFile(details={"field": UPLOAD_FIELD})
    return upload.read(), kind


# --- one chunk -----------------------------------------------------------------------------


def _row_template(partner: Partner, batch: PartnerBatch, received_at: datetime) -> dict[str, Any]:
    """What every insert row of a chunk starts from (read once a chunk, not per record)."""
    return {  # every row has every key: they are copied in bulk
        "channel": Channel.PARTNER,
        "partner_id": partner.id,
        "batch_id": batch.id,
        "outcome": Outcome.PENDING,
        # arrival is the batch's receipt, not when a worker reached it (the time rules)
        "received_at": received_at,
        "review_comment": "",
        "identity_hash": None,
        "resident_id": None,
        "reason_code": None,
        "reason": None,
    }


def _row(
    template: dict[str, Any],
    allowed: set[str],
    raw: Any,
    residents: dict[str, int],
    digests: dict[str, tuple[str, str]],
    claimed: set[str],
) -> dict[str, Any]:
    """The insert row for one received record, its outcome decided where it can be already;
    ``template`` from ``_row_template``, ``allowed`` the partner's actions."""
    row = dict(template)
    row["flags"] = []  # a list of its own per row
    if not isinstance(raw, dict):
        raw = {}
    record_id, action, activity = raw.get("record_id"), raw.get("action"), raw.get("activity")
    identity = raw.get("identity")
    row["partner_record_id"] = str(record_id)[:80] if record_id not in (None, "") else None
    row["action"] = str(action)[:40] if action else "unknown"
    row["activity"] = activity if isinstance(activity, dict) else {}
    if row["partner_record_id"] is None or not isinstance(activity, dict) or not identity:
        row.update(
            outcome=Outcome.REJECTED,
            reason_code="malformed_record",
            reason=reason("malformed_record"),
        )
        return row
    if row["action"] not in allowed:
        row.update(
            outcome=Outcome.REJECTED,
            reason_code="action_not_allowed",
            reason=reason("action_not_allowed"),
        )
        return row
    digest, legacy = digests[str(identity)]
    if digest not in residents and legacy in residents:
        digest = legacy  # a link made before identities were normalised
    row["identity_hash"] = digest
    if digest in residents:
        row["resident_id"] = residents[digest]
    elif digest in claimed:  # kept, unmatched, until the link is proven (``identities``)
        row.update(outcome=Outcome.UNMATCHED, reason_code=WAITING, reason=reason(WAITING))
    else:
        row.update(
            outcome=Outcome.UNMATCHED,
            reason_code="unmatched_identity",
            reason=reason("unmatched_identity"),
        )
    return row


def _tell_waiting(
    partner: Partner, rows: list[dict[str, Any]], claimants: dict[str, list[tuple[int, int]]]
) -> None:
    """Tell each claimant of an identity whose records now wait for the link's proof: once a
    day per link, with the partner and the day by which a proof still credits today's
    records (the partner claim window). Only the fact that records wait, never their times
    or points: a squatter learns nothing of the holder's movements."""
    waiting = {r["identity_hash"] for r in rows if r.get("reason_code") == WAITING}
    if not waiting:
        return
    today = local(utcnow()).date()
    until = today + timedelta(days=current_app.config["CLAIM_WINDOW_PARTNER_DAYS"])
    for digest in sorted(waiting):
        for binding_id, resident_id in claimants.get(digest, []):
            notify(
                resident_id,
                NotificationKind.CREDIT_WAITING,
                {"partner": partner.name, "until": until.isoformat()},
                key=f"credit_waiting:{binding_id}:{today.isoformat()}",
            )


def _received(partner: Partner, keys: list[str]) -> set[str]:
    """Which of these record ids the partner has sent before."""
    if not keys:
        return set()
    return set(
        db.session.scalars(
            select(ActivityRecord.partner_record_id).where(
                ActivityRecord.partner_id == partner.id,
                any_of(ActivityRecord.partner_record_id, keys),
            )
        )
    )


# A chunk allocates a few hundred thousand short-lived objects, nearly all freed by their
# reference counts; with CPython's default threshold the cyclic collector ran hundreds of
# times a chunk, each pass walking every live object (a third of the CPU of a record,
# measured). During a chunk it runs only after this many allocations; the process's
# long-lived objects (modules, mappers, caches) are frozen out of its passes.
CHUNK_GC_THRESHOLD = 100_000


@contextmanager
def _few_collections() -> Iterator[None]:
    threshold = gc.get_threshold()
    gc.set_threshold(max(threshold[0], CHUNK_GC_THRESHOLD), *threshold[1:])
    try:
        yield
    finally:
        gc.set_threshold(*threshold)


_FROZEN: list[bool] = []


def _freeze_long_lived() -> None:
    """Once a process: collect, then leave what survives (the app, its modules and caches)
    out of the cyclic collector's later passes (``gc.freeze``); reference counting still
    frees any of it."""
    if not _FROZEN:
        _FROZEN.append(True)
        gc.collect()
        gc.freeze()


def ingest_chunk(partner: Partner, batch: PartnerBatch, raws: list[Any]) -> Summary:
    """Store, match, verify and credit one chunk of a partner's records; commits once.

    Records are decided before they are stored (``verify_new``), so each is written once
    with its outcome. Should another process store one of the same record ids meanwhile
    (the same record in two batches at once), the unique (partner, record id) refuses the
    chunk; it is rolled back and taken again, and the record is then a resend."""
    for attempt in (1, 2):
        try:
            with _few_collections():
                return _ingest_chunk(partner, batch, raws)
        except IntegrityError:
            db.session.rollback()
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


# (identity key, partner code, identity) -> its hashes: a day's file names the same cards in
# chunk after chunk, and an HMAC per card per chunk was ~12 µs a record. Bounded; keyed by
# the identity key itself, so a rotated key never meets an old hash.
_HASHES: dict[tuple[str, str, str], tuple[str, str]] = {}
HASHES_KEPT = 50_000


def _identity_hashes(partner: Partner, identities: set[str]) -> dict[str, tuple[str, str]]:
    key = str(current_app.config["IDENTITY_KEY"])
    out = {}
    for identity in identities:
        cache_key = (key, partner.code, identity)
        found = _HASHES.get(cache_key)
        if found is None:
            if len(_HASHES) >= HASHES_KEPT:
                _HASHES.clear()
            found = _HASHES[cache_key] = identity_hashes(partner, identity)
        out[identity] = found
    return out


# A chunk's statements read and write thousands of rows. Once the tables hold ~1M records the
# planner's cost of the verification context passes ``jit_above_cost``, and PostgreSQL
# compiled its expressions anew for every chunk (~30 ms; more than the query spent on its
# rows). Nothing a chunk runs repays a compilation; the setting ends with the transaction.
_NO_JIT = text("SET LOCAL jit = off")


def _ingest_chunk(partner: Partner, batch: PartnerBatch, raws: list[Any]) -> Summary:
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(_NO_JIT)
    identities = {str(r["identity"]) for r in raws if isinstance(r, dict) and r.get("identity")}
    digests = _identity_hashes(partner, identities)
    hashes = {digest for pair in digests.values() for digest in pair}
    residents: dict[str, int] = {}
    claimed: set[str] = set()
    claimants: dict[str, list[tuple[int, int]]] = {}  # digest -> (binding id, resident id)
    if hashes:
        for digest, resident_id, status, binding_id in db.session.execute(
            select(
                IdentityBinding.identity_hash,
                IdentityBinding.resident_id,
                IdentityBinding.status,
                IdentityBinding.id,
            ).where(
                IdentityBinding.partner_id == partner.id,
                IdentityBinding.status.in_((BindingStatus.ACTIVE, BindingStatus.CLAIMED)),
                any_of(IdentityBinding.identity_hash, hashes),
            )
        ):
            if status is BindingStatus.ACTIVE:  # proven: one at most per identity
                residents[digest] = resident_id
            else:
                claimed.add(digest)
                claimants.setdefault(digest, []).append((binding_id, resident_id))
    rows, seen, resent = [], set(), []
    received_at = aware(batch.received_at) if batch.received_at else utcnow()
    template, allowed = _row_template(partner, batch, received_at), ALLOWED_ACTIONS[partner.kind]
    for raw in raws:
        row = _row(template, allowed, raw, residents, digests, claimed)
        key = row["partner_record_id"]
        if key is not None and key in seen:
            resent.append(key)  # the same record twice in one chunk
            continue
        if key is not None:
            seen.add(key)
        rows.append(row)
    before = _received(partner, sorted(seen))
    resent += [r["partner_record_id"] for r in rows if r["partner_record_id"] in before]
    rows = [r for r in rows if r["partner_record_id"] not in before]
    # decided on receipt (verification counts what it decides)
    rejected = sum(1 for r in rows if r["outcome"] is Outcome.REJECTED)
    unmatched = sum(1 for r in rows if r["outcome"] is Outcome.UNMATCHED)
    summary = verify_new(rows)  # inserts the records, their reductions and ledger credits
    _tell_waiting(partner, rows, claimants)
    batch.processed = batch.processed + len(raws)
    if resent:  # counted whole, listed up to one request's worth: a bounded, rarely written row
        batch.resent_count = (batch.resent_count or 0) + len(resent)
        room = current_app.config["BATCH_MAX_RECORDS"] - len(batch.resent)
        if room > 0:
            batch.resent = [*batch.resent, *resent[:room]]
    db.session.commit()
    summary.rejected += rejected
    summary.unmatched += unmatched
    summary.duplicate += len(resent)
    return summary


# --- API batches (RQ) ------------------------------------------------------------------------


def receive_batch(
    partner: Partner,
    body: bytes,
    content_type: str,
    files: MultiDict[str, FileStorage] | None = None,
) -> PartnerBatch:
    """Check the records' shape, store them and queue their processing; answers at once.

    ``body`` is JSON (object or array) or, for ``text/csv``, CSV; for ``multipart/form-data``
    the records are the ``file`` upload among ``files`` instead (CSV or JSON, see
    ``upload_format``), and that file is what is stored."""
    source = "csv" if (content_type or "").startswith("text/csv") else "json"
    if (content_type or "").startswith(MULTIPART):
        body, source = _uploaded(files)
    records = parse_body(body, "text/csv" if source == "csv" else "application/json")
    batch = PartnerBatch(
        partner_id=partner.id,
        status=BatchStatus.QUEUED,
        source=source,
        total=len(records),
        processed=0,
        resent=[],
        resent_count=0,
        payload=body.decode("utf-8-sig"),
    )
    db.session.add(batch)
    db.session.commit()
    try:
        _enqueue_batch(batch.id)
    except RedisError as exc:  # Redis down: refuse the batch rather than keep it unqueued
        current_app.logger.warning("could not queue batch %s: %s", batch.id, type(exc).__name__)
        db.session.rollback()
        db.session.delete(db.session.get(PartnerBatch, batch.id))
        db.session.commit()
        raise JobsUnavailable() from exc
    return batch


def _job_id(batch_id: int) -> str:
    return f"batch-{batch_id}"


def _enqueue_batch(batch_id: int) -> None:
    enqueue(process_batch, batch_id, queue="ingest", job_id=_job_id(batch_id))


# A worker holds this PostgreSQL advisory lock (key: this number and the batch id) while it
# processes a batch, on a connection of its own: a second job for the same batch steps aside,
# and when a worker dies its connection, and with it the lock, goes away at once.
BATCH_LOCK = 41001


@contextmanager
def _processing(batch_id: int) -> Iterator[bool]:
    """True when this process may process the batch (it holds the lock, or needs none)."""
    bind = db.engine
    if bind.dialect.name != "postgresql" or not isinstance(bind, Engine):
        yield True  # SQLite, or the tests' shared connection: one process, nothing to guard
        return
    with bind.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        args = {"kind": BATCH_LOCK, "id": batch_id}
        locked = bool(conn.scalar(text("SELECT pg_try_advisory_lock(:kind, :id)"), args))
        try:
            yield locked
        finally:
            if locked:
                conn.execute(text("SELECT pg_advisory_unlock(:kind, :id)"), args)


def _being_processed(batch_id: int) -> bool:
    """Whether a live worker holds the batch's processing lock (PostgreSQL only)."""
    if db.session.get_bind().dialect.name != "postgresql":
        return False
    held = db.session.scalar(
        text(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND classid = :kind "
            "AND objid = :id AND objsubid = 2 AND granted"
        ),
        {"kind": BATCH_LOCK, "id": batch_id},
    )
    return bool(held)


def process_batch(batch_id: int) -> dict[str, int]:
    """The RQ job: process a stored batch chunk by chunk; resumes where a crash left it.

    Each chunk commits its records, reductions, ledger entries and the batch's ``processed``
    together, so a worker killed mid-chunk leaves the chunk undone, and the next run starts
    from it (the unique (partner, record id) would refuse a second copy anyway).
    """
    with _processing(batch_id) as mine:
        if not mine:
            return {}  # another live worker is on it
        _freeze_long_lived()
        return _process_batch(batch_id)


def _process_batch(batch_id: int) -> dict[str, int]:
    batch = db.session.get(PartnerBatch, batch_id)
    if batch is None or batch.status is BatchStatus.DONE:
        return {}
    partner = db.session.get(Partner, batch.partner_id)
    assert partner is not None
    batch.status = BatchStatus.PROCESSING
    db.session.commit()
    try:
        records = parse_body(
            (batch.payload or "").encode(),
            "text/csv" if batch.source == "csv" else "application/json",
        )
        size = current_app.config["INGEST_CHUNK"]
        while batch.processed < len(records):
            ingest_chunk(partner, batch, records[batch.processed : batch.processed + size])
        batch.status = BatchStatus.DONE
        batch.finished_at = utcnow()
        batch.payload = None
        db.session.commit()
    except (InvalidBatch, BatchTooLarge) as exc:
        db.session.rollback()
        batch.status = BatchStatus.FAILED
        batch.error = exc.code
        db.session.commit()
    return {"processed": batch.processed}


def recover_batches() -> int:
    """Queue again the batches that are neither done nor on their way: their job was lost
    (Redis restarted empty), failed for good, or died with its worker (SIGKILL, a lost host).
    RQ itself only notices a dead SimpleWorker's job once its timeout has passed; this runs
    when a worker starts and every few minutes (``backend.jobs``). Returns how many."""
    waiting = {JobStatus.QUEUED, JobStatus.SCHEDULED, JobStatus.DEFERRED}
    open_ids = db.session.scalars(
        select(PartnerBatch.id).where(
            PartnerBatch.status.in_((BatchStatus.QUEUED, BatchStatus.PROCESSING)),
            PartnerBatch.source != "file",  # the import command processes its own file
        )
    ).all()
    connection = get_queue("ingest").connection
    requeued = 0
    for batch_id in open_ids:
        try:
            status = Job.fetch(_job_id(batch_id), connection=connection).get_status()
        except NoSuchJobError:
            status = None
        if status in waiting or _being_processed(batch_id):
            continue
        if status == JobStatus.STARTED and db.session.get_bind().dialect.name != "postgresql":
            continue  # without the lock a running job cannot be told from a dead one
        current_app.logger.warning("batch %s: job %s, queued again", batch_id, status)
        _enqueue_batch(batch_id)
        requeued += 1
    return requeued


def get_batch(partner: Partner, batch_id: int) -> PartnerBatch:
    """A partner's own batch; another partner's looks like it does not exist."""
    batch = db.session.get(PartnerBatch, batch_id)
    if batch is None or batch.partner_id != partner.id:
        raise UnknownBatch()
    return batch


def batch_outcomes(batch: PartnerBatch, page: int, per_page: int) -> list[dict[str, Any]]:
    """Per-record outcomes in order received, then the listed re-sent record ids (duplicates).

    Every resend is counted in ``batch.resent_count``; only the first ones are listed (all of
    an API batch's, see ``ingest_chunk``), so the answer says both (``resent_summary``)."""
    records = db.session.scalars(
        select(ActivityRecord)
        .where(ActivityRecord.batch_id == batch.id)
        .order_by(ActivityRecord.id)
        .offset((page - 1) * per_page)
        .limit(per_page)
    ).all()
    out = [
        {
            "record_id": r.partner_record_id,
            "outcome": partner_outcome(r.outcome),
            "reduction_g": r.reduction.credited_g if r.reduction else None,
            "points": r.reduction.points if r.reduction else None,
            "reason": r.reason_code
            or ("awaiting_verification" if r.outcome is Outcome.PENDING else None),
        }
        for r in records
    ]
    if len(records) < per_page:
        stored = db.session.query(ActivityRecord).filter_by(batch_id=batch.id).count()
        skip = max(0, (page - 1) * per_page - stored)
        room = per_page - len(records)
        out += [
            {
                "record_id": key,
                "outcome": Outcome.DUPLICATE.value,
                "reduction_g": None,
                "points": None,
                "reason": "resent_record",
            }
            for key in batch.resent[skip : skip + room]
        ]
    return out


# The published contract's outcome words (DESIGN.md "The partner contract"): exactly these.
# A record held back (for review, or not yet verified because crediting is paused) is
# ``flagged``; the detail is always in ``reason``.
PARTNER_OUTCOMES = ("credited", "rejected", "unmatched", "duplicate", "flagged")
_PARTNER_OUTCOME = {
    Outcome.CREDITED: "credited",
    Outcome.REJECTED: "rejected",
    Outcome.UNMATCHED: "unmatched",
    Outcome.DUPLICATE: "duplicate",
    Outcome.REVIEW: "flagged",
    Outcome.PENDING: "flagged",
}


def partner_outcome(outcome: Outcome) -> str:
    """The contract's word for a record's outcome."""
    return _PARTNER_OUTCOME[outcome]


def resent_summary(batch: PartnerBatch) -> dict[str, int]:
    """How many of the batch's records were resends, and how many of them are listed."""
    return {"count": batch.resent_count or 0, "listed": len(batch.resent)}


# --- streaming file import (CLI) -------------------------------------------------------------


class _Counting(io.RawIOBase):
    """A binary reader that counts the bytes read, for the progress bar."""

    def __init__(self, raw: IO[bytes]) -> None:
        self.raw = raw
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self.raw.read(len(buffer))
        buffer[: len(data)] = data
        self.count += len(data)
        return len(data)


def _records(path: str, stream: IO[str]) -> Iterator[Any]:
    if path.endswith(".csv"):
        reader = csv.DictReader(stream)
        if not reader.fieldnames or not set(CSV_FIXED) <= set(reader.fieldnames):
            raise InvalidBatch()
        for row in reader:
            yield csv_row_to_record(row)
    elif path.endswith((".jsonl", ".ndjson")):
        for line in stream:
            if line.strip():
                try:
                    yield numbers.loads(line)
                except ValueError:
                    yield None  # counted as a malformed record
    else:
        raise InvalidBatch()


def _chunks(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    chunk: list[Any] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def shard_of(record: Any, shards: int) -> int:
    """Which of ``shards`` identity shards a record falls in (0 … shards - 1)."""
    identity = str(record.get("identity") or "") if isinstance(record, dict) else ""
    return zlib.crc32(identity.encode()) % shards


def in_shard(record: Any, shard: tuple[int, int] | None) -> bool:
    """Whether a record belongs to shard (k, n): records are split by their identity, so the
    processes of a parallel import never touch the same resident."""
    return shard is None or shard_of(record, shard[1]) == shard[0]


def import_file(
    partner: Partner,
    path: str,
    *,
    chunk_size: int = 10_000,
    progress: Callable[[int], None] | None = None,
    shard: tuple[int, int] | None = None,
) -> tuple[PartnerBatch, Summary]:
    """Stream a day's file (CSV or JSON Lines) through the same rules as the API; with
    ``shard=(k, n)`` only the k-th of n identity shards (see ``in_shard``)."""
    batch = PartnerBatch(
        partner_id=partner.id,
        status=BatchStatus.PROCESSING,
        source="file",
        total=0,
        processed=0,
        resent=[],
        resent_count=0,
    )
    db.session.add(batch)
    db.session.commit()
    summary = Summary()
    _freeze_long_lived()
    with open(path, "rb") as raw:
        counting = _Counting(raw)
        stream = io.TextIOWrapper(io.BufferedReader(counting), encoding="utf-8-sig", newline="")
        last = 0
        records = (r for r in _records(path, stream) if in_shard(r, shard))
        for chunk in _chunks(records, chunk_size):
            batch.total += len(chunk)
            summary.add(ingest_chunk(partner, batch, chunk))
            if progress:
                progress(counting.count - last)
                last = counting.count
    batch.status = BatchStatus.DONE
    batch.finished_at = utcnow()
    db.session.commit()
    return batch, summary
