"""extract_draft_orders: an order hook's draftOrders -> DraftOrder facts.

Drafts at order-select are often incomplete (no dose yet): missing fields stay None, they are not
errors. Dose comes from dosageInstruction[0].doseAndRate[0].doseQuantity (mg or mg/kg; g and ug
converted to mg with UCUM); the interval in weeks from timing.repeat frequency/period/periodUnit.
Only MedicationRequest drafts are read (NutritionOrder, ServiceRequest, ... are ignored).
"""
from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from clinical_core.facts import DraftOrder, maker

from . import codesets as cs
from . import units
from .fhirutil import as_dict, as_list, as_str, bundle_entries, concept_text, ref_type_id, where_failed
from .medications import MedicationIndex, agents_for, first_dosage, resolve_medication

log = logging.getLogger(__name__)

_ROUTES = (("subcut", "subcutaneous"), ("sub-cut", "subcutaneous"), ("s.c.", "subcutaneous"),
           ("intraven", "intravenous"), ("i.v.", "intravenous"), ("oral", "oral"), ("by mouth", "oral"),
           ("per os", "oral"))

_DraftOrder = maker(DraftOrder)  # DraftOrder(...) without the generic class call: see _fast_init.maker


def extract_draft_orders(draft_orders: Mapping | None, selections: Sequence[str] | None, *, hook: str,
                         resolve_reference: Callable[[str], dict | None] | None = None) -> tuple[DraftOrder, ...]:
    try:
        return _extract(draft_orders, selections, hook, resolve_reference)
    except Exception as exc:  # never let a malformed draft crash the hook
        log.error("extract_draft_orders failed: %s", where_failed(exc))
        return ()


def _extract(draft_orders: Any, selections: Any, hook: str, resolver) -> tuple[DraftOrder, ...]:
    entries: list[tuple[str | None, dict]] = []
    if isinstance(draft_orders, Mapping):
        entries = list(bundle_entries(dict(draft_orders)))
    elif isinstance(draft_orders, list):
        entries = [(None, r) for r in draft_orders if isinstance(r, dict)]
    index = MedicationIndex()
    for full_url, res in entries:
        index.add(res, full_url)
    selected_keys = _selection_keys(selections)
    out: list[DraftOrder] = []
    for full_url, res in entries:
        if res.get("resourceType") != "MedicationRequest":
            continue
        rid = as_str(res.get("id"))
        reference = f"MedicationRequest/{rid}" if rid else (full_url or "MedicationRequest/(no id)")
        if hook == "order-sign":
            selected = True
        else:
            selected = bool(selected_keys) and (reference in selected_keys or (rid or "\0") in selected_keys
                                                or (full_url or "\0") in selected_keys)
        concept, _ = resolve_medication(res, index, resolver, lambda *a, **k: None)
        matched = agents_for(concept)
        agent = matched[0][0] if matched else None
        drug_class = cs.agents()[agent].drug_class if agent else None
        text = concept_text(concept) if concept else ""
        dosage = first_dosage(res)
        dose_value, dose_unit = _dose(dosage)
        out.append(_DraftOrder(
            reference=reference, agent=agent, drug_class=drug_class, text=text, selected=selected,
            intent=as_str(res.get("intent")), dose_value=dose_value, dose_unit=dose_unit,
            interval_weeks=_interval_weeks(dosage), route=_route(dosage),
        ))
    return tuple(out)


def _selection_keys(selections: Any) -> set[str]:
    keys: set[str] = set()
    if isinstance(selections, str):
        selections = [selections]
    elif not isinstance(selections, (list, tuple, set)):
        selections = ()
    for s in selections:
        if isinstance(s, str) and s:
            keys.add(s)
            t, i = ref_type_id(s)
            if t and i:
                keys.add(f"{t}/{i}")
    return keys


def _dose(dosage: dict) -> tuple[float | None, str | None]:
    dar = as_dict(next(iter(as_list(dosage.get("doseAndRate"))), {}))
    q = dar.get("doseQuantity")
    if not isinstance(q, dict):
        rng = as_dict(dar.get("doseRange"))
        if rng.get("low") and rng.get("high") and as_dict(rng["low"]).get("value") == as_dict(rng["high"]).get("value"):
            q = as_dict(rng["low"])
        else:
            return None, None
    value = q.get("value")
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None, None
    ucum = units.normalise(as_str(q.get("code")), as_str(q.get("unit")))
    if ucum is None:
        return None, None
    try:  # OverflowError: an integer beyond the float range (valid JSON)
        if ucum == "mg/kg":
            dose, unit = float(value), "mg/kg"
        else:
            dose, unit = units.ten_significant_digits(float(value) * units.factor("dose", ucum)), "mg"
    except (units.UnitError, OverflowError):
        return None, None
    # beyond the float range (1e308 g is infinite in mg): an unreadable dose, not a huge one
    return (dose, unit) if math.isfinite(dose) else (None, None)


def _interval_weeks(dosage: dict) -> float | None:
    rep = as_dict(as_dict(dosage.get("timing")).get("repeat"))
    period = rep.get("period")
    unit = as_str(rep.get("periodUnit"))
    freq = rep.get("frequency", 1)
    if isinstance(period, bool) or not isinstance(period, (int, float)) or period <= 0:
        return None
    weeks_per_unit = units.weeks_per_period_unit()
    if unit not in weeks_per_unit:
        return None
    if isinstance(freq, bool) or not isinstance(freq, (int, float)) or freq <= 0:
        freq = 1
    try:
        weeks = period * weeks_per_unit[unit] / freq
    except OverflowError:  # an integer period or frequency beyond the float range
        return None
    return round(weeks, 4) if math.isfinite(weeks) else None


def _route(dosage: dict) -> str | None:
    route = dosage.get("route")
    if route is None:
        return None
    codings = [as_dict(c) for c in as_list(as_dict(route).get("coding"))]
    by_code = cs.route_by_code()
    for c in codings:  # a coded route is read from the route code set first (SNOMED CT, with sources)
        name = by_code.get((as_str(c.get("system")) or "", as_str(c.get("code")) or ""))
        if name:
            return name
    text = " ".join([concept_text(route)] + [as_str(c.get("code")) or "" for c in codings]).lower()
    for needle, name in _ROUTES:
        if needle in text:
            return name
    return concept_text(route) or None
