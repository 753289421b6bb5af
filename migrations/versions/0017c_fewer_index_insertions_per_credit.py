"""fewer index insertions per credited record: drop two indexes no query uses, make two
indexes partial (loadtests/README.md, round 5)

ix_reductions_resident_id repeats the first column of ix_reductions_resident_day;
ix_ledger_entries_created_at serves no query (the reports read the postings' own time);
ix_ledger_entries_ref and ix_notifications_push_state keep only the rows that have a value
(a credit names no reference; most notifications have no push).

Revision ID: 0017c
Revises: 0017b
Create Date: 2026-12-04 10:50:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0017c'
down_revision = '0017b'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('reductions', schema=None) as batch_op:
        batch_op.drop_index('ix_reductions_resident_id')
    with op.batch_alter_table('ledger_entries', schema=None) as batch_op:
        batch_op.drop_index('ix_ledger_entries_created_at')
        batch_op.drop_index('ix_ledger_entries_ref')
        batch_op.create_index(
            'ix_ledger_entries_ref',
            ['ref_type', 'ref_id'],
            unique=False,
            sqlite_where=sa.text('ref_type IS NOT NULL'),
            postgresql_where=sa.text('ref_type IS NOT NULL'),
        )
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.drop_index('ix_notifications_push_state')
        batch_op.create_index(
            'ix_notifications_push_state',
            ['push_state'],
            unique=False,
            sqlite_where=sa.text('push_state IS NOT NULL'),
            postgresql_where=sa.text('push_state IS NOT NULL'),
        )


def downgrade():
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.drop_index('ix_notifications_push_state')
        batch_op.create_index('ix_notifications_push_state', ['push_state'], unique=False)
    with op.batch_alter_table('ledger_entries', schema=None) as batch_op:
        batch_op.drop_index('ix_ledger_entries_ref')
        batch_op.create_index('ix_ledger_entries_ref', ['ref_type', 'ref_id'], unique=False)
        batch_op.create_index('ix_ledger_entries_created_at', ['created_at'], unique=False)
    with op.batch_alter_table('reductions', schema=None) as batch_op:
        batch_op.create_index('ix_reductions_resident_id', ['resident_id'], unique=False)
