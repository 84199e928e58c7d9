"""installations: an uninstall takes effect only once confirmed with the portal

Revision ID: security_0001
Revises: jobs_0003
Create Date: 2026-12-05 12:30:00

"""
from alembic import op
import sqlalchemy as sa


revision = 'security_0001'
down_revision = 'jobs_0003'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
