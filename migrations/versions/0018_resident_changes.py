"""resident_changes: the change log that versions a resident's records and reductions for
the home page without a heap visit per row (loadtests/README.md, round 9)

The home's version read ``count(*)`` and ``sum(xmin)`` of the resident's activity records
and reductions: ``xmin`` is on the heap, so each row cost a page visit (~1 us each, ~75% of
the statement at ~105 records). Now: the two counts (an index-only scan of the resident's
entries) and the count of this log's rows for the resident. Statement-level triggers append
one row per resident whose rows an UPDATE or a DELETE of either table touched (COPY and
INSERT do not fire them; an insert moves the count). The log is append-only. Why that is
exact: see ``backend.pagecache``.

Revision ID: 0018
Revises: 0017h
Create Date: 2026-12-04 22:00:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0018"
down_revision = "0017h"
branch_labels = None
depends_on = None

TABLES = ("activity_records", "reductions")

TRIGGERS = """
CREATE FUNCTION resident_rows_updated() RETURNS trigger AS $$
BEGIN
  INSERT INTO resident_changes (resident_id)
  SELECT DISTINCT resident_id
  FROM (SELECT resident_id FROM old_rows UNION ALL SELECT resident_id FROM new_rows) AS touched
  WHERE resident_id IS NOT NULL;
  RETURN NULL;
END $$ LANGUAGE plpgsql;

CREATE FUNCTION resident_rows_deleted() RETURNS trigger AS $$
BEGIN
  INSERT INTO resident_changes (resident_id)
  SELECT DISTINCT resident_id FROM old_rows WHERE resident_id IS NOT NULL;
  RETURN NULL;
END $$ LANGUAGE plpgsql;

CREATE FUNCTION resident_changes_append_only() RETURNS trigger AS $$
BEGIN
  RAISE EXCEPTION 'resident_changes is append-only: % refused', TG_OP;
END $$ LANGUAGE plpgsql;

CREATE TRIGGER resident_changes_append_only BEFORE UPDATE OR DELETE ON resident_changes
  FOR EACH ROW EXECUTE FUNCTION resident_changes_append_only();
"""

TABLE_TRIGGERS = """
CREATE TRIGGER {table}_updated_resident_changes AFTER UPDATE ON {table}
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION resident_rows_updated();
CREATE TRIGGER {table}_deleted_resident_changes AFTER DELETE ON {table}
  REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION resident_rows_deleted();
"""

DROP_TABLE_TRIGGERS = """
DROP TRIGGER IF EXISTS {table}_updated_resident_changes ON {table};
DROP TRIGGER IF EXISTS {table}_deleted_resident_changes ON {table};
"""

DROP_TRIGGERS = """
DROP TRIGGER IF EXISTS resident_changes_append_only ON resident_changes;
DROP FUNCTION IF EXISTS resident_changes_append_only();
DROP FUNCTION IF EXISTS resident_rows_deleted();
DROP FUNCTION IF EXISTS resident_rows_updated();
"""


def upgrade():
    op.create_table(
        "resident_changes",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("resident_id", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_resident_changes")),
    )
    with op.batch_alter_table("resident_changes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_resident_changes_resident_id"), ["resident_id"], unique=False
        )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(TRIGGERS)
        for table in TABLES:
            op.execute(TABLE_TRIGGERS.format(table=table))


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        for table in TABLES:
            op.execute(DROP_TABLE_TRIGGERS.format(table=table))
        op.execute(DROP_TRIGGERS)
    with op.batch_alter_table("resident_changes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_resident_changes_resident_id"))
    op.drop_table("resident_changes")
