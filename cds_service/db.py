"""Database access (SQLAlchemy 2): engine, migrations, the card log.

SQLite file by default, PostgreSQL when CDS_DATABASE_URL says so (`postgresql+psycopg://...`).
Migrations (Alembic, packaged in `cds_service/migrations`) run by `upgrade()`: at app start-up when
CDS_DB_AUTO_MIGRATE is on (default; tests, `flask run`), and once in the `serve` command before the
gunicorn workers start (which then skip it, so workers never race on DDL).
"""
from __future__ import annotations

import json
import logging
import os
import sqlite3
import threading
from datetime import datetime, timezone
from importlib import resources
from collections.abc import Mapping  # isinstance on typing.Mapping is ~10x slower
from typing import Any, Iterable

from flask import Flask
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from .models import ReturnedCard
from .settings import Settings

log = logging.getLogger("cds_service.db")

MIGRATION_LOCK_KEY = 0x0CD5_0001  # PostgreSQL advisory lock held while migrating


def normalize_url(url: str) -> str:
    """`postgresql://` and `postgres://` mean psycopg 3 (the driver this project installs)."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://"):]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    return url


def make_engine(url: str, *, synchronous: str = "FULL") -> Engine:
    """`synchronous`: SQLite's PRAGMA for every connection of this engine (FULL: durable before the
    commit returns; the card log's own engine uses NORMAL, see CardLog)."""
    if synchronous not in ("FULL", "NORMAL"):
        raise ValueError(f"synchronous must be FULL or NORMAL, not {synchronous!r}")
    url = normalize_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:" and not database.startswith("file:"):
            directory = os.path.dirname(os.path.abspath(database))
            os.makedirs(directory, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 15})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # durable and concurrent enough for one host
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute(f"PRAGMA synchronous={synchronous}")
            cur.execute("PRAGMA busy_timeout=15000")
            cur.close()

        return engine
    # PostgreSQL: a silently dropped network (no RST) must not hold a request until gunicorn's timeout:
    # libpq keepalives and tcp_user_timeout make a dead connection fail within seconds (then 503).
    pg_args = {"connect_timeout": 3, "keepalives": 1, "keepalives_idle": 10, "keepalives_interval": 5,
               "keepalives_count": 3, "tcp_user_timeout": 10000}
    return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10,
                         connect_args=pg_args if parsed.get_backend_name() == "postgresql" else {})


def alembic_config(engine_url: str | None = None):
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(resources.files("cds_service").joinpath("migrations")))
    if engine_url:
        cfg.set_main_option("sqlalchemy.url", engine_url.replace("%", "%%"))
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to `revision` (idempotent)."""
    from alembic import command

    cfg = alembic_config()
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            # several instances starting at once: one migrates, the others wait, then find it done
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


class Database:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.sessions = sessionmaker(engine, expire_on_commit=False)

    def session(self) -> Session:
        return self.sessions()

    def ping(self) -> bool:
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            return True
        except SQLAlchemyError:
            return False


def card_topic(card: Mapping[str, Any]) -> str | None:
    source = card.get("source")
    topic = source.get("topic") if isinstance(source, Mapping) else None
    code = topic.get("code") if isinstance(topic, Mapping) else None
    return str(code)[:80] if code else None


def _is_sqlite_file(engine: Engine) -> bool:
    database = engine.url.database
    return (engine.dialect.name == "sqlite" and bool(database) and database != ":memory:"
            and not database.startswith("file:") and "mode=memory" not in str(engine.url))


class CardLog:
    """Records every returned card in one batched INSERT per response.

    Written on every service call, so the commit does not wait for the disk (an fsync per call
    capped the service at about 300 calls/s): SQLite WAL with synchronous=NORMAL, PostgreSQL
    synchronous_commit off; both survive a crash of the service, a power cut can lose the last rows.
    Feedback keeps FULL (durable before its 2xx).  For an SQLite file the card log has its own
    engine whose connections are NORMAL from the start, so the feedback engine's connections are
    never relaxed (no PRAGMA switch and restore per call: 0.09 ms per response).  SQLAlchemy Core
    insert without an ORM Session: the ORM bulk path cost twice the CPU, the Session itself ~0.05 ms.
    """

    def __init__(self, db: Database) -> None:
        self.db = db
        self._insert = ReturnedCard.__table__.insert()
        self._engine: Engine | None = None
        if _is_sqlite_file(db.engine):
            self._engine = make_engine(db.engine.url.render_as_string(hide_password=False),
                                       synchronous="NORMAL")
            dialect = self._engine.dialect
            columns = list(ReturnedCard.__table__.c)
            # SQLAlchemy's own bind processors (DateTime -> its SQLite text form), so rows are stored
            # exactly as a Core insert stores them
            self._processors = {c.name: p for c in columns
                                if (p := c.type.dialect_impl(dialect).bind_processor(dialect)) is not None}
            self._sql = (f"INSERT INTO {ReturnedCard.__tablename__} ({', '.join(c.name for c in columns)}) "
                         f"VALUES ({', '.join(':' + c.name for c in columns)})")
            self._idle: list[Any] = []  # DBAPI connections of the card-log engine, reused LIFO
            self._idle_lock = threading.Lock()

    def _insert_sqlite(self, rows: list[dict[str, Any]]) -> None:
        """One executemany and commit on a pooled-by-us DBAPI connection of the card-log engine
        (SQLAlchemy's checkout, reset and statement layers cost ~0.1 ms of the ~0.2 ms per call)."""
        with self._idle_lock:
            fairy = self._idle.pop() if self._idle else None
        if fairy is None:
            # made by the engine (its connect hook sets WAL, NORMAL, busy_timeout), then ours to keep
            fairy = self._engine.raw_connection()  # type: ignore[union-attr]
            fairy.detach()
        conn = fairy.dbapi_connection
        try:
            params = [{**row, **{k: p(row[k]) for k, p in self._processors.items()}} for row in rows]
            conn.executemany(self._sql, params)
            conn.commit()
        except BaseException:
            try:
                conn.rollback()
            finally:
                fairy.close()  # a connection in an unknown state is not reused
            raise
        with self._idle_lock:
            self._idle.append(fairy)

    def record(self, cards: Iterable[Mapping[str, Any]], *, service_id: str, hook: str,
               hook_instance: str, patient_id: str) -> bool:
        now = datetime.now(timezone.utc)
        rows = []
        for card in cards:
            if not isinstance(card, Mapping) or not card.get("uuid"):
                continue
            suggestions = [s.get("uuid") for s in card.get("suggestions") or ()
                           if isinstance(s, Mapping) and s.get("uuid")]
            rows.append({
                "card_uuid": str(card["uuid"])[:200], "service_id": service_id, "hook": hook,
                "topic": card_topic(card), "indicator": card.get("indicator"),
                "hook_instance": hook_instance[:80], "patient_id": patient_id,
                "suggestion_uuids": json.dumps(suggestions), "created_at": now,
            })
        if not rows:
            return True
        # where the database's sessions write (a test or tool may rebind them)
        bind = self.db.sessions.kw.get("bind") or self.db.engine
        try:
            if self._engine is not None and bind is self.db.engine:
                self._insert_sqlite(rows)
                return True
            with bind.begin() as conn:
                # (SQLite here is in memory or a rebound engine: no per-call PRAGMA switch; its
                # connections stay as their engine made them, so feedback never gets a relaxed one)
                if conn.dialect.name == "postgresql":
                    conn.exec_driver_sql("SET LOCAL synchronous_commit TO OFF")
                conn.execute(self._insert, rows)
            return True
        except (SQLAlchemyError, sqlite3.Error) as exc:
            # The clinical answer still goes out, but loudly: these uuids will not join feedback.
            log.error(json.dumps({"event": "card_log_failed", "error": type(exc).__name__,
                                  "hookInstance": hook_instance, "cards": [r["card_uuid"] for r in rows]}))
            return False


def init_app(app: Flask, settings: Settings) -> None:
    engine = make_engine(settings.database_url)
    if settings.db_auto_migrate:
        upgrade(engine)
    database = Database(engine)
    app.extensions["cds_db"] = database
    app.extensions["cds_card_log"] = CardLog(database)
