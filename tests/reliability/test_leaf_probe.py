"""Every leaf of every demo request, changed one at a time: the answer is cards or a clear 4xx, never a crash.

The fuzzers (test_fuzz.py) draw random mutations; this probe is their systematic complement.  It takes
a realistic request (rel_demo: complete prefetch, demo drafts), and then, for each leaf (a value inside
any object or list), replaces it with each probe value or deletes its key, and runs the result through
request validation and `pipeline.evaluate`. Each variant must end in one of three ways:
- a request-validation problem (the API's 400);
- PrefetchUnavailable (the API's 412);
- cards that pass `validate_card`, with no ERROR logged. An exception is a defect, because the API
  turns it into a 422 with no card. So is an ERROR log: it means extract_facts' last-line defence
  dropped the patient's facts.
Session 4 found three defects this way: a dose of 1e308 g, a 400-digit integer in a draft or an
Observation, and a draft without an id.

Quick mode probes two patients with five values; CDS_LONG=1 probes every demo patient with twelve
values (a few minutes).
"""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

import rel_demo
from rel_env import LONG
from tests.json_edit import DELETE, changed

QUICK_VALUES = (None, 10 ** 400, -1e308, "", DELETE)
LONG_VALUES = QUICK_VALUES + ([], {}, True, 0, -1, "x" * 300, "9999-12-31T23:59:59-14:00", [None])
QUICK_SLUGS = ("allergic-asthma-adult", "eosinophilic-asthma")
CASES = [(slug, hook, draft) for slug in (rel_demo.slugs() if LONG else QUICK_SLUGS)
         for hook, draft in (("patient-view", None), ("order-select", "draft-omalizumab-150mg-q4w"),
                             ("order-sign", "draft-omalizumab-300mg-q4w"))]


def _leaves(node: Any, path: tuple = ()) -> Iterator[tuple]:
    """Paths to every value inside an object or list (containers too: replacing one drops its subtree)."""
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for key, value in items:
        yield path + (key,)
        yield from _leaves(value, path + (key,))


@pytest.mark.parametrize("slug, hook, draft", CASES, ids=[f"{s}-{h}" for s, h, _ in CASES])
def test_every_leaf_changed_gives_cards_or_a_clear_4xx(slug, hook, draft, figures, error_logs):
    from cards import validate_card
    from cds_service.errors import PrefetchUnavailable
    from cds_service.fhir_client import NoFhirAccess
    from cds_service.pipeline import evaluate
    from cds_service.services import HOOKS
    from cds_service.settings import Settings
    from cds_service.validation import hook_request_problems

    conf = Settings.from_env(environ={}, overrides={"CDS_CLOCK": rel_demo.CLOCK, "CDS_AUTH": "off"})
    base = rel_demo.request_for(slug, hook, (draft,) if draft else ())
    no_fhir = NoFhirAccess("leaf probe")
    defects: list[str] = []
    outcomes = {"400": 0, "412": 0, "cards": 0}
    for path in list(_leaves(base)):
        for value in (LONG_VALUES if LONG else QUICK_VALUES):
            request = changed(base, path, value)
            where = "/".join(map(str, path)) + " = " + ("<deleted>" if value is DELETE else repr(value)[:20])
            if hook_request_problems(request, HOOKS):
                outcomes["400"] += 1
                continue
            error_logs.records.clear()
            try:
                result = evaluate(request, settings=conf, fhir_client=no_fhir)
                for card in result["cards"]:
                    validate_card(card)
            except PrefetchUnavailable:
                outcomes["412"] += 1
                continue
            except Exception as exc:  # noqa: BLE001 - the defect this probe looks for
                defects.append(f"{where}: {type(exc).__name__}: {str(exc)[:120]}")
                continue
            if error_logs.records:
                defects.append(f"{where}: logged {error_logs.records[0].getMessage()[:120]}")
            outcomes["cards"] += 1
    figures.add("fuzz_cases_leaf_probe", sum(outcomes.values()))
    assert outcomes["cards"] > 0  # the probe reached the clinical layers, not only request validation
    assert not defects, defects[:10]
