"""orders are found by their provider's reference (wallet and gateway returns and notifications)

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23 16:05:00
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_orders_payment_method_provider_reference", "orders", ["payment_method", "provider_reference"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_orders_payment_method_provider_reference", table_name="orders")
