"""binding claims: a link is claimed until the partner or a counter proves it

DESIGN.md invariant 6 (ownership before credit). ``identity_bindings.status`` gains
``claimed`` (the resident's word only, credits nothing) and ``released`` (another resident
proved ownership); a claimed link carries a one-time ``link_code`` that the partner confirms
through the signed API, and the proof is recorded (when, how, by which staff member).

Links made before this revision were never proven: they become ``claimed``, and their owners
confirm them as new ones are (records for them wait meanwhile, see ``identities``).

Revision ID: 0013
Revises: 0011
Create Date: 2026-12-03 23:40:00

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0013"
down_revision = "0011"
branch_labels = None
depends_on = None

OLD = ("active", "revoked")
NEW = ("claimed", "active", "revoked", "released")


def _statuses(values):
    return "status IN (" + ", ".join(f"'{v}'" for v in values) + ")"


def upgrade():
    with op.batch_alter_table("identity_bindings", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_identity_bindings_bindingstatus"), type_="check")
        batch_op.create_check_constraint(op.f("ck_identity_bindings_bindingstatus"), _statuses(NEW))
        batch_op.add_column(sa.Column("link_code", sa.String(length=12), nullable=True))
        batch_op.add_column(
            sa.Column("link_code_expires_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("confirmed_via", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("confirmed_by_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            op.f("fk_identity_bindings_confirmed_by_id_users"), "users", ["confirmed_by_id"], ["id"]
        )
        batch_op.create_index(
            "uq_binding_open_claim",
            ["resident_id", "partner_id", "identity_hash"],
            unique=True,
            sqlite_where=sa.text("status IN ('claimed', 'active')"),
            postgresql_where=sa.text("status IN ('claimed', 'active')"),
        )
        batch_op.create_index("ix_binding_identity", ["partner_id", "identity_hash"], unique=False)
    op.execute("UPDATE identity_bindings SET status = 'claimed' WHERE status = 'active'")
    with op.batch_alter_table("activity_records", schema=None) as batch_op:
        batch_op.create_index(
            "ix_activity_waiting_identity",
            ["partner_id", "identity_hash"],
            unique=False,
            sqlite_where=sa.text("reason_code = 'identity_unconfirmed'"),
            postgresql_where=sa.text("reason_code = 'identity_unconfirmed'"),
        )


def downgrade():
    with op.batch_alter_table("activity_records", schema=None) as batch_op:
        batch_op.drop_index("ix_activity_waiting_identity")
    op.execute(
        "UPDATE identity_bindings SET status = 'revoked' WHERE status IN ('claimed', 'released')"
    )
    with op.batch_alter_table("identity_bindings", schema=None) as batch_op:
        batch_op.drop_index("ix_binding_identity")
        batch_op.drop_index("uq_binding_open_claim")
        batch_op.drop_constraint(
            op.f("fk_identity_bindings_confirmed_by_id_users"), type_="foreignkey"
        )
        batch_op.drop_column("confirmed_by_id")
        batch_op.drop_column("confirmed_via")
        batch_op.drop_column("confirmed_at")
        batch_op.drop_column("link_code_expires_at")
        batch_op.drop_column("link_code")
        batch_op.drop_constraint(op.f("ck_identity_bindings_bindingstatus"), type_="check")
        batch_op.create_check_constraint(op.f("ck_identity_bindings_bindingstatus"), _statuses(OLD))
