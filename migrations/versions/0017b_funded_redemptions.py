"""programme economics: the yuan per point the city funds per merchant or offer

Revision ID: 0017b
Revises: 0017
Create Date: 2026-12-04 00:05:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0017b'
down_revision = '0017'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('merchants', schema=None) as batch_op:
        batch_op.add_column(sa.Column('funded_yuan_per_point', sa.String(length=20), nullable=True))
    with op.batch_alter_table('offers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('funded_yuan_per_point', sa.String(length=20), nullable=True))


def downgrade():
    with op.batch_alter_table('offers', schema=None) as batch_op:
        batch_op.drop_column('funded_yuan_per_point')
    with op.batch_alter_table('merchants', schema=None) as batch_op:
        batch_op.drop_column('funded_yuan_per_point')
