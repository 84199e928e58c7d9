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

COLUMNS = ('uninstall_requested_at', 'uninstall_checked_at', 'uninstalled_at', 'purge_after')


def upgrade():
    with op.batch_alter_table('installations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('uninstall_requested_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('uninstall_clean', sa.Boolean(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('uninstall_checked_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('uninstalled_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('purge_after', sa.DateTime(), nullable=True))


def downgrade():
    with op.batch_alter_table('installations', schema=None) as batch_op:
        for name in ('uninstall_clean', *COLUMNS):
            batch_op.drop_column(name)
