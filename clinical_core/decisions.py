"""Plain decisions: the only output of the clinical core, and the only input of `cards`.

A decision says what fits (or what not to do), the numbers behind it, the rule or table cell used,
what is missing, and what action would follow. It carries no card JSON: `cards` turns it into
CDS Hooks cards and suggestions. Topics and indicators are those of ../shared/docs/card-contract.md.
"""
from __future__ import annotations

from dataclasses import dataclass, field
import datetime as _dt
from typing import Literal

from ._fast_init import fast_init, maker  # a cheaper __init__ only: see _fast_init.py

Topic = Literal[
    "omalizumab-dose",
    "omalizumab-dose-mismatch",
    "omalizumab-not-dosable",
    "omalizumab-not-preferred",
    "anti-il5-recommended",
    "leukotriene-modifier-recommended",
    "cyclosporine-unsafe",
    "food-allergy-omalizumab",
    "pemphigoid-itch-off-label",
    "data-needed",
    "data-unavailable",
]
TOPICS: tuple[str, ...] = Topic.__args__  # type: ignore[attr-defined]

Indicator = Literal["info", "warning", "critical"]
INDICATOR_RANK: dict[str, int] = {"critical": 0, "warning": 1, "info": 2}

PhenotypeStatus = Literal["present", "absent", "possible", "unknown"]


@fast_init
@dataclass(frozen=True, slots=True)
class Evidence:
    """One fact a decision used, formatted for the card's facts table."""

    label: str  # "Baseline total IgE"
    value: str  # "250 IU/mL" (canonical unit, comparator kept: ">1500 IU/mL")
    date: _dt.date | None = None
    reference: str | None = None  # "Observation/ige-1"
    original: str | None = None  # "605 ng/mL" when the value was converted


@fast_init
@dataclass(frozen=True, slots=True)
class Citation:
    label: str  # "Xolair US Prescribing Information, Table 1"
    url: str  # absolute URL to the label or guideline section


@fast_init
@dataclass(frozen=True, slots=True)
class TherapyOption:
    """A concrete regimen a suggestion can create as a MedicationRequest."""

    agent: str  # ingredient key, e.g. "omalizumab", "mepolizumab", "montelukast" (codes: fhir_mappings)
    display: str  # "Mepolizumab 100 mg SC every 4 weeks"
    dose_value: float | None = None
    dose_unit: str | None = None  # UCUM: "mg", "mg/kg"
    frequency: int | None = None  # timing.repeat.frequency
    period: float | None = None  # timing.repeat.period
    period_unit: str | None = None  # UCUM-style FHIR unit: "d", "wk"
    route: str | None = None  # "subcutaneous", "intravenous", "oral"
    note: str = ""  # age limits, boxed warnings, loading doses the clinician must add
    verified: bool = True  # False: the regimen was not verified from a label here, so no order is coded from it
    # a loading phase: the first `initial_doses` doses every `period`, then every `then_period` (benralizumab:
    # 30 mg every 4 weeks x3, then every 8 weeks); coded as two dosage instructions in sequence
    initial_doses: int | None = None
    then_period: float | None = None


@fast_init
@dataclass(frozen=True, slots=True)
class DoseRecommendation:
    """An omalizumab dose read from a verified label table (or a fixed label dose, e.g. CSU)."""

    dose_mg: int
    interval_weeks: int
    table_id: str  # data file id, e.g. "us-asthma-12plus", "eu-q4w", "csu-fixed"
    table_label: str  # "US PI Table 1 (asthma, age >= 12)"
    region: str  # "US" or "EU"
    citation: Citation
    ige_band: str | None = None  # ">100-200 IU/mL"
    weight_band: str | None = None  # ">60-70 kg"

    def as_option(self) -> TherapyOption:
        return TherapyOption(
            agent="omalizumab",
            display=f"Omalizumab {self.dose_mg} mg SC every {self.interval_weeks} weeks",
            dose_value=self.dose_mg,
            dose_unit="mg",
            frequency=1,
            period=self.interval_weeks,
            period_unit="wk",
            route="subcutaneous",
        )


@fast_init
@dataclass(frozen=True, slots=True)
class PhenotypeFinding:
    key: str  # allergic-asthma, eosinophilic-asthma, csu-refractory, aerd, crswnp, food-allergy,
    #           bullous-pemphigoid, cyclosporine-renal-risk, cyclosporine-bp-risk, ...
    status: PhenotypeStatus
    evidence: tuple[Evidence, ...] = ()
    missing: tuple[str, ...] = ()
    note: str = ""


@fast_init
@dataclass(frozen=True, slots=True)
class Decision:
    """One answer for the clinician: becomes exactly one card."""

    topic: Topic
    indicator: Indicator
    headline: str  # the decision in clinical words, < 140 characters
    rationale: str  # why, in one to three plain sentences
    citation: Citation
    evidence: tuple[Evidence, ...] = ()
    rule: str | None = None  # the rule or table cell used, in words
    missing: tuple[str, ...] = ()  # what to measure or record to decide
    cautions: tuple[str, ...] = ()  # stale data, policy (not label) thresholds, checks before acting
    dose: DoseRecommendation | None = None  # the omalizumab dose to propose or correct to
    alternatives: tuple[TherapyOption, ...] = ()  # what fits instead (first is the preferred one)
    order_reference: str | None = None  # "MedicationRequest/<id>" of the draft this decision is about
    covers: tuple[str, ...] = ()  # phenotype keys this decision answers (asthma + CSU: both)
    links: tuple[Citation, ...] = ()
    # False: the dose is for checking and reading only; the patient already has an active order of the drug
    # at this dose (or one whose dose cannot be compared), so a new order would be a second one
    suggest_order: bool = True
    # why no order is suggested when suggest_order is False and the reason is not "already active"
    # (order hooks: another card's suggestion already orders the same drug for a drafted order)
    no_order_note: str = ""


# Decision(...) without the generic class call, the same object (see _fast_init.maker): the rules build
# two to four a request (~5K instructions less each)
new_decision = maker(Decision)


@fast_init
@dataclass(frozen=True, slots=True)
class Assessment:
    phenotypes: tuple[PhenotypeFinding, ...]
    decisions: tuple[Decision, ...]
    # The phenotype profile `assess` built (clinical_core.phenotypes.Profile, with the facts it was built
    # from): `check_orders` reuses it for the same facts object instead of building it again. Internal to
    # the core; not compared, not shown.
    profile: object | None = field(default=None, compare=False, repr=False)

    def finding(self, key: str) -> PhenotypeFinding | None:
        return next((p for p in self.phenotypes if p.key == key), None)
