"""reductions: whether the programme's daily points cap trimmed the points

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 11:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('reductions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('programme_capped', sa.Boolean(), nullable=False,
                                      server_default=sa.false()))


def downgrade():
    with op.batch_alter_table('reductions', schema=None) as batch_op:
        batch_op.drop_column('programme_capped')
