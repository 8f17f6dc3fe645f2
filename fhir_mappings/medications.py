"""MedicationRequest / MedicationStatement -> MedicationFact, and medication matching shared with drafts.

A medication is recognised by an RxNorm code listed in data/codesets/rxnorm.json (ingredient or
product) or by a generic or brand name in its text/displays; ``medicationReference`` is resolved from
contained resources, the bundle, or the FHIR server (``resolve_reference``), in that order.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date

from clinical_core.facts import MedicationFact, SourceRef

from . import codesets as cs
from .fhirutil import (
    all_text,
    as_dict,
    as_list,
    as_str,
    coded,
    concept_text,
    parse_date,
    ref_type_id,
    reference_of,
    subject_id,
    validation_problem,
)

log = logging.getLogger(__name__)

REQUEST_SKIP = frozenset({"entered-in-error", "cancelled", "draft"})
STATEMENT_SKIP = frozenset({"entered-in-error", "not-taken"})


class MedicationIndex:
    """Medication resources of the request, by 'Medication/id' and by fullUrl."""

    def __init__(self) -> None:
        self._by_key: dict[str, dict] = {}

    def add(self, res: dict, full_url: str | None) -> None:
        if res.get("resourceType") != "Medication":
            return
        rid = as_str(res.get("id"))
        if rid:
            self._by_key.setdefault(f"Medication/{rid}", res)
        if full_url:
            self._by_key.setdefault(full_url, res)

    def get(self, ref: str) -> dict | None:
        if ref in self._by_key:
            return self._by_key[ref]
        t, i = ref_type_id(ref)
        if t == "Medication" and i:
            return self._by_key.get(f"Medication/{i}")
        return None


def resolve_medication(holder: dict, index: MedicationIndex | None,
                       resolver: Callable[[str], dict | None] | None,
                       issue: Callable[..., None]) -> tuple[dict | None, str | None]:
    """(the CodeableConcept naming the drug, how it was found) for a request/statement."""
    cc = holder.get("medicationCodeableConcept")
    if isinstance(cc, dict):
        return cc, None
    mref = as_dict(holder.get("medicationReference"))
    ref = as_str(mref.get("reference"))
    display = as_str(mref.get("display"))
    med = None
    if ref:
        if ref.startswith("#"):
            for c in as_list(holder.get("contained")):
                c = as_dict(c)
                if c.get("resourceType") == "Medication" and as_str(c.get("id")) == ref[1:]:
                    med = c
                    break
        elif index is not None:
            med = index.get(ref)
        if med is None and resolver is not None and not ref.startswith("#"):
            try:
                fetched = resolver(ref)
            except Exception as exc:  # a failing FHIR server degrades the answer, it does not break it
                issue(reference_of(holder), f"could not fetch {ref} ({type(exc).__name__})")
                fetched = None
            if isinstance(fetched, dict) and fetched.get("resourceType") == "Medication":
                med = fetched
        if med is not None:
            problem = validation_problem(med)
            if problem:
                issue(reference_of(holder), f"referenced {ref} is not a valid Medication: {problem}")
                med = None
    if med is not None:
        code = as_dict(med.get("code"))
        # ingredients name the drug too (compounded or multi-ingredient Medications)
        extra = [as_dict(as_dict(i).get("itemCodeableConcept")) for i in as_list(med.get("ingredient"))]
        merged = {"text": concept_text(code) or display or "",
                  "coding": [c for cc2 in [code, *extra] for c in as_list(cc2.get("coding"))]}
        if not merged["text"]:
            merged["text"] = " ".join(concept_text(e) for e in extra if concept_text(e))
        return merged, ref
    if display:
        return {"text": display}, ref
    if ref:
        issue(reference_of(holder), f"medication {ref} could not be resolved; matched by nothing")
    return None, ref


def agents_for(concept: dict | None) -> list[tuple[str, str | None]]:
    """[(agent, 'system|code' that matched or None for a name match)] for a medication concept."""
    if not concept:
        return []
    out: list[tuple[str, str | None]] = []
    if isinstance(concept, dict) and isinstance(concept.get("coding"), list):  # (a text-only concept: none coded)
        idx = cs.rxcui_index()
        for system, code, _ in coded(concept):
            if system == cs.RXNORM and code in idx and idx[code] not in {a for a, _ in out}:
                out.append((idx[code], f"{system}|{code}"))
    text = all_text(concept)
    for agent in cs.agents_in_text(text):
        if agent not in {a for a, _ in out}:
            out.append((agent, None))
    if not out:  # the usual inhaler or other drug no rule reads: nothing to veto
        return out
    # an excluded formulation (e.g. ophthalmic cyclosporine) named in the text vetoes a code match too
    low = text.lower()
    return [(a, c) for a, c in out if not any(x in low for x in cs.agents()[a].exclude_names)]


def _start_end(res: dict) -> tuple[date | None, date | None]:
    if res.get("resourceType") == "MedicationStatement":
        start = parse_date(res.get("effectiveDateTime")) or parse_date(as_dict(res.get("effectivePeriod")).get("start"))
        end = parse_date(as_dict(res.get("effectivePeriod")).get("end"))
        return start, end
    bounds = as_dict(as_dict(as_dict(first_dosage(res).get("timing")).get("repeat")).get("boundsPeriod"))
    validity = as_dict(as_dict(res.get("dispenseRequest")).get("validityPeriod"))
    start = parse_date(bounds.get("start")) or parse_date(validity.get("start")) or parse_date(res.get("authoredOn"))
    end = parse_date(bounds.get("end")) or parse_date(validity.get("end"))
    return start, end


def medication_facts(resources: list[dict], index: MedicationIndex,
                     resolver: Callable[[str], dict | None] | None, evaluation_date: date,
                     issue: Callable[..., None], patient_id: str | None = None) -> list[MedicationFact]:
    out: list[MedicationFact] = []
    for res in resources:
        rtype = res.get("resourceType")
        status = (as_str(res.get("status")) or "unknown").lower()
        if (rtype == "MedicationRequest" and status in REQUEST_SKIP) or \
           (rtype == "MedicationStatement" and status in STATEMENT_SKIP):
            continue
        concept, via = resolve_medication(res, index, resolver, issue)
        matched = agents_for(concept)
        if not matched:
            continue
        st, sid = subject_id(res)
        if patient_id and st == "Patient" and sid and sid != patient_id:
            issue(reference_of(res), f"belongs to Patient/{sid}; ignored")
            continue
        problem = validation_problem(res)
        if problem:
            issue(reference_of(res), f"not valid FHIR R4 {rtype}: {problem}; skipped")
            continue
        start, end = _start_end(res)
        active = status == "active" and (end is None or end >= evaluation_date)
        text = concept_text(concept) if concept else ""
        for agent, code in matched:
            a = cs.agents()[agent]
            out.append(MedicationFact(
                agent=agent, drug_class=a.drug_class, status=status, is_active=active,
                source=SourceRef(rtype, as_str(res.get("id")), code, text or a.display),
                text=text, start=start, end=end,
            ))
    return out


def first_dosage(res: dict) -> dict:
    return as_dict(next(iter(as_list(res.get("dosageInstruction"))), {}))

