"""one-time codes sent by text message (registration, password reset, phone change)

Only keyed hashes of the phone number, the code and the requesting address are stored.

Revision ID: 0014b
Revises: 0014
Create Date: 2026-12-04 00:15:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0014b'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('phone_codes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('phone_hash', sa.String(length=64), nullable=False),
    sa.Column('address_hash', sa.String(length=64), nullable=False),
    sa.Column('purpose', sa.Enum('register', 'reset', 'change_phone', name='codepurpose', native_enum=False, create_constraint=True, length=20), nullable=False),
    sa.Column('code_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.CheckConstraint('attempts >= 0', name=op.f('ck_phone_codes_attempts_non_negative')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_phone_codes'))
    )
    with op.batch_alter_table('phone_codes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_phone_codes_phone_hash'), ['phone_hash'], unique=False)
        batch_op.create_index(batch_op.f('ix_phone_codes_address_hash'), ['address_hash'], unique=False)
        batch_op.create_index(batch_op.f('ix_phone_codes_created_at'), ['created_at'], unique=False)


def downgrade():
    with op.batch_alter_table('phone_codes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_phone_codes_created_at'))
        batch_op.drop_index(batch_op.f('ix_phone_codes_address_hash'))
        batch_op.drop_index(batch_op.f('ix_phone_codes_phone_hash'))
    op.drop_table('phone_codes')
