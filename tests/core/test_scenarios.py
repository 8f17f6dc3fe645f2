"""Clinical-brief scenarios 1-11 and their combinations, through `clinical_core.assess`."""
from __future__ import annotations

from datetime import date

import pytest

import clinical_core
from clinical_core.decisions import Assessment, Decision
from clinical_core.facts import IgeBaseline
from tests.core.builders import (allergic_asthma, allergy, bp, cond, ige, meas, med, mite_sige, patient)
from tests.core.builders import draft as draft_order

CETIRIZINE = med("cetirizine", "h1-antihistamine", rid="med-cetirizine")


def topics(a: Assessment) -> list[str]:
    return [d.topic for d in a.decisions]


def one(a: Assessment, topic: str) -> Decision:
    found = [d for d in a.decisions if d.topic == topic]
    assert len(found) == 1, (topic, topics(a))
    return found[0]


def check_shape(a: Assessment) -> None:
    """Contract checks every decision must pass (one card each)."""
    for d in a.decisions:
        assert len(d.headline) < 140, d.headline
        assert d.citation.url.startswith(("https://", "http://")), d.citation
        if d.dose is not None:
            assert f"{d.dose.dose_mg} mg" in d.headline and f"every {d.dose.interval_weeks} weeks" in d.headline
        for e in d.evidence:
            assert e.label and e.value
    oma = [d for d in a.decisions if d.topic in ("omalizumab-dose", "omalizumab-not-dosable")]
    assert len(oma) <= 1, "one omalizumab decision per patient"


def assess(f, region="US") -> Assessment:
    a = clinical_core.assess(f, region=region)
    check_shape(a)
    return a


# --- scenario 1: severe allergic asthma -------------------------------------------------------

def test_s1_allergic_asthma_gets_the_table_dose_and_cell():
    a = assess(allergic_asthma(ige_value=150, weight=65))
    d = one(a, "omalizumab-dose")
    assert d.indicator == "info"
    assert d.headline == "Omalizumab 300 mg SC every 4 weeks (US label Table 1: IgE >100-200 IU/mL, >60-70 kg)"
    assert (d.dose.dose_mg, d.dose.interval_weeks, d.dose.table_id, d.dose.region) == (300, 4, "us-asthma-12plus", "US")
    assert (d.dose.ige_band, d.dose.weight_band) == (">100-200 IU/mL", ">60-70 kg")
    assert "row IgE >100-200 IU/mL, column >60-70 kg" in d.rule
    refs = {e.reference for e in d.evidence}
    assert {"Observation/ige-1", "Observation/wt-1", "Observation/sige-d1", "Condition/cond-asthma"} <= refs
    ige_ev = next(e for e in d.evidence if e.reference == "Observation/ige-1")
    assert ige_ev.value == "150 IU/mL" and ige_ev.date == date(2026, 6, 1)
    assert d.covers == ("allergic-asthma",)
    assert a.finding("allergic-asthma").status == "present"


def test_s1_converted_ige_keeps_the_original_value():
    f = allergic_asthma()
    f = type(f)(**{**{k: getattr(f, k) for k in f.__dataclass_fields__},
                   "total_ige": IgeBaseline("newest-no-omalizumab",
                                            meas("total-ige", 250, rid="ige-ng", original=(605, "ng/mL")))})
    d = one(assess(f), "omalizumab-dose")
    e = next(e for e in d.evidence if e.reference == "Observation/ige-ng")
    assert e.value == "250 IU/mL" and e.original == "605 ng/mL"
    assert (d.dose.dose_mg, d.dose.interval_weeks) == (225, 2)


def test_s1_eu_region_uses_eu_table():
    d = one(assess(allergic_asthma(ige_value=150, weight=65), region="EU"), "omalizumab-dose")
    assert (d.dose.dose_mg, d.dose.interval_weeks, d.dose.table_id) == (300, 4, "eu-q4w")
    assert "EU SmPC Table 2" in d.headline


def test_s1_eu_low_ige_gets_the_smpc_sensitisation_caution():
    d = one(assess(allergic_asthma(ige_value=60, weight=65), region="EU"), "omalizumab-dose")
    assert any("below 76 IU/mL" in c for c in d.cautions)
    child = one(assess(allergic_asthma(age=9, ige_value=150, weight=30), region="EU"), "omalizumab-dose")
    assert any("below 200 IU/mL" in c for c in child.cautions)
    assert not any("RAST" in c for c in one(assess(allergic_asthma(ige_value=150), region="EU"),
                                            "omalizumab-dose").cautions)


def test_s1_stale_weight_is_flagged():
    f = allergic_asthma()
    f = type(f)(**{**{k: getattr(f, k) for k in f.__dataclass_fields__},
                   "weight": meas("weight", 65, rid="wt-old", on=date(2026, 5, 1))})
    d = one(assess(f), "omalizumab-dose")
    assert any("older than 3 months" in c and "confirm the weight" in c for c in d.cautions)


def test_unknown_region_is_refused():
    with pytest.raises(ValueError):
        clinical_core.assess(allergic_asthma(), region="XX")


# --- combination: allergic + eosinophilic, ranked as GINA does --------------------------------

def test_allergic_and_high_eos_ranks_anti_il5_first():
    a = assess(allergic_asthma(ige_value=150, weight=65, eos=450))
    order = [t for t in topics(a) if t in ("omalizumab-dose", "anti-il5-recommended")]
    assert order == ["anti-il5-recommended", "omalizumab-dose"]
    oma = one(a, "omalizumab-dose")
    assert oma.alternatives[0].display == "Mepolizumab 100 mg SC every 4 weeks"
    assert "anti-IL-5/5R first" in oma.rationale and "anti-IL-5/5R first" in one(a, "anti-il5-recommended").rationale


def test_allergic_and_modest_eos_ranks_omalizumab_first():
    a = assess(allergic_asthma(ige_value=150, weight=65, eos=200, eos_max=220))
    order = [t for t in topics(a) if t in ("omalizumab-dose", "anti-il5-recommended")]
    assert order == ["omalizumab-dose", "anti-il5-recommended"]
    assert "omalizumab first" in one(a, "omalizumab-dose").rationale


def test_no_ranking_puts_omalizumab_first_when_it_cannot_be_dosed():
    """IgE 900 (above the US table) with eosinophils 200/µL: the GINA ranking would favour omalizumab on the
    low count, but no dose can be given; neither card may say 'omalizumab first'."""
    a = assess(allergic_asthma(ige_value=900, weight=70, eos=200))
    oma, il5 = one(a, "omalizumab-not-dosable"), one(a, "anti-il5-recommended")
    assert "omalizumab first" not in oma.rationale and "omalizumab first" not in il5.rationale
    assert "anti-IL-5/5R therapy fits without an IgE/weight table" in oma.rationale


def test_ranked_omalizumab_card_shows_the_eosinophil_counts_the_ranking_used():
    """Both phenotypes: the omalizumab card states a ranking from the eosinophil count, so its facts table
    carries that count (a decision without the evidence it used is not reviewable)."""
    oma = one(assess(allergic_asthma(ige_value=150, weight=65, eos=450)), "omalizumab-dose")
    assert any(e.reference == "Observation/eos-1" and e.value.startswith("450") for e in oma.evidence)


# --- scenario 2: eosinophilic non-allergic ----------------------------------------------------

def eos_nonallergic(**kw):
    base = dict(age_years=45, conditions=(cond("asthma"),), total_ige=ige(20),
                eosinophils_latest=meas("eosinophils", 420, rid="eos-1"),
                eosinophils_max_12m=meas("eosinophils", 420, rid="eos-1"), weight=meas("weight", 80))
    base.update(kw)
    return patient(**base)


def test_s2_eosinophilic_non_allergic_gets_anti_il5_and_no_omalizumab_dose():
    a = assess(eos_nonallergic())
    assert "omalizumab-dose" not in topics(a) and "omalizumab-not-dosable" not in topics(a)
    d = one(a, "anti-il5-recommended")
    agents = [o.agent for o in d.alternatives]
    assert agents[0] == "mepolizumab" and "reslizumab" in agents
    mepo = d.alternatives[0]
    assert (mepo.dose_value, mepo.dose_unit, mepo.period, mepo.period_unit, mepo.route) == (
        100, "mg", 4, "wk", "subcutaneous")
    assert a.finding("allergic-asthma").status == "absent"
    assert "below 30" in a.finding("allergic-asthma").note


def test_s2_eos_threshold_150_now_or_300_in_12_months():
    assert assess(eos_nonallergic(eosinophils_latest=meas("eosinophils", 150),
                                  eosinophils_max_12m=meas("eosinophils", 150))).finding(
        "eosinophilic-asthma").status == "present"
    assert assess(eos_nonallergic(eosinophils_latest=meas("eosinophils", 140),
                                  eosinophils_max_12m=meas("eosinophils", 300))).finding(
        "eosinophilic-asthma").status == "present"
    low = assess(eos_nonallergic(eosinophils_latest=meas("eosinophils", 140),
                                 eosinophils_max_12m=meas("eosinophils", 290)))
    assert low.finding("eosinophilic-asthma").status == "absent"
    assert "anti-il5-recommended" not in topics(low)


def test_s2_reslizumab_not_offered_below_18():
    d = one(assess(eos_nonallergic(age_years=15)), "anti-il5-recommended")
    assert "reslizumab" not in [o.agent for o in d.alternatives]
    assert "18 years" in d.rationale


def test_s2_active_omalizumab_in_non_allergic_eosinophilic_is_not_preferred():
    a = assess(eos_nonallergic(medications=(med("omalizumab", "anti-ige"),)))
    d = one(a, "omalizumab-not-preferred")
    assert d.indicator == "warning" and d.alternatives[0].agent == "mepolizumab"


def test_s2_negative_perennial_sige_is_non_allergic():
    a = assess(eos_nonallergic(total_ige=ige(180), specific_ige=(mite_sige(0.1),)))
    assert a.finding("allergic-asthma").status == "absent"


# --- scenario 3: CSU refractory to H1 antihistamines ------------------------------------------

def csu_patient(**kw):
    base = dict(age_years=35, conditions=(cond("csu"),), medications=(CETIRIZINE,),
                egfr=meas("egfr", 95), bp_latest=bp(120, 75, date(2026, 11, 1), "bp-1"),
                bp_recent=(bp(120, 75, date(2026, 11, 1), "bp-1"),))
    base.update(kw)
    return patient(**base)


@pytest.mark.parametrize("ige_value,weight", [(None, None), (2000, 160), (10, 40)])
def test_s3_csu_fixed_dose_whatever_ige_and_weight(ige_value, weight):
    kw = {}
    if ige_value is not None:
        kw["total_ige"] = ige(ige_value)
        kw["weight"] = meas("weight", weight)
    d = one(assess(csu_patient(**kw)), "omalizumab-dose")
    assert (d.dose.dose_mg, d.dose.interval_weeks, d.dose.table_id) == (300, 4, "csu-fixed")
    assert any("150 mg every 4 weeks" in c for c in d.cautions)
    assert any("Cyclosporine is the later step" in c for c in d.cautions)
    assert d.covers == ("csu-refractory",)


def test_s3_csu_below_12_is_not_dosable():
    d = one(assess(csu_patient(age_years=10)), "omalizumab-not-dosable")
    assert "12 years" in d.headline


def test_s3_csu_without_antihistamine_is_only_possible():
    a = assess(csu_patient(medications=()))
    assert a.finding("csu-refractory").status == "possible"
    assert "omalizumab-dose" not in topics(a)
    assert "H1 antihistamine" in one(a, "data-needed").headline


# --- scenario 4: CSU with CKD or hypertension -------------------------------------------------

@pytest.mark.parametrize("kw,words", [
    (dict(egfr=meas("egfr", 45)), "eGFR 45"),
    (dict(bp_latest=bp(150, 85, date(2026, 11, 1), "bp-1"), bp_recent=(bp(150, 85, date(2026, 11, 1), "bp-1"),)),
     "BP 150/85"),
    (dict(conditions=(cond("csu"), cond("ckd"))), "CKD"),
    (dict(conditions=(cond("csu"), cond("hypertension"))), "hypertension"),
])
def test_s4_csu_with_renal_or_bp_risk_warns_against_cyclosporine(kw, words):
    a = assess(csu_patient(**kw))
    d = one(a, "cyclosporine-unsafe")
    assert d.indicator == "warning"  # critical only at order-sign
    assert words in d.headline
    assert d.alternatives and d.alternatives[0].agent == "omalizumab" and d.alternatives[0].dose_value == 300
    assert "not the kidney" in d.rationale and "blood-pressure" in d.rationale
    assert any("policy" in c for c in d.cautions)


def test_s4_persistently_high_bp_counts_two_of_three():
    readings = (bp(135, 85, date(2026, 11, 1), "bp-1"), bp(145, 92, date(2026, 10, 1), "bp-2"),
                bp(142, 88, date(2026, 9, 1), "bp-3"))
    a = assess(csu_patient(bp_latest=readings[0], bp_recent=readings))
    assert a.finding("cyclosporine-bp-risk").status == "present"
    assert "2 of the last 3" in a.finding("cyclosporine-bp-risk").note
    one_high = (bp(135, 85, date(2026, 11, 1), "bp-1"), bp(145, 92, date(2026, 10, 1), "bp-2"),
                bp(130, 80, date(2026, 9, 1), "bp-3"))
    assert assess(csu_patient(bp_latest=one_high[0], bp_recent=one_high)).finding(
        "cyclosporine-bp-risk").status == "absent"


def test_s4_persistently_high_bp_headline_does_not_quote_a_normal_newest_reading():
    """Newest 128/78 but 2 of the last 3 high: the summary must not read 'with BP 128/78' (a normal
    value presented as the risk); it names the persistent elevation and the high reading."""
    readings = (bp(128, 78, date(2026, 11, 1), "bp-1"), bp(152, 96, date(2026, 10, 1), "bp-2"),
                bp(146, 92, date(2026, 9, 1), "bp-3"))
    d = one(assess(csu_patient(bp_latest=readings[0], bp_recent=readings, egfr=meas("egfr", 41))),
            "cyclosporine-unsafe")
    assert "128/78" not in d.headline
    assert "2 of last 3" in d.headline and "152/96" in d.headline
    assert not d.headline.endswith("…")
    # the newest reading high: it is the one quoted
    high = (bp(150, 85, date(2026, 11, 1), "bp-1"),)
    assert "BP 150/85" in one(assess(csu_patient(bp_latest=high[0], bp_recent=high)), "cyclosporine-unsafe").headline


def test_s4_cyclosporine_warning_does_not_offer_omalizumab_to_a_patient_already_on_it():
    """Cyclosporine is the step after omalizumab: for a CSU patient already on omalizumab the warning must
    not propose 'omalizumab 300 mg instead' (a duplicate order of the drug that is failing)."""
    f = csu_patient(egfr=meas("egfr", 45), medications=(CETIRIZINE, med("omalizumab", "anti-ige", rid="med-oma")))
    d = one(assess(f), "cyclosporine-unsafe")
    assert d.indicator == "warning" and "eGFR 45" in d.headline
    assert not any(o.agent == "omalizumab" for o in d.alternatives)
    assert "instead" not in d.headline
    assert "already on omalizumab" in d.rationale.lower()
    out = clinical_core.check_orders(f, [draft_order("cyclosporine", 150, weeks=0.5 / 7)], hook="order-sign",
                                     assessment=clinical_core.assess(f))
    drafted = [x for x in out if x.order_reference]
    assert [x.topic for x in drafted] == ["cyclosporine-unsafe"]
    assert not drafted[0].alternatives and "instead" not in drafted[0].headline


def test_s4_safe_kidneys_and_bp_give_no_cyclosporine_warning():
    assert "cyclosporine-unsafe" not in topics(assess(csu_patient()))


def test_s4_on_cyclosporine_with_unknown_egfr_and_bp_asks_for_them():
    a = assess(csu_patient(egfr=None, bp_latest=None, bp_recent=(), medications=(CETIRIZINE,
                                                                                    med("cyclosporine", "calcineurin-inhibitor"))))
    d = one(a, "data-needed")
    assert "eGFR" in d.headline and "blood pressure" in d.headline
    assert len(d.missing) == 2


# --- scenario 5: adolescent with allergic asthma and CSU --------------------------------------

def test_s5_adolescent_asthma_and_csu_one_decision_with_csu_note():
    f = allergic_asthma(age=14, ige_value=80, weight=50, extra_conditions=("csu",), medications=(CETIRIZINE,))
    a = assess(f)
    d = one(a, "omalizumab-dose")
    assert "omalizumab-not-dosable" not in topics(a)
    assert set(d.covers) == {"allergic-asthma", "csu-refractory"}
    assert (d.dose.dose_mg, d.dose.interval_weeks, d.dose.table_id) == (150, 4, "us-asthma-12plus")
    note = next(c for c in d.cautions if "CSU trials" in c)
    assert "300 mg every 4 weeks" in note and "150 mg per 4 weeks" in note and "clinician" in note


def test_s5_asthma_dose_at_least_300_per_4_weeks_says_it_covers_csu():
    f = allergic_asthma(age=16, ige_value=250, weight=65, extra_conditions=("csu",), medications=(CETIRIZINE,))
    d = one(assess(f), "omalizumab-dose")
    assert (d.dose.dose_mg, d.dose.interval_weeks) == (225, 2)
    assert any("450 mg per 4 weeks" in c and "covers the urticaria" in c for c in d.cautions)


def test_s5_asthma_out_of_table_with_csu_gets_the_csu_dose_in_one_decision():
    f = allergic_asthma(age=30, ige_value=900, weight=65, extra_conditions=("csu",), medications=(CETIRIZINE,))
    a = assess(f)
    d = one(a, "omalizumab-dose")
    assert d.dose.table_id == "csu-fixed" and set(d.covers) == {"allergic-asthma", "csu-refractory"}
    assert any(c.startswith("Asthma:") and "700 IU/mL" in c for c in d.cautions)


# --- scenario 6: AERD -------------------------------------------------------------------------

def aerd_patient(**kw):
    base = dict(age_years=40, conditions=(cond("asthma"), cond("nasal-polyps")),
                allergies=(allergy("aspirin-nsaid", "aspirin", respiratory=True),),
                specific_ige=(mite_sige(0.1),), total_ige=ige(120), weight=meas("weight", 70),
                eosinophils_latest=meas("eosinophils", 100), eosinophils_max_12m=meas("eosinophils", 120))
    base.update(kw)
    return patient(**base)


def test_s6_aerd_triad_gets_leukotriene_modifier_and_no_omalizumab():
    a = assess(aerd_patient())
    d = one(a, "leukotriene-modifier-recommended")
    assert d.alternatives[0].agent == "montelukast"
    assert (d.alternatives[0].dose_value, d.alternatives[0].period_unit, d.alternatives[0].route) == (10, "d", "oral")
    assert "desensitisation" in d.headline
    assert "omalizumab is not the first choice" in d.rationale
    assert not {"omalizumab-dose", "omalizumab-not-dosable"} & set(topics(a))


def test_s6_aerd_by_lte4_with_asthma():
    a = assess(patient(age_years=40, conditions=(cond("asthma"),), lte4=meas("lte4", 166, rid="lte4-1"),
                       specific_ige=(mite_sige(0.1),)))
    assert a.finding("aerd").status == "present"
    d = one(a, "leukotriene-modifier-recommended")
    assert any(e.reference == "Observation/lte4-1" for e in d.evidence)


def test_s6_lte4_104_to_166_is_elevated_nonspecific():
    a = assess(patient(age_years=40, conditions=(cond("asthma"),), lte4=meas("lte4", 140)))
    f = a.finding("aerd")
    assert f.status == "possible" and "elevated, nonspecific" in f.note
    assert "leukotriene-modifier-recommended" not in topics(a)
    assert assess(patient(age_years=40, conditions=(cond("asthma"),), lte4=meas("lte4", 104))).finding(
        "aerd").status == "absent"


def test_s6_lte4_elevated_nonspecific_reaches_the_clinician():
    """LTE4 104-166 (brief 6: 'elevated, nonspecific') must be shown on a card, with what would settle AERD,
    not only kept in an internal finding."""
    a = assess(patient(age_years=40, conditions=(cond("asthma"),), lte4=meas("lte4", 140, rid="lte4-1"),
                       specific_ige=(mite_sige(0.1),), total_ige=ige(20), eosinophils_latest=meas("eosinophils", 90)))
    cards = [d for d in a.decisions if "aerd" in d.covers]
    assert len(cards) == 1
    d = cards[0]
    assert d.topic == "data-needed" and d.indicator == "info"
    assert "elevated, nonspecific" in d.headline and "140" in d.headline
    assert any(e.reference == "Observation/lte4-1" for e in d.evidence)
    assert any("nasal polyp" in m for m in d.missing) and any("aspirin" in m for m in d.missing)
    assert "leukotriene-modifier-recommended" not in topics(a)
    normal = assess(patient(age_years=40, conditions=(cond("asthma"),), lte4=meas("lte4", 104)))
    assert not [d for d in normal.decisions if "aerd" in d.covers]


def test_s6_aerd_with_unknown_allergic_status_does_not_claim_there_is_no_allergic_phenotype():
    a = assess(patient(age_years=45, conditions=(cond("asthma"), cond("aerd")),
                       eosinophils_latest=meas("eosinophils", 100)))
    d = one(a, "leukotriene-modifier-recommended")
    assert "not known" in d.rationale and "sensitisation" in d.rationale


def test_s6_aerd_with_allergic_phenotype_keeps_omalizumab():
    f = aerd_patient(specific_ige=(mite_sige(5.0),))
    a = assess(f)
    assert one(a, "omalizumab-dose").dose.dose_mg == 300
    assert "omalizumab remains an option" in one(a, "leukotriene-modifier-recommended").rationale


def test_s6_aerd_without_allergy_on_omalizumab_is_not_preferred():
    a = assess(aerd_patient(medications=(med("omalizumab", "anti-ige"),)))
    d = one(a, "omalizumab-not-preferred")
    assert d.alternatives[0].agent == "montelukast" and "not contraindicated" in d.rationale


# --- scenario 7: nasal polyps ----------------------------------------------------------------

def polyps(**kw):
    base = dict(age_years=50, conditions=(cond("nasal-polyps"),), total_ige=ige(150), weight=meas("weight", 65))
    base.update(kw)
    return patient(**base)


def test_s7_polyps_us_table_3_is_not_dosable_automatically():
    d = one(assess(polyps()), "omalizumab-not-dosable")
    assert "US label Table 3" in d.headline and d.dose is None
    assert d.covers == ("crswnp",)


def test_s7_polyps_eu_doses_from_the_verified_eu_table():
    d = one(assess(polyps(), region="EU"), "omalizumab-dose")
    assert (d.dose.dose_mg, d.dose.interval_weeks, d.dose.table_id) == (300, 4, "eu-q4w")
    assert "nasal polyps" in d.headline


def test_s7_polyps_under_18_not_labelled():
    d = one(assess(polyps(age_years=16)), "omalizumab-not-dosable")
    assert "adults" in d.headline


# --- scenario 8 / 9: food allergy, bullous pemphigoid -----------------------------------------

def test_s8_food_allergy_info_without_dose():
    a = assess(patient(age_years=8, conditions=(cond("food-allergy"),), total_ige=ige(400), weight=meas("weight", 30)))
    d = one(a, "food-allergy-omalizumab")
    assert d.indicator == "info" and d.dose is None and "Table 4" in d.headline
    assert "off-label" in d.rationale


def test_s9_pemphigoid_info_no_dose():
    d = one(assess(patient(age_years=78, conditions=(cond("bullous-pemphigoid"),))), "pemphigoid-itch-off-label")
    assert d.indicator == "info" and d.dose is None and not d.alternatives and "off-label" in d.headline


# --- scenario 10: out of the table -----------------------------------------------------------

@pytest.mark.parametrize("kw,words", [
    (dict(ige_value=850), "above the table's upper limit of 700 IU/mL"),
    # IgE < 30 in a sensitised patient: out of the table, and the card says so (was: no card, issue 15)
    (dict(ige_value=25), "below the table's lower limit of 30 IU/mL"),
    (dict(weight=155), "above the table's upper limit of 150 kg"),
    (dict(weight=28), "below the table's lower limit of 30 kg"),
])
def test_s10_out_of_table_says_which_limit(kw, words):
    a = assess(allergic_asthma(**kw))
    if words is None:
        assert "omalizumab-dose" not in topics(a) and "omalizumab-not-dosable" not in topics(a)
        return
    d = one(a, "omalizumab-not-dosable")
    assert d.indicator == "warning" and words in d.rule and d.dose is None


def test_s10_ige_with_comparator():
    f = allergic_asthma()
    f = type(f)(**{**{k: getattr(f, k) for k in f.__dataclass_fields__},
                   "total_ige": ige(1500, comparator=">")})
    d = one(assess(f), "omalizumab-not-dosable")
    assert ">1500 IU/mL" in d.rule and "above" in d.rule


def test_s10_unplaceable_comparator_ige_summary_does_not_say_the_ige_is_missing():
    """'>500' lies inside the table's range but not in one band: the summary must say the value cannot be
    placed (a quantitative result is needed), not that there is no baseline IgE."""
    f = allergic_asthma()
    f = type(f)(**{**{k: getattr(f, k) for k in f.__dataclass_fields__}, "total_ige": ige(500, comparator=">")})
    d = one(assess(f), "omalizumab-not-dosable")
    assert ">500 IU/mL" in d.headline
    assert "no dose without baseline total IgE" not in d.headline
    assert any("quantitative" in m for m in d.missing)


def test_s10_insufficient_data_cell():
    d = one(assess(allergic_asthma(ige_value=650, weight=80)), "omalizumab-not-dosable")
    assert "insufficient data" in d.headline


def test_s10_out_of_table_and_eosinophilic_points_to_anti_il5():
    a = assess(allergic_asthma(ige_value=900, eos=350))
    d = one(a, "omalizumab-not-dosable")
    assert d.alternatives and d.alternatives[0].agent == "mepolizumab"
    assert "anti-IL-5/5R" in d.rationale
    assert "anti-il5-recommended" in topics(a)


def test_s10_age_6_to_11_us_refers_to_table_2_with_band():
    d = one(assess(allergic_asthma(age=9, ige_value=250, weight=35)), "omalizumab-not-dosable")
    assert "US label Table 2" in d.headline and ">200-300" in d.headline and ">30-40 kg" in d.headline


def test_s10_age_6_to_11_eu_doses_from_table_2():
    d = one(assess(allergic_asthma(age=9, ige_value=250, weight=35), region="EU"), "omalizumab-dose")
    assert (d.dose.dose_mg, d.dose.interval_weeks) == (225, 4)


def test_s10_age_below_6():
    d = one(assess(allergic_asthma(age=4, ige_value=250, weight=18)), "omalizumab-not-dosable")
    assert "age 4" in d.headline


def test_s10_eu_row_600_700_is_not_dosed():
    d = one(assess(allergic_asthma(ige_value=650, weight=22), region="EU"), "omalizumab-not-dosable")
    assert "not dosable automatically" in d.headline and d.dose is None


# --- scenario 11: missing data -----------------------------------------------------------------

def test_s11_missing_everything_says_what_to_measure():
    a = assess(patient(age_years=30, conditions=(cond("asthma"),)))
    d = one(a, "data-needed")
    assert "total IgE" in d.headline and "sensitisation" in d.headline and "eosinophil" in d.headline
    assert any("perennial aeroallergens" in m for m in d.missing)


def test_s11_allergic_without_ige_or_weight_is_not_dosable_with_missing():
    d = one(assess(allergic_asthma(ige_value=None, weight=None)), "omalizumab-not-dosable")
    assert any("total IgE" in m for m in d.missing) and any("weight" in m for m in d.missing)
    assert "baseline total IgE" in d.headline and "body weight" in d.headline


def test_s11_allergic_with_ige_but_no_weight_is_data_needed():
    a = assess(allergic_asthma(ige_value=180, weight=None))
    d = one(a, "data-needed")
    assert d.indicator == "info" and "record body weight" in d.headline and d.dose is None
    assert d.missing[0] == "body weight (kg)" and "allergic-asthma" in d.covers
    assert "blood eosinophil count (cells/µL)" in d.missing  # the phenotype gap is folded into the same card
    assert "omalizumab-dose" not in topics(a) and "omalizumab-not-dosable" not in topics(a)


def test_s11_missing_weight_with_ige_already_outside_the_table_says_the_limit_not_record_weight():
    """IgE 1250 IU/mL is above the 700 IU/mL limit whatever the weight: asking for a weight 'to compute the
    dose' promises a dose that cannot exist (brief 10: say exactly which limit)."""
    d = one(assess(allergic_asthma(ige_value=1250, weight=None, eos=100)), "omalizumab-not-dosable")
    assert "1250" in d.headline and "700" in d.headline
    assert "record body weight" not in d.headline and not d.missing
    # and the reverse: weight 200 kg above 150 kg, no IgE -> the weight limit, not 'measure IgE'
    w = one(assess(allergic_asthma(ige_value=None, weight=200, eos=100)), "omalizumab-not-dosable")
    assert "200 kg" in w.headline and "150 kg" in w.headline
    assert "without baseline total IgE" not in w.headline


def test_s11_unavailable_data_gives_one_warning_naming_it():
    a = assess(allergic_asthma(unavailable=("eosinophils", "egfr")))
    d = one(a, "data-unavailable")
    assert d.indicator == "warning" and "eosinophil counts" in d.headline and "eGFR results" in d.headline
    dose = one(a, "omalizumab-dose")
    assert any(c.startswith("Partial data:") for c in dose.cautions)


# --- on-treatment patients ---------------------------------------------------------------------

def on_treatment(**kw):
    f = allergic_asthma(ige_value=150, weight=75, medications=(med("omalizumab", "anti-ige", start=date(2024, 3, 1)),),
                        **kw)
    return type(f)(**{**{k: getattr(f, k) for k in f.__dataclass_fields__},
                      "total_ige": ige(150, status="baseline-before-omalizumab", on=date(2024, 1, 10),
                                       excluded=(meas("total-ige", 900, rid="ige-on", on=date(2026, 1, 5)),))})


def test_on_treatment_weight_band_change_gives_dose_review():
    f = on_treatment(weight_at_omalizumab_start=meas("weight", 65, rid="wt-start", on=date(2024, 2, 1)))
    d = one(assess(f), "omalizumab-dose")
    assert d.headline.startswith("Omalizumab dose review: 300 mg SC every 4 weeks")
    assert any(">60-70 kg band at the start to >70-90 kg" in c for c in d.cautions)
    assert any(e.reference == "Observation/wt-start" for e in d.evidence)
    # the review says whether the table dose itself changed (here both cells give 300 mg every 4 weeks)
    assert any("table dose is unchanged" in c for c in d.cautions)
    moved = one(assess(on_treatment(weight_at_omalizumab_start=meas("weight", 95, rid="wt-start",
                                                                      on=date(2024, 2, 1)))), "omalizumab-dose")
    assert any("225 mg every 2 weeks at the start weight" in c for c in moved.cautions)


def test_on_treatment_card_cites_the_active_omalizumab_order_and_warns_against_a_second_one():
    """The on-treatment reasoning rests on the active omalizumab order: it is in the facts table, and the
    card says to change that order rather than add a second one (two active orders would double the dose)."""
    f = on_treatment(weight_at_omalizumab_start=meas("weight", 95, rid="wt-start", on=date(2024, 2, 1)))
    d = one(assess(f), "omalizumab-dose")
    assert any(e.reference == "MedicationRequest/med-omalizumab" for e in d.evidence)
    assert any("MedicationRequest/med-omalizumab" in c and "second" in c for c in d.cautions)
    csu = patient(age_years=35, conditions=(cond("csu"),),
                  medications=(CETIRIZINE, med("omalizumab", "anti-ige", rid="med-oma")))
    c = one(assess(csu), "omalizumab-dose")
    assert any(e.reference == "MedicationRequest/med-oma" for e in c.evidence)
    assert any("MedicationRequest/med-oma" in x and "second" in x for x in c.cautions)


def test_us_child_who_began_omalizumab_before_12_stays_on_table_2_after_turning_12():
    """US Table 2 is for patients 'who begin XOLAIR between the ages of 6 to <12 years': a 13-year-old who
    started at 10 is not dosed from Table 1 (the cells differ); Table 2 is unverified, so no automatic dose."""
    base = allergic_asthma(age=13, ige_value=250, weight=35,
                           medications=(med("omalizumab", "anti-ige", start=date(2023, 9, 1)),))
    f = type(base)(**{**{k: getattr(base, k) for k in base.__dataclass_fields__},
                      "birth_date": date(2013, 5, 1),
                      "total_ige": ige(250, status="baseline-before-omalizumab", on=date(2023, 8, 1))})
    d = one(assess(f), "omalizumab-not-dosable")
    assert "Table 2" in d.headline and d.dose is None
    # started at 12 or later: Table 1 as before
    g = type(base)(**{**{k: getattr(base, k) for k in base.__dataclass_fields__},
                      "birth_date": date(2013, 5, 1),
                      "medications": (med("omalizumab", "anti-ige", start=date(2025, 9, 1)),),
                      "total_ige": ige(250, status="baseline-before-omalizumab", on=date(2025, 8, 1))})
    assert one(assess(g), "omalizumab-dose").dose.table_id == "us-asthma-12plus"


def test_on_treatment_same_band_no_review():
    f = on_treatment(weight_at_omalizumab_start=meas("weight", 72, rid="wt-start", on=date(2024, 2, 1)))
    d = one(assess(f), "omalizumab-dose")
    assert not d.headline.startswith("Omalizumab dose review")
    assert any("unchanged" in c for c in d.cautions)
    assert d.suggest_order is False  # already on it, nothing to change: no second order to click


def test_new_order_is_suggested_only_without_an_active_omalizumab_or_for_a_dose_review():
    assert one(assess(allergic_asthma(ige_value=150, weight=65)), "omalizumab-dose").suggest_order is True
    review = on_treatment(weight_at_omalizumab_start=meas("weight", 95, rid="wt-start", on=date(2024, 2, 1)))
    assert one(assess(review), "omalizumab-dose").suggest_order is True
    csu = patient(age_years=35, conditions=(cond("csu"),),
                  medications=(CETIRIZINE, med("omalizumab", "anti-ige", rid="med-oma")))
    assert one(assess(csu), "omalizumab-dose").suggest_order is False


def test_on_treatment_ige_never_doses():
    f = on_treatment()
    d = one(assess(f), "omalizumab-dose")
    # the dose comes from the pre-treatment 150 IU/mL, not the 900 IU/mL measured on treatment
    assert (d.dose.dose_mg, d.dose.interval_weeks) == (300, 4)
    on = next(e for e in d.evidence if e.reference == "Observation/ige-on")
    assert "never doses" in on.label


def test_only_on_treatment_ige_is_not_dosable():
    f = allergic_asthma(medications=(med("omalizumab", "anti-ige"),))
    f = type(f)(**{**{k: getattr(f, k) for k in f.__dataclass_fields__},
                   "total_ige": IgeBaseline("only-on-treatment", None,
                                            excluded=(meas("total-ige", 400, rid="ige-on"),))})
    d = one(assess(f), "omalizumab-not-dosable")
    assert d.dose is None and "pre-treatment IgE" in d.headline
    assert any("initial dose determination" in m for m in d.missing)


def test_interruption_of_a_year_asks_for_a_retest():
    f = allergic_asthma()
    f = type(f)(**{**{k: getattr(f, k) for k in f.__dataclass_fields__},
                   "total_ige": IgeBaseline("retest-after-interruption", meas("total-ige", 150))})
    d = one(assess(f), "omalizumab-not-dosable")
    assert any("re-test" in m for m in d.missing)


def test_s4_a_normal_but_old_egfr_or_bp_is_not_a_cyclosporine_baseline():
    """A 3-year-old normal eGFR must not count as 'no renal risk': the card asks to re-measure (policy)."""
    old, recent = date(2023, 10, 1), date(2026, 10, 1)
    old_bp = bp(120, 75, old, "bp-old")
    a = assess(csu_patient(egfr=meas("egfr", 95, on=old), bp_latest=old_bp, bp_recent=(old_bp,)))
    assert a.finding("cyclosporine-renal-risk").status == "unknown"
    assert a.finding("cyclosporine-bp-risk").status == "unknown"
    assert any("older than 6 months" in m for m in a.finding("cyclosporine-renal-risk").missing)
    needed = [d for d in a.decisions if d.topic == "data-needed" and "cyclosporine" in d.headline.lower()]
    assert needed and "eGFR" in needed[0].headline and "blood pressure" in needed[0].headline
    # recent normal values: no risk, no request to measure
    new_bp = bp(120, 75, recent, "bp-new")
    a = assess(csu_patient(egfr=meas("egfr", 95, on=recent), bp_latest=new_bp, bp_recent=(new_bp,)))
    assert a.finding("cyclosporine-renal-risk").status == "absent"
    assert a.finding("cyclosporine-bp-risk").status == "absent"
    # an old ABNORMAL value still counts as a risk
    a = assess(csu_patient(egfr=meas("egfr", 40, on=old)))
    assert a.finding("cyclosporine-renal-risk").status == "present"
