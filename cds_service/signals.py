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

from blinker import Namespace

_signals = Namespace()

hook_evaluated = _signals.signal("hook-evaluated")
fhir_fetch = _signals.signal("fhir-fetch")
feedback_stored = _signals.signal("feedback-stored")


def send_safely(signal, sender, **kwargs) -> None:
    """Send a signal; an observer's bug must never break a clinical answer."""
    try:
        signal.send(sender, **kwargs)
    except Exception:  # noqa: BLE001 - observers are optional
        logging.getLogger("cds_service.signals").exception("signal receiver failed: %s", signal.name)
