"""returned cards and feedback

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""
from alembic import op
import sqlalchemy as sa

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "returned_cards",
        sa.Column("card_uuid", sa.String(200), primary_key=True),
        sa.Column("service_id", sa.String(80), nullable=False),
        sa.Column("hook", sa.String(40), nullable=False),
        sa.Column("topic", sa.String(80), nullable=True),
        sa.Column("indicator", sa.String(16), nullable=True),
        sa.Column("hook_instance", sa.String(80), nullable=False),
        sa.Column("patient_id", sa.String(64), nullable=False),
        sa.Column("suggestion_uuids", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_returned_cards_topic", "returned_cards", ["topic"])
    op.create_index("ix_returned_cards_hook_instance", "returned_cards", ["hook_instance"])
    op.create_index("ix_returned_cards_patient_id", "returned_cards", ["patient_id"])
    op.create_table(
        "feedback",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("dedup_key", sa.String(64), nullable=False, unique=True),
        sa.Column("service_id", sa.String(80), nullable=False),
        sa.Column("card_uuid", sa.String(200), nullable=False),
        sa.Column("card_known", sa.Boolean(), nullable=False),
        sa.Column("topic", sa.String(80), nullable=True),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("accepted_suggestions", sa.Text(), nullable=False),
        sa.Column("unknown_suggestions", sa.Text(), nullable=False),
        sa.Column("override_system", sa.String(300), nullable=True),
        sa.Column("override_code", sa.String(120), nullable=True),
        sa.Column("override_display", sa.String(300), nullable=True),
        sa.Column("user_comment", sa.Text(), nullable=True),
        sa.Column("outcome_timestamp", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_feedback_card_uuid", "feedback", ["card_uuid"])
    op.create_index("ix_feedback_topic", "feedback", ["topic"])


def downgrade() -> None:
    op.drop_table("feedback")
    op.drop_table("returned_cards")
