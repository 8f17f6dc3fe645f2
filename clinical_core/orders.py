"""Order checks for order-select and order-sign (clinical-brief scenario 12).

Each drafted MedicationRequest the clinician is working on (order-select: the selections; order-sign:
every draft) is checked against the patient's assessment: an omalizumab dose or interval that differs
from the label table, omalizumab for a phenotype that is not IgE-driven, cyclosporine with renal or
blood-pressure risk, and an anti-IL-5 agent below its labelled age. Order-select drafts are often
incomplete: a draft without a dose is not a mismatch there.
"""
from __future__ import annotations

from typing import Sequence

from ._fast_init import replace  # dataclasses.replace, cheaper for the Decision class
from .decisions import Assessment, Decision, DoseRecommendation, Evidence, TherapyOption, new_decision
from .dosing import fmt_num
from .evidence import new_evidence
from .facts import DraftOrder, PatientFacts
from .knowledge import citation, csu_fixed
from .options import ANTI_IL5_REGIMENS, min_age, options, unverified
from .phenotypes import Profile, build_profile
from .recommend import (below_csu_trials_dose, check_region, clip, cyclosporine_data_needed, cyclosporine_decision,
                        mark_partial, not_preferred_decision)

ORDER_HOOKS = ("order-select", "order-sign")
ANTI_IL5_AGENTS = ("mepolizumab", "benralizumab", "reslizumab")
IGE_KEYS = ("allergic-asthma", "csu-refractory", "crswnp")
_IGE_KEY_SET = frozenset(IGE_KEYS)  # built once: each decision is asked whether it covers one of them
# Decision(...) and Evidence(...) without the generic class call (the same objects: see _fast_init.maker)
_Decision, _Evidence = new_decision, new_evidence


def _draft_evidence(d: DraftOrder) -> Evidence:
    parts = [d.text or (d.agent or "medication")]
    if d.dose_value is not None:
        parts.append(f"{fmt_num(d.dose_value)} {d.dose_unit or ''}".strip())
    if d.interval_weeks is not None:
        parts.append(interval_text(d.interval_weeks))
    return _Evidence("Drafted order", ", ".join(parts), None, d.reference)


def interval_text(weeks: float) -> str:
    """A drafted interval in the unit a prescriber would write: 'every 12 hours', not 'every 0.07 weeks'."""
    hours = weeks * 7 * 24
    if hours < 24:
        return f"every {fmt_num(round(hours, 1))} hours"
    if weeks < 1:
        days = round(hours / 24, 1)
        return "every day" if days == 1 else f"every {fmt_num(days)} days"
    return f"every {fmt_num(weeks)} weeks"


def _omalizumab_decision(assessment: Assessment) -> Decision | None:
    """The assessment's omalizumab answer: a dose, why there is none, or what to measure first."""
    decisions = assessment.decisions
    for topics in (("omalizumab-dose", "omalizumab-not-dosable"), ("data-needed",)):
        for d in decisions:  # loops, not next(<generator>): one per drafted omalizumab order
            if d.topic in topics and not _IGE_KEY_SET.isdisjoint(d.covers):
                return d
    return None


def _accepted(dec: Decision) -> set[tuple[float, float]]:
    """Dose/interval pairs that match the label for this decision."""
    assert dec.dose is not None
    ok = {(float(dec.dose.dose_mg), float(dec.dose.interval_weeks))}
    raw = csu_fixed()
    if "csu-refractory" in dec.covers and below_csu_trials_dose(dec.dose):
        # CSU trials dose: the clinician's choice only where the asthma dose is lower (brief scenario 5);
        # against a higher asthma dose a 300 mg q4w draft would under-dose the asthma
        ok.add((float(raw["dose_mg"]), float(raw["interval_weeks"])))
    if "csu-refractory" in dec.covers and dec.dose.table_id == "csu-fixed" and dec.dose.region == "US":
        ok.add((float(raw["alternative_dose_mg"]), float(raw["interval_weeks"])))  # US label: 150 or 300 mg
    return ok


def _same(a: float, b: float) -> bool:
    return abs(a - b) < 0.01


def _check_omalizumab(p, d: DraftOrder, hook: str, assessment: Assessment) -> Decision | None:
    dec = _omalizumab_decision(assessment)
    draft_ev = (_draft_evidence(d),)
    if dec is None or dec.topic == "data-needed":
        # brief 6: omalizumab drafted without an IgE-driven phenotype (sensitisation not documented counts as
        # without one) is warned, with the test to order and the alternative; not only a data request
        wrong = not_preferred_decision(p, order_reference=d.reference, drafted=True)
        if wrong is not None:
            return replace(wrong, evidence=draft_ev + wrong.evidence)
    if dec is None:
        info = next((x for x in assessment.decisions
                     if x.topic in ("food-allergy-omalizumab", "pemphigoid-itch-off-label")), None)
        if info is not None:  # labelled but not dosable automatically, or off-label: say so on the order
            return replace(info, order_reference=d.reference, evidence=draft_ev + info.evidence)
        return _Decision(
            topic="data-needed", indicator="info",
            headline="Omalizumab drafted, but no IgE-driven indication is recorded: record the diagnosis",
            rationale="Omalizumab is labelled for allergic asthma, chronic spontaneous urticaria, nasal polyps and "
                      "IgE-mediated food allergy. None is on record, so the dose cannot be checked.",
            citation=citation("xolair-us"), evidence=draft_ev + p.age_ev,
            missing=("the indication (diagnosis) for omalizumab",), order_reference=d.reference)
    if dec.topic != "omalizumab-dose" or dec.dose is None:
        return replace(dec, order_reference=d.reference, evidence=draft_ev + dec.evidence)
    if d.dose_value is None and hook == "order-select":
        # incomplete draft: nothing to compare yet; the dose card names the draft (and offers to complete it)
        return replace(dec, order_reference=d.reference, evidence=draft_ev + dec.evidence)
    accepted = _accepted(dec)
    problems = []
    if d.dose_value is None:
        problems.append("the draft has no readable dose")
    elif (d.dose_unit or "mg") != "mg":
        problems.append(f"the draft dose unit is {d.dose_unit!r}, not mg")
    if d.interval_weeks is None and (hook == "order-sign"):
        problems.append("the draft has no readable dosing interval")
    if d.route in ("intravenous", "oral"):  # a recognised route other than SC (omalizumab is SC only)
        problems.append(f"the draft route is {d.route}; omalizumab is given subcutaneously")
    if not problems:
        match = any(_same(d.dose_value, mg) and (d.interval_weeks is None or _same(d.interval_weeks, wk))
                    for mg, wk in accepted)
        if match:
            # matches the table: the dose card stays (the phenotype conclusion is the same in every hook),
            # names the draft and orders nothing more
            return replace(dec, order_reference=d.reference, evidence=draft_ev + dec.evidence,
                           cautions=dec.cautions + ("The drafted order matches this label dose.",))
        problems.append(f"drafted {fmt_num(d.dose_value)} mg" + (
            f" {interval_text(d.interval_weeks)}" if d.interval_weeks is not None else ""))
    dose: DoseRecommendation = dec.dose
    where = f"{dose.table_label}" + (f": IgE {dose.ige_band}, {dose.weight_band}" if dose.ige_band else "")
    head = (f"Omalizumab draft differs from the label: use {dose.dose_mg} mg SC every {dose.interval_weeks} weeks "
            f"({dose.table_label.split(' (')[0]})")
    rationale = (f"The drafted order ({'; '.join(problems)}) differs from the label dose for this patient: "
                 f"{dose.dose_mg} mg every {dose.interval_weeks} weeks ({where}).")
    return _Decision(
        topic="omalizumab-dose-mismatch", indicator="warning", headline=clip(head), rationale=rationale,
        citation=dose.citation, evidence=draft_ev + dec.evidence, rule=dec.rule, missing=dec.missing,
        cautions=dec.cautions, dose=dose, alternatives=(dose.as_option(),), order_reference=d.reference,
        covers=dec.covers, links=dec.links)


def _anti_il5_warning(p, d: DraftOrder, *, headline: str, rationale: str, citation_key: str, rule: str,
                      alternatives: tuple[TherapyOption, ...]) -> Decision:
    """The order-check warning for a drafted anti-IL-5/5R agent: the draft, age and eosinophil evidence."""
    return _Decision(
        topic="anti-il5-recommended", indicator="warning", headline=clip(headline), rationale=rationale,
        citation=citation(citation_key), evidence=(_draft_evidence(d),) + p.age_ev + p.ev("eosinophilic-asthma"),
        rule=rule, cautions=unverified(alternatives), alternatives=alternatives, order_reference=d.reference,
        covers=("eosinophilic-asthma",) if p.present("eosinophilic-asthma") else ())


def _check_anti_il5_dose(p, d: DraftOrder) -> Decision | None:
    """A fixed-dose anti-IL-5 drafted at another dose than its age's regimen (mepolizumab 40 mg at 6-11 years,
    100 mg from 12): the age-appropriate regimen, as a warning."""
    if p.age is None or d.dose_value is None or (d.dose_unit or "mg") != "mg":
        return None
    fits = [o for o in options(ANTI_IL5_REGIMENS, p.age) if o.agent == d.agent and o.dose_unit == "mg"
            and o.dose_value is not None]
    if not fits or any(_same(d.dose_value, o.dose_value) for o in fits):
        return None
    want = fits[0]
    name = (d.agent or "").capitalize()
    return _anti_il5_warning(
        p, d, headline=(f"{name} drafted at {fmt_num(d.dose_value)} mg; at {p.age} years the label dose is "
                        f"{want.display[len(name) + 1:]}"),
        rationale=(f"The drafted {fmt_num(d.dose_value)} mg differs from the labelled regimen for age {p.age}: "
                   f"{want.display} ({want.note})."),
        citation_key="nucala" if d.agent == "mepolizumab" else "gina-severe",
        rule=f"{want.display}: {want.note}", alternatives=(want,))


def _check_anti_il5(p, d: DraftOrder) -> Decision | None:
    limit = min_age(d.agent or "")
    if limit is None or p.age is None or p.age >= limit:
        return _check_anti_il5_dose(p, d)
    alts = options(ANTI_IL5_REGIMENS, p.age, exclude_agents=(d.agent or "",))
    name = (d.agent or "").capitalize()
    head = f"{name} is labelled from {limit} years; the patient is {p.age}"
    if alts:
        head += f": {alts[0].display} fits"
    return _anti_il5_warning(
        p, d, headline=head,
        rationale=(f"{name} is not labelled below {limit} years." + (
            " Age-appropriate anti-IL-5/5R options are listed." if alts else " No anti-IL-5/5R option fits this age.")),
        citation_key="cinqair" if d.agent == "reslizumab" else "gina-severe",
        rule=f"{name}: labelled age {limit} years and older.", alternatives=alts)


def _profile_for(facts: PatientFacts, assessment: Assessment) -> Profile:
    """The profile `assess` built for these very facts (the request path: assess, then check_orders),
    else a new one. Profiles depend on the facts only and facts are immutable, so the identity check
    is enough."""
    p = assessment.profile
    if isinstance(p, Profile) and p.facts is facts:
        return p
    return build_profile(facts)


# A draft decision of one of these topics answers the same question as the patient-level decision of that
# topic, for the drafted order: it replaces it (its evidence holds the patient-level evidence and the draft).
SAME_SUBJECT_TOPICS = frozenset({
    "omalizumab-dose", "omalizumab-not-dosable", "omalizumab-not-preferred", "cyclosporine-unsafe",
    "anti-il5-recommended", "food-allergy-omalizumab", "pemphigoid-itch-off-label",
})
ORDERING_TOPICS = ("omalizumab-dose", "anti-il5-recommended", "leukotriene-modifier-recommended",
                   "cyclosporine-unsafe")


def _supersedes(draft_dec: Decision, patient_dec: Decision) -> bool:
    """True when a drafted-order decision is the same answer as a patient-level one, for that order."""
    if draft_dec.topic in SAME_SUBJECT_TOPICS and draft_dec.topic == patient_dec.topic:
        return True
    if draft_dec.topic == "omalizumab-dose-mismatch":
        return patient_dec.topic == "omalizumab-dose"
    if draft_dec.topic == "data-needed":
        return patient_dec.topic == "data-needed" and patient_dec.headline == draft_dec.headline
    return False


def _ordered_agents(dec: Decision) -> set[str]:
    """The drugs a decision's suggestions would order."""
    if dec.topic == "omalizumab-dose":
        return {"omalizumab"} if dec.dose is not None else set()
    if dec.topic in ("omalizumab-not-preferred", "cyclosporine-unsafe") and dec.order_reference:
        return {dec.alternatives[0].agent} if dec.alternatives else set()  # the replacement
    return {a.agent for a in dec.alternatives}


def _replacement_not_drafted_twice(dec: Decision, drafts: Sequence[DraftOrder]) -> Decision:
    """A drafted-order warning whose replacement drug is already drafted (cyclosporine and omalizumab drafted
    together) does not offer to order it again: it says to remove the unsafe draft instead."""
    if not dec.order_reference or dec.topic not in ("omalizumab-not-preferred", "cyclosporine-unsafe"):
        return dec
    if not dec.alternatives:
        return dec
    other = next((d for d in drafts if d.agent == dec.alternatives[0].agent and d.reference != dec.order_reference),
                 None)
    if other is None:
        return dec
    return replace(dec, alternatives=(), cautions=dec.cautions + (
        f"{dec.alternatives[0].agent.capitalize()} is already drafted ({other.reference}): remove this draft "
        f"({dec.order_reference}) rather than ordering it again.",))


def _without_second_order(dec: Decision, ordered: dict[str, str]) -> Decision:
    """A patient-level decision whose suggestion would order a drug already drafted, or already ordered by
    a drafted-order card, keeps its conclusion but loses its order button (two orders of one drug)."""
    if dec.topic not in ORDERING_TOPICS or not dec.suggest_order:
        return dec
    clash = sorted(_ordered_agents(dec) & set(ordered))
    if not clash:
        return dec
    where = "; ".join(f"{a}: {ordered[a]}" for a in clash)
    return replace(dec, suggest_order=False,
                   no_order_note=f"No order is suggested on this card ({where}), so the drug is not ordered twice.")


def check_orders(facts: PatientFacts, drafts: Sequence[DraftOrder], *, hook: str, assessment: Assessment,
                 region: str = "US") -> tuple[Decision, ...]:
    """The order hooks' whole answer: the patient-level assessment (the same phenotype conclusion and
    evidence as patient-view, brief: "the phenotype is decided once per request"), with the checks of the
    drafted orders on top. A check about a drafted order replaces the patient-level decision it answers
    for that order (the omalizumab dose becomes the draft's dose check, "avoid cyclosporine" becomes the
    warning on the cyclosporine draft); a patient-level suggestion that would order a drug already
    drafted, or already ordered by a drafted-order card, is dropped so nothing is ordered twice."""
    check_region(region)
    if hook not in ORDER_HOOKS:
        raise ValueError(f"order checks run for {ORDER_HOOKS}, not {hook!r}")
    p = _profile_for(facts, assessment)
    checks: list[Decision] = []
    for d in drafts:
        if not d.selected:
            continue
        dec: Decision | None = None
        if d.agent == "omalizumab":
            dec = _check_omalizumab(p, d, hook, assessment)
        elif d.agent == "cyclosporine":
            dec = cyclosporine_decision(p, hook=hook, order_reference=d.reference)
            if dec is not None:
                dec = replace(dec, evidence=(_draft_evidence(d),) + dec.evidence)
            else:
                dec = cyclosporine_data_needed(p, order_reference=d.reference)
        elif d.agent in ANTI_IL5_AGENTS:
            dec = _check_anti_il5(p, d)
        if dec is not None:
            checks.append(dec)
    ordered: dict[str, str] = {}
    for d in drafts:
        if d.agent:
            ordered.setdefault(d.agent, f"already drafted as {d.reference}")
    checks = mark_partial([_replacement_not_drafted_twice(dec, drafts) for dec in checks], facts)
    for dec in checks:
        for agent in _ordered_agents(dec):
            if agent not in ordered:  # setdefault, without formatting the words it would not store
                ordered[agent] = f"ordered by the card for {dec.order_reference}"
    out = []
    for dec in assessment.decisions:  # a loop, not any(<generator>) per decision
        for c in checks:
            if _supersedes(c, dec):
                break
        else:
            out.append(_without_second_order(dec, ordered))
    return tuple(out + checks)
