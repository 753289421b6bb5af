"""retirements in the ledger: a grams-denominated reduction pool account, RETIRE entries

Every row of the retirement register becomes a RETIRE ledger entry keyed by its serial
number, moving its grams from ``system:reduction_pool`` to ``system:retirement`` (see
backend/ledger/models.py, 5.). This revision allows the new account kind and posts the
entries of the retirements made before it, so ``flask ledger reconcile`` finds the register
and the ledger in agreement.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 14:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None

KINDS = ('resident', 'merchant', 'issuance', 'holds', 'expiry', 'forest_fund', 'retirement')
NEW_KINDS = KINDS + ('reduction_pool',)

ACCOUNTS = """
INSERT INTO ledger_accounts (code, kind, balance, created_at)
SELECT :code, :kind, 0, MIN(r.retired_at) FROM reduction_retirements r
HAVING COUNT(*) > 0
   AND NOT EXISTS (SELECT 1 FROM ledger_accounts a WHERE a.code = :code)
"""
ENTRIES = """
INSERT INTO ledger_entries (kind, idempotency_key, created_at, resident_id, ref_type, ref_id,
                            memo)
SELECT 'retire', r.serial, r.retired_at, r.resident_id, 'reduction',
       CAST(r.reduction_id AS VARCHAR(40)),
       'retired for event ' || CAST(r.event_id AS VARCHAR(20))
FROM reduction_retirements r
WHERE NOT EXISTS (SELECT 1 FROM ledger_entries e WHERE e.idempotency_key = r.serial)
ORDER BY r.id
"""
POSTINGS = """
INSERT INTO ledger_postings (entry_id, account_id, amount, kind, created_at)
SELECT e.id, a.id, :sign * r.grams, 'retire', e.created_at
FROM reduction_retirements r
JOIN ledger_entries e ON e.idempotency_key = r.serial AND e.kind = 'retire'
JOIN ledger_accounts a ON a.code = :code
WHERE NOT EXISTS (SELECT 1 FROM ledger_postings p WHERE p.entry_id = e.id
                                                    AND p.account_id = a.id)
ORDER BY e.id
"""


def _kinds(values):
    return "kind IN (" + ", ".join(f"'{v}'" for v in values) + ")"


def upgrade():
    with op.batch_alter_table('ledger_accounts', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_ledger_accounts_accountkind'), type_='check')
        batch_op.create_check_constraint(op.f('ck_ledger_accounts_accountkind'), _kinds(NEW_KINDS))
    for code, kind in (('system:reduction_pool', 'reduction_pool'),
                       ('system:retirement', 'retirement')):
        op.execute(sa.text(ACCOUNTS).bindparams(code=code, kind=kind))
    op.execute(sa.text(ENTRIES))
    for code, sign in (('system:reduction_pool', -1), ('system:retirement', 1)):
        op.execute(sa.text(POSTINGS).bindparams(code=code, sign=sign))


def downgrade():
    # Ledger rows are never deleted (triggers on PostgreSQL): once retirements are in the
    # ledger, the pool account stays, and so does its kind.
    used = op.get_bind().scalar(sa.text(
        "SELECT COUNT(*) FROM ledger_accounts WHERE kind = 'reduction_pool'"))
    if used:
        raise RuntimeError("retirements are in the ledger: ledger rows are never deleted")
    with op.batch_alter_table('ledger_accounts', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_ledger_accounts_accountkind'), type_='check')
        batch_op.create_check_constraint(op.f('ck_ledger_accounts_accountkind'), _kinds(KINDS))
