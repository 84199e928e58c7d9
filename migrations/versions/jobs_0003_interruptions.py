"""work items: how many runs in a row their worker stopped in

Revision ID: jobs_0003
Revises: jobs_0002
Create Date: 2026-12-04 01:30:00

"""
from alembic import op
import sqlalchemy as sa


revision = 'jobs_0003'
down_revision = 'jobs_0002'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('work_items', schema=None) as batch_op:
        batch_op.add_column(sa.Column('interruptions', sa.Integer(), server_default='0', nullable=False))


def downgrade():
    with op.batch_alter_table('work_items', schema=None) as batch_op:
        batch_op.drop_column('interruptions')
