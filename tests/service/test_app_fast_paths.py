"""CdsFlask's remembered `ensure_sync` must answer exactly as Flask's own does."""
from __future__ import annotations

import asyncio
import functools

from flask import Flask

from cds_service.app import CdsFlask


def _plain():
    return "plain"


async def _coro():
    return "async"


def test_plain_functions_come_back_unchanged_and_are_remembered():
    app = CdsFlask("t")
    assert app.ensure_sync(_plain) is _plain is Flask("t").ensure_sync(_plain)
    assert app.ensure_sync(_plain) is _plain
    assert _plain in app._sync_memo


def test_async_functions_are_still_wrapped():
    app = CdsFlask("t")
    try:
        wrapped = app.ensure_sync(_coro)
    except RuntimeError:  # Flask without its async extra refuses async views the same way
        import pytest
        with pytest.raises(RuntimeError):
            Flask("t").ensure_sync(_coro)
        return
    assert wrapped is not _coro and wrapped() == "async"
    assert app.ensure_sync(_coro) is wrapped


def test_unhashable_callables_and_the_bound():
    class Unhashable:
        __hash__ = None

        def __call__(self):
            return 1

    app = CdsFlask("t")
    f = Unhashable()
    assert app.ensure_sync(f) is f
    app._SYNC_MEMO_MAX = 3
    for i in range(10):
        p = functools.partial(_plain)
        assert app.ensure_sync(p) is p
    assert len(app._sync_memo) <= 3


def test_the_service_app_is_a_cds_flask(make_client):
    client = make_client()
    assert isinstance(client.application, CdsFlask)
    assert asyncio.iscoroutinefunction(_coro)  # (the fixture above is a coroutine function)
