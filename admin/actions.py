"""Admin pages: the review queue, partner onboarding with key rotation, the batch monitor."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from markupsafe import Markup, escape
from sqlalchemy import select

from backend.actions import queries, self_reports
from backend.actions.calculation import calculation
from backend.actions.review import reported_text, review_signals
from backend.actions.words import OUTCOME_WORDS
from backend.errors import DomainError
from backend.extensions import db
from backend.i18n import current_lang
from backend.partners.models import Partner, PartnerKind
from backend.partners.services import create_partner, rotate_partner_key
from backend.timeutil import utcnow

from . import bp
from .views import admin_only


@bp.get("/review")
@admin_only
def review_queue() -> Any:
    return render_template("admin/review.html", records=queries.review_queue(), lang=current_lang())


@bp.get("/review/<bigid:record_id>")
@admin_only
def review_record(record_id: int) -> Any:
    record = self_reports.get_record(record_id)
    return render_template(
        "admin/review_record.html",
        r=record,
        lang=current_lang(),
        calc=calculation(record, current_lang()),
        signals=review_signals(record, current_lang()),
        reported=reported_text,
    )


@bp.post("/review/<bigid:record_id>/<any(approve, reject):decision>")
@admin_only
def review_decide(record_id: int, decision: str) -> Any:
    try:
        record = self_reports.review_record(
            current_user, record_id, decision == "approve", request.form.get("comment", "")
        )
        outcome = OUTCOME_WORDS.get(record.outcome.value, record.outcome.value)
        flash(_("Decided: %(outcome)s.", outcome=outcome), "success")
    except DomainError as exc:
        flash(exc.localized_message(), "error")
        return redirect(url_for("admin.review_record", record_id=record_id))
    return redirect(url_for("admin.review_queue"))


@bp.route("/partners", methods=["GET", "POST"])
@admin_only
def partners() -> Any:
    shown = None
    error = None
    if request.method == "POST" and request.form.get("rotate") and not request.form.get("confirm"):
        partner = db.session.scalar(select(Partner).where(Partner.code == request.form["rotate"]))
        if partner is not None:
            now = utcnow()
            valid = [k.key_id for k in partner.keys if k.is_valid(now)]
            return render_template(
                "admin/confirm.html",
                title=_("Rotate a partner's key"),
                lines=[
                    _(
                        "%(partner)s gets a new key; its secret is shown once, on the next page.",
                        partner=partner.name,
                    ),
                    # the words ours, escaped; the key IDs codes to copy, not words
                    escape(
                        _(
                            "The current keys (%(keys)s) keep working for 24 hours, then stop: "
                            "the operator must switch to the new key within that time.",
                            keys="%(keys)s",
                        )
                    )
                    % {
                        "keys": Markup(", ").join(
                            Markup('<code translate="no">%s</code>') % k for k in valid
                        )
                        or "—"
                    },
                ],
                warning=_("Old keys cannot be extended once replaced."),
                action=url_for("admin.partners"),
                fields={"rotate": partner.code},
                button=_("Rotate the key"),
                back=url_for("admin.partners"),
                danger=True,
            )
    if request.method == "POST":
        try:
            if request.form.get("rotate"):
                key_id, secret = rotate_partner_key(request.form["rotate"], actor=current_user)
                shown = {"code": request.form["rotate"], "key_id": key_id, "secret": secret}
            else:
                partner, key_id, secret = create_partner(
                    request.form.get("code", "").strip(),
                    request.form.get("name", ""),
                    request.form.get("kind", ""),
                    actor=current_user,
                )
                shown = {"code": partner.code, "key_id": key_id, "secret": secret}
        except DomainError as exc:
            error = exc.localized_message()
    rows = db.session.scalars(select(Partner).order_by(Partner.name)).all()
    response = render_template(
        "admin/partners.html",
        partners=rows,
        shown=shown,
        error=error,
        kinds=PartnerKind,
        health=queries.outcome_counts(),
    )
    return response, 200, {"Cache-Control": "no-store"}


@bp.get("/batches")
@admin_only
def batches() -> Any:
    return render_template("admin/batches.html", rows=queries.recent_batches())
