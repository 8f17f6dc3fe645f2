"""Patient-level decisions (clinical-brief scenarios 1-11): what fits, at what dose, and why.

`assess` builds the phenotype profile once and turns it into decisions, one per card: a single
omalizumab decision whatever the IgE-driven indications (asthma + CSU -> one decision covering both),
anti-IL-5/5R and leukotriene-modifier recommendations, cyclosporine safety, off-label notes, and
what to measure when data is missing. Order checks (scenario 12) live in `orders`.
"""
from __future__ import annotations


from . import evidence as ev
from ._fast_init import maker, replace  # dataclasses.replace, cheaper for the Decision class
from .decisions import Assessment, Citation, Decision, DoseRecommendation, Evidence, TherapyOption, new_decision
from .dosing import Lookup, band_of, fmt_num, lookup, outside_limits
from .knowledge import citation, csu_fixed, table_meta, therapies
from .options import ANTI_IL5_REGIMENS, LTM_REGIMENS, csu_dose, min_age, option, options, unverified
from .phenotypes import (MISSING_AGE, MISSING_SENSITISATION, MISSING_TOTAL_IGE, MISSING_WEIGHT, P, Profile, T, below,
                         bp_high, build_profile, policy_text)

REGIONS = ("US", "EU")
UNAVAILABLE_NAMES = {
    "patient": "patient demographics (age)", "totalIge": "total IgE results", "eosinophils": "eosinophil counts",
    "lte4": "urinary LTE4 results", "weight": "body weight", "egfr": "eGFR results", "bloodPressure": "blood pressure",
    "specificIge": "specific IgE results", "conditions": "problem list (conditions)",
    "medicationRequests": "medication orders", "medicationStatements": "medication statements",
    "allergies": "allergies and intolerances",
}
HEADLINE_MAX = 139
COVER_WORDS = {"allergic-asthma": "allergic asthma", "csu-refractory": "CSU", "crswnp": "nasal polyps",
               "food-allergy": "food allergy"}



# data/policy.json's thresholds as cards write them, formatted once (the file stays their only source)
_P_TEXT = T
_p = _P_TEXT.__getitem__  # _p("egfr_warn_below") -> "60"

# built once per assessment, without the generic class call (see _fast_init.maker); decisions and evidence
# rows through the makers decisions.py and evidence.py define
_DoseRecommendation, _Assessment = maker(DoseRecommendation), maker(Assessment)
_Decision, _Evidence = new_decision, ev.new_evidence


def eosinophil_policy_note(t: dict[str, str] = _P_TEXT) -> str:
    return (f"Eosinophil thresholds ({t['eosinophils_current_min']}/µL now, {t['eosinophils_12m_min']}/µL in "
            "12 months) are product policy from GINA and the trials, not label text.")


def lte4_policy_note(t: dict[str, str] = _P_TEXT) -> str:
    return (f"LTE4 thresholds ({t['lte4_elevated_above']} elevated, {t['lte4_aerd_min']} supports AERD, pg/mg "
            "creatinine) are product policy from the Mayo test comment, not label text.")


def cyclosporine_policy_note(t: dict[str, str] = _P_TEXT) -> str:
    return (f"eGFR < {t['egfr_warn_below']} (critical < {t['egfr_critical_below']}, or CKD stage 4-5, dialysis or a "
            f"kidney transplant on record) and BP >= {t['bp_warn_systolic']}/{t['bp_warn_diastolic']} (critical >= "
            f"{t['bp_critical_systolic']}/{t['bp_critical_diastolic']}, or >= {t['bp_warn_systolic']}/"
            f"{t['bp_warn_diastolic']} on an antihypertensive) are product policy, not label text.")


# the notes as the cards carry them, built once from the policy file (the functions above, for other values)
EOSINOPHIL_POLICY_NOTE = eosinophil_policy_note()
LTE4_POLICY_NOTE = lte4_policy_note()
CYCLOSPORINE_POLICY_NOTE = cyclosporine_policy_note()
SENSITISATION_POLICY_NOTE = f"Sensitisation cut-off {_p('sensitisation_sige_min')} kU/L is product policy, not label text."


def check_region(region: str) -> str:
    r = (region or "US").strip().upper()
    if r not in REGIONS:
        raise ValueError(f"unknown region {region!r}: expected one of {REGIONS}")
    return r


def clip(text: str) -> str:
    return text if len(text) <= HEADLINE_MAX else text[: HEADLINE_MAX - 1].rstrip() + "…"


def label_citation(region: str) -> Citation:
    return citation("xolair-us" if region == "US" else "xolair-eu")


def _uniq(items) -> tuple:
    return tuple(dict.fromkeys([i for i in items if i]))  # a list comprehension: cheaper than a generator


_uniq_ev = ev.unique  # `_uniq` for evidence rows (an Evidence is never falsy), hashed in C


# ---------------------------------------------------------------------------------------------
# omalizumab


def age_at_first_omalizumab(p: Profile) -> int | None:
    """Whole years at the first recorded omalizumab start (US Table 2 is for patients who *begin* at 6-<12)."""
    b = p.facts.birth_date
    first = p.first_omalizumab_start  # min of the omalizumab starts, from build_profile's medication pass
    if b is None or first is None:
        return None
    return first.year - b.year - ((first.month, first.day) < (b.month, b.day))


def asthma_table(region: str, age: int | None, start_age: int | None = None) -> tuple[str | None, str]:
    if age is None:
        return None, "age unknown: the label table depends on age"
    if region == "US":  # age limits from the tables' metadata (label text, with its source there)
        older, child = table_meta("us-asthma-12plus"), table_meta("us-asthma-6to11")
        if age >= older.age_min and start_age is not None and child.age_min <= start_age <= child.age_max:
            return child.id, f"began omalizumab at age {start_age}: US Table 2 applies"
        if age >= older.age_min:
            return older.id, ""
        if age >= child.age_min:
            return child.id, ""
        return None, f"age {age} years is below the US label's asthma age range ({child.age_min} years and older)"
    eu = table_meta("eu-q4w")
    if age >= eu.age_min:
        return eu.id, ""
    return None, f"age {age} years is below the EU SmPC asthma age range ({eu.age_min} years and older)"


def dose_inputs(p: Profile, table_id: str) -> tuple[Lookup | None, tuple[str, ...], str]:
    """Look the patient up in a table, or say which input is missing and why."""
    f = p.facts
    missing: list[str] = []
    reasons: list[str] = []
    status = f.total_ige.status
    if status == "only-on-treatment":
        reasons.append("every total IgE on record was drawn on omalizumab or within a year of stopping; "
                       "IgE measured on treatment never sets the dose (label)")
        missing.append("the pre-treatment total IgE from the initial dose determination")
    elif status == "retest-after-interruption":
        reasons.append("omalizumab was interrupted for 1 year or more: the label asks for a new total IgE")
        missing.append("total IgE re-test (IU/mL) after the interruption of 1 year or more")
    elif p.ige is None:
        reasons.append("no baseline total IgE on record")
        missing.append(MISSING_TOTAL_IGE)
    if f.weight is None:
        reasons.append("no body weight on record")
        missing.append(MISSING_WEIGHT)
    if missing:
        outside = outside_limits(table_id, p.ige, f.weight)
        if outside is not None:  # what is on record is already outside the table: no measurement gives a dose
            return outside, (), outside.reason
        return None, tuple(missing), "; ".join(reasons)
    assert p.ige is not None and f.weight is not None
    lk = lookup(table_id, p.ige, f.weight)
    return lk, lk.missing, lk.reason


def dose_from(lk: Lookup) -> DoseRecommendation:
    meta = lk.table
    return _DoseRecommendation(
        dose_mg=int(lk.dose_mg), interval_weeks=int(lk.interval_weeks), table_id=meta.id,  # type: ignore[arg-type]
        table_label=meta.raw.get("dose_label") or f"{meta.short_label} (age >= {meta.age_min})",
        region=meta.region, citation=meta.citation, ige_band=lk.ige_band, weight_band=lk.weight_band,
    )


def _common_cautions(p: Profile, region: str) -> list[str]:
    out: list[str] = []
    f = p.facts
    if f.weight is not None and p.weight_stale:
        d = ev.day(f.weight.when)
        out.append(f"Weight dated {d.isoformat()} is older than {_p('weight_stale_months')} "
                   "months (policy): confirm the weight before dosing." if d else
                   "The weight has no date: confirm the weight before dosing.")
    if region == "EU" and p.ige is not None:
        rast = table_meta("eu-q4w").raw["rast_required_below"]  # EU SmPC 4.2, with its source in the table file
        child = p.age is not None and p.age < rast["child_age_below"]
        rast_below = rast["child"] if child else rast["adult_adolescent"]
        if p.ige.value < rast_below and p.ige.comparator in (None, "<", "<="):
            out.append(f"EU SmPC: with IgE below {rast_below} IU/mL ensure unequivocal in vitro reactivity (RAST) to "
                       "a perennial allergen before starting.")
    if p.present("allergic-asthma"):
        for e in p.ev("allergic-asthma"):  # a loop, not any(<generator>): one frame fewer per assessment
            if e.label.startswith("Specific IgE"):
                out.append(SENSITISATION_POLICY_NOTE)
                break
    return out


def _on_treatment(p: Profile, lk: Lookup) -> tuple[bool, list[str], list[Evidence]]:
    """Dose review when the weight moved to another band since omalizumab started."""
    if not p.on_omalizumab:
        return False, [], []
    f = p.facts
    notes = ["Already on omalizumab: the dose comes from the pre-treatment IgE and the current weight; "
             "IgE measured on treatment is never used.", _active_order_note(p)]
    active_ev = [ev.medication(m) for m in p.on_omalizumab]
    start = f.weight_at_omalizumab_start
    if start is None:
        notes.append("No weight from the start of treatment on record: check the current dose against this table dose.")
        return False, notes, active_ev
    b0 = band_of(lk.table.id, start.value)
    evid = active_ev + [ev.measurement("Body weight at omalizumab start", start, decimals=1)]
    if b0 is not None and b0 != lk.weight_band:
        notes.append(f"Weight moved from the {b0} band at the start to {lk.weight_band}: review the dose "
                     "(label: adjust for significant changes in body weight).")
        then = lookup(lk.table.id, p.ige, start) if p.ige is not None else None
        if then is not None and then.outcome == "dose":
            if (then.dose_mg, then.interval_weeks) == (lk.dose_mg, lk.interval_weeks):
                notes.append(f"The table dose is unchanged ({lk.dose_mg} mg every {lk.interval_weeks} weeks in both "
                             "cells).")
            else:
                notes.append(f"The table gave {then.dose_mg} mg every {then.interval_weeks} weeks at the start weight; "
                             f"it gives {lk.dose_mg} mg every {lk.interval_weeks} weeks now.")
        return True, notes, evid
    if b0 is None:
        notes.append("The weight at the start lies outside this table: check the current dose against this table dose.")
        return False, notes, evid
    notes.append(f"Weight band unchanged since the start ({b0}).")
    return False, notes, evid


def _active_order_note(p: Profile) -> str:
    refs = ", ".join(m.source.reference for m in p.on_omalizumab)
    return (f"Active omalizumab order on record ({refs}): change that order if the dose differs; do not add a "
            "second one (two active orders would double the dose).")


def per_4_weeks(dose: DoseRecommendation) -> float:
    """mg given per 4 weeks, the unit the CSU trials' dose (policy csu_dose_per_4_weeks_note) is in."""
    return dose.dose_mg * 4 / dose.interval_weeks


def below_csu_trials_dose(dose: DoseRecommendation) -> bool:
    """An asthma table dose lower than the CSU trials' 300 mg q4w: giving that instead is the clinician's choice."""
    return per_4_weeks(dose) < P.csu_dose_per_4_weeks_note


def _csu_note(dose: DoseRecommendation) -> str:
    per4 = per_4_weeks(dose)
    target = P.csu_dose_per_4_weeks_note
    if below_csu_trials_dose(dose):
        return (f"CSU trials used a fixed {fmt_num(target)} mg every 4 weeks; this asthma dose gives {fmt_num(per4)} mg "
                f"per 4 weeks. Whether to give {fmt_num(target)} mg every 4 weeks for the urticaria is the clinician's "
                "choice (no combined label table).")
    return (f"This asthma dose ({fmt_num(per4)} mg per 4 weeks) is at least the CSU dose of {fmt_num(target)} mg every "
            "4 weeks, so it also covers the urticaria.")


def _il5_alternatives(p: Profile) -> tuple[TherapyOption, ...]:
    return options(ANTI_IL5_REGIMENS, p.age) if p.present("eosinophilic-asthma") else ()


def _not_dosable(p: Profile, region: str, *, reason: str, missing: tuple[str, ...], covers: tuple[str, ...],
                 short: str, evidence: tuple[Evidence, ...], cit: Citation, cautions: tuple[str, ...] = ()) -> Decision:
    alts = _il5_alternatives(p)
    rationale = f"Omalizumab fits ({', '.join(COVER_WORDS.get(c, c) for c in covers)}) but no dose can be computed: {reason}"
    rationale = rationale.rstrip(".") + "."
    if alts:
        rationale += " The asthma is also eosinophilic: anti-IL-5/5R therapy fits without an IgE/weight table."
    if missing:
        rationale += " Measure or record: " + "; ".join(missing) + "."
    if missing and all(m in (MISSING_WEIGHT, MISSING_AGE) for m in missing):
        # only a measurement is missing (IgE is fine): card contract -> data-needed, not a dosing warning
        items = " and ".join("body weight" if m == MISSING_WEIGHT else "date of birth" for m in missing)
        what = ", ".join(COVER_WORDS.get(c, c) for c in covers)
        topic, indicator = "data-needed", "info"
        headline = f"Omalizumab fits ({what}): record {items} to compute the dose"
    else:
        topic, indicator, headline = "omalizumab-not-dosable", "warning", f"Omalizumab: {short}"
    return _Decision(
        topic=topic, indicator=indicator, headline=clip(headline),
        rationale=rationale, citation=cit, evidence=evidence, rule=reason, missing=missing,
        cautions=_uniq(list(cautions) + _common_cautions(p, region) + list(unverified(alts))),
        alternatives=alts, covers=covers,
    )


def _short_reason(lk: Lookup | None, missing: tuple[str, ...]) -> str:
    if lk is not None and lk.outcome == "indeterminate":
        # a value with a comparator ('>500') is on record but fits no single band: say that, not "missing"
        detail = lk.reason.split(": ", 1)[-1].split(";")[0].split(" (table limits")[0]
        return f"{detail}; the exact value is needed"
    if lk is None:
        names = []
        for m in missing:
            names.append("pre-treatment IgE" if "pre-treatment" in m else "IgE re-test" if "re-test" in m
                         else "baseline total IgE" if "IgE" in m else "body weight" if "weight" in m else m)
        return "no dose without " + " and ".join(_uniq(names))
    if lk.outcome in ("table-unverified", "unverified-cell"):
        bands = ", ".join(b for b in (lk.ige_band and f"IgE {lk.ige_band}", lk.weight_band) if b)
        return f"not dosable automatically: use {lk.table.short_label}" + (f" ({bands})" if bands else "")
    if lk.outcome == "see-table" and lk.see_table is not None:
        return (f"not dosable automatically: use {lk.see_table.short_label} (every 2 weeks; IgE {lk.ige_band}, "
                f"{lk.weight_band})")
    if lk.outcome == "insufficient-data":
        return f"{lk.table.short_label} gives no dose for IgE {lk.ige_band}, {lk.weight_band} (insufficient data)"
    # below-min / above-max: the first limit problem in plain words
    detail = lk.reason.split(": ", 1)[-1].split(";")[0].split(" (table limits")[0]
    return f"outside {lk.table.short_label}: {detail}"


def omalizumab_decision(p: Profile, region: str) -> Decision | None:
    if p.present("allergic-asthma"):
        return _oma_asthma(p, region)
    if p.present("csu-refractory"):
        return _oma_csu(p, region, covers=("csu-refractory",) + (("crswnp",) if p.present("crswnp") else ()))
    if p.present("crswnp") and not p.present("aerd"):
        return _oma_crswnp(p, region)  # AERD without an allergic phenotype: leukotriene modifier first
    return _oma_sensitised_below_table(p, region)


def _oma_sensitised_below_table(p: Profile, region: str) -> Decision | None:
    """Brief 10: a sensitised asthmatic whose baseline IgE is below the tables' lower limit is out of the table:
    the card names the limit (and anti-IL-5/5R where eosinophilic) instead of saying nothing. By policy
    (ige_non_allergic_below) the asthma then counts as non-allergic for ranking and order checks."""
    if not (p.asthma and p.sensitised and p.ige is not None and below(p.ige, P.ige_non_allergic_below)):
        return None
    if p.present("aerd"):
        return None  # AERD without an allergic phenotype: the leukotriene card answers, omalizumab is not first
    covers = ("allergic-asthma",)
    evid = _uniq_ev(p.age_ev + p.ev("allergic-asthma") + p.weight_ev)
    table_id, age_problem = asthma_table(region, p.age, age_at_first_omalizumab(p))
    cit = label_citation(region)
    if table_id is None:
        reason = age_problem if p.age is not None else "no dose without the patient's age"
        return _not_dosable(p, region, reason=f"{reason}; the baseline IgE is also below every label table",
                            missing=(MISSING_AGE,) if p.age is None else (), covers=covers, evidence=evid, cit=cit,
                            short="sensitised, but the baseline IgE is below the label tables")
    lk = outside_limits(table_id, p.ige, p.facts.weight)
    if lk is None:  # policy cut-off above this table's limit (not the case for the label tables): say the policy
        cut = _p("ige_non_allergic_below")
        reason = f"baseline IgE {ev.value_text(p.ige)} is below {cut} IU/mL, non-allergic by policy"
        return _not_dosable(p, region, reason=reason, missing=(), covers=covers, evidence=evid, cit=cit,
                            short=f"baseline IgE below {cut} IU/mL (policy)")
    return _not_dosable(p, region, reason=lk.reason, missing=(), covers=covers, evidence=evid, cit=lk.table.citation,
                        short=_short_reason(lk, ()),
                        cautions=(f"Sensitisation is documented, but a baseline IgE below {_p('ige_non_allergic_below')} "
                                  "IU/mL makes the asthma non-allergic for this service (policy): omalizumab is not "
                                  "dosed; a re-test of total IgE changes the answer only if it is inside the table.",))


def _oma_asthma(p: Profile, region: str) -> Decision:
    csu, polyps = p.present("csu-refractory"), p.present("crswnp")
    covers = ("allergic-asthma",) + (("csu-refractory",) if csu else ()) + (("crswnp",) if polyps else ())
    base_ev = p.age_ev + p.ev("allergic-asthma") + p.weight_ev
    if csu:
        base_ev += tuple(e for e in p.ev("csu-refractory") if e not in base_ev)
    if polyps:
        base_ev += tuple(e for e in p.ev("crswnp") if e not in base_ev)
    base_ev = _uniq_ev(base_ev + p.ige_ev)
    start_age = age_at_first_omalizumab(p)
    table_id, age_problem = asthma_table(region, p.age, start_age)
    cit = label_citation(region)
    began_young = table_id == "us-asthma-6to11" and p.age is not None and p.age >= 12
    if table_id is None:
        missing = (MISSING_AGE,) if p.age is None else ()
        return _not_dosable(p, region, reason=age_problem, missing=missing, covers=covers, evidence=base_ev, cit=cit,
                            short="no dose without the patient's age" if p.age is None else
                            f"age {p.age} years is outside the label's asthma age range")
    lk, missing, reason = dose_inputs(p, table_id)
    if lk is not None and lk.outcome == "dose":
        dose = dose_from(lk)
        review, on_notes, on_ev = _on_treatment(p, lk)
        cautions = _common_cautions(p, region) + on_notes
        if csu:
            cautions.append(_csu_note(dose))
        if polyps:
            cautions.append("Asthma with nasal polyps: the label doses by the primary diagnosis; this is the "
                            "asthma table.")
        alts = _il5_alternatives(p)
        cautions += list(unverified(alts))
        head = f"Omalizumab {dose.dose_mg} mg SC every {dose.interval_weeks} weeks ({lk.table.short_label}: " \
               f"IgE {lk.ige_band}, {lk.weight_band})"
        if review:
            head = "Omalizumab dose review: " + head[len("Omalizumab "):]
        treats = "allergic asthma" + (" and chronic spontaneous urticaria" if csu else "") + (
            " (with nasal polyps)" if polyps else "")
        rationale = (f"Severe allergic asthma with sensitisation and a baseline IgE and weight inside "
                     f"{lk.table.short_label}: the label table gives {dose.dose_mg} mg every {dose.interval_weeks} "
                     f"weeks. One omalizumab course treats {treats}.")
        return _Decision(topic="omalizumab-dose", indicator="info", headline=clip(head), rationale=rationale,
                        citation=lk.table.citation,
                        # base_ev is already de-duplicated (and Evidence is never falsy): hash only when
                        # the on-treatment rows are added
                        evidence=_uniq_ev(base_ev + tuple(on_ev)) if on_ev else base_ev, rule=lk.rule,
                        cautions=_uniq(cautions), dose=dose, alternatives=alts, covers=covers,
                        links=(citation("gina-severe"),) if alts else (),
                        suggest_order=review or not p.on_omalizumab)
    # no asthma dose: a CSU patient still gets the fixed CSU dose, in the same single decision
    if csu and p.age is not None and p.age >= int(csu_fixed()["age_min"]):
        note = f"Asthma: {reason.rstrip('.')}." + (" Measure: " + "; ".join(missing) + "." if missing else "")
        return _oma_csu(p, region, covers=covers, extra_cautions=(note,), extra_missing=missing, extra_ev=base_ev)
    return _not_dosable(p, region, reason=reason, missing=missing, covers=covers, evidence=base_ev,
                        cit=lk.table.citation if lk else cit, short=_short_reason(lk, missing),
                        cautions=(f"Began omalizumab at age {start_age}: the US label's Table 2 covers patients who "
                                  "begin between 6 and <12 years, also after they turn 12.",) if began_young else ())


def _oma_csu(p: Profile, region: str, *, covers: tuple[str, ...], extra_cautions: tuple[str, ...] = (),
             extra_missing: tuple[str, ...] = (), extra_ev: tuple[Evidence, ...] = ()) -> Decision:
    raw = csu_fixed()
    evid = _uniq_ev(p.age_ev + p.ev("csu-refractory") + extra_ev)
    cit = citation("xolair-us" if region == "US" else "xolair-eu")
    if p.age is None or p.age < int(raw["age_min"]):
        short = (f"no dose without the patient's age (CSU is labelled from {raw['age_min']} years)" if p.age is None
                 else f"for CSU it is labelled from {raw['age_min']} years (patient is {p.age})")
        reason = short if p.age is None else f"age {p.age} years is below the CSU age limit of {raw['age_min']} years"
        return _not_dosable(p, region, reason=reason, missing=(MISSING_AGE,) if p.age is None else (),
                            covers=covers, evidence=evid, cit=cit, short=short)
    dose = csu_dose(region)
    cautions = list(extra_cautions)
    if region == "US":
        cautions.append(f"{raw['alternative_dose_mg']} mg every {raw['interval_weeks']} weeks is the US label's "
                        "alternative CSU dose.")
    cautions.append("Cyclosporine is the later step if omalizumab fails within 6 months (EAACI 2022).")
    if p.on_omalizumab:
        cautions.append("Already on omalizumab: continue the fixed CSU dose; IgE and weight do not change it.")
        cautions.append(_active_order_note(p))
        evid = _uniq_ev(evid + tuple(ev.medication(m) for m in p.on_omalizumab))
    rule = (f"CSU refractory to H1 antihistamines, age >= {raw['age_min']}: fixed {dose.dose_mg} mg every "
            f"{dose.interval_weeks} weeks, independent of IgE and weight (label).")
    return _Decision(
        topic="omalizumab-dose", indicator="info",
        headline=clip(f"Omalizumab {dose.dose_mg} mg SC every {dose.interval_weeks} weeks for CSU (fixed label dose, "
                      "independent of IgE and weight)"),
        rationale=("Chronic spontaneous urticaria still active despite an H1 antihistamine: omalizumab is the next "
                   "step (EAACI 2022 step 3), at a fixed dose."), citation=dose.citation, evidence=evid, rule=rule,
        missing=extra_missing, cautions=_uniq(cautions), dose=dose, covers=covers,
        links=(citation("eaaci-urticaria"),), suggest_order=not p.on_omalizumab)


def _oma_crswnp(p: Profile, region: str) -> Decision:
    covers = ("crswnp",)
    evid = _uniq_ev(p.age_ev + p.ev("crswnp") + p.ige_ev + p.weight_ev)
    cit = label_citation(region)
    table_id = "us-crswnp" if region == "US" else "eu-q4w"
    meta = table_meta(table_id)
    if p.age is None or p.age < int(meta.raw.get("crswnp_age_min", meta.age_min)):
        short = ("no dose without the patient's age (nasal polyps: adults)" if p.age is None
                 else f"for nasal polyps it is labelled for adults (patient is {p.age})")
        return _not_dosable(p, region, reason=short, missing=(MISSING_AGE,) if p.age is None else (), covers=covers,
                            evidence=evid, cit=cit, short=short)
    lk, missing, reason = dose_inputs(p, table_id)
    if lk is not None and lk.outcome == "dose":
        dose = dose_from(lk)
        cautions = _common_cautions(p, region) + [
            "EU SmPC: nasal polyps use the asthma dose tables; body weights below 30 kg were not studied for CRSwNP."]
        return _Decision(topic="omalizumab-dose", indicator="info", headline=clip(
            f"Omalizumab {dose.dose_mg} mg SC every {dose.interval_weeks} weeks for nasal polyps "
            f"({lk.table.short_label}: IgE {lk.ige_band}, {lk.weight_band})"),
            rationale="Chronic rhinosinusitis with nasal polyps in an adult: omalizumab is labelled, dosed from "
                      "baseline IgE and weight.", citation=lk.table.citation, evidence=evid, rule=lk.rule,
            cautions=_uniq(cautions), dose=dose, covers=covers)
    return _not_dosable(p, region, reason=reason, missing=missing, covers=covers, evidence=evid,
                        cit=lk.table.citation if lk else meta.citation, short=_short_reason(lk, missing))


# ---------------------------------------------------------------------------------------------
# other therapies


def anti_il5_decision(p: Profile) -> Decision | None:
    if not p.present("eosinophilic-asthma"):
        return None
    alts = options(ANTI_IL5_REGIMENS, p.age)
    evid = _uniq_ev(p.age_ev + p.ev("eosinophilic-asthma"))
    if not alts:  # too young for every anti-IL-5/5R regimen: say so, never nothing (brief 10)
        youngest = min(a for a in (min_age(r["agent"]) for r in (therapies()[k] for k in ANTI_IL5_REGIMENS))
                       if a is not None)
        return _Decision(
            topic="anti-il5-recommended", indicator="info",
            headline=clip(f"Eosinophilic asthma at {p.age} years: no anti-IL-5/5R is labelled below {youngest} years"),
            rationale=(f"Eosinophilic asthma ({p.findings['eosinophilic-asthma'].note}), but no anti-IL-5/5R biologic "
                       f"in this service is labelled below {youngest} years; refer to a paediatric asthma specialist."),
            citation=citation("gina-severe"), evidence=evid, rule=p.findings["eosinophilic-asthma"].note,
            cautions=(EOSINOPHIL_POLICY_NOTE,), covers=("eosinophilic-asthma",),
            links=(citation("nucala"),))
    resli = min_age("reslizumab")
    age_note = f"reslizumab only from {resli} years" if p.age is None or p.age >= resli else (
        f"reslizumab is labelled only from {resli} years, so it is not offered")
    rationale = (f"Eosinophilic severe asthma ({p.findings['eosinophilic-asthma'].note}): anti-IL-5/5R biologics "
                 f"fit ({age_note}).")
    if p.status("allergic-asthma") == "absent":
        rationale += " No allergic phenotype: omalizumab is not the right tool."
    cautions = [EOSINOPHIL_POLICY_NOTE] + list(unverified(alts))
    if p.age is None:
        cautions.append("Age unknown: check the label's age limits before ordering.")
    return _Decision(
        topic="anti-il5-recommended", indicator="info",
        headline=clip(f"Eosinophilic asthma: anti-IL-5/5R fits, e.g. {alts[0].display}"),
        rationale=rationale, citation=citation("gina-severe"), evidence=evid,
        rule=p.findings["eosinophilic-asthma"].note, cautions=_uniq(cautions), alternatives=alts,
        covers=("eosinophilic-asthma",), links=(citation("nucala"), citation("cinqair")))


def rank_biologics(p: Profile, oma: Decision | None, il5: Decision | None) -> list[Decision]:
    """GINA: both fit -> high eos (>= 300) and nasal polyps favour anti-IL-5/5R; low eos and comorbid
    CSU or food allergy favour anti-IgE. The preferred decision comes first and both say so."""
    if oma is None or il5 is None or "allergic-asthma" not in oma.covers:
        return [d for d in (oma, il5) if d is not None]
    if oma.topic != "omalizumab-dose":  # no omalizumab dose to rank: its card already points to anti-IL-5/5R
        return [oma, il5]
    t = _p("eosinophils_anti_il5_favoured")
    for_il5 = [w for w, on in ((f"eosinophils >= {t}/µL", p.eos_high), ("nasal polyps", p.present("crswnp"))) if on]
    for_oma = [w for w, on in ((f"eosinophils < {t}/µL", not p.eos_high), ("comorbid CSU", p.present("csu-refractory")),
                               ("comorbid food allergy", p.present("food-allergy"))) if on]
    if len(for_il5) > len(for_oma):
        pref, text = "il5", "GINA ranking: anti-IL-5/5R first (" + ", ".join(for_il5) + "), omalizumab second"
    elif len(for_oma) > len(for_il5):
        pref, text = "oma", "GINA ranking: omalizumab first (" + ", ".join(for_oma) + "), anti-IL-5/5R second"
    else:
        pref, text = "oma", ("GINA ranking: both fit equally (" + ", ".join(for_oma + for_il5)
                             + "); omalizumab listed first, the choice is the clinician's")
    text += " (ranking thresholds are product policy)."
    oma = replace(oma, rationale=f"{oma.rationale} Allergic and eosinophilic phenotypes are both present. {text}",
                  evidence=_uniq_ev(oma.evidence + p.ev("eosinophilic-asthma")))
    il5 = replace(il5, rationale=f"{il5.rationale} Allergic and eosinophilic phenotypes are both present. {text}")
    return [il5, oma] if pref == "il5" else [oma, il5]


def not_preferred_reason(p: Profile) -> str | None:
    """Why omalizumab is the wrong tool, or None when an IgE-driven indication is present or unknown."""
    if any(p.present(k) for k in ("allergic-asthma", "csu-refractory", "food-allergy")):
        return None
    if p.present("crswnp") and not p.present("aerd"):
        return None  # nasal polyps alone are labelled; within AERD the leukotriene route comes first
    undocumented = p.status("allergic-asthma") == "unknown"
    if undocumented and not (p.present("eosinophilic-asthma") or p.present("aerd")):
        return None  # nothing points elsewhere yet: the answer is the sensitisation test (data-needed)
    # brief 6: sensitisation not documented counts as without an allergic phenotype
    parts = []
    if p.present("eosinophilic-asthma"):
        parts.append("eosinophilic asthma without a documented allergic phenotype (IL-5 driven; sensitisation "
                     "not tested)" if undocumented else "eosinophilic, non-allergic asthma (IL-5 driven)")
    if p.present("aerd"):
        parts.append("AERD without a documented allergic phenotype (leukotriene driven; sensitisation not tested)"
                     if undocumented else "AERD without an allergic phenotype (leukotriene driven)")
    if not parts and p.asthma and p.status("allergic-asthma") == "absent":
        cut = P.ige_non_allergic_below
        if p.ige is not None and below(p.ige, cut):
            parts.append(f"asthma with total IgE {ev.value_text(p.ige)} (below {fmt_num(cut)} IU/mL, the lower limit "
                         "of the omalizumab dose tables; non-allergic by policy)")
        else:
            parts.append("asthma without an allergic phenotype")
    return "; ".join(parts) or None


def not_preferred_alternatives(p: Profile) -> tuple[TherapyOption, ...]:
    alts: list[TherapyOption] = []
    if p.present("eosinophilic-asthma"):
        alts += options(ANTI_IL5_REGIMENS, p.age)
    if p.present("aerd"):
        alts += options(LTM_REGIMENS, p.age)
    if not alts and p.asthma:
        alts += options(("tezepelumab-asthma-12plus",), p.age)
    return tuple(alts)


def not_preferred_decision(p: Profile, *, order_reference: str | None = None, drafted: bool = False) -> Decision | None:
    why = not_preferred_reason(p)
    if why is None:
        return None
    alts = not_preferred_alternatives(p)
    evid = _uniq_ev(p.age_ev + p.ev("allergic-asthma", "eosinophilic-asthma", "aerd")
                 + tuple(ev.medication(m) for m in p.on_omalizumab))
    verb = "drafted" if drafted else "active"
    head = f"Omalizumab {verb}, but the phenotype is not IgE-driven: {why.split(' (')[0]}"
    if alts:
        head += f"; consider {alts[0].display.split(' ')[0].lower()}"
    rationale = (f"Omalizumab binds IgE; it helps IgE-driven disease. This patient has {why}, so it is not the "
                 "preferred therapy.")
    if p.present("aerd"):
        rationale += (" Omalizumab is not contraindicated in AERD: prefer a leukotriene modifier and aspirin "
                      "desensitisation; choose a biologic by the asthma/CRSwNP phenotype.")
    missing: tuple[str, ...] = ()
    if p.status("allergic-asthma") == "unknown":
        missing = (MISSING_SENSITISATION,) + ((MISSING_TOTAL_IGE,) if p.ige is None else ())
        rationale += (" Sensitisation is not documented, which counts as no allergic phenotype: test it (specific "
                      "IgE to perennial aeroallergens or skin-prick); omalizumab becomes an option only if the "
                      "patient is sensitised with a baseline IgE inside the label table.")
    return _Decision(
        topic="omalizumab-not-preferred", indicator="warning", headline=clip(head), rationale=rationale,
        citation=citation("gina-severe"), evidence=evid, missing=missing,
        rule="Anti-IgE fits allergic (sensitised, IgE-driven) phenotypes; eosinophilic non-allergic asthma -> "
             "anti-IL-5/5R; AERD -> leukotriene modifier (product rule from GINA 2024 and the AERD literature).",
        cautions=_uniq([f"Phenotype thresholds (eosinophils, IgE < {_p('ige_non_allergic_below')}, LTE4) are product "
                        "policy, not label text."]
                       + list(unverified(alts))),
        alternatives=alts, order_reference=order_reference,
        covers=tuple(k for k in ("eosinophilic-asthma", "aerd") if p.present(k)))


def leukotriene_decision(p: Profile) -> Decision | None:
    if not p.present("aerd"):
        return None
    active_ltm = tuple(m.agent for m in p.facts.medications_of(drug_class="leukotriene-modifier", active_only=True))
    alts = options(LTM_REGIMENS, p.age, exclude_agents=active_ltm)
    evid = _uniq_ev(p.age_ev + p.ev("aerd"))
    rationale = (f"Aspirin-exacerbated respiratory disease ({p.findings['aerd'].note}): leukotrienes drive it, so a "
                 "leukotriene modifier fits, with referral for aspirin desensitisation. Choose any biologic by the "
                 "asthma/CRSwNP phenotype.")
    if p.present("allergic-asthma"):
        rationale += " An IgE-driven allergic phenotype is also present: omalizumab remains an option for it."
    elif p.status("allergic-asthma") == "unknown":
        rationale += (" Whether an IgE-driven allergic phenotype is also present is not known (sensitisation tests, "
                      "total IgE): without one omalizumab is not the first choice.")
    else:
        rationale += " Without an allergic phenotype omalizumab is not the first choice."
    cautions = [LTE4_POLICY_NOTE]
    if active_ltm:
        cautions.append(f"Already on {', '.join(active_ltm)}.")
    cautions += [f"{o.display}: {o.note}." for o in alts if o.note]
    first = alts[0].display if alts else "a leukotriene modifier"
    return _Decision(
        topic="leukotriene-modifier-recommended", indicator="info",
        headline=clip(f"AERD: {first[0].lower() + first[1:]} and aspirin-desensitisation referral"),
        rationale=rationale, citation=citation("lte4-mayo"), evidence=evid, rule=p.findings["aerd"].note,
        missing=p.findings["aerd"].missing, cautions=_uniq(cautions), alternatives=alts, covers=("aerd",))


def aerd_possible_decision(p: Profile) -> Decision | None:
    """Brief 6: LTE4 above the reference range but below the AERD threshold is 'elevated, nonspecific', and a
    respiratory reaction to aspirin/NSAIDs alone is not AERD: say so, and what would settle it."""
    finding = p.findings.get("aerd")
    if finding is None or finding.status != "possible":
        return None
    f = p.facts
    elev_t, aerd_t = P.lte4_elevated_above, P.lte4_aerd_min
    nsaid = any(a.category == "aspirin-nsaid" and a.respiratory_reaction for a in f.allergies)
    missing = list(finding.missing)
    if not nsaid:
        missing.append("history of respiratory reactions (wheeze, nasal symptoms) to aspirin or NSAIDs")
    if f.lte4 is not None and "LTE4 elevated" in finding.note:
        what = f"urinary LTE4 {ev.value_text(f.lte4)} elevated, nonspecific"
    else:
        what = "respiratory reaction to aspirin/NSAID"
    checks = _uniq("urinary LTE4" if "leukotriene" in m else "nasal polyps" if "polyp" in m
                   else "aspirin/NSAID history" if "aspirin" in m else m for m in missing)
    rationale = (f"Urinary LTE4 above {fmt_num(elev_t)} and below {fmt_num(aerd_t)} pg/mg creatinine is elevated but "
                 "nonspecific (also raised in asthma generally, mastocytosis and other conditions). "
                 if "LTE4 elevated" in finding.note else
                 "A respiratory reaction to aspirin/NSAIDs with asthma suggests AERD but does not establish it. ")
    rationale += ("AERD (asthma + nasal polyps + respiratory reactions to aspirin/NSAIDs, or LTE4 at or above "
                  f"{fmt_num(aerd_t)} with asthma) would favour a leukotriene modifier and aspirin-desensitisation "
                  "referral.")
    return _Decision(
        topic="data-needed", indicator="info",
        headline=clip(f"Possible AERD ({what}): check " + ", ".join(checks)),
        rationale=rationale, citation=citation("lte4-mayo"), evidence=_uniq_ev(p.age_ev + finding.evidence),
        rule=finding.note, missing=tuple(missing),
        cautions=(LTE4_POLICY_NOTE,),
        covers=("aerd",))


def _risk_words(p: Profile) -> str:
    f = p.facts
    words = []
    if p.present("cyclosporine-renal-risk"):
        note = p.findings["cyclosporine-renal-risk"].note
        if p.renal_critical_why and not p.renal_critical_why.startswith("eGFR"):
            words.append(p.renal_critical_why.removesuffix(" on record"))
        else:
            words.append(f"eGFR {fmt_num(f.egfr.value)}" if f.egfr is not None and note.startswith("eGFR") else "CKD")
    if p.present("cyclosporine-bp-risk"):
        bp = f.bp_latest or (f.bp_recent[0] if f.bp_recent else None)
        note = p.findings["cyclosporine-bp-risk"].note
        sys_w, dia_w = P.bp_warn_systolic, P.bp_warn_diastolic
        if bp is not None and bp_high(bp, sys_w, dia_w):
            words.append(f"BP {_bp_text(bp)}" + (" on treatment" if p.bp_uncontrolled_on_treatment else ""))
        elif "persistently" in note:
            # the newest reading is normal: quote the high readings, never the normal one as the risk
            window = int(P.bp_persistent_window)
            readings = ([bp] if bp is not None and bp not in f.bp_recent[:window] else []) + list(f.bp_recent[:window])
            readings = readings[:window]
            high = [r for r in readings if bp_high(r, sys_w, dia_w)]
            worst = max(high, key=lambda r: (r.systolic.value if r.systolic else 0,
                                             r.diastolic.value if r.diastolic else 0))
            words.append(f"BP high {len(high)} of last {len(readings)} (max {_bp_text(worst)})")
        else:
            words.append("hypertension")
    return ", ".join(words)


def _bp_text(bp) -> str:
    return (f"{fmt_num(bp.systolic.value) if bp.systolic else '?'}/"
            f"{fmt_num(bp.diastolic.value) if bp.diastolic else '?'}")


def cyclosporine_decision(p: Profile, *, hook: str | None = None, order_reference: str | None = None) -> Decision | None:
    """Scenario 4: cyclosporine with renal or blood-pressure risk; critical at order-sign when severe."""
    if not (p.present("cyclosporine-renal-risk") or p.present("cyclosporine-bp-risk")):
        return None
    critical = hook == "order-sign" and (p.renal_critical or p.bp_critical)
    alts: tuple[TherapyOption, ...] = ()
    csu = p.status("csu-refractory") in ("present", "possible")
    if csu and (p.age is None or p.age >= int(csu_fixed()["age_min"])) and not p.on_omalizumab:
        alts = (option("omalizumab-csu"),)  # already on it: cyclosporine is the step after, not a swap
    missing = tuple(m for k in ("cyclosporine-renal-risk", "cyclosporine-bp-risk") for m in p.findings[k].missing)
    evid = _uniq_ev(p.ev("cyclosporine-renal-risk", "cyclosporine-bp-risk")
                 + tuple(ev.medication(m) for m in p.on_cyclosporine) + p.ev("csu-refractory"))
    target = "Cyclosporine drafted" if order_reference else "Avoid cyclosporine"
    head = f"{target} with {_risk_words(p)}: nephrotoxic and raises BP"
    head += f"; {alts[0].display[0].lower()}{alts[0].display[1:]} instead" if alts else ""
    rationale = ("Neoral boxed warning: at recommended doses cyclosporine can cause systemic hypertension and "
                 "nephrotoxicity, and renal function must be monitored during therapy. ")
    if alts:
        rationale += ("For CSU, omalizumab is the step before cyclosporine (EAACI 2022); it is cleared by the "
                      "reticuloendothelial system, not the kidney, and has no blood-pressure effect.")
    elif csu and p.on_omalizumab:
        rationale += ("Already on omalizumab (not renally cleared, no blood-pressure effect): before adding "
                      "cyclosporine, weigh the renal and blood-pressure risk; the urticaria guideline also describes "
                      "off-label omalizumab up-dosing when 300 mg every 4 weeks is not enough (check EAACI 2022).")
    rule_parts = [p.findings[k].note for k in ("cyclosporine-renal-risk", "cyclosporine-bp-risk") if p.present(k)]
    cautions = [CYCLOSPORINE_POLICY_NOTE]
    if p.renal_disagreement:
        cautions.append(p.renal_disagreement)
    if critical:
        why = [w for w in (p.renal_critical and p.renal_critical_why,
                           p.bp_critical and ("uncontrolled hypertension on an antihypertensive (newest reading at or "
                                              f"above {_p('bp_warn_systolic')}/{_p('bp_warn_diastolic')})"
                                              if p.bp_uncontrolled_on_treatment else
                                              f"BP at or above {_p('bp_critical_systolic')}/"
                                              f"{_p('bp_critical_diastolic')}")) if w]
        cautions.append(f"Critical at order-sign: {'; '.join(why)} (policy.json, with sources).")
    if p.bp_uncontrolled_on_treatment:
        cautions.append("Confirm the blood pressure on a second reading: the cyclosporine label asks for BP on at least "
                        "two occasions before starting.")
    if p.groups.get("kidney-transplant"):  # facts.has_condition("kidney-transplant"), from the index
        cautions.append("A kidney transplant is on record: if this cyclosporine is transplant immunosuppression, the "
                        "transplant team decides; this warning is about cyclosporine for urticaria.")
    return _Decision(
        topic="cyclosporine-unsafe", indicator="critical" if critical else "warning", headline=clip(head),
        rationale=rationale.strip(), citation=citation("neoral"), evidence=evid, rule="; ".join(rule_parts),
        missing=missing, cautions=tuple(cautions), alternatives=alts, order_reference=order_reference,
        covers=tuple(k for k in ("cyclosporine-renal-risk", "cyclosporine-bp-risk") if p.present(k)),
        links=(citation("neoral-pi-copy"),) + ((citation("eaaci-urticaria"),) if alts else ()))


def cyclosporine_data_needed(p: Profile, *, order_reference: str | None = None) -> Decision | None:
    missing = tuple(m for k in ("cyclosporine-renal-risk", "cyclosporine-bp-risk")
                    for m in p.findings[k].missing if p.status(k) == "unknown")
    if not missing:
        return None
    return _Decision(
        topic="data-needed", indicator="info",
        headline=clip("Before cyclosporine: measure " + " and ".join(
            "eGFR" if "eGFR" in m else "blood pressure" for m in missing)),
        rationale="Cyclosporine harms the kidneys and raises blood pressure; the service cannot judge its safety "
                  "without a recent eGFR and blood pressure.", citation=citation("neoral"),
        evidence=_uniq_ev(p.ev("cyclosporine-renal-risk", "cyclosporine-bp-risk")), missing=missing,
        order_reference=order_reference, covers=("cyclosporine-renal-risk", "cyclosporine-bp-risk"))


def food_allergy_decision(p: Profile, region: str) -> Decision | None:
    if not p.present("food-allergy"):
        return None
    evid = _uniq_ev(p.age_ev + p.ev("food-allergy") + p.ige_ev + p.weight_ev)
    off = "As an adjunct that makes oral immunotherapy safer, omalizumab is off-label."
    if region == "EU":
        return _Decision(topic="food-allergy-omalizumab", indicator="info",
                        headline="IgE-mediated food allergy: no EU-labelled omalizumab dosing in this service",
                        rationale="The omalizumab food-allergy indication and its dose table (Table 4) are from the US "
                                  f"label; this service has no EU food-allergy table. {off}",
                        citation=citation("xolair-eu"), evidence=evid, covers=("food-allergy",))
    meta = table_meta("us-food-allergy")
    missing: tuple[str, ...] = ()
    band = ""
    if p.age is not None and p.age < int(meta.age_min or 1):
        return _Decision(topic="food-allergy-omalizumab", indicator="info",
                        headline=f"IgE-mediated food allergy: omalizumab is labelled from age {meta.age_min} year",
                        rationale=f"The patient is younger than the labelled age. {off}", citation=meta.citation,
                        evidence=evid, covers=("food-allergy",))
    lk, missing, reason = dose_inputs(p, "us-food-allergy")
    if lk is not None:
        band = " " + lk.reason
    rationale = (f"Omalizumab is labelled for IgE-mediated food allergy from age {meta.age_min} (with allergen "
                 f"avoidance), dosed from baseline IgE and weight by {meta.short_label}.{band} {off}")
    if missing:
        rationale += " Measure: " + "; ".join(missing) + "."
    return _Decision(
        topic="food-allergy-omalizumab", indicator="info",
        headline=f"IgE-mediated food allergy: omalizumab is labelled; dose from {meta.short_label} (not automatic)",
        rationale=rationale, citation=meta.citation, evidence=evid,
        rule=lk.reason if lk is not None else reason, missing=missing, covers=("food-allergy",),
        cautions=("OUTMATCH trial dosing used the same IgE/weight table; oral-immunotherapy use is off-label.",))


def pemphigoid_decision(p: Profile) -> Decision | None:
    if not p.present("bullous-pemphigoid"):
        return None
    return _Decision(
        topic="pemphigoid-itch-off-label", indicator="info",
        headline="Bullous pemphigoid itch: omalizumab is off-label (case series); specialist decision, no dose",
        rationale="Case series and retrospective cohorts report less itch (and blistering) with omalizumab in bullous "
                  "pemphigoid, mostly at 300 mg every 4 weeks; it is not labelled for it in the US or EU, so the "
                  "service proposes no dose.", citation=citation("xolair-us"),
        evidence=_uniq_ev(p.ev("bullous-pemphigoid")), covers=("bullous-pemphigoid",),
        cautions=("Off-label: dermatology/specialist decision.",
                  "Dupilumab now carries a US label for bullous pemphigoid (Dupixent PI): check it before an "
                  "off-label choice."),
        links=(Citation("Dupixent US Prescribing Information (prescriberpoint copy)",
                        "https://prescriberpoint.com/therapies/dupixent-595f437"),))


def asthma_data_needed(p: Profile) -> Decision | None:
    if not p.asthma:
        return None
    missing: list[str] = []
    for key in ("allergic-asthma", "eosinophilic-asthma"):
        if p.status(key) == "unknown":
            missing += p.findings[key].missing
    if not missing:
        return None
    if p.status("allergic-asthma") == "unknown":
        if p.ige is None and p.facts.total_ige.status == "missing":
            missing.insert(0, MISSING_TOTAL_IGE)
        if p.facts.weight is None:
            missing.append(MISSING_WEIGHT)
    short = []
    for m in missing:
        short.append("total IgE" if m == MISSING_TOTAL_IGE else "sensitisation tests" if "sensitisation" in m
                     else "eosinophil count" if "eosinophil" in m else "weight" if "weight" in m else m)
    return _Decision(
        topic="data-needed", indicator="info",
        headline=clip("Asthma phenotype not determined: measure " + ", ".join(_uniq(short))),
        rationale="Which biologic fits depends on the type-2 phenotype: allergic (sensitisation plus total IgE) "
                  "points to omalizumab, eosinophilic (blood eosinophils) to anti-IL-5/5R. The data to tell them "
                  "apart is missing.", citation=citation("gina-severe"),
        evidence=_uniq_ev(p.asthma_ev + p.ev("allergic-asthma", "eosinophilic-asthma")), missing=_uniq(missing),
        covers=tuple(k for k in ("allergic-asthma", "eosinophilic-asthma") if p.status(k) == "unknown"))


def no_type2_decision(p: Profile, oma: Decision | None) -> Decision | None:
    """Asthma that is neither allergic nor eosinophilic on the data at hand: say so and what would change it,
    never an empty answer (brief 10/11). Unknown phenotypes are asthma_data_needed's; AERD has its own card."""
    if not p.asthma or oma is not None:
        return None
    if p.status("allergic-asthma") != "absent" or p.status("eosinophilic-asthma") != "absent":
        return None
    if p.present("aerd") or p.status("aerd") == "possible":
        return None
    allergic, eos = p.findings["allergic-asthma"].note, p.findings["eosinophilic-asthma"].note
    return _Decision(
        topic="data-needed", indicator="info",
        headline="Asthma without a type-2 phenotype on record: repeat the eosinophil count before choosing a biologic",
        rationale=(f"Not allergic ({allergic or 'no sensitisation'}) and not eosinophilic ({eos}): neither omalizumab "
                   "(anti-IgE) nor anti-IL-5/5R is indicated by these data. Blood eosinophils vary and are lowered by "
                   "corticosteroids: GINA advises repeating the count before concluding the asthma is not type-2. "
                   "Tezepelumab (anti-TSLP) does not depend on a type-2 marker."),
        citation=citation("gina-severe"),
        evidence=_uniq_ev(p.age_ev + p.ev("allergic-asthma", "eosinophilic-asthma")),
        rule=f"allergic asthma absent: {allergic or 'no sensitisation'}; eosinophilic asthma absent: {eos}",
        missing=("repeat blood eosinophil count (cells/µL), ideally before or on the lowest dose of oral "
                 "corticosteroids",),
        cautions=(EOSINOPHIL_POLICY_NOTE,),
        covers=("allergic-asthma", "eosinophilic-asthma"))


def data_unavailable_decision(facts) -> Decision | None:
    if not facts.unavailable:
        return None
    names = [UNAVAILABLE_NAMES.get(k, k) for k in facts.unavailable]
    return _Decision(
        topic="data-unavailable", indicator="warning",
        headline=clip("Partial answer: could not read " + ", ".join(names) + " from the FHIR server"),
        rationale="The FHIR server did not supply some data in time or returned an error. The other cards are based "
                  "only on what could be read and may change once this data is available.",
        citation=citation("xolair-us"), missing=tuple(names),
        evidence=tuple(_Evidence("Unavailable", n, None, k) for k, n in zip(facts.unavailable, names)))


def assess(facts, *, region: str = "US") -> Assessment:
    region = check_region(region)
    p = build_profile(facts)
    oma = omalizumab_decision(p, region)
    il5 = anti_il5_decision(p)
    out: list[Decision | None] = [data_unavailable_decision(facts)]
    out += rank_biologics(p, oma, il5)
    if p.on_omalizumab:
        out.append(not_preferred_decision(p))
    out.append(leukotriene_decision(p))
    out.append(aerd_possible_decision(p))
    out.append(food_allergy_decision(p, region))
    out.append(pemphigoid_decision(p))
    csu_any = p.status("csu-refractory") in ("present", "possible")
    if csu_any or p.on_cyclosporine:
        cyc = cyclosporine_decision(p)
        out.append(cyc)
        if cyc is None and (p.present("csu-refractory") or p.on_cyclosporine):
            out.append(cyclosporine_data_needed(p))
    if p.status("csu-refractory") == "possible":
        f = p.findings["csu-refractory"]
        out.append(_Decision(
            topic="data-needed", indicator="info",
            headline="Chronic urticaria: record the H1 antihistamine tried before omalizumab is considered",
            rationale="Omalizumab is labelled for CSU that stays symptomatic despite H1 antihistamines (EAACI 2022: "
                      "second-generation antihistamine, up to 4-fold, then omalizumab). No H1 antihistamine is "
                      "recorded.", citation=citation("eaaci-urticaria"), evidence=f.evidence, missing=f.missing,
            covers=("csu-refractory",)))
    need = asthma_data_needed(p)
    if need is not None and oma is not None and oma.topic == "data-needed":
        # one data-needed card for the asthma: fold the phenotype gaps into the omalizumab one
        merged = replace(oma, missing=_uniq(oma.missing + need.missing), covers=_uniq(oma.covers + need.covers),
                         evidence=_uniq_ev(oma.evidence + need.evidence),
                         rationale=f"{oma.rationale} Also measure, to rank the biologics: "
                                   + "; ".join(m for m in need.missing if m not in oma.missing) + ".")
        out = [merged if d is oma else d for d in out]
    else:
        out.append(need)
    out.append(no_type2_decision(p, oma))
    decisions = mark_partial([d for d in out if d is not None], facts)
    return _Assessment(phenotypes=tuple(p.findings.values()), decisions=tuple(decisions), profile=p)


def mark_partial(decisions: list[Decision], facts) -> list[Decision]:
    """Every decision of a partial answer says which data could not be read (once), so none reads as complete."""
    if not facts.unavailable:
        return decisions
    names = ", ".join(UNAVAILABLE_NAMES.get(k, k) for k in facts.unavailable)
    note = f"Partial data: {names} could not be read from the FHIR server; this answer may change."
    return [d if d.topic == "data-unavailable" or note in d.cautions else replace(d, cautions=d.cautions + (note,))
            for d in decisions]
