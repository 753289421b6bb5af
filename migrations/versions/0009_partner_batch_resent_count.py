"""partner batches: count every resent record, list only the first ones

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 15:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('partner_batches', schema=None) as batch_op:
        batch_op.add_column(sa.Column('resent_count', sa.Integer(), nullable=False,
                                      server_default=sa.text('0')))
    # batches received so far listed every resend: the count is the length of the list
    op.execute("UPDATE partner_batches SET resent_count = json_array_length(resent)")


def downgrade():
    with op.batch_alter_table('partner_batches', schema=None) as batch_op:
        batch_op.drop_column('resent_count')
