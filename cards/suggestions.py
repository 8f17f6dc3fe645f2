"""Suggestions: the MedicationRequest resources a clinician can accept with one click.

Shapes (../shared/docs/card-contract.md):
* a new regimen is one `create` of a MedicationRequest: status draft, intent proposal (patient-view) or
  the draft's own intent (order hooks), subject the patient, RxNorm ingredient code + text, and
  dosageInstruction[0] with a SNOMED CT route, a UCUM doseQuantity and timing.repeat;
* correcting a drafted order is one `update` carrying the entire draft with the corrected dosage;
* replacing a drafted order is a `delete` (resourceId) plus a `create`, in one suggestion
  (clients apply deletes before creates).

A regimen is only coded when every part is known and verified: an RxNorm code from
`fhir_mappings.rxnorm_for` (None for unverified codes), a listed route, a UCUM dose unit and a FHIR
period unit. Otherwise no resource is suggested, and the card text names the drug to order instead.
"""
from __future__ import annotations

import copy
import os
import re
from collections import deque
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any

from clinical_core.decisions import Decision, DoseRecommendation, TherapyOption

from .text import dose_phrase, option_of, shorten
from .validation import (MEDREQ_INTENT, CardValidationError, CheckedResources, is_relative_reference,
                         validate_fhir_resource)
from .vocabulary import (RXNORM_SYSTEM, UCUM_SYSTEM, dose_unit_allowed, period_unit_allowed,
                         route_coding)

RxNormLookup = Callable[[str], "tuple[str, str] | None"]

ORDER_HOOKS = ("order-select", "order-sign")
# A decision about a drafted order with an alternative: replace the draft (delete + create), one suggestion.
REPLACE_TOPICS = ("omalizumab-not-preferred", "cyclosporine-unsafe", "anti-il5-recommended",
                  "leukotriene-modifier-recommended")
# Intent for a replacement when the draft's own intent cannot be read: drafts in an ordering session
# are orders.
FALLBACK_ORDER_INTENT = "order"


# The hex digit at the variant position of a version 4 UUID, by the random digit there: its top two bits
# become 10 (RFC 4122), as uuid.UUID(version=4) sets them.
_VARIANT_DIGIT = {f"{i:x}": "89ab"[i & 3] for i in range(16)}
_UUIDS_PER_READ = 256
_uuid_pool: deque[str] = deque()
# a forked child must not hand out the ids its parent still holds (gunicorn forks its workers)
os.register_at_fork(after_in_child=_uuid_pool.clear)


def _fill_uuid_pool() -> None:
    """256 version 4 UUID texts from ONE os.urandom read (4 KB).

    A getrandom(2) call made between two stretches of request work costs 11-17 us on the bench's VM
    (back to back: 0.7 us; measured after each of 300 hook requests), and every card and suggestion
    id took one: 30-100 us of a 700-900 us request.  Read in bulk, that cost is 1/256 of one call.
    The ids are exactly as random: the same kernel CSPRNG bytes, 16 per id."""
    raw = os.urandom(16 * _UUIDS_PER_READ).hex()
    variant = _VARIANT_DIGIT
    _uuid_pool.extend(
        f"{raw[i:i + 8]}-{raw[i + 8:i + 12]}-4{raw[i + 13:i + 16]}-{variant[raw[i + 16]]}{raw[i + 17:i + 20]}-"
        f"{raw[i + 20:i + 32]}"
        for i in range(0, 32 * _UUIDS_PER_READ, 32))


def new_uuid() -> str:
    """A fresh random (version 4) UUID as text: card and suggestion ids, new on every call.

    The canonical lower-case 8-4-4-4-12 form of 16 os.urandom bytes with the version nibble set to 4
    and the variant bits to 10, as `str(uuid.uuid4())`, without the UUID object and taken from a pool
    filled by one read per 256 ids (`_fill_uuid_pool`).  `deque.popleft` is atomic, so threads
    (gthread workers) never share an id; two threads refilling at once only add more."""
    try:
        return _uuid_pool.popleft()
    except IndexError:
        _fill_uuid_pool()
        return _uuid_pool.popleft()


def json_copy(value: Any) -> Any:
    """A deep copy of a JSON tree (dicts, lists, and scalars, which are immutable and shared), as
    `copy.deepcopy` makes of it, in about a third of its time (no memo, no dispatch per value); any
    other object inside goes through `copy.deepcopy`.  Trees decoded from JSON share no sub-objects,
    so the memo that deepcopy keeps for shared ones has nothing to do for them."""
    cls = type(value)
    if cls is dict:  # a scalar value is kept without a call (~25 of the ~45 values of a demo draft)
        return {k: v if type(v) in _JSON_SCALARS else json_copy(v) for k, v in value.items()}
    if cls is list:
        return [v if type(v) in _JSON_SCALARS else json_copy(v) for v in value]
    if cls in _JSON_SCALARS:
        return value
    return copy.deepcopy(value)


_JSON_SCALARS = frozenset({str, int, float, bool, type(None)})


def not_codable(option: TherapyOption, rxnorm: RxNormLookup) -> str | None:
    """Why `option` cannot become a coded MedicationRequest, or None when it can."""
    return _codes(option, rxnorm)[0]


def _codes(option: TherapyOption, rxnorm: RxNormLookup) -> tuple[str | None, dict | None, tuple | None]:
    """(why `option` cannot be coded or None, its route coding, its RxNorm (code, display)): the checks
    of `not_codable` and the codes `coded_regimen` writes, each looked up once.

    The checks that depend on the option and the code files alone (`_regimen_codes`) are remembered per
    option value (options are the knowledge files' regimens; equal options code alike): ~11,600 -> ~5,000
    instructions a suggestion. The RxNorm lookup is asked every time (it is a parameter). The route coding
    is a fresh dict on every call (it goes into the resource)."""
    why, route = _regimen_codes(option)
    if why is not None:
        return why, None, None
    codes = rxnorm(option.agent)
    if codes is None:
        return "no verified RxNorm code", None, None
    return None, dict(route), codes


@lru_cache(maxsize=1024)
def _regimen_codes(option: TherapyOption) -> tuple[str | None, dict | None]:
    """(why `option` cannot be coded or None, its route coding): `_codes` without the RxNorm lookup."""
    if not option.verified:
        return "the regimen is not verified from a label here", None
    if option.dose_value is None or option.frequency is None or option.period is None \
            or not dose_unit_allowed(option.dose_unit) or not period_unit_allowed(option.period_unit):
        return "the regimen cannot be coded completely", None
    route = route_coding(option.route)
    if route is None:
        return "the route has no verified code here", None
    return None, route


def coded_regimen(option: TherapyOption, rxnorm: RxNormLookup) -> tuple[dict, dict] | None:
    """(medicationCodeableConcept, dosageInstruction) for a complete, verified regimen, else None."""
    why, route, codes = _codes(option, rxnorm)
    if why is not None:
        return None
    return _regimen(option, route, codes)


def _regimen(option: TherapyOption, route: dict, codes: Any) -> tuple[dict, dict]:
    """`coded_regimen`'s dicts from the route coding and RxNorm codes `_codes` found for `option`."""
    rxcui, display = codes
    medication = {
        "coding": [{"system": RXNORM_SYSTEM, "code": rxcui, "display": display}],
        "text": option.agent.capitalize(),
    }
    dosage = {
        "text": option.display,
        "route": {"coding": [route], "text": option.route},
        "timing": {"repeat": {"frequency": option.frequency, "period": _num(option.period),
                              "periodUnit": option.period_unit}},
        "doseAndRate": [{"doseQuantity": {"value": _num(option.dose_value), "unit": option.dose_unit,
                                          "system": UCUM_SYSTEM, "code": option.dose_unit}}],
    }
    return medication, dosage


def _maintenance_phase(option: TherapyOption, dosage: dict) -> list[dict]:
    """A regimen with a loading phase (benralizumab: every 4 weeks for 3 doses, then every 8 weeks) as two
    dosage instructions in sequence: the first limited by timing.repeat.count, the second at the later
    interval. A single-phase regimen gets none (its one instruction is the whole regimen)."""
    if not option.initial_doses or not option.then_period:
        return []
    dosage["sequence"] = 1
    dosage["timing"]["repeat"]["count"] = int(option.initial_doses)
    later = json_copy(dosage)
    later["sequence"] = 2
    later["timing"]["repeat"] = {"frequency": option.frequency, "period": _num(option.then_period),
                                 "periodUnit": option.period_unit}
    return [later]


def new_medication_request(option: TherapyOption, *, patient_id: str, intent: str,
                           rxnorm: RxNormLookup, draft: Mapping[str, Any] | None = None,
                           checked: CheckedResources | None = None) -> dict | None:
    """The create resource for `option`, or None when it cannot be coded.

    checked: when given, the resource goes into it if it is known to pass `validate_fhir_resource`:
    a draft's context was validated with it just now, or the same resource (same option object, RxNorm
    codes, patient and intent) passed before (`_known_valid_create`)."""
    why, route, codes = _codes(option, rxnorm)
    if why is not None:
        return None
    medication, dosage = _regimen(option, route, codes)
    resource: dict[str, Any] = {
        "resourceType": "MedicationRequest",
        "status": "draft",
        "intent": intent,
        "medicationCodeableConcept": medication,
        "subject": {"reference": f"Patient/{patient_id}"},
    }
    resource["dosageInstruction"] = [dosage] + _maintenance_phase(option, dosage)
    if option.note.strip():  # loading doses, age limits, boxed warnings the prescriber must see
        resource["note"] = [{"text": option.note.strip()}]
    validated = None
    if draft:  # keep the ordering context (encounter, prescriber) of the draft being replaced
        for key in ("encounter", "requester"):
            value = draft.get(key)
            if isinstance(value, dict) and isinstance(value.get("reference"), str):
                candidate = {**resource, key: json_copy(value)}
                try:
                    validate_fhir_resource(candidate, "create")
                except CardValidationError:
                    continue  # a malformed reference in the draft is not worth losing the suggestion
                resource = validated = candidate
    if checked is not None:
        if validated is not None:
            checked.add(validated)  # the resource as validated just now (nothing changed it since)
        elif _known_valid_create(resource, option, codes, patient_id, intent):
            checked.add(resource)
    return resource


# id(option) -> (option, {(codes, patient_id, intent), ...}): create resources built from these parts by
# `new_medication_request` (without a draft's context) that passed validate_fhir_resource. Options are the
# knowledge files' regimens, built once per process (clinical_core.options.option, cards.text.option_of).
_VALID_CREATES: dict[int, tuple[TherapyOption, set]] = {}
_VALID_CREATES_MAX = 4096


def _known_valid_create(resource: dict, option: TherapyOption, codes: Any, patient_id: Any, intent: Any) -> bool:
    """Whether `resource`, just built by new_medication_request from these parts alone, passes
    validate_fhir_resource; checked once per parts and remembered when it does.

    The resource is a function of its parts: the option (the same object: frozen, so its fields are the
    ones read before; an equal option of other field types, 1 and True say, could code differently), the
    RxNorm (code, display) pair, the patient id and the intent (exact str values), and the code files and
    module constants, which are loaded once. Parts of other types are not remembered: checked each time.
    The card check then need not walk it again (~35 nodes, plus its canonical JSON: callgrind, patient-view
    cards stage 0.296 -> 0.238 M instructions). A resource that fails is not remembered (the
    card check refuses it, as before)."""
    if not (type(codes) is tuple and len(codes) == 2 and type(codes[0]) is str and type(codes[1]) is str
            and type(patient_id) is str and type(intent) is str):
        return False
    parts = (codes, patient_id, intent)
    entry = _VALID_CREATES.get(id(option))
    if entry is not None and entry[0] is option and parts in entry[1]:
        return True
    try:
        validate_fhir_resource(resource, "create")
    except CardValidationError:
        return False
    if entry is None or entry[0] is not option:
        if len(_VALID_CREATES) >= _VALID_CREATES_MAX:
            return True
        entry = _VALID_CREATES[id(option)] = (option, set())
    if len(entry[1]) < _VALID_CREATES_MAX:
        entry[1].add(parts)
    return True


# The keys of the first dosage instruction that corrected_draft replaces or drops whatever they held.
_REBUILT_DOSAGE_KEYS = frozenset({"text", "timing", "doseAndRate", "maxDosePerPeriod", "maxDosePerAdministration"})


def corrected_draft(draft: Mapping[str, Any], dose: DoseRecommendation) -> dict:
    """The entire draft, with dosageInstruction replaced by the table dose (everything else kept).

    The first dosage instruction is kept for its other parts (site, patient instruction, start date);
    its dose, interval and text are replaced, its route made subcutaneous (omalizumab is SC only), and a
    dose count is kept only when the interval is unchanged (a count at a new interval is a new duration).
    """
    option = option_of(dose)
    route = route_coding(option.route)
    # json_copy(dict(draft)) but for dosageInstruction, which is replaced below by a copy of its first
    # object: copying the whole list first copied the dosage twice. With the partial copy of that first
    # object below: callgrind, order-select demo cards stage 0.534 -> 0.464 M instructions
    source = dict(draft)
    resource = {k: v if k == "dosageInstruction" else json_copy(v) for k, v in source.items()}
    # a copy of the first dosage but for the parts replaced below (they keep their place among its keys):
    # the timing and the rate are rebuilt from copies of the values they keep
    source_first = _first_object(source.get("dosageInstruction"))
    first = {k: v if k in _REBUILT_DOSAGE_KEYS else json_copy(v) for k, v in source_first.items()}
    first["text"] = option.display
    if not _has_coding(first.get("route"), route):
        first["route"] = {"coding": [route], "text": option.route}
    timing = first.get("timing") if isinstance(first.get("timing"), dict) else {}
    repeat = timing.get("repeat") if isinstance(timing.get("repeat"), dict) else {}
    same_interval = (repeat.get("frequency", 1) == 1 and repeat.get("period") == dose.interval_weeks
                     and repeat.get("periodUnit") == "wk")
    kept = {k: json_copy(v) for k, v in repeat.items()
            if k.startswith("bounds") or (same_interval and k in ("count", "countMax"))}
    kept.update({"frequency": 1, "period": dose.interval_weeks, "periodUnit": "wk"})
    timing = {k: json_copy(v) for k, v in timing.items() if k not in ("repeat", "code")}
    timing["repeat"] = kept
    first["timing"] = timing
    rate0 = {k: json_copy(v) for k, v in _first_object(first.get("doseAndRate")).items() if k == "type"}
    rate0["doseQuantity"] = {"value": dose.dose_mg, "unit": "mg", "system": UCUM_SYSTEM, "code": "mg"}
    first["doseAndRate"] = [rate0]
    first.pop("maxDosePerPeriod", None)
    first.pop("maxDosePerAdministration", None)
    resource["dosageInstruction"] = [first]
    return resource


def suggestions_for(decision: Decision, *, hook: str, patient_id: str,
                    drafts: Mapping[str, dict], rxnorm: RxNormLookup,
                    checked: CheckedResources | None = None) -> tuple[list[dict], list[str]]:
    """(suggestions, notes). Notes explain, in the card detail, why a suggestion could not be coded.

    checked: when given, collects the suggestion resources known to pass validate_fhir_resource (for
    `validate_card`, which then does not check them a second time)."""
    topic = decision.topic
    draft = drafts.get(decision.order_reference) if decision.order_reference else None
    in_order_hook = hook in ORDER_HOOKS

    if topic == "omalizumab-dose":
        if decision.dose is None:
            return [], []
        if in_order_hook and decision.order_reference:
            if draft is not None and not _has_dose_and_interval(draft):
                # order-select: the draft has no dose yet (not an error): offer to fill in the table dose
                return _update(decision.dose, draft, label=f"Complete draft: omalizumab {dose_phrase(decision.dose)}",
                               description=f"Fill in the table dose {dose_phrase(decision.dose)} "
                                           f"({decision.dose.table_label}).", checked=checked)
            return [], []  # the drafted order already matches the table
        if not decision.suggest_order:
            return [], [decision.no_order_note or
                        f"No new order is suggested: omalizumab is already active for this patient; continue or "
                        f"change the current order ({dose_phrase(decision.dose)} per the table)."]
        return _create_one(option_of(decision.dose), decision, patient_id=patient_id,
                           intent=_intent(draft, in_order_hook), rxnorm=rxnorm, recommended=True,
                           label=f"Order omalizumab {dose_phrase(decision.dose)}", checked=checked)

    if topic == "omalizumab-dose-mismatch":
        if decision.dose is None:
            return [], []
        if draft is None:
            return [], [f"Change the drafted order to omalizumab {dose_phrase(decision.dose)} by hand "
                        "(the draft could not be read for an automatic correction)."]
        return _update(decision.dose, draft, label=f"Change draft to omalizumab {dose_phrase(decision.dose)}",
                       description=f"Set the drafted omalizumab order to {dose_phrase(decision.dose)} "
                                   f"({decision.dose.table_label}).", checked=checked)

    if topic in REPLACE_TOPICS and in_order_hook and decision.order_reference:
        return _replace(decision, draft=draft, patient_id=patient_id, rxnorm=rxnorm, checked=checked)

    if topic in ("anti-il5-recommended", "leukotriene-modifier-recommended", "cyclosporine-unsafe"):
        if not decision.suggest_order:
            return [], [decision.no_order_note] if decision.no_order_note else []
        return _create_each(decision, patient_id=patient_id, intent=_intent(draft, in_order_hook),
                            rxnorm=rxnorm, checked=checked)

    return [], []


# ---------------------------------------------------------------------------------------------------

def _intent(draft: Mapping[str, Any] | None, in_order_hook: bool) -> str:
    if not in_order_hook:
        return "proposal"
    intent = draft.get("intent") if draft else None
    return intent if isinstance(intent, str) and intent in MEDREQ_INTENT else FALLBACK_ORDER_INTENT


def _has_coding(concept: Any, coding: Mapping[str, str] | None) -> bool:
    if not isinstance(concept, dict) or coding is None:
        return False
    codings = concept.get("coding") if isinstance(concept.get("coding"), list) else []
    return any(isinstance(c, dict) and c.get("system") == coding["system"] and c.get("code") == coding["code"]
               for c in codings)


def _first_object(value: Any) -> dict:
    """value[0] when value is a list starting with a JSON object, else {} (draft JSON may be anything)."""
    return value[0] if isinstance(value, list) and value and isinstance(value[0], dict) else {}


def _has_dose_and_interval(draft: Mapping[str, Any]) -> bool:
    first = _first_object(draft.get("dosageInstruction"))
    rate = _first_object(first.get("doseAndRate"))
    repeat = (first.get("timing") or {}).get("repeat") if isinstance(first.get("timing"), dict) else None
    has_dose = isinstance(rate.get("doseQuantity"), dict) and rate["doseQuantity"].get("value") is not None
    has_interval = isinstance(repeat, dict) and repeat.get("period") is not None
    return has_dose and has_interval


def _update(dose: DoseRecommendation, draft: Mapping[str, Any], *, label: str,
            description: str, checked: CheckedResources | None = None) -> tuple[list[dict], list[str]]:
    if not isinstance(draft.get("id"), str):
        return [], [f"Set the drafted order to omalizumab {dose_phrase(dose)} by hand (the draft has no id)."]
    resource = corrected_draft(draft, dose)
    try:
        validate_fhir_resource(resource, "update")
    except CardValidationError:
        return [], [f"Change the drafted order to omalizumab {dose_phrase(dose)} by hand "
                    "(the draft is not a valid FHIR MedicationRequest, so it cannot be corrected "
                    "automatically)."]
    if checked is not None:
        checked.add(resource)  # validated just now; the suggestion below does not change it
    return [{
        "label": label,
        "uuid": new_uuid(),
        "isRecommended": True,
        "actions": [{"type": "update", "description": description, "resource": resource}],
    }], _strength_notes(draft, dose)


_STRENGTH = re.compile(r"(\d+(?:\.\d+)?)\s*mg\b", re.IGNORECASE)


_STRENGTHS: dict[str, float | None] = {}
_STRENGTHS_MAX = 4096


def _strength_mg(name: str) -> float | None:
    """The first "<number> mg" of a product name, as a float, or None: remembered per exact str name (the
    drafts name a few products again and again; the case-insensitive search was ~8,000 instructions a
    name, two names a demo draft). Other str types are searched each time."""
    if type(name) is str:
        found = _STRENGTHS.get(name, _NO_STRENGTH)
        if found is not _NO_STRENGTH:
            return found
    match = _STRENGTH.search(name)
    strength = float(match.group(1)) if match else None
    if type(name) is str and len(_STRENGTHS) < _STRENGTHS_MAX and len(name) <= 512:
        _STRENGTHS[name] = strength
    return strength


_NO_STRENGTH = object()


def _strength_notes(draft: Mapping[str, Any], dose: DoseRecommendation) -> list[str]:
    """The update changes the dosage only, not the product: say so when the drafted product's strength
    cannot make up the corrected dose (a 300 mg/2 mL syringe cannot give 225 mg)."""
    names: list[str] = []
    concept = draft.get("medicationCodeableConcept")
    if isinstance(concept, dict):
        names.append(concept.get("text"))
        codings = concept.get("coding") if isinstance(concept.get("coding"), list) else []
        names += [c.get("display") for c in codings if isinstance(c, dict)]
    reference = draft.get("medicationReference")
    if isinstance(reference, dict):
        names.append(reference.get("display"))
    for name in (n for n in names if isinstance(n, str)):
        strength = _strength_mg(name)
        if strength is not None and strength > 0 and dose.dose_mg % strength != 0:
            return [f"The draft names the product \"{shorten(name, 80)}\", which cannot make up "
                    f"{dose.dose_mg} mg: choose the product/syringes for {dose.dose_mg} mg when accepting the "
                    "change (the update changes the dose, not the product)."]
    return []


def _not_coded_note(option: TherapyOption, rxnorm: RxNormLookup) -> str:
    why = not_codable(option, rxnorm) or "it could not be coded"
    return f"{option.display}: no order is suggested ({why}); order it from the formulary after checking the label."


def _create_one(option: TherapyOption, decision: Decision, *, patient_id: str, intent: str,
                rxnorm: RxNormLookup, recommended: bool, label: str,
                checked: CheckedResources | None = None) -> tuple[list[dict], list[str]]:
    resource = new_medication_request(option, patient_id=patient_id, intent=intent, rxnorm=rxnorm,
                                      checked=checked)
    if resource is None:
        return [], [_not_coded_note(option, rxnorm)]
    suggestion: dict[str, Any] = {"label": label, "uuid": new_uuid()}
    if recommended:
        suggestion["isRecommended"] = True
    suggestion["actions"] = [{
        "type": "create",
        "description": f"Create a {intent} MedicationRequest: {option.display}.",
        "resource": resource,
    }]
    return [suggestion], []


def _create_each(decision: Decision, *, patient_id: str, intent: str, rxnorm: RxNormLookup,
                 checked: CheckedResources | None = None) -> tuple[list[dict], list[str]]:
    suggestions: list[dict] = []
    notes: list[str] = []
    for index, option in enumerate(decision.alternatives):
        made, why = _create_one(option, decision, patient_id=patient_id, intent=intent, rxnorm=rxnorm,
                                recommended=index == 0, label=f"Order {_lower_first(option.display)}",
                                checked=checked)
        suggestions += made
        if index == 0:  # explain a missing button for the preferred option only: the sidebar is narrow
            notes += why
    return suggestions, notes


def _replace(decision: Decision, *, draft: Mapping[str, Any] | None, patient_id: str,
             rxnorm: RxNormLookup, checked: CheckedResources | None = None) -> tuple[list[dict], list[str]]:
    ref = decision.order_reference
    drafted = _drafted_name(decision, draft)
    if not decision.alternatives:
        return [], []  # nothing to switch to: the warning alone (deleting could leave a need untreated)
    option = decision.alternatives[0]
    notes: list[str] = []
    resource = new_medication_request(option, patient_id=patient_id, intent=_intent(draft, True),
                                      rxnorm=rxnorm, draft=draft, checked=checked)
    if resource is None:
        notes.append(_not_coded_note(option, rxnorm))
    if not is_relative_reference(ref):
        # a draft without an id (valid FHIR in draftOrders): no delete action can name it, so the card
        # still warns, and says to remove the draft by hand
        notes.append(f"Remove the drafted {drafted} order by hand: it has no id the EHR could act on.")
        if resource is None:
            return [], notes
        return [{"label": f"Order {_lower_first(option.display)} instead of {drafted}", "uuid": new_uuid(),
                 "isRecommended": True, "actions": [_create_instead(option, resource)]}], notes
    delete = {"type": "delete", "description": f"Remove the drafted {drafted} order ({ref}).",
              "resourceId": ref}
    if resource is None:
        label = f"Remove the {drafted} draft; order {_lower_first(option.display)} separately"
        return [{"label": label, "uuid": new_uuid(), "actions": [delete]}], notes
    return [{
        "label": f"Replace {drafted} with {_lower_first(option.display)}",
        "uuid": new_uuid(),
        "isRecommended": True,
        "actions": [delete, _create_instead(option, resource)],
    }], notes


def _create_instead(option, resource: dict) -> dict:
    return {"type": "create", "description": f"Order {_lower_first(option.display)} instead.", "resource": resource}


def _drafted_name(decision: Decision, draft: Mapping[str, Any] | None) -> str:
    if decision.topic == "cyclosporine-unsafe":
        return "cyclosporine"
    if decision.topic.startswith("omalizumab"):
        return "omalizumab"
    concept = (draft or {}).get("medicationCodeableConcept") or {}
    codings = concept.get("coding") if isinstance(concept.get("coding"), list) else []
    names = [concept.get("text")] + [c.get("display") for c in codings if isinstance(c, dict)]
    name = next((n for n in names if isinstance(n, str) and n.strip()), None)
    return shorten(name, 40) if name else "drafted medication"


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:] if text[:2] != text[:2].upper() else text


def _num(value: float) -> int | float:
    return int(value) if float(value) == int(value) else float(value)


__all__ = ["coded_regimen", "corrected_draft", "new_medication_request", "suggestions_for"]
