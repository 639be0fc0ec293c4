"""action_keys: idempotency keys of subscribe, claim, answer and rate; dossier attempts by code

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30 09:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import storage.models

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('action_keys',
    sa.Column('key', sa.String(length=160), nullable=False),
    sa.Column('ref', sa.String(length=64), nullable=False),
    sa.Column('created_at', storage.models.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('key')
    )
    with op.batch_alter_table('action_keys', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_action_keys_created_at'), ['created_at'], unique=False)
    with op.batch_alter_table('dossier_attempts', schema=None) as batch_op:
        batch_op.create_index('ix_dossier_attempts_code_at', ['code', 'at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('dossier_attempts', schema=None) as batch_op:
        batch_op.drop_index('ix_dossier_attempts_code_at')
    with op.batch_alter_table('action_keys', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_action_keys_created_at'))
    op.drop_table('action_keys')
