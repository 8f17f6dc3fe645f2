"""Therapy options from data/therapies.json, filtered by age, and the label's age limits per agent.

A regimen not verified from a label source still appears (the clinician needs the choice), but its
option note says "check the label" so no card asserts an unverified dose.
"""
from __future__ import annotations

from functools import cache, lru_cache

from .decisions import Citation, DoseRecommendation, TherapyOption
from .knowledge import csu_fixed, label_age_limits, policy_values, table_meta, therapies

ANTI_IL5_REGIMENS = (
    "mepolizumab-asthma-12plus", "mepolizumab-asthma-6to11", "benralizumab-asthma-12plus", "benralizumab-asthma-6to11",
    "reslizumab-asthma-18plus",
)
LTM_REGIMENS = ("montelukast-15plus", "zileuton-er-12plus")
CHECK_LABEL = "check the label: this regimen is not verified in this service"


def _fits(reg: dict, age: int | None) -> bool:
    if age is None:
        # unknown age: adolescent/adult regimens only (policy.json unknown_age_regimen_age_min)
        return reg.get("age_min") is None or reg["age_min"] >= policy_values().unknown_age_regimen_age_min
    lo, hi = reg.get("age_min"), reg.get("age_max")
    return (lo is None or age >= lo) and (hi is None or age <= hi)


@cache
def option(regimen_id: str) -> TherapyOption:
    """The regimen of therapies.json as an option (immutable, built once per regimen: the file is read
    once per process)."""
    reg = therapies()[regimen_id]
    note = reg.get("note", "")
    if reg.get("age_min") is not None:
        note = f"from {reg['age_min']} years" + (f" to {reg['age_max']}" if reg.get("age_max") else "") + (
            f"; {note}" if note else "")
    if not reg.get("verified"):
        note = f"{note}; {CHECK_LABEL}" if note else CHECK_LABEL
    return TherapyOption(
        agent=reg["agent"], display=reg["display"], dose_value=reg.get("dose_value"), dose_unit=reg.get("dose_unit"),
        frequency=reg.get("frequency"), period=reg.get("period"), period_unit=reg.get("period_unit"),
        route=reg.get("route"), note=note, verified=bool(reg.get("verified")),
        initial_doses=reg.get("initial_doses"), then_period=reg.get("then_period"),
    )


def options(regimen_ids: tuple[str, ...], age: int | None, *, exclude_agents: tuple[str, ...] = ()) -> tuple[TherapyOption, ...]:
    return _options(regimen_ids, age, exclude_agents)


@lru_cache(maxsize=1024)
def _options(regimen_ids: tuple[str, ...], age: int | None, exclude_agents: tuple[str, ...]) -> tuple[TherapyOption, ...]:
    """`options`, remembered: the answer depends on the regimen list, the age (a whole number of years, or
    None) and the agents excluded only, against therapies.json and policy.json, read once per process; the
    same options (the very objects of `option`). Two to four calls an assessment, each a generator with
    `_fits` per regimen (~6K instructions for the five anti-IL-5/5R regimens)."""
    regs = therapies()
    return tuple(option(r) for r in regimen_ids if _fits(regs[r], age) and regs[r]["agent"] not in exclude_agents)


def unverified(opts: tuple[TherapyOption, ...]) -> tuple[str, ...]:
    return tuple(f"{o.display}: {CHECK_LABEL}." for o in opts if not o.verified)


def min_age(agent: str) -> int | None:
    """Youngest labelled age for an agent (therapies.json label_age_limits), else its youngest regimen."""
    limits = label_age_limits()
    if agent in limits:
        return int(limits[agent]["age_min"])
    ages = [r["age_min"] for r in therapies().values() if r["agent"] == agent and r.get("age_min") is not None]
    return min(ages) if ages else None


def csu_dose(region: str) -> DoseRecommendation:
    raw = csu_fixed()
    meta_label = "label CSU fixed dose"
    cit = table_meta("us-asthma-12plus").citation if region == "US" else table_meta("eu-q4w").citation
    return DoseRecommendation(
        dose_mg=int(raw["dose_mg"]), interval_weeks=int(raw["interval_weeks"]), table_id="csu-fixed",
        table_label=f"{region} {meta_label} (CSU, age >= {raw['age_min']})", region=region,
        citation=Citation(f"{'Xolair US Prescribing Information' if region == 'US' else 'Xolair EU SmPC'}: CSU dosing",
                          cit.url),
    )
