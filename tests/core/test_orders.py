"""Scenario 12: order checks for order-select and order-sign."""
from __future__ import annotations

from datetime import date

import pytest

import clinical_core
from tests.core.builders import allergic_asthma, allergy, bp, cond, draft, ige, meas, med, mite_sige, patient

CETIRIZINE = med("cetirizine", "h1-antihistamine", rid="med-cetirizine")


def answer(facts, drafts, hook="order-sign", region="US"):
    """The order hook's whole answer: the patient-level assessment with the draft checks on top."""
    assessment = clinical_core.assess(facts, region=region)
    out = clinical_core.check_orders(facts, drafts, hook=hook, assessment=assessment, region=region)
    for d in out:
        assert len(d.headline) < 140
    return assessment, out


def matched(out) -> bool:
    """A drafted omalizumab order that matches the table (or, at order-select, has no dose yet): no warning,
    only the dose card naming the draft, with no second order."""
    return [(d.topic, d.indicator) for d in out] == [("omalizumab-dose", "info")] and out[0].order_reference


def check(facts, drafts, hook="order-sign", region="US"):
    """The decisions about the drafted orders (and the data-unavailable warning); the patient-level
    part of the answer is checked by test_order_answers_keep_the_patient_level_conclusion."""
    _, out = answer(facts, drafts, hook=hook, region=region)
    return tuple(d for d in out if d.order_reference is not None or d.topic == "data-unavailable")


# --- omalizumab dose / interval ----------------------------------------------------------------

@pytest.mark.parametrize("hook", ["order-select", "order-sign"])
@pytest.mark.parametrize("dose,weeks", [(150, 4), (300, 2), (225, 2), (375, 4)])
def test_dose_or_interval_mismatch_gets_the_table_dose(hook, dose, weeks):
    f = allergic_asthma(ige_value=150, weight=65)  # table: 300 mg q4w
    out = check(f, [draft("omalizumab", dose, weeks=weeks)], hook=hook)
    assert len(out) == 1
    d = out[0]
    assert d.topic == "omalizumab-dose-mismatch" and d.indicator == "warning"
    assert d.order_reference == "MedicationRequest/draft-1"
    assert (d.dose.dose_mg, d.dose.interval_weeks) == (300, 4)
    assert "300 mg SC every 4 weeks" in d.headline
    assert d.evidence[0].reference == "MedicationRequest/draft-1"


def test_matching_draft_gives_no_card():
    f = allergic_asthma(ige_value=150, weight=65)
    assert matched(check(f, [draft("omalizumab", 300, weeks=4)]))


def test_incomplete_draft_at_order_select_is_not_a_mismatch():
    f = allergic_asthma(ige_value=150, weight=65)
    assert matched(check(f, [draft("omalizumab")], hook="order-select"))
    assert matched(check(f, [draft("omalizumab", 300)], hook="order-select"))  # interval not filled in yet


def test_draft_without_dose_at_order_sign_is_a_mismatch():
    out = check(allergic_asthma(ige_value=150, weight=65), [draft("omalizumab")], hook="order-sign")
    assert [d.topic for d in out] == ["omalizumab-dose-mismatch"]
    assert "no readable dose" in out[0].rationale  # absent, or beyond the float range (drafts.py)


def test_unselected_draft_at_order_select_is_ignored():
    f = allergic_asthma(ige_value=150, weight=65)
    drafts = [draft("omalizumab", 150, weeks=4, selected=False)]
    assert check(f, drafts, hook="order-select") == ()
    _, out = answer(f, drafts, hook="order-select")
    # the patient-level dose card stays, without a second omalizumab order beside the draft
    dose = [d for d in out if d.topic == "omalizumab-dose"]
    assert [(d.order_reference, d.suggest_order) for d in dose] == [(None, False)]
    assert "already drafted as MedicationRequest/draft-1" in dose[0].no_order_note


def test_wrong_unit_is_a_mismatch():
    out = check(allergic_asthma(ige_value=150, weight=65), [draft("omalizumab", 300, unit="mg/kg", weeks=4)])
    assert out[0].topic == "omalizumab-dose-mismatch" and "mg/kg" in out[0].rationale


def test_right_dose_by_a_non_subcutaneous_route_is_a_mismatch():
    """Omalizumab is given subcutaneously only: the table dose drafted IV is not 'matching the table'."""
    f = allergic_asthma(ige_value=150, weight=65)
    out = check(f, [draft("omalizumab", 300, weeks=4, route="intravenous")])
    assert [d.topic for d in out] == ["omalizumab-dose-mismatch"] and "intravenous" in out[0].rationale
    assert matched(check(f, [draft("omalizumab", 300, weeks=4, route="SC")]))  # unrecognised spelling: not flagged
    assert matched(check(f, [draft("omalizumab", 300, weeks=4, route=None)]))


def test_csu_fixed_dose_accepts_label_alternative_150():
    f = patient(age_years=30, conditions=(cond("csu"),), medications=(CETIRIZINE,))
    assert matched(check(f, [draft("omalizumab", 150, weeks=4)]))
    assert matched(check(f, [draft("omalizumab", 300, weeks=4)]))
    out = check(f, [draft("omalizumab", 300, weeks=2)])
    assert out[0].topic == "omalizumab-dose-mismatch" and out[0].dose.table_id == "csu-fixed"


def test_asthma_plus_csu_accepts_table_dose_or_csu_300():
    f = allergic_asthma(age=14, ige_value=80, weight=50, extra_conditions=("csu",), medications=(CETIRIZINE,))
    assert matched(check(f, [draft("omalizumab", 150, weeks=4)]))  # asthma table dose
    assert matched(check(f, [draft("omalizumab", 300, weeks=4)]))  # CSU trials dose: the clinician's choice
    assert check(f, [draft("omalizumab", 375, weeks=2)])[0].topic == "omalizumab-dose-mismatch"


def test_asthma_plus_csu_300_q4w_is_a_mismatch_when_the_asthma_dose_is_higher():
    """The CSU 300 mg q4w option exists only where the asthma dose is below 300 mg per 4 weeks (brief 5):
    a 300 mg q4w draft against an asthma table dose of 375 mg q2w (750 mg/4 wk) under-doses the asthma."""
    f = allergic_asthma(age=30, ige_value=450, weight=80, extra_conditions=("csu",), medications=(CETIRIZINE,))
    out = check(f, [draft("omalizumab", 300, weeks=4)])
    assert [d.topic for d in out] == ["omalizumab-dose-mismatch"]
    assert (out[0].dose.dose_mg, out[0].dose.interval_weeks) == (375, 2)
    assert matched(check(f, [draft("omalizumab", 375, weeks=2)]))
    # asthma table dose exactly 300 mg q4w: the same regimen, no card
    g = allergic_asthma(age=30, ige_value=150, weight=65, extra_conditions=("csu",), medications=(CETIRIZINE,))
    assert matched(check(g, [draft("omalizumab", 300, weeks=4)]))
    assert check(g, [draft("omalizumab", 150, weeks=4)])[0].topic == "omalizumab-dose-mismatch"


def test_draft_with_missing_weight_gets_the_data_needed_decision():
    out = check(allergic_asthma(ige_value=180, weight=None), [draft("omalizumab", 300, weeks=4)])
    assert [d.topic for d in out] == ["data-needed"]
    assert out[0].order_reference == "MedicationRequest/draft-1" and "body weight" in out[0].headline


def test_draft_with_undetermined_phenotype_says_what_to_measure():
    f = patient(age_years=30, conditions=(cond("asthma"),))
    out = check(f, [draft("omalizumab", 300, weeks=4)])
    assert [d.topic for d in out] == ["data-needed"] and "sensitisation" in out[0].headline


def test_out_of_table_draft_gets_the_not_dosable_warning():
    out = check(allergic_asthma(ige_value=900), [draft("omalizumab", 375, weeks=2)])
    assert [d.topic for d in out] == ["omalizumab-not-dosable"]
    assert out[0].order_reference == "MedicationRequest/draft-1"


# --- omalizumab for the wrong phenotype ---------------------------------------------------------

def test_omalizumab_for_eosinophilic_non_allergic_is_not_preferred():
    f = patient(age_years=45, conditions=(cond("asthma"),), total_ige=ige(20),
                eosinophils_latest=meas("eosinophils", 420), weight=meas("weight", 80))
    out = check(f, [draft("omalizumab", 150, weeks=4)], hook="order-select")
    assert [d.topic for d in out] == ["omalizumab-not-preferred"]
    d = out[0]
    assert d.indicator == "warning" and d.order_reference == "MedicationRequest/draft-1"
    assert d.alternatives[0].display == "Mepolizumab 100 mg SC every 4 weeks"
    assert "drafted" in d.headline


def test_omalizumab_for_sensitised_asthma_with_ige_below_30_names_the_ige_limit():
    """Sensitised (sIgE 3.2 kU/L) but total IgE 25 IU/mL: calling it 'asthma without an allergic phenotype'
    misstates the chart; the reason is the IgE below the 30 IU/mL lower limit of the dose tables (brief 10:
    say exactly which limit)."""
    f = allergic_asthma(ige_value=25, weight=65, eos=100)
    out = check(f, [draft("omalizumab", 150, weeks=4)])
    # the same out-of-table answer as patient-view, on the draft (issue 15: never silence at the table's edge)
    assert [d.topic for d in out] == ["omalizumab-not-dosable"]
    d = out[0]
    assert "IgE 25 IU/mL" in d.headline and "below the table's lower limit of 30 IU/mL" in d.headline
    assert d.order_reference == "MedicationRequest/draft-1" and d.dose is None
    _, whole = answer(f, [draft("omalizumab", 150, weeks=4)])
    assert [x.topic for x in whole if x.topic.startswith("omalizumab")] == ["omalizumab-not-dosable"]


def test_omalizumab_for_aerd_without_allergy_is_not_preferred():
    f = patient(age_years=40, conditions=(cond("asthma"), cond("nasal-polyps")),
                allergies=(allergy("aspirin-nsaid", "ibuprofen", respiratory=True),), specific_ige=(mite_sige(0.1),),
                eosinophils_latest=meas("eosinophils", 100))
    out = check(f, [draft("omalizumab", 300, weeks=4)])
    assert [d.topic for d in out] == ["omalizumab-not-preferred"]
    assert out[0].alternatives[0].agent == "montelukast"


def test_omalizumab_for_aerd_with_allergy_is_checked_as_a_dose():
    f = patient(age_years=40, conditions=(cond("asthma"), cond("nasal-polyps")),
                allergies=(allergy("aspirin-nsaid", "ibuprofen", respiratory=True),), specific_ige=(mite_sige(2.0),),
                total_ige=ige(150), weight=meas("weight", 65))
    assert matched(check(f, [draft("omalizumab", 300, weeks=4)]))


# --- cyclosporine ---------------------------------------------------------------------------------

def csu(**kw):
    base = dict(age_years=50, conditions=(cond("csu"),), medications=(CETIRIZINE,), egfr=meas("egfr", 90),
                bp_latest=bp(125, 80, date(2026, 11, 1), "bp-1"), bp_recent=(bp(125, 80, date(2026, 11, 1), "bp-1"),))
    base.update(kw)
    return patient(**base)


@pytest.mark.parametrize("kw,hook,indicator", [
    (dict(egfr=meas("egfr", 55)), "order-sign", "warning"),
    (dict(egfr=meas("egfr", 29)), "order-sign", "critical"),
    (dict(egfr=meas("egfr", 29)), "order-select", "warning"),
    (dict(bp_latest=bp(142, 85, date(2026, 11, 1), "bp-1")), "order-sign", "warning"),
    (dict(bp_latest=bp(182, 100, date(2026, 11, 1), "bp-1")), "order-sign", "critical"),
    (dict(bp_latest=bp(170, 110, date(2026, 11, 1), "bp-1")), "order-sign", "critical"),
    (dict(conditions=(cond("csu"), cond("ckd"))), "order-sign", "warning"),
    (dict(conditions=(cond("csu"), cond("hypertension"))), "order-sign", "warning"),
])
def test_cyclosporine_with_risk(kw, hook, indicator):
    out = check(csu(**kw), [draft("cyclosporine", 200, weeks=None, route="oral")], hook=hook)
    assert [d.topic for d in out] == ["cyclosporine-unsafe"]
    d = out[0]
    assert d.indicator == indicator and d.order_reference == "MedicationRequest/draft-1"
    alt = d.alternatives[0]
    assert (alt.agent, alt.dose_value, alt.period, alt.period_unit) == ("omalizumab", 300, 4, "wk")


def test_cyclosporine_without_risk_no_card():
    assert check(csu(), [draft("cyclosporine", 200, route="oral")]) == ()


def test_cyclosporine_without_egfr_or_bp_asks_for_them():
    out = check(csu(egfr=None, bp_latest=None, bp_recent=()), [draft("cyclosporine", 200, route="oral")])
    assert [d.topic for d in out] == ["data-needed"] and out[0].order_reference == "MedicationRequest/draft-1"


# --- anti-IL-5 age limits --------------------------------------------------------------------------

def test_reslizumab_below_18_warns():
    f = patient(age_years=16, conditions=(cond("asthma"),), eosinophils_latest=meas("eosinophils", 500))
    out = check(f, [draft("reslizumab", 3, unit="mg/kg", weeks=4, route="intravenous")], hook="order-select")
    assert [d.topic for d in out] == ["anti-il5-recommended"]
    d = out[0]
    assert d.indicator == "warning" and "18 years" in d.headline and d.order_reference == "MedicationRequest/draft-1"
    assert "reslizumab" not in [o.agent for o in d.alternatives] and d.alternatives[0].agent == "mepolizumab"


def test_reslizumab_adult_no_card():
    f = patient(age_years=40, conditions=(cond("asthma"),), eosinophils_latest=meas("eosinophils", 500))
    assert check(f, [draft("reslizumab", 3, unit="mg/kg", weeks=4, route="intravenous")]) == ()


def test_mepolizumab_adult_dose_drafted_for_a_child_of_6_to_11_warns_with_40_mg():
    """Mepolizumab 6-11 years is 40 mg every 4 weeks (therapies.json, verified): a 100 mg draft for a
    9-year-old is 2.5 times the labelled dose; 40 mg for a 30-year-old is an under-dose."""
    child = patient(age_years=9, conditions=(cond("asthma"),), eosinophils_latest=meas("eosinophils", 500))
    out = check(child, [draft("mepolizumab", 100, weeks=4)])
    assert [d.topic for d in out] == ["anti-il5-recommended"]
    d = out[0]
    assert d.indicator == "warning" and d.order_reference == "MedicationRequest/draft-1"
    assert "40 mg" in d.headline and "100 mg" in d.headline
    assert d.alternatives[0].agent == "mepolizumab" and d.alternatives[0].dose_value == 40
    assert check(child, [draft("mepolizumab", 40, weeks=4)]) == ()
    adult = patient(age_years=30, conditions=(cond("asthma"),), eosinophils_latest=meas("eosinophils", 500))
    assert check(adult, [draft("mepolizumab", 100, weeks=4)]) == ()
    low = check(adult, [draft("mepolizumab", 40, weeks=4)])
    assert [d.topic for d in low] == ["anti-il5-recommended"] and "100 mg" in low[0].headline
    assert check(child, [draft("mepolizumab", None)], hook="order-select") == ()  # no dose yet: nothing to compare


def test_unavailable_data_warning_is_kept_in_order_hooks():
    f = allergic_asthma(ige_value=150, weight=65, unavailable=("egfr",))
    out = check(f, [draft("omalizumab", 300, weeks=4)])
    assert [d.topic for d in out] == ["data-unavailable", "omalizumab-dose"]


def test_unknown_hook_refused():
    f = allergic_asthma()
    with pytest.raises(ValueError):
        clinical_core.check_orders(f, [], hook="patient-view", assessment=clinical_core.assess(f))


def test_benralizumab_child_of_10_is_within_its_label_age():
    f = patient(age_years=10, conditions=(cond("asthma"),), eosinophils_latest=meas("eosinophils", 500))
    assert check(f, [draft("benralizumab", 10, weeks=4)]) == ()
    younger = patient(age_years=5, conditions=(cond("asthma"),), eosinophils_latest=meas("eosinophils", 500))
    out = check(younger, [draft("mepolizumab", 40, weeks=4)])
    assert [d.topic for d in out] == ["anti-il5-recommended"] and "6 years" in out[0].headline


def test_omalizumab_for_food_allergy_only_carries_the_table_4_note():
    f = patient(age_years=8, conditions=(cond("food-allergy"),), total_ige=ige(400), weight=meas("weight", 30))
    out = check(f, [draft("omalizumab", 300, weeks=4)])
    assert [d.topic for d in out] == ["food-allergy-omalizumab"]
    assert out[0].order_reference == "MedicationRequest/draft-1" and "Table 4" in out[0].headline


def test_omalizumab_without_any_indication_asks_for_the_diagnosis():
    out = check(patient(age_years=40), [draft("omalizumab", 300, weeks=4)])
    assert [d.topic for d in out] == ["data-needed"] and "no IgE-driven indication" in out[0].headline


def test_drafted_interval_is_shown_in_a_prescriber_unit():
    from clinical_core.orders import interval_text

    assert interval_text(1 / 14) == "every 12 hours"  # cyclosporine twice daily
    assert interval_text(1 / 7) == "every day"
    assert interval_text(3 / 7) == "every 3 days"
    assert interval_text(2) == "every 2 weeks"
    assert interval_text(4) == "every 4 weeks"


# --- the whole answer: patient-level conclusion + draft checks, nothing ordered twice (issue 15) -------

def test_order_answers_keep_the_patient_level_conclusion():
    f = csu(egfr=meas("egfr", 45))
    assessment, out = answer(f, [draft("cyclosporine", 150, weeks=0.5 / 7, route="oral", rid="cyc")])
    topics = [d.topic for d in out]
    # the CSU dose conclusion of patient-view stays; "avoid cyclosporine" is now the warning on the draft
    assert topics.count("omalizumab-dose") == 1 and topics.count("cyclosporine-unsafe") == 1
    cyc = next(d for d in out if d.topic == "cyclosporine-unsafe")
    assert cyc.order_reference == "MedicationRequest/cyc"
    view_cyc = next(d for d in assessment.decisions if d.topic == "cyclosporine-unsafe")
    assert set(view_cyc.evidence) <= set(cyc.evidence)
    # the cyclosporine card's replacement orders omalizumab: the dose card does not order it a second time
    dose = next(d for d in out if d.topic == "omalizumab-dose")
    assert dose.order_reference is None and not dose.suggest_order
    assert "ordered by the card for MedicationRequest/cyc" in dose.no_order_note


def test_a_replacement_already_drafted_is_not_offered_again():
    f = csu(egfr=meas("egfr", 45))
    drafts = [draft("cyclosporine", 150, weeks=0.5 / 7, route="oral", rid="cyc"), draft("omalizumab", 300, weeks=4)]
    out = check(f, drafts)
    cyc = next(d for d in out if d.topic == "cyclosporine-unsafe")
    assert cyc.alternatives == ()  # no "replace with omalizumab": omalizumab is already drafted
    assert any("already drafted (MedicationRequest/draft-1)" in c for c in cyc.cautions)
    assert matched(tuple(d for d in out if d.topic.startswith("omalizumab")))


def test_every_card_of_a_partial_order_answer_says_it_is_partial():
    f = csu(egfr=meas("egfr", 45), unavailable=("bloodPressure",))
    _, out = answer(f, [draft("cyclosporine", 150, weeks=0.5 / 7, route="oral", rid="cyc")])
    for d in out:
        if d.topic != "data-unavailable":
            assert sum("Partial data: blood pressure" in c for c in d.cautions) == 1, (d.topic, d.cautions)
