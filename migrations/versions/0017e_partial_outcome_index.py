"""one index insertion fewer per stored record: ix_activity_outcome keeps only the records
still waiting (pending, review) (loadtests/README.md, round 6)

Every query that looks records up by their outcome alone asks for waiting ones: the review
queue and its counts (outcome = 'review'), the periodic verify_pending (outcome = 'pending').
The other outcomes (credited, rejected, duplicate, unmatched) are nearly every record, and a
b-tree over five values cannot narrow a search for them; the reports that group by outcome
select by time. Yet every stored record paid an insertion into that index, and while a
freshly loaded table was not analysed yet the planner used it for the verification context
(outcome = 'credited'), reading every credited record of the table per chunk. The partial
index serves the two waiting states (an equality on either implies the predicate) and is
not insertable by a credited record.

Revision ID: 0017e
Revises: 0017d
Create Date: 2026-12-04 13:30:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0017e'
down_revision = '0017d'
branch_labels = None
depends_on = None

WAITING = sa.text("outcome IN ('pending', 'review')")


def upgrade():
    with op.batch_alter_table('activity_records', schema=None) as batch_op:
        batch_op.drop_index('ix_activity_outcome')
        batch_op.create_index(
            'ix_activity_outcome',
            ['outcome'],
            unique=False,
            sqlite_where=WAITING,
            postgresql_where=WAITING,
        )


def downgrade():
    with op.batch_alter_table('activity_records', schema=None) as batch_op:
        batch_op.drop_index('ix_activity_outcome')
        batch_op.create_index('ix_activity_outcome', ['outcome'], unique=False)
