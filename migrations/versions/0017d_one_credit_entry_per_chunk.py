"""one CREDIT entry per verified chunk: the zero-sum trigger checks an entry once, at its last
leg (loadtests/README.md, round 5)

A chunk's credit is one entry with a leg per resident. The deferred trigger fires for every
leg; summing all of an entry's legs each time was quadratic in its size. It now sums them
only for the entry's last leg (its largest id, found in the (entry_id, id) index), which
sees every leg of the entry since the trigger runs at commit: the same check, once.

Revision ID: 0017d
Revises: 0017c
Create Date: 2026-12-04 10:40:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0017d'
down_revision = '0017c'
branch_labels = None
depends_on = None


ONCE_PER_ENTRY = """
CREATE OR REPLACE FUNCTION ledger_entry_balanced() RETURNS trigger AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM ledger_postings WHERE entry_id = NEW.entry_id AND id > NEW.id) THEN
    RETURN NULL;  -- not the entry's last leg: that one checks the whole entry
  END IF;
  IF (SELECT COALESCE(SUM(amount), 0) FROM ledger_postings WHERE entry_id = NEW.entry_id) <> 0 THEN
    RAISE EXCEPTION 'ledger entry % does not sum to zero', NEW.entry_id;
  END IF;
  RETURN NULL;
END $$ LANGUAGE plpgsql;
"""

EVERY_LEG = """
CREATE OR REPLACE FUNCTION ledger_entry_balanced() RETURNS trigger AS $$
BEGIN
  IF (SELECT COALESCE(SUM(amount), 0) FROM ledger_postings WHERE entry_id = NEW.entry_id) <> 0 THEN
    RAISE EXCEPTION 'ledger entry % does not sum to zero', NEW.entry_id;
  END IF;
  RETURN NULL;
END $$ LANGUAGE plpgsql;
"""


def upgrade():
    with op.batch_alter_table('ledger_postings', schema=None) as batch_op:
        batch_op.drop_index('ix_ledger_postings_entry_id')
        batch_op.create_index('ix_ledger_postings_entry_id', ['entry_id', 'id'], unique=False)
    if op.get_bind().dialect.name == "postgresql":
        op.execute(ONCE_PER_ENTRY)


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute(EVERY_LEG)
    with op.batch_alter_table('ledger_postings', schema=None) as batch_op:
        batch_op.drop_index('ix_ledger_postings_entry_id')
        batch_op.create_index('ix_ledger_postings_entry_id', ['entry_id'], unique=False)
