"""complaints.idem_key: filing a complaint is idempotent per draft

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30 08:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('complaints', schema=None) as batch_op:
        batch_op.add_column(sa.Column('idem_key', sa.String(length=48), nullable=True))
        batch_op.create_unique_constraint('uq_complaints_idem_key', ['idem_key'])


def downgrade() -> None:
    with op.batch_alter_table('complaints', schema=None) as batch_op:
        batch_op.drop_constraint('uq_complaints_idem_key', type_='unique')
        batch_op.drop_column('idem_key')
