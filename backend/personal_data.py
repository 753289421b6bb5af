"""Where a resident's personal data lives, and what deleting the account does to each piece.

Every table is in exactly one of three lists, and a test walks the SQLAlchemy metadata to
keep it so (``tests/security/test_deletion.py``): a new table, or a new column on a table
that holds residents' data, fails the test until it is classified here.

* ``RESIDENT_DATA``: tables that hold data of or about residents; each column is
  ``KEPT`` (needed by the ledger, the reductions or the programme's statistics, and no
  longer tied to a person once the account's identifiers are gone), ``ANONYMISED`` (kept in a
  form that no longer points at the person: a day instead of an exact time, a random value)
  or ``ERASED`` (removed, with its files).
* ``STAFF_ONLY``: tables that point at users, but only at staff, organisers or
  administrators acting in their role (accountability), never at a resident.
* ``NOT_PERSONAL``: tables with no data about people.

``backend.privacy.delete_account`` carries out what this says; ``export_data`` lists every
category a resident can be deleted from.
"""

from __future__ import annotations

KEPT, ANONYMISED, ERASED = "kept", "anonymised", "erased"

RESIDENT_DATA: dict[str, dict[str, str]] = {
    "users": {
        "id": KEPT,
        "phone": ERASED,
        "password_hash": ANONYMISED,  # the hash of a random password
        "role": KEPT,
        "nickname": ERASED,
        "district": KEPT,  # district statistics (one of six counties)
        "merchant_id": KEPT,
        "locale": KEPT,
        "created_at": KEPT,
        "failed_logins": KEPT,
        "locked_until": ERASED,
        "suspended_at": KEPT,
        "suspended_reason": ERASED,
        "deleted_at": KEPT,
        "session_version": KEPT,
        "last_login_at": ERASED,
        "leaderboard_opt_in": ERASED,
        "totp_secret_encrypted": ERASED,
        "totp_confirmed_at": ERASED,
        "recovery_code_hashes": ERASED,
        "totp_last_step": ERASED,
    },
    "activity_records": {
        "id": KEPT,
        "channel": KEPT,
        "action": KEPT,
        "resident_id": KEPT,  # the anonymous account: the ledger must still add up
        "partner_id": KEPT,
        "partner_record_id": KEPT,  # the natural key that stops a second credit
        "batch_id": KEPT,
        "identity_hash": ERASED,
        "activity": ANONYMISED,  # uncredited: emptied; credited: the reduction keeps it
        "received_at": ANONYMISED,  # the local day
        "occurred_start": ANONYMISED,  # the local day
        "occurred_end": ANONYMISED,  # the local day
        "local_day": KEPT,
        "dedupe_group": KEPT,
        "outcome": KEPT,
        "reason_code": KEPT,
        "reason": KEPT,
        "duplicate_of_id": KEPT,
        "verifier_id": KEPT,
        "verifier_merchant_id": KEPT,
        "evidence_path": ERASED,  # and the photo file
        "evidence_hash": KEPT,  # a digest of a deleted photo: stops its reuse, shows nothing
        "flags": KEPT,
        "verified_at": ANONYMISED,  # the local day
        "reviewed_by_id": KEPT,
        "reviewed_at": ANONYMISED,  # the local day
        "review_comment": ERASED,
        "appeal_text": ERASED,
        "appealed_at": ANONYMISED,  # the local day
        "appeal_reviewed_by_id": KEPT,
    },
    # Reductions keep their inputs so recompute gives the same grams (DESIGN invariant 2);
    # without the account's identifiers they no longer point at a person.
    "reductions": dict.fromkeys(
        [
            "id",
            "record_id",
            "resident_id",
            "methodology_code",
            "module_version",
            "version_id",
            "params_hash",
            "activity",
            "baseline_g",
            "project_g",
            "reduction_g",
            "credited_g",
            "points",
            "programme_capped",
            "steps",
            "local_day",
            "created_at",
            "ledger_entry_id",
        ],
        KEPT,
    ),
    # the home page's change log (backend.pagecache): which resident's records or reductions
    # a statement changed, nothing of what they hold; append-only, as the reductions are kept
    "resident_changes": {"id": KEPT, "resident_id": KEPT},
    "identity_bindings": {
        "id": KEPT,
        "resident_id": KEPT,
        "partner_id": KEPT,
        "identity_hash": ANONYMISED,  # a keyed hash of a random value
        "identity_hint": ERASED,  # the card's last digits
        "status": KEPT,  # revoked
        "consented_at": ANONYMISED,  # the local day
        "revoked_at": KEPT,
        "link_code": ERASED,
        "link_code_expires_at": ERASED,
        "confirmed_at": ANONYMISED,  # the local day
        "confirmed_by_id": KEPT,  # the staff member who saw the card, if any
        "confirmed_via": KEPT,  # partner or counter
    },
    "household_cards": {
        "id": KEPT,
        "resident_id": KEPT,
        "nonce": KEPT,  # random; the card is revoked
        "issued_at": ANONYMISED,
        "revoked_at": KEPT,
    },
    "claim_codes": dict.fromkeys(["nonce", "code", "resident_id", "expires_at", "used_at"], KEPT),
    "api_tokens": dict.fromkeys(
        [
            "id",
            "user_id",
            "token_hash",
            "created_at",
            "expires_at",
            "revoked_at",
            "session_version",
        ],
        ERASED,
    ),
    "user_sessions": dict.fromkeys(
        ["id", "user_id", "key_hash", "created_at", "last_seen_at", "expires_at", "revoked_at"],
        ERASED,
    ),
    # keyed hashes of the number: the account's codes are deleted with it
    "phone_codes": dict.fromkeys(
        [
            "id",
            "phone_hash",
            "address_hash",
            "purpose",
            "code_hash",
            "created_at",
            "expires_at",
            "used_at",
            "attempts",
        ],
        ERASED,
    ),
    # keyed hashes of number and address, forgotten LOGIN_FAILURE_WINDOW_MINUTES after the
    # last failure by the periodic purge (no key can be found from the account)
    "login_throttles": dict.fromkeys(
        ["key_hash", "failures", "last_failure_at", "blocked_until"], ERASED
    ),
    "audit_entries": {
        "id": KEPT,
        "at": KEPT,
        "actor_id": KEPT,
        "actor_label": KEPT,  # "resident:<id>", the anonymous account
        "action": KEPT,
        "object_type": KEPT,
        "object_id": KEPT,
        # of the entries the resident made or that are about the account or its actions
        # (reviewers' comments included): the entry stays, what it said goes
        "details": ERASED,
        "ip": ERASED,
    },
    "ledger_accounts": dict.fromkeys(
        ["id", "code", "kind", "user_id", "merchant_id", "balance", "created_at"], KEPT
    ),
    "ledger_entries": dict.fromkeys(
        [
            "id",
            "kind",
            "idempotency_key",
            "created_at",
            "resident_id",
            "reverses_id",
            "ref_type",
            "ref_id",
            "memo",
        ],
        KEPT,
    ),
    "redemptions": dict.fromkeys(
        [
            "id",
            "offer_id",
            "merchant_id",
            "resident_id",
            "points",
            "status",
            "short_code",
            "nonce",
            "idempotency_key",
            "fulfil_key",
            "created_at",
            "expires_at",
            "closed_at",
            "refunded_at",
            "fulfilled_by_id",
            "refund_reason",
        ],
        KEPT,
    ),
    "reduction_retirements": dict.fromkeys(
        [
            "id",
            "serial",
            "serial_year",
            "serial_no",
            "event_id",
            "reduction_id",
            "resident_id",
            "grams",
            "request_key",
            "retired_by_id",
            "retired_at",
        ],
        KEPT,
    ),
    "forest_donations": dict.fromkeys(
        [
            "id",
            "plan_id",
            "resident_id",
            "points",
            "idempotency_key",
            "ledger_entry_id",
            "created_at",
        ],
        KEPT,
    ),
    "notifications": {
        **dict.fromkeys(
            ["id", "resident_id", "kind", "params", "dedupe_key", "push_state", "created_at"],
            ERASED,
        ),
        "read_at": ERASED,  # the rows go: news for a person who is gone
    },
    "push_subscriptions": dict.fromkeys(
        ["id", "resident_id", "endpoint", "p256dh", "auth", "created_at"], ERASED
    ),
    "notices": dict.fromkeys(
        ["id", "user_id", "topic", "text", "ref_type", "ref_id", "dedupe_key", "created_at"]
        + ["read_at"],
        ERASED,
    ),
    "teams": {
        "id": KEPT,
        "name": KEPT,  # the team's name belongs to all its members
        "kind": KEPT,
        "district": KEPT,
        "invite_code": KEPT,
        "created_by_id": KEPT,  # the anonymous account
        "created_at": KEPT,
        "goal_plan_id": KEPT,
        "goal_points": KEPT,
        "goal_reached_at": KEPT,
    },
    "team_members": {
        "id": KEPT,
        "team_id": KEPT,
        "resident_id": KEPT,  # the anonymous account: the team's past totals add up
        "joined_at": ANONYMISED,  # the local day
        "left_at": ANONYMISED,  # the day of deletion: the member leaves
        "show_nickname": ERASED,  # no nickname is left to show
    },
    "team_donations": dict.fromkeys(
        ["id", "team_id", "donation_id", "resident_id", "points", "created_at"], KEPT
    ),
}

STAFF_ONLY: dict[str, str] = {
    "growth_measurements": "the administrator who recorded a growth measurement",
    "forest_credits": "the administrator whose measurement or check made a forest credit",
    "events": "the organiser who registered the event",
    "methodology_versions": "the administrators who proposed and reviewed a version",
    "programme_settings": "the administrator who changed a setting",
    "claim_keys": "the station staff member who made a claim",
    "event_certificates": "the administrator who issued a certificate",
    "event_footprints": "the organiser or administrator who measured a footprint",
    "planting_plans": "the administrators who proposed and reviewed a plan",
    "plantings": "the staff member who recorded a planting",
    "survival_checks": "the staff member who recorded a survival check",
}

NOT_PERSONAL: dict[str, str] = {
    "merchants": "businesses (a shop's public address and contact)",
    "partners": "operators",
    "partner_keys": "operators' signing keys",
    "partner_seen_signatures": "request signatures remembered for replay protection",
    "partner_batches": "operators' batches; the identities in a payload are erased when "
    "it is processed",
    "offers": "merchants' offers",
    "ledger_postings": "amounts per ledger account",
}
