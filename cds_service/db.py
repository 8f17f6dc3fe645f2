"""Database access (SQLAlchemy 2): engine, migrations, the card log.

SQLite file by default, PostgreSQL when CDS_DATABASE_URL says so (`postgresql+psycopg://...`).
Migrations (Alembic, packaged in `cds_service/migrations`) run by `upgrade()`: at app start-up when
CDS_DB_AUTO_MIGRATE is on (default; tests, `flask run`), and once in the `serve` command before the
gunicorn workers start (which then skip it, so workers never race on DDL).
"""
from __future__ import annotations

import atexit
import json
import logging
import os
import sqlite3
import threading
import weakref
from datetime import datetime, timezone
from importlib import resources
from collections.abc import Mapping  # isinstance on typing.Mapping is ~10x slower
from typing import Any, Iterable

from flask import Flask
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
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
    """`source.topic.code` of a card, at most 80 characters, or None (the card log's and the
    metrics' topic, once per card each).  A plain dict is answered by a type comparison before the
    ABC isinstance (several times slower), written out: a helper call per check cost more than it."""
    source = card.get("source")
    topic = source.get("topic") if type(source) is dict or isinstance(source, Mapping) else None
    code = topic.get("code") if type(topic) is dict or isinstance(topic, Mapping) else None
    return str(code)[:80] if code else None


def uuid_list_json(ids: list[Any]) -> str:
    """`json.dumps(ids)`, written directly for plain strings of printable ASCII without a quote or
    backslash (card and suggestion uuids), which json.dumps writes as they are: its encoder cost
    ~15,000 instructions a call, one call per card (tests/service/test_card_log_json.py compares).
    The type check is a plain loop: `all()` over a generator cost twice as much for the one or two
    uuids a card has."""
    for x in ids:
        if type(x) is not str:
            return json.dumps(ids)
    text = "".join(ids)
    if text.isascii() and text.isprintable() and '"' not in text and "\\" not in text:
        return '["' + '", "'.join(ids) + '"]' if ids else "[]"
    return json.dumps(ids)


def _is_sqlite_file(engine: Engine) -> bool:
    database = engine.url.database
    return (engine.dialect.name == "sqlite" and bool(database) and database != ":memory:"
            and not database.startswith("file:") and "mode=memory" not in str(engine.url))


# the returned_cards columns in the order CardLog queues a row's values (record builds tuples, the
# writer binds them positionally); checked against the table when a CardLog is made
_ROW_COLUMNS = ("card_uuid", "service_id", "hook", "topic", "indicator", "hook_instance", "patient_id",
                "suggestion_uuids", "created_at")
_HOOK_INSTANCE = _ROW_COLUMNS.index("hook_instance")
_CREATED_AT = _ROW_COLUMNS.index("created_at")
assert _CREATED_AT == len(_ROW_COLUMNS) - 1  # last: _sqlite_params replaces it by slicing


class CardLog:
    """Records every returned card: one batched INSERT per response, or per write-behind batch.

    Written on every service call, so the commit does not wait for the disk (an fsync per call
    capped the service at about 300 calls/s): SQLite WAL with synchronous=NORMAL, PostgreSQL
    synchronous_commit off; both survive a crash of the service, a power cut can lose the last rows.
    Feedback keeps FULL (durable before its 2xx).  For an SQLite file the card log has its own
    engine whose connections are NORMAL from the start, so the feedback engine's connections are
    never relaxed (no PRAGMA switch and restore per call: 0.09 ms per response).  SQLAlchemy Core
    insert without an ORM Session: the ORM bulk path cost twice the CPU, the Session itself ~0.05 ms.

    Write-behind (`write_behind_s` > 0, CDS_CARD_LOG_WRITE_BEHIND_MS, default 50 ms): a response
    only queues its rows; one writer thread per process inserts what has queued every
    `write_behind_s` (or at 256 rows) in one transaction.  Under load the per-response commit, and
    the WAL checkpoints that ride on some of them, cost ~9% of a worker's time inside the request;
    batched off the request thread they cost a fraction of that and never delay an answer.  What
    this trades: rows reach the table up to `write_behind_s` after the response (feedback on this
    process flushes the queue first, `flush()`; feedback reaching another worker within that window
    would find its card unknown, which a clinician's click cannot do), and a worker killed with
    SIGKILL loses at most that window's rows (a clean exit flushes).
    """

    BATCH_ROWS = 256

    def __init__(self, db: Database, write_behind_s: float = 0.0) -> None:
        self.db = db
        self.write_behind_s = max(0.0, float(write_behind_s))
        self._insert = ReturnedCard.__table__.insert()
        self._engine: Engine | None = None
        # queued rows: one tuple per card, values in _ROW_COLUMNS order (a tuple is built in a third
        # of a 9-key dict's time and bound positionally without a per-row dict merge)
        self._pending: list[tuple[Any, ...]] = []
        self._cond = threading.Condition()
        self._writer_pid: int | None = None  # the process whose writer thread is running
        self._writing = False  # the writer thread holds a batch it has not finished writing
        if _is_sqlite_file(db.engine):
            self._engine = make_engine(db.engine.url.render_as_string(hide_password=False),
                                       synchronous="NORMAL")
            dialect = self._engine.dialect
            columns = [ReturnedCard.__table__.c[name] for name in _ROW_COLUMNS]
            # SQLAlchemy's own bind processors (DateTime -> its SQLite text form), so rows are stored
            # exactly as a Core insert stores them; by position in the row tuple
            processors = {i: p for i, c in enumerate(columns)
                          if (p := c.type.dialect_impl(dialect).bind_processor(dialect)) is not None}
            # created_at is the one column with a processor (its value, one datetime per response,
            # is converted once per distinct value in a batch, see _sqlite_params)
            if set(processors) - {_CREATED_AT}:
                raise RuntimeError(f"unexpected bind processors for {sorted(processors)}")
            self._created_at_processor = processors.get(_CREATED_AT)
            # qmark parameters: sqlite3 binds a tuple by position, a named style looks up every name
            self._sql = (f"INSERT INTO {ReturnedCard.__tablename__} ({', '.join(_ROW_COLUMNS)}) "
                         f"VALUES ({', '.join('?' for _ in _ROW_COLUMNS)})")
            self._idle: list[Any] = []  # DBAPI connections of the card-log engine, reused LIFO
            self._idle_lock = threading.Lock()
        if set(_ROW_COLUMNS) != set(ReturnedCard.__table__.c.keys()):
            raise RuntimeError("CardLog's row columns do not match the returned_cards table")
        if self.write_behind_s:
            _WRITE_BEHIND_LOGS.add(self)

    def _sqlite_params(self, rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
        """The rows with created_at in SQLAlchemy's stored form, its processor called once per
        distinct datetime (every card of a response shares one) instead of once per row."""
        process = self._created_at_processor
        if process is None:
            return rows
        params = []
        last = text = None
        for row in rows:
            created = row[_CREATED_AT]
            if created is not last:
                last, text = created, process(created)
            params.append(row[:_CREATED_AT] + (text,))
        return params

    def _insert_sqlite(self, rows: list[tuple[Any, ...]]) -> None:
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
            conn.executemany(self._sql, self._sqlite_params(rows))
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
        hook_instance_80 = hook_instance[:80]
        rows = []
        for card in cards:
            if not (type(card) is dict or isinstance(card, Mapping)) or not card.get("uuid"):
                continue
            suggestions = [s.get("uuid") for s in card.get("suggestions") or ()
                           if (type(s) is dict or isinstance(s, Mapping)) and s.get("uuid")]
            rows.append((  # _ROW_COLUMNS order
                str(card["uuid"])[:200], service_id, hook, card_topic(card), card.get("indicator"),
                hook_instance_80, patient_id, uuid_list_json(suggestions), now))
        if not rows:
            return True
        if self.write_behind_s:
            with self._cond:
                self._pending.extend(rows)
                if self._writer_pid != os.getpid():  # first call in this process (gunicorn forks)
                    self._start_writer()
                if len(self._pending) >= self.BATCH_ROWS:
                    self._cond.notify()
            return True
        return self._write(rows, hook_instance)

    def flush(self, timeout_s: float = 20.0) -> bool:
        """Write whatever is queued now, in the caller's thread, and wait for a batch the writer
        thread is writing: every card recorded before the call is then in the table, or logged as
        failed (feedback, exit, tests)."""
        with self._cond:
            rows, self._pending = self._pending, []
        ok = self._write(rows, None) if rows else True
        with self._cond:
            self._cond.wait_for(lambda: not self._writing, timeout_s)
        return ok

    def _start_writer(self) -> None:
        self._writer_pid = os.getpid()
        threading.Thread(target=self._writer_loop, name="card-log-writer", daemon=True).start()

    def _writer_loop(self) -> None:
        while True:
            with self._cond:
                if len(self._pending) < self.BATCH_ROWS:
                    self._cond.wait(self.write_behind_s)
                rows, self._pending = self._pending, []
                self._writing = bool(rows)
            if rows:
                try:
                    self._write(rows, None)
                finally:
                    with self._cond:
                        self._writing = False
                        self._cond.notify_all()

    def _write(self, rows: list[tuple[Any, ...]], hook_instance: str | None) -> bool:
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
                conn.execute(self._insert, [dict(zip(_ROW_COLUMNS, row)) for row in rows])
            return True
        except (IntegrityError, sqlite3.IntegrityError):
            if len(rows) > 1:  # one bad row (a repeated card uuid) must not cost the batch's others
                return all([self._write([row], hook_instance) for row in rows])
            return self._failed(rows, hook_instance, "IntegrityError")
        except (SQLAlchemyError, sqlite3.Error) as exc:
            return self._failed(rows, hook_instance, type(exc).__name__)

    @staticmethod
    def _failed(rows: list[tuple[Any, ...]], hook_instance: str | None, error: str) -> bool:
        """The clinical answer went out, but loudly: these uuids will not join feedback."""
        instances = sorted({r[_HOOK_INSTANCE] for r in rows})
        log.error(json.dumps({"event": "card_log_failed", "error": error,
                              "hookInstance": hook_instance or (instances[0] if len(instances) == 1
                                                                else instances[:20]),
                              "cards": [r[0] for r in rows][:100]}))  # card_uuid
        return False


_WRITE_BEHIND_LOGS: "weakref.WeakSet[CardLog]" = weakref.WeakSet()


@atexit.register
def _flush_write_behind_logs() -> None:
    """A clean exit (gunicorn's graceful worker shutdown, the CLI, tests) writes what is queued."""
    for card_log in list(_WRITE_BEHIND_LOGS):
        try:
            card_log.flush()
        except Exception:  # noqa: BLE001 - exiting anyway; the failure is logged by _write
            pass


def init_app(app: Flask, settings: Settings) -> None:
    engine = make_engine(settings.database_url)
    if settings.db_auto_migrate:
        upgrade(engine)
    database = Database(engine)
    app.extensions["cds_db"] = database
    app.extensions["cds_card_log"] = CardLog(database, settings.card_log_write_behind_ms / 1000.0)

