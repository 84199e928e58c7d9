"""engine: lease generations (fencing) and per-installation scheduling

Work items get a class (priority: what a user waits for before bulk) and a lease
generation (a run may renew, write and settle only while it holds the generation it
claimed); installations remember when their work was last claimed (round robin).

Revision ID: engine_0001
Revises: messages_0001
Create Date: 2026-12-05 23:10:00

"""
import sqlalchemy as sa
from alembic import op


revision = 'engine_0001'
down_revision = 'messages_0001'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('work_items', schema=None) as batch_op:
        batch_op.add_column(sa.Column('priority', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('lease_generation', sa.Integer(), server_default='0', nullable=False))
        batch_op.create_index('ix_work_items_pick', ['state', 'installation_id', 'flow', 'priority', 'updated_at'],
                              unique=False)
    with op.batch_alter_table('installations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('served_at', sa.DateTime(), nullable=True))


def downgrade():
    with op.batch_alter_table('installations', schema=None) as batch_op:
        batch_op.drop_column('served_at')
    with op.batch_alter_table('work_items', schema=None) as batch_op:
        batch_op.drop_index('ix_work_items_pick')
        batch_op.drop_column('lease_generation')
        batch_op.drop_column('priority')
