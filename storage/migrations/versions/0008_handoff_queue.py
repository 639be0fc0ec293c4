"""handoff_tickets.queue_told(_at): the queue position last told to a waiting citizen

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30 11:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import storage.models

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('handoff_tickets', schema=None) as batch_op:
        batch_op.add_column(sa.Column('queue_told', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('queue_told_at', storage.models.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('handoff_tickets', schema=None) as batch_op:
        batch_op.drop_column('queue_told_at')
        batch_op.drop_column('queue_told')
