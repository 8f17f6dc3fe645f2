"""The Flask application factory: a plain list of registrations, nothing done at import time."""
from __future__ import annotations

import io
import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Mapping

from flask import Flask, Request, Response, current_app
from flask.ctx import RequestContext
from werkzeug.datastructures import Headers
from werkzeug.exceptions import ClientDisconnected, RequestEntityTooLarge
from werkzeug.utils import cached_property
from werkzeug.wrappers import Request as WerkzeugRequest
from werkzeug.wsgi import LimitedStream

from .settings import Settings

log = logging.getLogger("cds_service")


_CHUNK = 1024 * 64  # werkzeug's LimitedStream.readall chunk


class CdsRequest(Request):
    """Flask's Request with `get_data` reading a Content-Length body in one `read`.

    Werkzeug reads the body through a `LimitedStream` (an `io.RawIOBase`) in 64 KiB chunks: a zeroed
    64 KiB bytearray per chunk, a temporary buffer, four copies of the body and the stream object
    itself cost ~170,000 instructions for a 15 KB hook request; one `read(Content-Length)` of
    `wsgi.input` costs ~10,000.  The fast path applies only where werkzeug's stream is a plain
    `LimitedStream` over `wsgi.input` (a Content-Length of ASCII digits, no Transfer-Encoding, a
    positive limit) and gives what it gives: the same bytes, 413 for a Content-Length above
    `max_content_length`, `ClientDisconnected` when the input ends early or fails, and the same
    chunks after the first (tests/service/test_request_body.py compares the two on many inputs).
    Anything else is werkzeug's own `get_data`.
    """

    _cds_read_limit: tuple[int, bool] | None = None  # (limit, is_max) of a body read by the fast path

    def get_data(self, cache: bool = True, as_text: bool = False, parse_form_data: bool = False):
        if (cache and not as_text and not parse_form_data and not self.shallow
                and getattr(self, "_cached_data", None) is None and "stream" not in self.__dict__):
            raw = self._read_body()
            if raw is not None:
                self._cached_data = raw
                return raw
        return super().get_data(cache=cache, as_text=as_text, parse_form_data=parse_form_data)

    def _read_body(self) -> bytes | None:
        """What `self.stream.read()` returns (or raises), or None where werkzeug decides."""
        environ = self.environ
        length = environ.get("CONTENT_LENGTH")
        if (type(length) is not str or not length.isdigit() or not length.isascii()
                or "HTTP_TRANSFER_ENCODING" in environ):
            return None
        content_length = int(length)
        max_length = self._max_length()
        if max_length is not None and content_length > max_length:
            raise RequestEntityTooLarge()
        if "wsgi.input_terminated" in environ:  # gunicorn: the server ends the stream itself
            if max_length is None:
                return None
            limit, is_max = max_length, True
        else:
            limit, is_max = content_length, False
        if limit <= 0:
            return None
        stream = environ["wsgi.input"]
        chunks = []
        pos = 0
        size = content_length or _CHUNK
        while pos < limit:  # LimitedStream.readall, with the first read sized to the body
            try:
                data = stream.read(min(size, limit - pos))
            except (OSError, ValueError):
                raise ClientDisconnected() from None
            if not data:
                if not is_max:
                    raise ClientDisconnected()
                break  # a maximum limit: the stream is done
            chunks.append(data)
            pos += len(data)
            size = _CHUNK
        self._cds_read_limit = (limit - pos, is_max)
        return chunks[0] if len(chunks) == 1 and type(chunks[0]) is bytes else b"".join(chunks)

    def _max_length(self) -> int | None:
        """Flask's `Request.max_content_length` (a per-request value, else the app's
        MAX_CONTENT_LENGTH, else werkzeug's) with one context lookup instead of three."""
        if self._max_content_length is not None:
            return self._max_content_length
        try:
            app = current_app._get_current_object()
        except RuntimeError:
            return WerkzeugRequest.max_content_length  # what Flask falls back to outside an app
        return app.config["MAX_CONTENT_LENGTH"]

    @cached_property
    def stream(self):
        """After the fast path: the stream as werkzeug's is after its read, exhausted (a read
        gives b"", or 413 when a maximum limit was reached)."""
        if self._cds_read_limit is not None:
            left, is_max = self._cds_read_limit
            return LimitedStream(io.BytesIO(), 0, is_max=is_max and left <= 0)
        return super().stream


_REWRITTEN = frozenset({"location", "content-location"})


class CdsResponse(Response):
    """Flask's Response with `get_wsgi_headers` copying the header list as it is when werkzeug
    would change nothing in it.

    Werkzeug's copy re-adds every header through `Headers.add` (a newline check per value, values
    that were checked when they were set) and then looks for Location, Content-Location and
    Content-Length to rewrite or compute: for a hook answer's eight headers ~27,000 instructions.
    When none of its rewrites applies (no Location or Content-Location, a Content-Length already
    set, a status that keeps its body) the copy is the same list (tests/service/
    test_response_headers.py compares the two); anything else is werkzeug's own method.
    """

    def get_wsgi_headers(self, environ):
        items = self.headers._list
        status = self.status_code
        if 200 <= status and status not in (204, 304):
            has_length = False
            for name, _ in items:
                lname = name.lower()
                if lname in _REWRITTEN:
                    break
                if lname == "content-length":
                    has_length = True
            else:
                if has_length:
                    headers = Headers()
                    headers._list = items.copy()
                    return headers
        return super().get_wsgi_headers(environ)


# what werkzeug's `Map.bind_to_environ` (and `get_host`) read from the environ: equal values, same adapter
_ROUTE_KEYS = ("HTTP_HOST", "SERVER_NAME", "SERVER_PORT", "wsgi.url_scheme", "HTTP_CONNECTION", "HTTP_UPGRADE",
               "SCRIPT_NAME", "PATH_INFO", "QUERY_STRING", "REQUEST_METHOD")


class _Route:
    """One remembered binding: the URL adapter werkzeug built for these environ values, the host
    Flask set on the request, and the adapter's successful match (rule, view args) once known."""

    __slots__ = ("adapter", "host", "rule", "view_args")

    def __init__(self, adapter: Any, host: str) -> None:
        self.adapter, self.host = adapter, host
        self.rule: Any = None
        self.view_args: dict | None = None


class CdsRequestContext(RequestContext):
    """Flask's RequestContext whose `match_request` (Flask's documented override point for matching)
    reuses the match remembered with the request's URL adapter (`CdsFlask.create_url_adapter`)."""

    def match_request(self) -> None:
        route = self.request.__dict__.get("_cds_route")
        if route is None or route.adapter is not self.url_adapter:
            return super().match_request()
        if route.view_args is not None:
            self.request.url_rule, self.request.view_args = route.rule, dict(route.view_args)
            return None
        super().match_request()
        if self.request.routing_exception is None:  # a refusal (404, 405, redirect) is not remembered
            route.rule, route.view_args = self.request.url_rule, dict(self.request.view_args or {})
        return None


class CdsFlask(Flask):
    """Flask with `ensure_sync`'s answer remembered per function, and the URL adapter and route match
    remembered per request target.

    Flask asks `ensure_sync` (Flask's documented override point) about every before/after-request
    function and view on every request; its `inspect.iscoroutinefunction` costs ~5,000 instructions
    a call, nine calls a hook request.  The functions asked about are the app's registered ones, so
    the memo stays small; a function registered per request (`after_this_request`) would only
    refill it, hence the bound.

    Flask builds a werkzeug `MapAdapter` (`Map.bind_to_environ`: host, scheme, subdomain, path
    decoding) and matches the path against the URL map on every request: ~40 us of a hook call on
    the bench machine, for a handful of distinct targets (`POST /cds-services/<id>`).  The adapter
    is a pure function of the environ values in `_ROUTE_KEYS` and the URL map, and werkzeug never
    changes it after building it; so for equal values the same adapter, the same host and, after
    its first success, the same match (a fresh copy of the view args) are reused.  Only the plain
    configuration is remembered (no TRUSTED_HOSTS, SERVER_NAME, host or subdomain matching; anything
    else is Flask's own method every time); adding a URL rule forgets everything; the memo is
    bounded (arbitrary client paths only refill it).  tests/service/test_route_memo.py compares with
    Flask's own matching.
    """

    _SYNC_MEMO_MAX = 512
    _ROUTE_MEMO_MAX = 256
    request_class = CdsRequest
    response_class = CdsResponse

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._sync_memo: dict[Any, Any] = {}
        self._route_memo: dict[tuple, _Route] = {}

    def request_context(self, environ) -> RequestContext:
        return CdsRequestContext(self, environ)

    def add_url_rule(self, *args: Any, **kwargs: Any) -> None:
        self._route_memo = {}
        super().add_url_rule(*args, **kwargs)

    def create_url_adapter(self, request):
        if (request is None or self.config["TRUSTED_HOSTS"] is not None or self.config["SERVER_NAME"] is not None
                or self.url_map.host_matching or self.subdomain_matching):
            return super().create_url_adapter(request)
        environ = request.environ
        key = tuple([environ.get(name) for name in _ROUTE_KEYS])
        memo = self._route_memo
        route = memo.get(key)
        if route is None:
            adapter = super().create_url_adapter(request)
            route = _Route(adapter, request.host)
            try:
                hash(key)
            except TypeError:  # a non-string environ value: nothing to remember it by
                return adapter
            if len(memo) >= self._ROUTE_MEMO_MAX:
                memo.clear()
            memo[key] = route
        else:
            request.host = route.host  # what Flask sets (get_host of the same values)
        request.__dict__["_cds_route"] = route
        return route.adapter

    def ensure_sync(self, func):
        memo = self._sync_memo
        try:
            return memo[func]
        except (KeyError, TypeError):  # TypeError: an unhashable callable
            pass
        found = super().ensure_sync(func)
        try:
            if len(memo) >= self._SYNC_MEMO_MAX:
                memo.clear()
            memo[func] = found
        except TypeError:
            pass
        return found


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the service.  `config` overrides the environment: keys are the CDS_* variable names
    (or Settings field names); `CDS_EVALUATOR` (a callable with pipeline.evaluate's signature) and
    other non-setting keys are kept in `settings.extra` for tests."""
    settings = Settings.from_env(overrides=config)
    app = CdsFlask("cds_service")
    from .json_provider import FastJSONProvider

    app.json = FastJSONProvider(app)
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    app.config["MAX_FORM_MEMORY_SIZE"] = settings.max_body_bytes
    app.json.sort_keys = False
    app.json.compact = True
    app.extensions["cds_settings"] = settings

    from . import api, auth, cors, db, errors, health, openapi, request_log, security

    request_log.configure_logging(settings.log_level)
    errors.register(app)
    request_log.init_app(app)
    security.init_app(app)
    cors.init_app(app, settings)
    _init_fhir_access(app, settings)
    db.init_app(app, settings)
    auth.init_app(app, settings)
    app.register_blueprint(api.bp)
    app.register_blueprint(health.bp)
    app.register_blueprint(openapi.bp)
    _init_metrics(app)
    if settings.demo:
        _init_demo(app)
    return app


def _init_fhir_access(app: Flask, settings: Settings) -> None:
    """One pooled Session and one thread pool per app for prefetch completion."""
    from .fhir_client import new_session

    app.extensions["cds_fhir_session"] = new_session(pool_size=max(16, settings.fhir_max_workers * 2))
    app.extensions["cds_fhir_executor"] = ThreadPoolExecutor(
        max_workers=settings.fhir_max_workers, thread_name_prefix="fhir-fetch")


def _init_metrics(app: Flask) -> None:
    from . import metrics

    metrics.init_app(app)


def _init_demo(app: Flask) -> None:
    """Demo page at `/` and the demo FHIR server at `/demo/fhir` (CDS_DEMO=1 only)."""
    import demo

    demo.init_app(app)
