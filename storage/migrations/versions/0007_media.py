"""outbox.kind and complaint_media: photos, documents and places carried end to end

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30 11:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import storage.models

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('kind', sa.String(length=12), nullable=False, server_default='text'))
    op.create_table('complaint_media',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('complaint_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=12), nullable=False),
    sa.Column('ref', sa.Text(), nullable=False),
    sa.Column('source', sa.String(length=12), nullable=False),
    sa.Column('caption', sa.Text(), nullable=False),
    sa.Column('name', sa.String(length=160), nullable=False),
    sa.Column('latitude', sa.Float(), nullable=True),
    sa.Column('longitude', sa.Float(), nullable=True),
    sa.Column('created_at', storage.models.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['complaint_id'], ['complaints.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('complaint_id', 'position', name='uq_complaint_media_position')
    )
    with op.batch_alter_table('complaint_media', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_complaint_media_complaint_id'), ['complaint_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('complaint_media', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_complaint_media_complaint_id'))
    op.drop_table('complaint_media')
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_column('kind')
