"""intents: a row committed before every create call, so a retry knows to look up first

(Filled by the work that needs it; empty until then so the chain stays linear.)

Revision ID: intents_0001
Revises: engine_0001
Create Date: 2026-12-05 23:10:00

"""
import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401


revision = 'intents_0001'
down_revision = 'engine_0001'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
