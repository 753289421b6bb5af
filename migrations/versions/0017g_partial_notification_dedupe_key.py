"""one index insertion fewer per credit notification: the unique dedupe key indexes only the
notifications that have a key (loadtests/README.md, round 7)

A chunk of partner records notifies each resident it credits (``notify_many``, ~0.76
notifications per credited record), and none of those has a dedupe key; yet a unique
constraint's index holds a NULL entry for every row. The keys that exist stay unique (a
partial unique index refuses a second row with the same key exactly as the constraint
did; NULLs never conflicted), and ``notify``'s look-up by key (``dedupe_key = :key``
implies ``dedupe_key IS NOT NULL``) reads the partial index.

Revision ID: 0017g
Revises: 0017f
Create Date: 2026-12-04 16:30:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0017g'
down_revision = '0017f'
branch_labels = None
depends_on = None

HAS_KEY = sa.text('dedupe_key IS NOT NULL')


def upgrade():
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.drop_constraint('uq_notifications_dedupe_key', type_='unique')
        batch_op.create_index(
            'uq_notifications_dedupe_key',
            ['dedupe_key'],
            unique=True,
            sqlite_where=HAS_KEY,
            postgresql_where=HAS_KEY,
        )


def downgrade():
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.drop_index('uq_notifications_dedupe_key')
        batch_op.create_unique_constraint('uq_notifications_dedupe_key', ['dedupe_key'])
