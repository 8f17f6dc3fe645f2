"""CdsRequest.get_data (one read of a Content-Length body) gives what werkzeug's get_data gives:
the same bytes, or the same error, and the same stream afterwards (the general form is flask.Request)."""
from __future__ import annotations

import io

import pytest
from flask import Flask, Request
from hypothesis import given, settings
from hypothesis import strategies as st

from cds_service.app import CdsRequest


class Trickle:
    """A stream with only `read` (like gunicorn's Body) that hands out at most `step` bytes a read,
    and fails once `fail_at` bytes are read."""

    def __init__(self, data: bytes, step: int, fail_at: int | None = None) -> None:
        self._data, self._pos, self._step, self._fail_at = data, 0, step, fail_at

    def read(self, size: int | None = -1) -> bytes:
        if self._fail_at is not None and self._pos >= self._fail_at:
            raise OSError("connection reset")
        size = self._step if size is None or size < 0 else min(size, self._step)
        chunk = self._data[self._pos:self._pos + size]
        self._pos += len(chunk)
        return chunk


class TrickleInto(Trickle):
    """The same with `readinto` (which werkzeug prefers)."""

    def readinto(self, buffer) -> int:
        chunk = self.read(len(buffer))
        buffer[:len(chunk)] = chunk
        return len(chunk)


def _outcome(request_class, environ_factory, app):
    with app.app_context():
        req = request_class(environ_factory())
        try:
            first = ("data", req.get_data(cache=True))
        except Exception as exc:  # noqa: BLE001 - the error is the outcome compared
            return ("error", type(exc).__name__)
        again = req.get_data(cache=True)
        try:
            after = ("data", req.stream.read())
        except Exception as exc:  # noqa: BLE001
            after = ("error", type(exc).__name__)
        return first, again, after


def _environ(body: bytes, stream, content_length, terminated: bool, transfer_encoding=None):
    env = {"REQUEST_METHOD": "POST", "SERVER_NAME": "h", "SERVER_PORT": "80", "PATH_INFO": "/",
           "wsgi.url_scheme": "http", "wsgi.input": stream, "CONTENT_TYPE": "application/json"}
    if content_length is not None:
        env["CONTENT_LENGTH"] = content_length
    if terminated:
        env["wsgi.input_terminated"] = True
    if transfer_encoding:
        env["HTTP_TRANSFER_ENCODING"] = transfer_encoding
    return env


@settings(max_examples=400, deadline=None)
@given(
    body=st.binary(max_size=300),
    extra=st.binary(max_size=20),
    length=st.one_of(st.none(), st.sampled_from(["", "abc", "-1", " 5", "+5", "٣"]),
                     st.integers(min_value=0, max_value=400).map(str)),
    terminated=st.booleans(),
    max_length=st.one_of(st.none(), st.integers(min_value=0, max_value=400)),
    step=st.integers(min_value=1, max_value=400),
    fail_at=st.one_of(st.none(), st.integers(min_value=0, max_value=300)),
    readinto=st.booleans(),
    transfer_encoding=st.sampled_from([None, "chunked", "gzip"]),
)
def test_get_data_is_werkzeugs(body, extra, length, terminated, max_length, step, fail_at, readinto,
                               transfer_encoding):
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = max_length
    data = body + extra  # a stream may hold more than Content-Length says

    def make():
        stream = (TrickleInto if readinto else Trickle)(data, step, fail_at) if step < 400 or fail_at is not None \
            else io.BytesIO(data)
        return _environ(body, stream, length, terminated, transfer_encoding)

    assert _outcome(CdsRequest, make, app) == _outcome(Request, make, app)


@pytest.mark.parametrize("size", [0, 1, 15_000, 65_536, 65_537, 200_000])
@pytest.mark.parametrize("terminated", [False, True])
def test_large_and_boundary_bodies(size, terminated):
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = 1_000_000
    body = bytes(range(256)) * (size // 256) + b"x" * (size % 256)

    def make():
        return _environ(body, io.BytesIO(body), str(size), terminated)

    assert _outcome(CdsRequest, make, app) == _outcome(Request, make, app)


def test_per_request_limit_and_no_app():
    body = b'{"a": 1}'
    env = _environ(body, io.BytesIO(body), str(len(body)), False)
    req = CdsRequest(dict(env, **{"wsgi.input": io.BytesIO(body)}))  # outside an app: no limit
    assert req.get_data() == body
    app = Flask(__name__)
    with app.app_context():
        req = CdsRequest(dict(env, **{"wsgi.input": io.BytesIO(body)}))
        req.max_content_length = 3
        with pytest.raises(Exception) as fast:
            req.get_data()
        ref = Request(dict(env, **{"wsgi.input": io.BytesIO(body)}))
        ref.max_content_length = 3
        with pytest.raises(Exception) as general:
            ref.get_data()
        assert type(fast.value) is type(general.value)


def test_the_service_uses_it():
    from cds_service import create_app

    app = create_app({"CDS_AUTH": "off", "CDS_DATABASE_URL": "sqlite://"})
    assert app.request_class is CdsRequest


@pytest.mark.parametrize("terminated", [False, True])
def test_a_content_length_body_takes_the_one_read_path(terminated):
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = 1_000_000
    body = b'{"hook": "patient-view"}' * 600
    with app.app_context():
        req = CdsRequest(_environ(body, io.BytesIO(body), str(len(body)), terminated))
        assert req.get_data() == body
        assert req._cds_read_limit is not None and "stream" not in req.__dict__
