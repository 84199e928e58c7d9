"""links: a contact person within a company; uniqueness per installation

Revision ID: links_0002
Revises: security_0001
Create Date: 2026-12-05 12:30:00

"""
from alembic import op
import sqlalchemy as sa


revision = 'links_0002'
down_revision = 'security_0001'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
