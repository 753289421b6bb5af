"""claims' idempotency keys; redemptions: when a refund happened

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 15:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('claim_keys',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('staff_id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=100), nullable=False),
    sa.Column('request_hash', sa.String(length=64), nullable=False),
    sa.Column('record_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['record_id'], ['activity_records.id'], name=op.f('fk_claim_keys_record_id_activity_records')),
    sa.ForeignKeyConstraint(['staff_id'], ['users.id'], name=op.f('fk_claim_keys_staff_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_claim_keys')),
    sa.UniqueConstraint('record_id', name=op.f('uq_claim_keys_record_id')),
    sa.UniqueConstraint('staff_id', 'key', name='uq_claim_key_staff')
    )
    with op.batch_alter_table('redemptions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('refunded_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index('ix_redemptions_merchant_refunded', ['merchant_id', 'refunded_at'], unique=False)
    # Refunds made before this column: the time of their refund ledger entry.
    op.execute(
        "UPDATE redemptions SET refunded_at = COALESCE("
        "(SELECT e.created_at FROM ledger_entries e"
        " WHERE e.idempotency_key = 'refund:' || CAST(redemptions.id AS VARCHAR(20))),"
        " closed_at) WHERE status = 'refunded'"
    )


def downgrade():
    with op.batch_alter_table('redemptions', schema=None) as batch_op:
        batch_op.drop_index('ix_redemptions_merchant_refunded')
        batch_op.drop_column('refunded_at')
    op.drop_table('claim_keys')
