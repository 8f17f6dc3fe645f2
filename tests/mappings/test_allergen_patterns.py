"""One whole-word alternation per allergen group (and for respiratory manifestations) finds a match
exactly when the loop over the names' own patterns did: on every name, names glued to letters, digits
and punctuation, every demo AllergyIntolerance text and random texts built from the names."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fhir_mappings import codesets as cs
from fhir_mappings.fhirutil import all_text, as_dict, as_list

DEMO = Path(__file__).resolve().parents[2] / "demo" / "patients"


def _pairs():
    for group, names in cs.allergy_group_names().items():
        yield group, names, cs.allergy_group_patterns()[group]
    yield "respiratory", cs.respiratory_manifestation_names(), cs.respiratory_manifestation_pattern()


PAIRS = list(_pairs())
ALL_NAMES = sorted({n for _, names, _ in PAIRS for n, _ in names})


def loop(names, text: str) -> bool:
    """The reference: what _allergies did before (each name's substring, then its whole-word regex)."""
    return any(n in text and p.search(text) for n, p in names)


def _demo_texts() -> list[str]:
    out = []
    for f in sorted(DEMO.glob("*.json")):
        for e in json.loads(f.read_text()).get("entry", []):
            r = e.get("resource", {})
            if r.get("resourceType") != "AllergyIntolerance":
                continue
            texts = [all_text(r.get("code"))] + [all_text(as_dict(x).get("substance")) for x in as_list(r.get("reaction"))]
            out.append(" | ".join(t for t in texts if t).lower())
            out.append(" | ".join(all_text(m) for x in as_list(r.get("reaction"))
                                  for m in as_list(as_dict(x).get("manifestation"))).lower())
    return out


SAMPLES = _demo_texts() + ["", " ", "|", "x"]
for n in ALL_NAMES:
    SAMPLES += [n, f"a{n}", f"{n}a", f"1{n}", f"{n}9", f"({n})", f"{n}-x", f"x {n} | y", f"{n}{n}", f"{n} {n}s",
                n[:-1], n.upper(), f"no {n}", f"é{n}", f"{n}_"]


@pytest.mark.parametrize("group,names,pattern", PAIRS, ids=[p[0] for p in PAIRS])
def test_combined_pattern_equals_the_loop_on_samples(group, names, pattern):
    assert len(SAMPLES) > 1000
    for text in SAMPLES:
        assert (pattern.search(text) is not None) == loop(names, text), (group, text)


_piece = st.one_of(st.sampled_from(ALL_NAMES), st.sampled_from([" ", "|", "-", "(", ")", "a", "1", "s", "'", ", "]),
                   st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789 -'()", max_size=6))


@settings(max_examples=1500, deadline=None, suppress_health_check=list(HealthCheck))
@given(pieces=st.lists(_piece, max_size=6))
def test_combined_pattern_equals_the_loop_on_random_texts(pieces):
    text = "".join(pieces)
    for group, names, pattern in PAIRS:
        assert (pattern.search(text) is not None) == loop(names, text), (group, text)
