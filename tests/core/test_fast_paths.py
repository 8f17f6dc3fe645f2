"""The clinical core's fast paths give exactly the answers of the plain computation.

check_orders reuses the phenotype profile that assess built for the same facts object; these tests
compare it with a profile built afresh, on every demo patient and on hand-built facts.
"""
from __future__ import annotations

import dataclasses

import pytest

import clinical_core
from clinical_core.phenotypes import build_profile
from tests.core import builders as b
from tests.core.demo_inputs import demo_inputs, demo_slugs


def _without_profile(assessment):
    return dataclasses.replace(assessment, profile=None)


@pytest.mark.parametrize("slug", demo_slugs())
@pytest.mark.parametrize("hook", ["order-select", "order-sign"])
@pytest.mark.parametrize("region", ["US", "EU"])
def test_check_orders_with_the_assess_profile_equals_a_fresh_profile(slug, hook, region):
    facts, drafts, _, _ = demo_inputs(slug, hook)
    assessment = clinical_core.assess(facts, region=region)
    assert assessment.profile is not None and assessment.profile.facts is facts
    reused = clinical_core.check_orders(facts, drafts, hook=hook, assessment=assessment, region=region)
    fresh = clinical_core.check_orders(facts, drafts, hook=hook, assessment=_without_profile(assessment),
                                       region=region)
    assert reused == fresh
    assert repr(reused) == repr(fresh)


def test_a_profile_is_reused_only_for_the_very_facts_it_was_built_from():
    asthma = b.allergic_asthma(weight=75.0)
    ckd = b.allergic_asthma(weight=75.0, extra_conditions=("ckd", "csu"),
                            medications=(b.med("cetirizine", "h1-antihistamine"),))
    drafts = (b.draft("cyclosporine", 150, "mg", 0.07, rid="cyc"), b.draft("omalizumab", 150, "mg", 4, rid="oma"))
    assessment_of_asthma = clinical_core.assess(asthma)
    # another patient's facts with this assessment: the profile must be built from `ckd`, not reused
    got = clinical_core.check_orders(ckd, drafts, hook="order-sign", assessment=assessment_of_asthma)
    want = clinical_core.check_orders(ckd, drafts, hook="order-sign",
                                      assessment=_without_profile(assessment_of_asthma))
    assert got == want
    assert any(d.topic == "cyclosporine-unsafe" for d in got)
    # equal but not identical facts: rebuilt (same answer either way)
    copy = dataclasses.replace(asthma)
    assert copy == asthma and copy is not asthma
    assert clinical_core.check_orders(copy, drafts, hook="order-sign", assessment=assessment_of_asthma) == \
        clinical_core.check_orders(asthma, drafts, hook="order-sign", assessment=assessment_of_asthma)


def test_the_profile_is_not_part_of_the_assessment_value():
    facts = b.allergic_asthma()
    one, two = clinical_core.assess(facts), clinical_core.assess(facts)
    assert one.profile is not two.profile
    assert one == two and "profile" not in repr(one)
    assert one.phenotypes == tuple(build_profile(facts).findings.values())
