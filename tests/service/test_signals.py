"""signals.send_safely calls the receivers blinker's `send` calls, in the same order, with the same
arguments, and refuses coroutine receivers as it does (the general form: `signal.send`)."""
from __future__ import annotations

import logging

from blinker import Namespace

from cds_service import signals


def _setup():
    ns = Namespace()
    sig = ns.signal("s")
    calls = []
    sender = object()

    def any_receiver(s, **kw):
        calls.append(("any", s, kw))

    def for_sender(s, **kw):
        calls.append(("sender", s, kw))

    class Method:
        def on(self, s, **kw):
            calls.append(("method", s, kw))

    holder = Method()
    sig.connect(any_receiver, weak=False)
    sig.connect(for_sender, sender=sender, weak=False)
    sig.connect(holder.on)  # weak: blinker drops it once `holder` is gone
    return sig, sender, calls, holder


def test_same_receivers_same_order_same_arguments():
    for target in ("sender", "other"):
        sig, sender, calls, holder = _setup()
        who = sender if target == "sender" else object()
        sig.send(who, a=1, b="x")
        general = list(calls)
        calls.clear()
        signals.send_safely(sig, who, a=1, b="x")
        assert calls == general and general
    del holder


def test_muted_signals_call_nobody():
    sig, sender, calls, _ = _setup()
    with sig.muted():
        signals.send_safely(sig, sender, a=1)
    assert calls == []


def test_a_coroutine_receiver_is_refused_and_logged(caplog):
    ns = Namespace()
    sig = ns.signal("c")

    async def coro(s, **kw):  # pragma: no cover - never awaited
        return None

    sig.connect(coro, weak=False)
    try:
        sig.send(None)
        raise AssertionError("blinker accepted a coroutine receiver")
    except RuntimeError:
        pass
    with caplog.at_level(logging.ERROR, logger="cds_service.signals"):
        signals.send_safely(sig, None)
    assert any("signal receiver failed: c" in r.getMessage() for r in caplog.records)


def test_a_failing_receiver_is_logged_not_raised(caplog):
    ns = Namespace()
    sig = ns.signal("f")
    sig.connect(lambda s, **kw: 1 / 0, weak=False)
    with caplog.at_level(logging.ERROR, logger="cds_service.signals"):
        signals.send_safely(sig, None)
    assert any(r.exc_info and r.exc_info[0] is ZeroDivisionError for r in caplog.records)
