"""bitrix24: confirmed iframe viewers

Revision ID: bitrix24_0001
Revises: 0001_initial
Create Date: 2026-11-23 10:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = 'bitrix24_0001'
down_revision = '0001_initial'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('bitrix24_viewers',
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('installation_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('is_admin', sa.Boolean(), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('expires_at', sa.DateTime(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['installation_id'], ['installations.id'], name=op.f('fk_bitrix24_viewers_installation_id_installations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('token_hash', name=op.f('pk_bitrix24_viewers'))
    )
    with op.batch_alter_table('bitrix24_viewers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_bitrix24_viewers_installation_id'), ['installation_id'], unique=False)


def downgrade():
    with op.batch_alter_table('bitrix24_viewers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_bitrix24_viewers_installation_id'))
    op.drop_table('bitrix24_viewers')
