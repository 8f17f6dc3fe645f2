"""Parts of an assessment built once instead of per request give exactly what the rules would build.

The fixed findings (phenotypes._FIXED_FINDINGS) and the remembered policy-window cut-offs
(phenotypes._cutoff) are also switched off in test_fast_paths' reference forms, which compare whole
answers on every demo patient and on generated facts.
"""
from __future__ import annotations

from datetime import date

from hypothesis import given, settings
from hypothesis import strategies as st

import clinical_core
from clinical_core import phenotypes
from clinical_core.decisions import PhenotypeFinding
from tests.core import builders as b


def test_each_fixed_finding_is_the_finding_its_key_describes():
    for (key, status, missing, note), finding in phenotypes._FIXED_FINDINGS.items():
        assert finding == PhenotypeFinding(key, status, (), missing, note)
        assert type(finding.missing) is tuple and finding.evidence == ()


def test_a_patient_without_asthma_gets_the_shared_fixed_findings():
    facts = b.patient()  # nothing on record
    one, two = clinical_core.assess(facts), clinical_core.assess(facts)
    shared = set(map(id, phenotypes._FIXED_FINDINGS.values()))
    used = [f for f in one.phenotypes if id(f) in shared]
    assert {f.key for f in used} >= {"allergic-asthma", "eosinophilic-asthma", "csu-refractory", "crswnp",
                                     "food-allergy", "bullous-pemphigoid"}
    assert one.phenotypes == two.phenotypes
    assert [f is g for f, g in zip(one.phenotypes, two.phenotypes)] == [id(f) in shared for f in one.phenotypes]
    # a finding with evidence is never one of them
    asthma = clinical_core.assess(b.allergic_asthma())
    assert all(id(f) not in shared for f in asthma.phenotypes if f.evidence)


def test_missing_given_as_a_list_still_finds_or_builds_the_same_finding():
    p = phenotypes.build_profile(b.patient())
    phenotypes._add(p, "cyclosporine-bp-risk", "unknown", [], [phenotypes.MISSING_BP])
    assert p.findings["cyclosporine-bp-risk"] is \
        phenotypes._FIXED_FINDINGS[("cyclosporine-bp-risk", "unknown", (phenotypes.MISSING_BP,), "")]
    phenotypes._add(p, "cyclosporine-bp-risk", "unknown", [], ["something else"])
    assert p.findings["cyclosporine-bp-risk"] == PhenotypeFinding("cyclosporine-bp-risk", "unknown", (),
                                                                  ("something else",), "")


@settings(max_examples=500, deadline=None)
@given(st.dates(min_value=date(1901, 1, 1), max_value=date(2200, 12, 31)), st.integers(0, 240))
def test_cutoff_equals_months_before(d, months):
    assert phenotypes._cutoff(d, months) == phenotypes.months_before(d, months)
    assert phenotypes._cutoff(d, months) == phenotypes.months_before(d, months)  # remembered: the same


def test_condition_rows_are_built_once_per_profile_and_equal_fresh_rows():
    from clinical_core import evidence
    facts = b.allergic_asthma(extra_conditions=("aerd", "nasal-polyps", "ckd"))
    p = phenotypes.build_profile(facts)
    assert p.condition_ev(facts.conditions) == [evidence.condition(c) for c in facts.conditions]
    again = p.condition_ev(facts.conditions)
    assert all(x is y for x, y in zip(again, p.condition_ev(facts.conditions)))
    assert p.condition_ev(()) == []
    # the asthma rows are the ones the other rules cite
    aerd = [c for c in facts.conditions if c.concept == "aerd"]
    assert any(row is p.condition_ev(aerd)[0] for row in p.asthma_ev)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["omalizumab", "mepolizumab"]), st.booleans(),
                          st.none() | st.dates(min_value=date(2000, 1, 1), max_value=date(2026, 1, 1))),
                max_size=5),
       st.none() | st.dates(min_value=date(1950, 1, 1), max_value=date(2020, 1, 1)))
def test_first_omalizumab_start_is_the_scan_over_the_medications(meds, birth):
    from clinical_core import recommend
    from tests.core import reference_impl as ref
    facts = b.patient(birth_date=birth, medications=tuple(
        b.med(agent, "anti-ige" if agent == "omalizumab" else "anti-il5", active=active, start=start, rid=f"m{i}")
        for i, (agent, active, start) in enumerate(meds)))
    p = phenotypes.build_profile(facts)
    starts = [m.start for m in facts.medications if m.agent == "omalizumab" and m.start is not None]
    assert p.first_omalizumab_start == (min(starts) if starts else None)
    assert recommend.age_at_first_omalizumab(p) == ref.age_at_first_omalizumab(p)
