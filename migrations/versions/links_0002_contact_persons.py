"""links: a contact person within a company; uniqueness per installation

The ledger side of a link is unique per installation (installation, ledger, organisation,
kind, ledger id) instead of per organisation: two installations sharing one Xero
organisation each link the same contact. Contact persons within a company are links of
kind ``party_person`` (no column: the kind and a composite ledger id say it).

Revision ID: links_0002
Revises: security_0001
Create Date: 2026-12-05 12:30:00

"""
from alembic import op


revision = 'links_0002'
down_revision = 'security_0001'
branch_labels = None
depends_on = None

OLD = 'uq_links_ledger_ledger_org_kind_ledger_id'
NEW = 'uq_links_installation_id_ledger_ledger_org_kind_ledger_id'


def upgrade():
    with op.batch_alter_table('links', schema=None) as batch_op:
        batch_op.drop_constraint(OLD, type_='unique')
        batch_op.create_unique_constraint(NEW, ['installation_id', 'ledger', 'ledger_org', 'kind', 'ledger_id'])


def downgrade():
    # Fails while two installations link the same ledger object: remove one of them first.
    with op.batch_alter_table('links', schema=None) as batch_op:
        batch_op.drop_constraint(NEW, type_='unique')
        batch_op.create_unique_constraint(OLD, ['ledger', 'ledger_org', 'kind', 'ledger_id'])
