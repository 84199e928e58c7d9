"""xero: local index of each organisation's contacts

Revision ID: xero_0001
Revises: dashboard_0001
Create Date: 2026-11-22 12:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = 'xero_0001'
down_revision = 'dashboard_0001'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('xero_contacts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organisation_id', sa.String(length=64), nullable=False),
    sa.Column('contact_id', sa.String(length=64), nullable=False),
    sa.Column('contact_number', sa.String(length=50), nullable=True),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('name_key', sa.String(length=255), nullable=False),
    sa.Column('email', sa.String(length=255), nullable=False),
    sa.Column('email_key', sa.String(length=255), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_xero_contacts')),
    sa.UniqueConstraint('organisation_id', 'contact_id', name=op.f('uq_xero_contacts_organisation_id_contact_id'))
    )
    with op.batch_alter_table('xero_contacts', schema=None) as batch_op:
        batch_op.create_index('ix_xero_contacts_org_number', ['organisation_id', 'contact_number'], unique=False)
        batch_op.create_index('ix_xero_contacts_org_email', ['organisation_id', 'email_key'], unique=False)
        batch_op.create_index('ix_xero_contacts_org_name', ['organisation_id', 'name_key'], unique=False)
    op.create_table('xero_contact_index_state',
    sa.Column('organisation_id', sa.String(length=64), nullable=False),
    sa.Column('loaded', sa.Boolean(), nullable=False),
    sa.Column('stale', sa.Boolean(), nullable=False),
    sa.Column('read_from', sa.DateTime(), nullable=True),
    sa.Column('checked_at', sa.DateTime(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('organisation_id', name=op.f('pk_xero_contact_index_state'))
    )


def downgrade():
    op.drop_table('xero_contact_index_state')
    with op.batch_alter_table('xero_contacts', schema=None) as batch_op:
        batch_op.drop_index('ix_xero_contacts_org_name')
        batch_op.drop_index('ix_xero_contacts_org_email')
        batch_op.drop_index('ix_xero_contacts_org_number')
    op.drop_table('xero_contacts')
