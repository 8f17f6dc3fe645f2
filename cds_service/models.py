"""Database tables: the cards the service returned, and the feedback clients sent about them.

Feedback joins to `returned_cards` by card uuid, so `feedback-report` can say per card topic how
often clinicians accept or override.  Only ids are stored (patient id, hookInstance), never card
text, FHIR data or tokens.  The schema is managed by the Alembic migrations in `migrations/`;
these classes must match them.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class ReturnedCard(Base):
    __tablename__ = "returned_cards"

    card_uuid: Mapped[str] = mapped_column(String(200), primary_key=True)
    service_id: Mapped[str] = mapped_column(String(80))
    hook: Mapped[str] = mapped_column(String(40))
    topic: Mapped[str | None] = mapped_column(String(80), nullable=True, index=True)
    indicator: Mapped[str | None] = mapped_column(String(16), nullable=True)
    hook_instance: Mapped[str] = mapped_column(String(80), index=True)
    patient_id: Mapped[str] = mapped_column(String(64), index=True)
    suggestion_uuids: Mapped[str] = mapped_column(Text, default="[]")  # JSON array
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Feedback(Base):
    __tablename__ = "feedback"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    dedup_key: Mapped[str] = mapped_column(String(64), unique=True)  # sha256(service, entry JSON)
    service_id: Mapped[str] = mapped_column(String(80))
    card_uuid: Mapped[str] = mapped_column(String(200), index=True)
    card_known: Mapped[bool] = mapped_column(Boolean)
    topic: Mapped[str | None] = mapped_column(String(80), nullable=True, index=True)
    outcome: Mapped[str] = mapped_column(String(16))
    accepted_suggestions: Mapped[str] = mapped_column(Text, default="[]")  # JSON array of ids
    unknown_suggestions: Mapped[str] = mapped_column(Text, default="[]")  # ids not on the card
    override_system: Mapped[str | None] = mapped_column(String(300), nullable=True)
    override_code: Mapped[str | None] = mapped_column(String(120), nullable=True)
    override_display: Mapped[str | None] = mapped_column(String(300), nullable=True)
    user_comment: Mapped[str | None] = mapped_column(Text, nullable=True)
    outcome_timestamp: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
