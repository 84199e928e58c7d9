"""messages: the id and parameters of what a user reads, beside its English text

Sync records (error, fix, warning), sent alerts and ledger connections (their health
message) keep their English text and gain a JSON twin per text (``<column>_i18n``) holding the message id and parameters, so pages render
them in the viewer's language (bridge/stored_messages.py). Existing rows get NULL there and
keep displaying their English text.

Revision ID: messages_0001
Revises: links_0002
Create Date: 2026-12-05 19:10:00

"""
import sqlalchemy as sa
from alembic import op


revision = 'messages_0001'
down_revision = 'links_0002'
branch_labels = None
depends_on = None

SYNC_RECORD_TEXTS = ('error_message', 'error_fix', 'warning')


def upgrade():
    with op.batch_alter_table('sync_records', schema=None) as batch_op:
        for name in SYNC_RECORD_TEXTS:
            batch_op.add_column(sa.Column(f'{name}_i18n', sa.JSON(), nullable=True))
    with op.batch_alter_table('sent_alerts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('message_i18n', sa.JSON(), nullable=True))
    with op.batch_alter_table('ledger_connections', schema=None) as batch_op:
        batch_op.add_column(sa.Column('health_message_i18n', sa.JSON(), nullable=True))


def downgrade():
    # The English texts stay: the records read as before, in English only.
    with op.batch_alter_table('ledger_connections', schema=None) as batch_op:
        batch_op.drop_column('health_message_i18n')
    with op.batch_alter_table('sent_alerts', schema=None) as batch_op:
        batch_op.drop_column('message_i18n')
    with op.batch_alter_table('sync_records', schema=None) as batch_op:
        for name in reversed(SYNC_RECORD_TEXTS):
            batch_op.drop_column(f'{name}_i18n')
