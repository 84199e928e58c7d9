"""intents: a row committed before every create call, so a retry knows to look up first

Revision ID: intents_0001
Revises: engine_0001
Create Date: 2026-12-05 23:10:00

"""
import sqlalchemy as sa
from alembic import op




revision = 'intents_0001'
down_revision = 'engine_0001'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('intents',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('installation_id', sa.Integer(), nullable=False),
    sa.Column('ledger', sa.String(length=20), nullable=False),
    sa.Column('kind', sa.String(length=30), nullable=False),
    sa.Column('platform_id', sa.String(length=120), nullable=False),
    sa.Column('idempotency_key', sa.String(length=128), nullable=False),
    sa.Column('attempted_at', sa.DateTime(), nullable=False),
    sa.Column('outcome', sa.String(length=20), nullable=True),
    sa.Column('ledger_id', sa.String(length=120), nullable=True),
    sa.Column('settled_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['installation_id'], ['installations.id'], name=op.f('fk_intents_installation_id_installations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_intents')),
    sa.UniqueConstraint('installation_id', 'ledger', 'kind', 'platform_id', name=op.f('uq_intents_installation_id_ledger_kind_platform_id'))
    )


def downgrade():
    op.drop_table('intents')
