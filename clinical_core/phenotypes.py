"""The type-2 phenotype model: which IgE-, IL-5- and leukotriene-driven phenotypes a patient shows.

Each finding says present / absent / possible / unknown, with the facts used and what is missing,
so a decision never rests on a guess. Thresholds come from data/policy.json (product policy,
each with its source), never from literals here.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache

from . import evidence as ev
from ._fast_init import maker
from .decisions import Evidence, PhenotypeFinding
from .dosing import fmt_num
from .facts import BloodPressure, ConditionFact, Measurement, PatientFacts
from .knowledge import policy_values



def policy_text(values: dict) -> dict[str, str]:
    """Each numeric policy threshold as written on a card (fmt_num)."""
    return {k: fmt_num(v) for k, v in values.items() if isinstance(v, (int, float))}


# policy.json's thresholds as attributes, and as the notes write them, resolved once at import (the file
# stays their only source)
P = policy_values()
T = policy_text(vars(P))

ASTHMA_CONCEPTS = ("asthma", "allergic-asthma", "eosinophilic-asthma", "severe-asthma", "aerd")
CSU_CONCEPTS = ("csu", "chronic-urticaria", "chronic-idiopathic-urticaria")
POLYP_CONCEPTS = ("nasal-polyps", "crswnp")
USABLE_IGE = ("baseline-before-omalizumab", "newest-no-omalizumab")

MISSING_SENSITISATION = "sensitisation test: specific IgE (kU/L) to perennial aeroallergens or a skin-prick test"
MISSING_TOTAL_IGE = "baseline total IgE (IU/mL), drawn before any omalizumab"
MISSING_EOS = "blood eosinophil count (cells/µL)"
MISSING_WEIGHT = "body weight (kg)"
MISSING_EGFR = "eGFR (mL/min/1.73 m²)"
MISSING_BP = "blood pressure (mmHg)"
MISSING_AGE = "date of birth (age decides which label table applies)"

STAGE_WORDS = {"ckd-g1": "CKD stage 1", "ckd-g2": "CKD stage 2", "ckd-g3": "CKD stage 3", "ckd-g3a": "CKD stage 3a",
               "ckd-g3b": "CKD stage 3b", "ckd-g4": "CKD stage 4", "ckd-g5": "CKD stage 5",
               "esrd": "end-stage renal disease", "dialysis": "dialysis", "kidney-transplant": "a kidney transplant"}
STAGE_ORDER = ("esrd", "ckd-g5", "ckd-g4", "ckd-g3b", "ckd-g3a", "ckd-g3", "ckd-g2", "ckd-g1")  # most severe first

# whole-month windows of policy.json, as the rules use them
_WEIGHT_STALE_MONTHS = int(P.weight_stale_months)
_EOS_CURRENT_MONTHS = int(P.eosinophils_current_max_age_months)
_SAFETY_MONTHS = int(P.cyclosporine_safety_data_max_age_months)
_BP_WINDOW, _BP_NEED = int(P.bp_persistent_window), int(P.bp_persistent_min_high)


def months_before(d: date, months: int) -> date:
    m = d.year * 12 + d.month - 1 - months
    y, mo = divmod(m, 12)
    mo += 1
    for dd in (d.day, 30, 29, 28):
        try:
            return date(y, mo, dd)
        except ValueError:
            continue
    raise ValueError(d)  # pragma: no cover


@lru_cache(maxsize=64)
def _cutoff(evaluation_date: date, months: int) -> date:
    """`months_before` for the policy windows (weight, eosinophils, cyclosporine safety data), remembered:
    the same few (evaluation day, window) pairs come back on every request of a day (the evaluation date is
    the service's clock, not a patient's value), and the calendar arithmetic costs ~5K instructions a call,
    three or four calls an assessment."""
    return months_before(evaluation_date, months)


def at_or_above(m: Measurement | None, threshold: float) -> bool | None:
    """True/False when the value settles it, None when absent or a comparator leaves it open."""
    if m is None:
        return None
    c, v = m.comparator, m.value
    if c is None:
        return v >= threshold
    if c in (">", ">="):
        return True if v >= threshold else None
    if c == "<":
        return False if v <= threshold else None
    if c == "<=":
        return False if v < threshold else None
    return None


def below(m: Measurement | None, threshold: float) -> bool | None:
    r = at_or_above(m, threshold)
    return None if r is None else not r


def bp_high(bp: BloodPressure, sys_t: float, dia_t: float) -> bool:
    return bool((bp.systolic and bp.systolic.value >= sys_t) or (bp.diastolic and bp.diastolic.value >= dia_t))


@dataclass(slots=True)
class Profile:
    """Everything the decision rules need, computed once per assessment."""

    facts: PatientFacts
    age: int | None
    age_ev: tuple[Evidence, ...]
    asthma: bool
    asthma_ev: tuple[Evidence, ...]
    ige: Measurement | None  # the baseline IgE that may dose (None when none may)
    ige_ev: tuple[Evidence, ...]
    weight_ev: tuple[Evidence, ...]
    weight_stale: bool
    findings: dict[str, PhenotypeFinding] = field(default_factory=dict)
    eos_high: bool = False  # >= anti-IL-5 favoured threshold (GINA ranking)
    renal_critical: bool = False
    bp_critical: bool = False
    on_omalizumab: tuple = ()
    on_cyclosporine: tuple = ()
    # sensitisation on its own (True / False / None = not documented), before the IgE < 30 policy rule:
    # a sensitised patient whose IgE is below the tables is out of the table, not silently "non-allergic"
    sensitised: bool | None = None
    # cyclosporine safety: why renal/BP risk is critical at order-sign, in words, and the one line saying
    # where a coded CKD stage and the newest eGFR disagree
    renal_critical_why: str = ""
    renal_disagreement: str = ""
    bp_uncontrolled_on_treatment: bool = False
    # the facts' conditions by the groups the rules ask for (CONDITION_GROUPS), each in chart order: one
    # pass over the conditions instead of one per question (see _condition_groups)
    groups: dict[str, list[ConditionFact]] = field(default_factory=dict)
    # the earliest omalizumab start on record (any status; None without one), from the one medication pass
    first_omalizumab_start: date | None = None
    # each condition's Evidence row, built once per profile (id of the condition -> row): several rules cite
    # the same condition (asthma and allergic asthma or AERD, nasal polyps in AERD and CRSwNP)
    condition_rows: dict[int, Evidence] = field(default_factory=dict, repr=False)

    def status(self, key: str) -> str:
        f = self.findings.get(key)
        return f.status if f else "absent"

    def present(self, key: str) -> bool:
        f = self.findings.get(key)
        return f is not None and f.status == "present"

    def ev(self, *keys: str) -> tuple[Evidence, ...]:
        if len(keys) == 1:  # one finding: its evidence is already de-duplicated (`_add`), no hashing
            f = self.findings.get(keys[0])
            return f.evidence if f else ()
        rows: list[Evidence] = []
        for k in keys:
            f = self.findings.get(k)
            if f:
                rows += f.evidence
        return ev.unique(rows)  # an ordered set: `e not in list` was quadratic in the evidence

    def condition_ev(self, conds) -> list[Evidence]:
        """`[ev.condition(c) for c in conds]`, each condition's row built once (~5K instructions a row). The
        facts hold the conditions for the profile's whole life, so their ids stay theirs."""
        if not conds:  # most groups of most patients: no rows to look up
            return []
        rows = self.condition_rows
        out = []
        for c in conds:
            row = rows.get(id(c))
            if row is None:
                row = rows[id(c)] = ev.condition(c)
            out.append(row)
        return out

    def conditions(self, group: str) -> tuple[ConditionFact, ...]:
        """`facts.conditions_of(*CONDITION_GROUPS[group])`, from the one-pass index."""
        return tuple(self.groups.get(group, ()))


# The condition questions the rules ask: group -> the concepts it holds. Multi-concept groups are named
# with a leading "*" so they never collide with a single concept's own group (every concept a rule asks
# about alone is its own group). Built once: the renal-critical list is policy.json's.
CONDITION_GROUPS: dict[str, tuple[str, ...]] = {
    "*asthma": ASTHMA_CONCEPTS, "*csu": CSU_CONCEPTS, "*polyps": POLYP_CONCEPTS,
    "*renal-critical": tuple(P.renal_critical_conditions),
    **{c: (c,) for c in ("allergic-asthma", "eosinophilic-asthma", "aerd", "food-allergy", "bullous-pemphigoid",
                         "ckd", "hypertension", "kidney-transplant")},
    **{c: (c,) for c in STAGE_WORDS},
}
_GROUPS_OF: dict[str, tuple[str, ...]] = {}
for _g, _concepts in CONDITION_GROUPS.items():
    for _c in dict.fromkeys(_concepts):  # a concept listed twice in a group is still one membership
        _GROUPS_OF[_c] = _GROUPS_OF.get(_c, ()) + (_g,)
del _g, _concepts, _c


def _condition_groups(conditions) -> dict[str, list[ConditionFact]]:
    """Each group's conditions in chart order, as `conditions_of(*concepts)` returns them, in one pass."""
    groups: dict[str, list[ConditionFact]] = {}
    get = _GROUPS_OF.get
    for c in conditions:
        for g in get(c.concept, ()):
            hit = groups.get(g)
            if hit is None:
                groups[g] = [c]
            else:
                hit.append(c)
    return groups


# The findings the rules state without any evidence and with fixed words (no asthma, no urticaria, no
# polyps, no eGFR on record, ...): the same frozen object every time, built here once (a finding costs
# ~7K instructions to build; 4-8 of an assessment's 9 are one of these). (key, status, missing, note).
_FIXED_FINDINGS: dict[tuple, PhenotypeFinding] = {
    (k, s, m, n): PhenotypeFinding(k, s, (), m, n) for k, s, m, n in (
        ("allergic-asthma", "absent", (), "no asthma recorded"),
        ("eosinophilic-asthma", "absent", (), "no asthma recorded"),
        ("csu-refractory", "absent", (), ""),
        ("aerd", "absent", (), ""),
        ("crswnp", "absent", (), ""),
        ("food-allergy", "absent", (), ""),
        ("bullous-pemphigoid", "absent", (), ""),
        ("cyclosporine-renal-risk", "unknown", (MISSING_EGFR,), ""),
        ("cyclosporine-bp-risk", "unknown", (MISSING_BP,), ""),
    )}


_PhenotypeFinding = maker(PhenotypeFinding)  # without the generic class call: see _fast_init.maker


def _add(p: Profile, key: str, status: str, evidence=(), missing=(), note: str = "") -> None:
    missing = tuple(missing)
    if not evidence:
        fixed = _FIXED_FINDINGS.get((key, status, missing, note))
        if fixed is not None:
            p.findings[key] = fixed
            return
    # one row or none cannot repeat: only longer evidence is de-duplicated (hashing every row)
    p.findings[key] = _PhenotypeFinding(key, status, ev.unique(evidence) if len(evidence) > 1
                                        else tuple(evidence), missing, note)


def build_profile(facts: PatientFacts) -> Profile:
    age = facts.age_years
    age_ev = (ev.new_evidence("Age", f"{age} years", None, f"Patient/{facts.patient_id}"),) if age is not None else ()
    groups = _condition_groups(facts.conditions)
    asthma_conds = groups.get("*asthma", ())
    total = facts.total_ige
    status = total.status
    ige = total.measurement if status in USABLE_IGE else None
    ige_ev: tuple[Evidence, ...] = ()
    if total.measurement is not None:
        if ige is not None:
            ige_ev = (ev.measurement("Baseline total IgE", total.measurement),)
        else:
            ige_ev = (ev.measurement("Total IgE (not usable for dosing)", total.measurement,
                                     note=status.replace("-", " ")),)
    if total.excluded:
        ige_ev += tuple([ev.measurement("Total IgE on omalizumab (never doses)", m) for m in total.excluded])
    weight_ev: tuple[Evidence, ...] = ()
    stale = False
    weight = facts.weight
    if weight is not None:
        weight_ev = (ev.measurement("Body weight", weight, decimals=1),)
        when = ev.day(weight.when)
        stale = when is None or when < _cutoff(facts.evaluation_date, _WEIGHT_STALE_MONTHS)
    p = Profile(facts, age, age_ev, bool(asthma_conds), (), ige, ige_ev, weight_ev, stale)
    p.asthma_ev = tuple(p.condition_ev(asthma_conds))
    p.groups = groups
    # the active medications the rules ask about, in chart order, in one pass (as medications_of)
    oma: list = []
    cyc: list = []
    treated: list = []
    zileuton = False
    first_oma = None
    for m in facts.medications:
        if m.agent == "omalizumab" and m.start is not None and (first_oma is None or m.start < first_oma):
            first_oma = m.start
        if m.is_active:
            agent = m.agent
            if agent == "omalizumab":
                oma.append(m)
            elif agent == "cyclosporine":
                cyc.append(m)
            elif agent == "zileuton":
                zileuton = True
            if m.drug_class == "antihypertensive":
                treated.append(m)
    p.on_omalizumab = tuple(oma)
    p.on_cyclosporine = tuple(cyc)
    p.first_omalizumab_start = first_oma
    _allergic(p)
    _eosinophilic(p)
    _csu(p)
    _aerd(p, zileuton)
    _simple(p)
    _cyclosporine_risks(p, tuple(treated))
    return p


def _sensitisation(p: Profile) -> tuple[bool | None, list[Evidence], str]:
    facts = p.facts
    cut = P.sensitisation_sige_min
    evid: list[Evidence] = []
    dx = p.groups.get("allergic-asthma")
    if dx:
        evid.extend(p.condition_ev(dx))
    env = [a for a in facts.allergies if a.category == "environmental" and a.ige_mediated is not False]
    evid.extend([ev.allergy(a) for a in env])
    # perennial-aeroallergen results at or above the cut (positive) and below it (negative), in one pass
    positive: list = []
    negative: list = []
    for s in facts.specific_ige:
        if s.allergen_group == "perennial-aeroallergen":
            hit = at_or_above(s.measurement, cut)
            if hit:
                positive.append(s)
            elif hit is False:  # below(s.measurement, cut)
                negative.append(s)
    evid.extend([ev.specific_ige(s) for s in positive])
    if dx or env or positive:
        return True, evid, ""
    seasonal = [s for s in facts.specific_ige if s.allergen_group == "seasonal-aeroallergen"
                and at_or_above(s.measurement, cut)]
    if negative:
        evid.extend(ev.specific_ige(s) for s in negative + seasonal)
        note = (f"specific IgE to perennial aeroallergens below {T['sensitisation_sige_min']} kU/L"
                + ("; sensitised only to seasonal allergens (the label asks for a perennial aeroallergen)"
                   if seasonal else ""))
        return False, evid, note
    if seasonal:
        evid.extend(ev.specific_ige(s) for s in seasonal)
        return None, evid, "sensitised only to seasonal allergens; perennial aeroallergens not tested"
    return None, evid, ""


def _allergic(p: Profile) -> None:
    if not p.asthma:
        _add(p, "allergic-asthma", "absent", note="no asthma recorded")
        return
    sens, sens_ev, note = _sensitisation(p)
    p.sensitised = sens
    evid = list(p.asthma_ev) + sens_ev
    low_cut = P.ige_non_allergic_below
    if p.ige is not None and below(p.ige, low_cut):
        _add(p, "allergic-asthma", "absent", evid + list(p.ige_ev),
             note=f"baseline total IgE below {T['ige_non_allergic_below']} IU/mL: non-allergic (policy)")
        return
    if sens is True:
        _add(p, "allergic-asthma", "present", evid + list(p.ige_ev), note=note)
    elif sens is False:
        _add(p, "allergic-asthma", "absent", evid + list(p.ige_ev), note=note or "no sensitisation")
    else:
        _add(p, "allergic-asthma", "unknown", evid + list(p.ige_ev), (MISSING_SENSITISATION,), note)


def _eosinophilic(p: Profile) -> None:
    f = p.facts
    if not p.asthma:
        _add(p, "eosinophilic-asthma", "absent", note="no asthma recorded")
        return
    now_t, yr_t = P.eosinophils_current_min, P.eosinophils_12m_min
    high_t = P.eosinophils_anti_il5_favoured
    evid: list[Evidence] = list(p.asthma_ev)
    latest, peak = f.eosinophils_latest, f.eosinophils_max_12m
    if latest is not None:
        evid.append(ev.measurement("Blood eosinophils (newest)", latest))
    if peak is not None and peak != latest:
        evid.append(ev.measurement("Blood eosinophils (highest, 12 months)", peak))
    dx = p.groups.get("eosinophilic-asthma")
    months = _EOS_CURRENT_MONTHS
    newest_day = ev.day(latest.when) if latest is not None else None
    stale = latest is not None and (newest_day is None or newest_day < _cutoff(f.evaluation_date, months))
    now_hit = None if stale else at_or_above(latest, now_t)  # an old 'newest' count is not 'now' (policy)
    yr_hit = at_or_above(peak, yr_t)
    p.eos_high = bool(at_or_above(latest, high_t) or at_or_above(peak, high_t))
    if now_hit or yr_hit or dx:
        why = []
        if now_hit:
            why.append(f"newest count >= {T['eosinophils_current_min']}/µL")
        if yr_hit:
            why.append(f"highest count in 12 months >= {T['eosinophils_12m_min']}/µL")
        if dx and not why:
            why.append("eosinophilic asthma diagnosis recorded")
        _add(p, "eosinophilic-asthma", "present", evid, note="; ".join(why) + " (policy thresholds)")
    elif latest is None and peak is None:
        _add(p, "eosinophilic-asthma", "unknown", evid, (MISSING_EOS,))
    elif stale and peak is None:
        when = f"dated {newest_day.isoformat()}" if newest_day else "undated"
        _add(p, "eosinophilic-asthma", "unknown", evid,
             (f"{MISSING_EOS}: the newest is {when}, older than {months} months (policy); measure a current count",),
             note=f"no eosinophil count in the last {months} months (policy)")
    else:
        _add(p, "eosinophilic-asthma", "absent", evid,
             note=f"below {T['eosinophils_current_min']}/µL now and {T['eosinophils_12m_min']}/µL in 12 months (policy thresholds)")


def _csu(p: Profile) -> None:
    f = p.facts
    conds = p.groups.get("*csu")
    if not conds:
        _add(p, "csu-refractory", "absent")
        return
    ah = f.medications_of(drug_class="h1-antihistamine")
    evid = p.condition_ev(conds) + [ev.medication(m) for m in ah] + list(p.age_ev)
    if ah:
        _add(p, "csu-refractory", "present", evid,
             note="chronic spontaneous urticaria with an H1 antihistamine recorded (symptomatic despite it)")
    else:
        _add(p, "csu-refractory", "possible", evid,
             ("H1 antihistamine trial (the label asks for inadequate response to H1 antihistamines)",),
             note="chronic urticaria without a recorded H1 antihistamine")


def _aerd(p: Profile, on_zileuton: bool) -> None:
    f = p.facts
    dx = p.groups.get("aerd", ())
    polyps = p.groups.get("*polyps", ())
    nsaid = [a for a in f.allergies if a.category == "aspirin-nsaid" and a.respiratory_reaction]
    aerd_t, elev_t = P.lte4_aerd_min, P.lte4_elevated_above
    evid: list[Evidence] = p.condition_ev(dx)
    lte4 = f.lte4
    cautions = []
    if on_zileuton:
        cautions.append("on zileuton, which lowers urinary LTE4 (stop 48 h before testing if possible)")
    lte4_high = at_or_above(lte4, aerd_t) if lte4 is not None else None
    lte4_elev = (lte4 is not None and lte4_high is False and lte4.comparator in (None, ">", ">=")
                 and (lte4.value > elev_t or (lte4.comparator == ">" and lte4.value >= elev_t)))
    if lte4 is not None:
        tier = ("supports AERD (>= %s, policy)" % T['lte4_aerd_min'] if lte4_high else
                "elevated, nonspecific (>%s to <%s, policy)" % (T['lte4_elevated_above'], T['lte4_aerd_min']) if lte4_elev
                else "not elevated")
        evid.append(ev.measurement("Urinary LTE4", lte4, note=tier))
    triad = p.asthma and bool(polyps) and bool(nsaid)
    if p.asthma:
        evid = list(p.asthma_ev) + evid
    if triad:
        evid += p.condition_ev(polyps) + [ev.allergy(a) for a in nsaid]
    note = "; ".join(cautions)
    if dx or triad or (p.asthma and lte4_high):
        why = ("AERD diagnosis recorded" if dx else "asthma + nasal polyps + respiratory reaction to aspirin/NSAID"
               if triad else f"urinary LTE4 >= {T['lte4_aerd_min']} pg/mg creatinine with asthma (policy)")
        _add(p, "aerd", "present", evid, note="; ".join(x for x in (why, note) if x))
        return
    partial = p.asthma and (bool(nsaid) or lte4_elev)
    if partial:
        evid += [ev.allergy(a) for a in nsaid]
        missing = []
        if lte4 is None:
            missing.append("urinary leukotriene E4 (pg/mg creatinine)")
        if not polyps:
            missing.append("nasal polyp assessment (nasal endoscopy or sinus CT)")
        why = ("urinary LTE4 elevated, nonspecific" if lte4_elev else "respiratory reaction to aspirin/NSAID with asthma")
        _add(p, "aerd", "possible", evid, missing, "; ".join(x for x in (why, note) if x))
        return
    _add(p, "aerd", "absent", evid, note=note)


def _simple(p: Profile) -> None:
    f = p.facts
    groups = p.groups
    polyps = groups.get("*polyps", ())
    _add(p, "crswnp", "present" if polyps else "absent", p.condition_ev(polyps))
    food_dx = groups.get("food-allergy", ())
    food_ige = [a for a in f.allergies if a.category == "food" and a.ige_mediated]
    food_maybe = [a for a in f.allergies if a.category == "food" and a.ige_mediated is None]
    evid = p.condition_ev(food_dx) + [ev.allergy(a) for a in food_ige]
    if food_dx or food_ige:
        _add(p, "food-allergy", "present", evid)
    elif food_maybe:
        _add(p, "food-allergy", "possible", [ev.allergy(a) for a in food_maybe],
             ("whether the food reaction is IgE-mediated (allergy vs intolerance)",))
    else:
        _add(p, "food-allergy", "absent")
    bp = groups.get("bullous-pemphigoid", ())
    _add(p, "bullous-pemphigoid", "present" if bp else "absent", p.condition_ev(bp))


def _re_measure(missing: str) -> str:
    """The missing item for a safety result older than the policy window (built only in that case)."""
    months = T['cyclosporine_safety_data_max_age_months']
    return f"{missing}: the newest is older than {months} months (policy); re-measure before cyclosporine"


def _too_old(when, facts: PatientFacts) -> bool:
    """A normal safety result older than the policy window is not a baseline for cyclosporine."""
    limit = _cutoff(facts.evaluation_date, _SAFETY_MONTHS)
    return when is None or (when.date() if hasattr(when, "date") else when) < limit


def _egfr_range_text(lo, hi) -> str:
    if lo is None:
        return f"below {fmt_num(hi)}"
    if hi is None:
        return f"{fmt_num(lo)} or more"
    return f"{fmt_num(lo)}-{fmt_num(hi - 1)}" if float(lo).is_integer() and float(hi).is_integer() else \
        f"{fmt_num(lo)} to below {fmt_num(hi)}"


def _coded_stage_vs_egfr(f: PatientFacts, severe, groups: dict[str, list[ConditionFact]]) -> str:
    """One line where the coded CKD stage and the newest eGFR disagree (KDIGO ranges, policy.json), else ''."""
    egfr = f.egfr
    if egfr is None or egfr.comparator is not None:
        return ""
    ranges = P.ckd_stage_egfr_ranges
    crit = P.egfr_critical_below
    value = fmt_num(egfr.value)
    when = ev.day(egfr.when)
    measured = f"the newest eGFR {value} mL/min/1.73 m²" + (f" ({when.isoformat()}, {egfr.source.reference})"
                                                            if when else f" ({egfr.source.reference})")
    staged = [c for k in STAGE_ORDER for c in groups.get(k, ())]
    if staged:
        c = staged[0]
        lo, hi = ranges[c.concept]
        if (lo is None or egfr.value >= lo) and (hi is None or egfr.value < hi):
            return ""
        rule = (" The coded stage counts for cyclosporine at order-sign (policy)." if c.concept in
                P.renal_critical_conditions and egfr.value >= crit else "")
        return (f"Coded {STAGE_WORDS[c.concept]} ({c.source.reference}; eGFR {_egfr_range_text(lo, hi)}) and "
                f"{measured} disagree: re-check renal function.{rule}")
    if severe and egfr.value >= crit:
        c = severe[0]
        return (f"{STAGE_WORDS[c.concept][0].upper()}{STAGE_WORDS[c.concept][1:]} on record ({c.source.reference}) "
                f"with {measured}: counts as eGFR below {T['egfr_critical_below']} for cyclosporine at order-sign (policy).")
    return ""


def _cyclosporine_risks(p: Profile, treated: tuple) -> None:
    """`treated`: the active antihypertensives, in chart order."""
    f = p.facts
    groups = p.groups
    warn, crit = P.egfr_warn_below, P.egfr_critical_below
    ckd = tuple(groups.get("ckd", ()))
    severe = tuple(groups.get("*renal-critical", ()))
    evid = p.condition_ev(ckd + tuple(c for c in severe if c not in ckd) if ckd else severe)
    if f.egfr is not None:
        evid.append(ev.measurement("eGFR", f.egfr))
    low = below(f.egfr, warn)
    egfr_critical = bool(below(f.egfr, crit))
    p.renal_critical = egfr_critical or bool(severe)
    p.renal_disagreement = _coded_stage_vs_egfr(f, severe, groups)
    if severe:
        words = ", ".join(dict.fromkeys(STAGE_WORDS[c.concept] for c in severe))
        p.renal_critical_why = f"{words} on record"
    elif egfr_critical:
        p.renal_critical_why = f"eGFR below {T['egfr_critical_below']}"
    if low or ckd or severe:
        if severe:
            note = (f"{p.renal_critical_why} (policy: counts as eGFR below {T['egfr_critical_below']}, critical at order-sign)")
        elif p.renal_critical:
            note = f"eGFR below {T['egfr_critical_below']} (policy: critical at order-sign)"
        else:
            note = f"eGFR below {T['egfr_warn_below']} (policy)" if low else "chronic kidney disease on the problem list"
        _add(p, "cyclosporine-renal-risk", "present", evid, note=note)
    elif f.egfr is None:
        _add(p, "cyclosporine-renal-risk", "unknown", evid, (MISSING_EGFR,))
    elif _too_old(f.egfr.when, f):
        _add(p, "cyclosporine-renal-risk", "unknown", evid, (_re_measure(MISSING_EGFR),))
    else:
        _add(p, "cyclosporine-renal-risk", "absent", evid)

    sys_w, dia_w = P.bp_warn_systolic, P.bp_warn_diastolic
    sys_c, dia_c = P.bp_critical_systolic, P.bp_critical_diastolic
    window, need = _BP_WINDOW, _BP_NEED
    htn = groups.get("hypertension", ())
    readings = list(f.bp_recent[:window])
    latest = f.bp_latest or (readings[0] if readings else None)
    if latest is not None and latest not in readings:
        readings = [latest] + readings[: window - 1]
    evid = p.condition_ev(htn)
    evid += [ev.blood_pressure("Blood pressure" + (" (newest)" if i == 0 else ""), r) for i, r in enumerate(readings)]
    latest_high = latest is not None and bp_high(latest, sys_w, dia_w)
    n_high = 0
    for r in readings:  # a loop, not sum(<generator>); the newest reading's answer is latest_high
        if r is latest:
            n_high += latest_high
        elif bp_high(r, sys_w, dia_w):
            n_high += 1
    persistent = n_high >= need
    severe_bp = latest is not None and bp_high(latest, sys_c, dia_c)
    p.bp_uncontrolled_on_treatment = bool(treated) and latest_high and not severe_bp and bool(
        P.bp_uncontrolled_on_treatment_critical)
    p.bp_critical = severe_bp or p.bp_uncontrolled_on_treatment
    evid += [ev.medication(m) for m in treated] if latest_high else []
    if latest_high or persistent or htn:
        parts = []
        if severe_bp:
            parts.append(f"newest reading >= {T['bp_critical_systolic']}/{T['bp_critical_diastolic']} (policy: critical at order-sign)")
        elif p.bp_uncontrolled_on_treatment:
            parts.append(f"newest reading >= {T['bp_warn_systolic']}/{T['bp_warn_diastolic']} mmHg on an antihypertensive: "
                         "uncontrolled hypertension, a cyclosporine label contraindication (policy: critical at "
                         "order-sign)")
        elif latest_high:
            parts.append(f"newest reading >= {T['bp_warn_systolic']}/{T['bp_warn_diastolic']} mmHg (policy)")
        if persistent:
            parts.append(f"{n_high} of the last {len(readings)} readings high (policy: persistently high)")
        if htn:
            parts.append("hypertension on the problem list")
        _add(p, "cyclosporine-bp-risk", "present", evid, note="; ".join(parts))
    elif latest is None:
        _add(p, "cyclosporine-bp-risk", "unknown", evid, (MISSING_BP,))
    elif _too_old(latest.when, f):
        _add(p, "cyclosporine-bp-risk", "unknown", evid, (_re_measure(MISSING_BP),))
    else:
        _add(p, "cyclosporine-bp-risk", "absent", evid)
