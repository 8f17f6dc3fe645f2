"""Blinker signals the service layer sends, so observers (metrics) never sit on the hot path.

Receivers must not raise; senders call them inside the request (application context available).

* `hook_evaluated(sender, service, hook, status, duration_s, cards)`: one per service call that
  reached evaluation or was refused (status is the HTTP status code sent).
* `fhir_fetch(sender, key, duration_s, ok)`: one per prefetch key fetched from the FHIR server.
* `feedback_stored(sender, topic, outcome)`: one per stored feedback entry (topic "unknown" when the
  card is not in the card log).
"""
from __future__ import annotations

import logging
from inspect import iscoroutinefunction

from blinker import Namespace

_signals = Namespace()

hook_evaluated = _signals.signal("hook-evaluated")
fhir_fetch = _signals.signal("fhir-fetch")
feedback_stored = _signals.signal("feedback-stored")


def send_safely(signal, sender, **kwargs) -> None:
    """Send a signal; an observer's bug must never break a clinical answer.

    What `signal.send(sender, **kwargs)` does (blinker 1.9: nothing while muted, each receiver for
    the sender called in blinker's order, a coroutine receiver refused), with the coroutine check
    remembered per receiver: blinker asks `inspect.iscoroutinefunction` on every send, ~5,000
    instructions a receiver, a third of what the hook_evaluated signal cost
    (tests/service/test_signals.py compares with `signal.send`)."""
    try:
        if signal.is_muted:
            return
        for receiver in signal.receivers_for(sender):
            if _is_coroutine(receiver):
                raise RuntimeError("Cannot send to a coroutine function.")
            receiver(sender, **kwargs)
    except Exception:  # noqa: BLE001 - observers are optional
        logging.getLogger("cds_service.signals").exception("signal receiver failed: %s", signal.name)


_COROUTINE: dict = {}
_COROUTINE_MAX = 256  # receivers are a few module functions; the bound only guards a leak


def _is_coroutine(receiver) -> bool:
    try:
        return _COROUTINE[receiver]
    except (KeyError, TypeError):  # TypeError: an unhashable receiver
        pass
    found = iscoroutinefunction(receiver)
    try:
        if len(_COROUTINE) >= _COROUTINE_MAX:
            _COROUTINE.clear()
        _COROUTINE[receiver] = found
    except TypeError:
        pass
    return found
