"""the zero-sum trigger finds an entry's last leg with max(id), whose plan cannot turn into a
scan of every posting per leg (loadtests/README.md, round 6)

0017d's trigger asked, for each leg at commit, whether a leg with a larger id existed
(``EXISTS (... WHERE entry_id = $1 AND id > $2)``). PL/pgSQL caches that query's plan; once
the statistics say the postings table holds few entries (one CREDIT entry per chunk), the
generic plan is a sequential scan expected to stop at its first match, but an entry's legs
are the newest rows, at the table's end: every leg read the whole table. A 7,600-leg entry
over 85,000 postings then spent the import's commit at a full core (the swing of the
import's figures between identical runs). ``max(id)`` over the (entry_id, id) index is
answered by reading one index entry whatever the statistics (PostgreSQL's min/max path), so
the same check, once per entry, costs the same on every plan.

Revision ID: 0017f
Revises: 0017e
Create Date: 2026-12-04 13:40:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0017f'
down_revision = '0017e'
branch_labels = None
depends_on = None

BY_MAX_LEG = """
CREATE OR REPLACE FUNCTION ledger_entry_balanced() RETURNS trigger AS $$
BEGIN
  IF NEW.id <> (SELECT max(id) FROM ledger_postings WHERE entry_id = NEW.entry_id) THEN
    RETURN NULL;  -- not the entry's last leg: that one checks the whole entry
  END IF;
  IF (SELECT COALESCE(SUM(amount), 0) FROM ledger_postings WHERE entry_id = NEW.entry_id) <> 0 THEN
    RAISE EXCEPTION 'ledger entry % does not sum to zero', NEW.entry_id;
  END IF;
  RETURN NULL;
END $$ LANGUAGE plpgsql;
"""
# 0017d's version
BY_EXISTS = """
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


def upgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute(BY_MAX_LEG)


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute(BY_EXISTS)
