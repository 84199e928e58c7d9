"""work items: the newest inbox event their last run covered

Revision ID: jobs_0002
Revises: xero_0001
Create Date: 2026-11-22 21:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = 'jobs_0002'
down_revision = 'xero_0001'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('work_items', schema=None) as batch_op:
        batch_op.add_column(sa.Column('covered_through', sa.BigInteger(), nullable=True))


def downgrade():
    with op.batch_alter_table('work_items', schema=None) as batch_op:
        batch_op.drop_column('covered_through')
