"""Condition and AllergyIntolerance readers' rewritten helpers give the answers of their helper-based forms.

The reference forms are the code before the rewrite, kept here; each is compared on edge cases and
random input (hypothesis).
"""
from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from fhir_mappings import codesets as cs
from fhir_mappings import extract as ex
from fhir_mappings.fhirutil import all_text, as_str, coded, concept_text


def ref_condition_concepts(concept):
    found = []
    for system, code, c in coded(concept):
        rule = None
        if system == cs.SNOMED:
            rule = cs.snomed_index().get(code)
        elif system == cs.ICD10CM:
            rule = cs.icd10_lookup(code)
        if rule is None:
            continue
        for k in rule.concepts:
            if k not in {f[0] for f in found}:
                found.append((k, f"{system}|{code}", as_str(c.get("display")) or rule.display))
    if found:
        return found
    text = all_text(concept).lower()
    if not text:
        return []
    for pat in cs.condition_text_patterns():
        if any(w in text for w in pat["any"]) and not any(w in text for w in pat.get("none", ())):
            for key in (pat["concept"], *pat.get("also", ())):
                if key not in {f[0] for f in found}:
                    found.append((key, None, concept_text(concept)))
    return found


_SNOMED_CODES = sorted(cs.snomed_index())[:12]
_ICD_CODES = ["J45.50", "J45.5", "J45", "J45.909", " J45.50 ", "j45.50", "L50.1", "J33.9", "Z99", "", " "]
_CODES = st.one_of(st.sampled_from(_SNOMED_CODES + [f" {c} " for c in _SNOMED_CODES[:3]] + _ICD_CODES),
                   st.none(), st.integers(0, 3))
_SYSTEMS = [cs.SNOMED, cs.ICD10CM, "http://snomed.info/sct/", "HTTP://SNOMED.INFO/SCT", " http://snomed.info/sct",
            "urn:oid:2.16.840.1.113883.6.90", "http://hl7.org/fhir/sid/icd-10", cs.LOINC, "", None, 7, ["x"]]
_coding = st.one_of(
    st.fixed_dictionaries({}, optional={"system": st.sampled_from(_SYSTEMS), "code": _CODES,
                                        "display": st.one_of(st.none(), st.text(max_size=4), st.just(" "))}),
    st.none(), st.text(max_size=2))
_TEXTS = st.one_of(st.text(max_size=6), st.sampled_from(["Asthma", "allergic asthma", "chronic urticaria",
                                                           "nasal polyps", "no asthma", " "]))
_concept = st.one_of(
    st.fixed_dictionaries({}, optional={"coding": st.one_of(st.lists(_coding, max_size=4), _coding),
                                        "text": _TEXTS}),
    st.none(), st.text(max_size=3))


@settings(max_examples=3000, deadline=None)
@given(_concept)
def test_condition_concepts_random(concept):
    assert ex._condition_concepts(concept) == ref_condition_concepts(concept)


def test_condition_concepts_every_listed_code():
    for code in cs.snomed_index():
        c = {"coding": [{"system": cs.SNOMED, "code": code}, {"system": cs.ICD10CM, "code": "J45.50"}]}
        assert ex._condition_concepts(c) == ref_condition_concepts(c)


def test_every_alias_is_its_own_canonical_form():
    """known_system answers an exact alias by one lookup: sound only if canonical_system would read it so."""
    for alias in cs.SYSTEM_ALIASES:
        assert alias.strip().rstrip("/").lower() == alias
        assert cs.known_system(alias) == cs.canonical_system(alias)


@settings(max_examples=2000, deadline=None)
@given(st.one_of(st.sampled_from(_SYSTEMS + list(cs.SYSTEM_ALIASES)), st.text(max_size=8), st.integers()))
def test_known_system_random(system):
    assert cs.known_system(system) == cs.canonical_system(system)
