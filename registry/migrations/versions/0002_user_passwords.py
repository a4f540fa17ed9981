"""users get a dashboard password: its argon2id hash and whether it is a one-time password that
must be changed at the next login

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-04 14:00:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = '0002'
down_revision: Union[str, Sequence[str], None] = '0001'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table('users') as batch:
        batch.add_column(sa.Column('password_hash', sa.String(length=255), nullable=True))
        batch.add_column(sa.Column('must_change_password', sa.Boolean(), nullable=False,
                                   server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table('users') as batch:
        batch.drop_column('must_change_password')
        batch.drop_column('password_hash')
