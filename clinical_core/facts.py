"""Typed clinical facts: the only input the clinical core reads.

`fhir_mappings` builds these from FHIR R4 data; the core never sees FHIR. Every fact keeps its
provenance (`SourceRef`, original value and unit, date) so a card can cite exactly what a decision
used. Values are already converted to the canonical unit of their kind (see CANONICAL_UNITS);
a value whose unit could not be converted never becomes a fact (it becomes a `DataIssue`).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Literal

# a cheaper __init__ (see _fast_init.py); `maker` is offered here for the mappings, which build these facts
from ._fast_init import fast_init, maker  # noqa: F401

# Canonical (UCUM) unit of each measurement kind. Converters in fhir_mappings produce these.
CANONICAL_UNITS: dict[str, str] = {
    "total-ige": "[IU]/mL",
    "specific-ige": "k[IU]/L",
    "eosinophils": "/uL",
    "wbc": "10*3/uL",
    "lte4": "pg/mg{creat}",
    "weight": "kg",
    "egfr": "mL/min/{1.73_m2}",
    "systolic": "mm[Hg]",
    "diastolic": "mm[Hg]",
}

Comparator = Literal["<", "<=", ">=", ">"]


@fast_init
@dataclass(frozen=True, slots=True)
class SourceRef:
    """The FHIR resource a fact came from, so a clinician can find it in the chart."""

    resource_type: str
    resource_id: str | None
    code: str | None = None  # the coding that matched, "system|code"
    display: str | None = None

    @property
    def reference(self) -> str:
        return f"{self.resource_type}/{self.resource_id or '(no id)'}"


@fast_init
@dataclass(frozen=True, slots=True)
class Measurement:
    """One numeric result in its canonical unit, with what the lab actually sent."""

    kind: str  # a key of CANONICAL_UNITS
    value: float  # in CANONICAL_UNITS[kind]
    unit: str  # == CANONICAL_UNITS[kind]
    when: datetime | None  # effective time (issued as fallback); None if the resource had neither
    source: SourceRef
    comparator: Comparator | None = None  # kept as sent: ">1500" stays value 1500, comparator ">"
    original_value: float | None = None
    original_unit: str | None = None
    status: str | None = None  # Observation.status (final, amended, corrected, preliminary)
    derived_from: tuple[SourceRef, ...] = ()  # e.g. eosinophil % and WBC used to compute a count


@fast_init
@dataclass(frozen=True, slots=True)
class BloodPressure:
    systolic: Measurement | None
    diastolic: Measurement | None
    when: datetime | None
    source: SourceRef


IgeBaselineStatus = Literal[
    "baseline-before-omalizumab",  # newest result before the first omalizumab start
    "newest-no-omalizumab",  # no omalizumab history: the newest result
    "only-on-treatment",  # every result was drawn on omalizumab or within a year of stopping
    "retest-after-interruption",  # omalizumab interrupted >= 1 year: re-test before dosing
    "missing",  # no usable total IgE result
]


@fast_init
@dataclass(frozen=True, slots=True)
class IgeBaseline:
    """The total IgE that may dose omalizumab, and why that one (label: never an on-treatment IgE)."""

    status: IgeBaselineStatus
    measurement: Measurement | None
    excluded: tuple[Measurement, ...] = ()  # on-treatment results deliberately not used
    note: str = ""


@fast_init
@dataclass(frozen=True, slots=True)
class SpecificIge:
    allergen: str  # e.g. "D. pteronyssinus", "peanut"
    allergen_group: Literal["perennial-aeroallergen", "seasonal-aeroallergen", "food", "other"]
    measurement: Measurement  # kind "specific-ige", k[IU]/L


@fast_init
@dataclass(frozen=True, slots=True)
class ConditionFact:
    """An active, not refuted, not entered-in-error condition mapped to a concept key."""

    concept: str  # asthma, allergic-asthma, eosinophilic-asthma, severe-asthma, aerd, csu, nasal-polyps,
    #               food-allergy, bullous-pemphigoid, ckd, hypertension, ...
    display: str
    source: SourceRef
    onset: date | None = None
    recorded: date | None = None


@fast_init
@dataclass(frozen=True, slots=True)
class MedicationFact:
    """A medication the patient takes or took, matched by RxNorm code or by name (brands included)."""

    agent: str  # ingredient key: omalizumab, cyclosporine, mepolizumab, montelukast, cetirizine, ...
    drug_class: str  # anti-ige, anti-il5, anti-il5r, anti-il4r, anti-tslp, calcineurin-inhibitor,
    #                  leukotriene-modifier, h1-antihistamine, ...
    status: str  # FHIR status as sent (active, completed, stopped, on-hold, intended, ...)
    is_active: bool
    source: SourceRef
    text: str = ""
    start: date | None = None
    end: date | None = None


@fast_init
@dataclass(frozen=True, slots=True)
class AllergyFact:
    category: Literal["aspirin-nsaid", "food", "environmental", "medication", "other"]
    substance: str
    source: SourceRef
    respiratory_reaction: bool = False  # bronchospasm, wheeze, nasal congestion/rhinorrhoea, asthma
    ige_mediated: bool | None = None  # type "allergy" (vs "intolerance"); None when not stated
    recorded: date | None = None


@fast_init
@dataclass(frozen=True, slots=True)
class DataIssue:
    """Something in the data that could not be used, and why (shown on cards, never fatal)."""

    reference: str  # "Observation/abc" or a prefetch key
    problem: str  # human-readable: "unit 'mg/dL' is not a total IgE unit"
    kind: str | None = None  # the fact kind it would have fed, if known


@fast_init
@dataclass(frozen=True, slots=True)
class DraftOrder:
    """A drafted MedicationRequest from an order hook's draftOrders, as far as it could be read."""

    reference: str  # "MedicationRequest/<id>"
    agent: str | None  # ingredient key when recognised
    drug_class: str | None
    text: str
    selected: bool  # order-select: in `selections`; order-sign: every draft
    intent: str | None = None
    dose_value: float | None = None
    dose_unit: str | None = None  # UCUM code as drafted: "mg", "mg/kg", ...
    interval_weeks: float | None = None  # from timing.repeat (frequency/period/periodUnit)
    route: str | None = None


@fast_init
@dataclass(frozen=True, slots=True)
class PatientFacts:
    """Everything the phenotype model reads about one patient at one evaluation date."""

    patient_id: str
    evaluation_date: date
    birth_date: date | None = None
    age_years: int | None = None
    total_ige: IgeBaseline = field(default_factory=lambda: IgeBaseline("missing", None))
    weight: Measurement | None = None
    eosinophils_latest: Measurement | None = None
    eosinophils_max_12m: Measurement | None = None
    lte4: Measurement | None = None
    egfr: Measurement | None = None
    bp_latest: BloodPressure | None = None
    bp_recent: tuple[BloodPressure, ...] = ()  # newest first, at most 3
    conditions: tuple[ConditionFact, ...] = ()
    medications: tuple[MedicationFact, ...] = ()
    allergies: tuple[AllergyFact, ...] = ()
    specific_ige: tuple[SpecificIge, ...] = ()
    issues: tuple[DataIssue, ...] = ()
    unavailable: tuple[str, ...] = ()  # data groups the FHIR server could not supply (prefetch keys)
    # newest body weight on or before the first omalizumab start (None without omalizumab history):
    # lets the core say "weight moved to another band since the start: review the dose"
    weight_at_omalizumab_start: Measurement | None = None

    def has_condition(self, *concepts: str) -> bool:
        return any(c.concept in concepts for c in self.conditions)

    def conditions_of(self, *concepts: str) -> tuple[ConditionFact, ...]:
        return tuple(c for c in self.conditions if c.concept in concepts)

    def medications_of(self, *, agent: str | None = None, drug_class: str | None = None,
                       active_only: bool = False) -> tuple[MedicationFact, ...]:
        return tuple(
            m for m in self.medications
            if (agent is None or m.agent == agent)
            and (drug_class is None or m.drug_class == drug_class)
            and (m.is_active or not active_only)
        )
