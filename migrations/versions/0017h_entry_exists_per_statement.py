"""a ledger entry's existence checked once per statement for its postings and reductions,
not once per row (loadtests/README.md, round 9)

``ledger_postings.entry_id`` and ``reductions.ledger_entry_id`` were foreign keys: a check per
inserted row (a look-up and a FOR KEY SHARE lock of the entry), 6-11 µs each at a million
records, ~1.8 per ingested record (a chunk's reductions all name its one CREDIT entry, whose
legs are a chunk's postings). The other half of a foreign key, refusing to delete or re-key
a referenced entry, is already the append-only trigger's: ``ledger_entries`` rows are never
updated or deleted. What is left to check is that every entry named exists, which a
statement-level trigger does once per statement over its new rows (a transition table), at
the same moment as the foreign key (the statement's end) and with the same error
(SQLSTATE 23503, an IntegrityError to the application). PostgreSQL only, as the ledger's
other triggers; SQLite keeps no check (it serves tests and development).

Revision ID: 0017h
Revises: 0017g
Create Date: 2026-12-04 22:00:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0017h'
down_revision = '0017g'
branch_labels = None
depends_on = None

# TG_ARGV[0]: the column that names the entry; a row with none (a reduction not credited yet)
# names nothing.
CHECK_FUNCTION = """
CREATE FUNCTION ledger_entries_named_exist() RETURNS trigger AS $$
DECLARE
  missing bigint;
BEGIN
  EXECUTE format(
    'SELECT n.%1$I FROM new_rows n WHERE n.%1$I IS NOT NULL AND NOT EXISTS '
    '(SELECT 1 FROM ledger_entries e WHERE e.id = n.%1$I) LIMIT 1', TG_ARGV[0]
  ) INTO missing;
  IF missing IS NOT NULL THEN
    RAISE EXCEPTION 'insert or update on table "%" names ledger entry %, which does not exist',
      TG_TABLE_NAME, missing USING ERRCODE = 'foreign_key_violation';
  END IF;
  RETURN NULL;
END $$ LANGUAGE plpgsql;
"""

TRIGGERS = [
    ("ledger_postings_entry_exists", "INSERT", "ledger_postings", "entry_id"),
    ("reductions_entry_exists_insert", "INSERT", "reductions", "ledger_entry_id"),
    ("reductions_entry_exists_update", "UPDATE", "reductions", "ledger_entry_id"),
]

FOREIGN_KEYS = [
    ("ledger_postings", "fk_ledger_postings_entry_id_ledger_entries", "entry_id"),
    ("reductions", "fk_reductions_ledger_entry_id_ledger_entries", "ledger_entry_id"),
]


def upgrade():
    for table, name, _ in FOREIGN_KEYS:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_constraint(name, type_='foreignkey')
    if op.get_bind().dialect.name == "postgresql":
        op.execute(CHECK_FUNCTION)
        for name, event, table, column in TRIGGERS:
            op.execute(
                f"CREATE TRIGGER {name} AFTER {event} ON {table} "
                f"REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT "
                f"EXECUTE FUNCTION ledger_entries_named_exist('{column}')"
            )


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        for name, _, table, _ in TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name} ON {table}")
        op.execute("DROP FUNCTION IF EXISTS ledger_entries_named_exist()")
    for table, name, column in FOREIGN_KEYS:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.create_foreign_key(name, 'ledger_entries', [column], ['id'])
