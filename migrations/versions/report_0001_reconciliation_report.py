"""report: the reconciliation report's stored differences and runs

(Filled by the work that needs it; empty until then so the chain stays linear.)

Revision ID: report_0001
Revises: money_0001
Create Date: 2026-12-06 02:50:00

"""
import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401


revision = 'report_0001'
down_revision = 'money_0001'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
