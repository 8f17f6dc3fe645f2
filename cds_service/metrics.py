"""Prometheus metrics at ``GET /metrics`` (prometheus-client), safe under gunicorn.

Why this shape:

* The service layer announces what happened through blinker signals (``cds_service.signals``):
  ``hook_evaluated``, ``fhir_fetch``, ``feedback_stored``.  This module only listens, so the hot path
  never imports Prometheus code and the metrics can be switched off by not calling ``init_app``.
* Each app gets its own metric objects (and, in single-process mode, its own ``CollectorRegistry``),
  so tests may build many apps without "Duplicated timeseries" errors.  The one signal receiver finds
  the right app's metrics through ``flask.current_app`` (signals are sent inside the request).
* Under gunicorn every worker is a process: with ``PROMETHEUS_MULTIPROC_DIR`` set, values live in
  mmap files in that directory and ``/metrics`` aggregates all workers (``MultiProcessCollector``).
  The serve command must point ``PROMETHEUS_MULTIPROC_DIR`` at a fresh empty directory
  (:func:`prepare_multiprocess_dir`) and gunicorn must call :func:`gunicorn_child_exit` when a worker
  exits, so dead workers' live series are dropped.
* Label values are bounded sets (service ids, hook names, topic codes, indicators, prefetch keys,
  outcomes): never patient ids or anything from free text.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Mapping  # isinstance on typing.Mapping is ~10x slower
from typing import Any, Iterable

from flask import Blueprint, Flask, Response, current_app, g, request

from .db import card_topic as _logged_topic

EXTENSION_KEY = "cds_metrics"

# Latency buckets (seconds) sized for a service that must answer in tens of milliseconds, with room
# for slow FHIR fetches up to the 2.5 s budget.
_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

bp = Blueprint("metrics", __name__)


def _multiprocess_dir() -> str | None:
    path = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    return path or None


def _ensure_value_class() -> None:
    """prometheus-client chooses its value class when it is first imported.  If the serve command set
    ``PROMETHEUS_MULTIPROC_DIR`` after something had already imported it, switch to the mmap-backed
    class now, before any metric object exists in this app."""
    from prometheus_client import values

    if _multiprocess_dir() and not getattr(values.ValueClass, "_multiprocess", False):
        values.ValueClass = values.MultiProcessValue()


class CdsMetrics:
    """The metric objects of one app."""

    def __init__(self, registry) -> None:
        from prometheus_client import Counter, Histogram

        self.registry = registry
        self._children: dict[tuple[int, tuple[str, ...]], Any] = {}
        # the same children by the values the service passes, before they are made labels (see
        # _plain_key): the hook series of a call and the HTTP series of a request in one lookup
        self._hook_children: dict[tuple[Any, ...], Any] = {}
        self._http_children: dict[tuple[str, str, int], Any] = {}
        self.hook_duration = Histogram(
            "cds_hook_request_duration_seconds",
            "Time to evaluate one CDS Hooks request (decode, FHIR fetch, mappings, core, cards).",
            ("service", "hook", "status"),
            buckets=_LATENCY_BUCKETS,
            registry=registry,
        )
        self.cards = Counter(
            "cds_cards_returned",
            "Cards returned, by card topic code and indicator.",
            ("topic", "indicator"),
            registry=registry,
        )
        self.fhir_duration = Histogram(
            "cds_fhir_fetch_duration_seconds",
            "Time of each FHIR fetch made to complete the prefetch, by prefetch key and outcome.",
            ("key", "outcome"),
            buckets=_LATENCY_BUCKETS,
            registry=registry,
        )
        self.fhir_failures = Counter(
            "cds_fhir_fetch_failures",
            "FHIR fetches that failed (error, timeout, budget exhausted), by prefetch key.",
            ("key",),
            registry=registry,
        )
        self.feedback = Counter(
            "cds_feedback",
            "Feedback entries stored, by card topic code and outcome (accepted / overridden).",
            ("topic", "outcome"),
            registry=registry,
        )
        self.http_duration = Histogram(
            "cds_http_request_duration_seconds",
            "Time of every HTTP request (including 4xx/5xx that never reach a hook), by endpoint.",
            ("method", "endpoint", "status"),
            buckets=_LATENCY_BUCKETS,
            registry=registry,
        )

    # -- recording (called from signal receivers and request hooks) -----------------------------
    def child(self, metric: Any, *labels: str) -> Any:
        """`metric.labels(*labels)`, remembered: label values are bounded (service ids, hooks, status
        codes, topics, indicators, route templates), and `labels()` validates and locks on every call."""
        key = (id(metric), labels)
        found = self._children.get(key)
        if found is None:
            found = self._children[key] = metric.labels(*labels)
        return found

    def record_hook(self, service: Any, hook: Any, status: Any, duration_s: float,
                    cards: Iterable[Mapping[str, Any]] | None) -> None:
        child = self._by_values(self._hook_children, self.hook_duration, (service, hook, status), _labels)
        child.observe(max(float(duration_s or 0.0), 0.0))
        for card in cards or ():
            if type(card) is dict or isinstance(card, Mapping):  # dict first: an ABC check is slower
                self.child(self.cards, card_topic(card), _label(card.get("indicator"))).inc()

    def http_child(self, method: str, endpoint: str, status_code: int) -> Any:
        """`child(http_duration, method, endpoint, str(status_code))` by the request's own values
        (method already one of _METHODS or "other", the route template, the int status)."""
        return self._by_values(self._http_children, self.http_duration, (method, endpoint, status_code),
                               _http_labels)

    def _by_values(self, cache: dict, metric: Any, values: tuple[Any, ...], to_labels) -> Any:
        """`child(metric, *to_labels(values))`, found in `cache` by the raw values when they are plain
        (`_plain_key`: equal values, equal labels) and remembered there up to `_RAW_KEYS_MAX`."""
        plain = _plain_key(values)
        child = cache.get(values) if plain else None
        if child is None:
            child = self.child(metric, *to_labels(values))
            if plain and len(cache) < _RAW_KEYS_MAX:
                cache[values] = child
        return child

    def record_fhir(self, key: Any, duration_s: float, ok: bool) -> None:
        outcome = "ok" if ok else "failure"
        self.fhir_duration.labels(_label(key), outcome).observe(max(float(duration_s or 0.0), 0.0))
        if not ok:
            self.fhir_failures.labels(_label(key)).inc()

    def record_feedback(self, topic: Any, outcome: Any) -> None:
        self.feedback.labels(_label(topic), _label(outcome)).inc()


_RAW_KEYS_MAX = 4096  # label values are bounded sets; the bound only guards a leak


def _plain_key(values: tuple[Any, ...]) -> bool:
    """Values whose equality means equal labels (str, int, None), so a dict keyed by them finds
    the child `_label` would name: not bool/float/subclasses (True == 1 == 1.0, labels differ)."""
    for value in values:
        kind = type(value)
        if kind is not str and kind is not int and value is not None:
            return False
    return True


def _labels(values: tuple[Any, ...]) -> tuple[str, ...]:
    return tuple([_label(v) for v in values])


def _http_labels(values: tuple[str, str, int]) -> tuple[str, str, str]:
    method, endpoint, status_code = values
    return method, endpoint, str(status_code)


def _label(value: Any) -> str:
    if value is None or value == "":
        return "none"
    return str(value)[:64]


def card_topic(card: Mapping[str, Any]) -> str:
    """``source.topic.code`` of a card (as the card log reads it), or ``"none"``."""
    return _label(_logged_topic(card))


# -- signal receivers: module-level functions so blinker keeps one (strong) reference each --------
def _metrics_for(sender: Any) -> CdsMetrics | None:
    try:
        # the app of the current context (one lookup; has_app_context() first was a second one)
        app = current_app._get_current_object()
    except RuntimeError:  # no application context
        if not isinstance(sender, Flask):
            return None
        app = sender
    return app.extensions.get(EXTENSION_KEY)


def _on_hook_evaluated(sender: Any, service: Any = None, hook: Any = None, status: Any = None,
                       duration_s: float = 0.0, cards: Any = None, **_: Any) -> None:
    metrics = _metrics_for(sender)
    if metrics is not None:
        metrics.record_hook(service, hook, status, duration_s, cards)


def _on_fhir_fetch(sender: Any, key: Any = None, duration_s: float = 0.0, ok: bool = True,
                   **_: Any) -> None:
    metrics = _metrics_for(sender)
    if metrics is not None:
        metrics.record_fhir(key, duration_s, ok)


def _on_feedback_stored(sender: Any, topic: Any = None, outcome: Any = None, **_: Any) -> None:
    metrics = _metrics_for(sender)
    if metrics is not None:
        metrics.record_feedback(topic, outcome)


def connect_signals() -> bool:
    """Connect the receivers to ``cds_service.signals``.  Returns False when that module does not
    exist (yet): the metrics endpoint still works, only the service-level series stay empty."""
    try:
        from cds_service import signals
    except ImportError:
        return False
    for name, receiver in (("hook_evaluated", _on_hook_evaluated),
                           ("fhir_fetch", _on_fhir_fetch),
                           ("feedback_stored", _on_feedback_stored)):
        signal = getattr(signals, name, None)
        if signal is not None:
            signal.connect(receiver, weak=False)  # idempotent: blinker keys receivers by id
    return True


# -- HTTP ---------------------------------------------------------------------------------------
_METHODS = frozenset({"GET", "POST", "OPTIONS", "HEAD", "PUT", "PATCH", "DELETE"})


def _start_timer() -> None:
    g._get_current_object()._cds_metrics_t0 = time.perf_counter()


def _observe_http(response):
    t0 = g._get_current_object().pop("_cds_metrics_t0", None)
    metrics = current_app._get_current_object().extensions.get(EXTENSION_KEY)
    if t0 is not None and metrics is not None:
        req = request._get_current_object()  # the real objects: each proxy access costs a lookup
        rule = req.url_rule
        endpoint = rule.rule if rule is not None else "unmatched"
        method = req.method
        if method not in _METHODS:
            method = "other"  # the client names it
        metrics.http_child(method, endpoint, response.status_code).observe(time.perf_counter() - t0)
    return response


@bp.get("/metrics")
def metrics_view() -> Response:
    from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

    metrics: CdsMetrics | None = current_app.extensions.get(EXTENSION_KEY)
    if _multiprocess_dir():
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = metrics.registry if metrics is not None else CollectorRegistry()
    return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)


def init_app(app: Flask) -> CdsMetrics:
    """Create this app's metrics, register ``GET /metrics`` and connect to the service signals."""
    existing = app.extensions.get(EXTENSION_KEY)
    if existing is not None:
        return existing
    from prometheus_client import CollectorRegistry

    if _multiprocess_dir():
        _ensure_value_class()
        metrics = CdsMetrics(registry=None)  # values go to the mmap files; collected per scrape
    else:
        metrics = CdsMetrics(registry=CollectorRegistry(auto_describe=True))
    app.extensions[EXTENSION_KEY] = metrics
    app.register_blueprint(bp)
    app.before_request(_start_timer)
    app.after_request(_observe_http)
    connect_signals()
    return metrics


# -- gunicorn / serve-command helpers ----------------------------------------------------------
def prepare_multiprocess_dir(path: str | None = None) -> str:
    """Point ``PROMETHEUS_MULTIPROC_DIR`` at a fresh empty directory (a new temp dir by default) and
    return it.  Call in the serve command BEFORE gunicorn loads the app."""
    if path is None:
        path = tempfile.mkdtemp(prefix="omalizumab-cds-metrics-")
    else:
        os.makedirs(path, exist_ok=True)
        for name in os.listdir(path):
            if name.endswith(".db"):
                os.unlink(os.path.join(path, name))
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = path
    return path


def gunicorn_child_exit(server: Any, worker: Any) -> None:
    """gunicorn ``child_exit`` hook: drop the exited worker's live series from the aggregate."""
    if _multiprocess_dir():
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
