"""money: credit notes, payments, online invoice links and the reconciliation report

(Filled by the work that needs it; empty until then so the chain stays linear.)

Revision ID: money_0001
Revises: legacy_0001
Create Date: 2026-12-05 23:10:00

"""
import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401


revision = 'money_0001'
down_revision = 'legacy_0001'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
