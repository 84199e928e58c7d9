"""report: the reconciliation report's stored differences and runs

Revision ID: report_0001
Revises: money_0001
Create Date: 2026-12-06 02:50:00

"""
import sqlalchemy as sa
from alembic import op


revision = 'report_0001'
down_revision = 'money_0001'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('report_runs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('installation_id', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('manual', sa.Boolean(), nullable=False),
    sa.Column('since', sa.DateTime(), nullable=True),
    sa.Column('checked', sa.Integer(), nullable=False),
    sa.Column('found', sa.Integer(), nullable=False),
    sa.Column('fixed', sa.Integer(), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('requested_at', sa.DateTime(), nullable=False),
    sa.Column('started_at', sa.DateTime(), nullable=True),
    sa.Column('finished_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['installation_id'], ['installations.id'], name=op.f('fk_report_runs_installation_id_installations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_report_runs'))
    )
    with op.batch_alter_table('report_runs', schema=None) as batch_op:
        batch_op.create_index('ix_report_runs_installation', ['installation_id', 'id'], unique=False)
    op.create_table('report_rows',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('installation_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=30), nullable=False),
    sa.Column('platform_id', sa.String(length=120), nullable=False),
    sa.Column('ledger_id', sa.String(length=120), nullable=False),
    sa.Column('ledger_number', sa.String(length=255), nullable=False),
    sa.Column('issued', sa.Date(), nullable=True),
    sa.Column('what', sa.Text(), nullable=False),
    sa.Column('what_i18n', sa.JSON(), nullable=True),
    sa.Column('actions', sa.JSON(), nullable=False),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('first_seen_at', sa.DateTime(), nullable=False),
    sa.Column('last_seen_at', sa.DateTime(), nullable=False),
    sa.Column('resolved_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['installation_id'], ['installations.id'], name=op.f('fk_report_rows_installation_id_installations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_report_rows')),
    sa.UniqueConstraint('installation_id', 'kind', 'platform_id', 'ledger_id', name=op.f('uq_report_rows_installation_id_kind_platform_id_ledger_id'))
    )
    with op.batch_alter_table('report_rows', schema=None) as batch_op:
        batch_op.create_index('ix_report_rows_installation_state', ['installation_id', 'state'], unique=False)


def downgrade():
    with op.batch_alter_table('report_rows', schema=None) as batch_op:
        batch_op.drop_index('ix_report_rows_installation_state')
    op.drop_table('report_rows')
    with op.batch_alter_table('report_runs', schema=None) as batch_op:
        batch_op.drop_index('ix_report_runs_installation')
    op.drop_table('report_runs')
