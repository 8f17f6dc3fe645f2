"""Unit normalisation and conversion to the canonical unit of each measurement kind.

The accepted units, the string variants labs send and the analyte-specific factors (IgE 2.42 ng/IU,
creatinine molar mass for LTE4) live in ``data/units.json``. Dimensional conversions (kU/L -> IU/mL,
10*9/L -> /uL, [lb_av] -> kg, g -> mg) are computed by UCUM through ucumvert/pint, once per unit pair.
A unit that the table does not list for a kind is never guessed: ``convert`` raises ``UnitError``.
"""
from __future__ import annotations

import math
import sys
from functools import cache
from typing import Any

from .codesets import UCUM, load_json


class UnitError(ValueError):
    """The unit is missing, unknown, or not a unit of this kind."""


@cache
def _table() -> dict:
    return load_json("units.json")


@cache
def _aliases() -> tuple[dict[str, str], dict[str, str]]:
    exact = dict(_table()["aliases"]["map"])
    folded: dict[str, str] = {}
    for k, v in exact.items():
        folded.setdefault(_fold(k), v)
    return exact, folded


def _fold(s: str) -> str:
    return "".join(s.split()).lower().replace("µ", "u").replace("μ", "u")


def canonical_unit(kind: str) -> str:
    return _table()["canonical"][kind]


def normalise(code: str | None, unit: str | None) -> str | None:
    """The UCUM code for a Quantity's code/unit pair, or None when neither is recognised.

    The UCUM ``code`` is preferred; the human ``unit`` string is the fallback (many labs only fill
    ``unit``). Both go through the alias table, so 'kU/L' becomes 'k[IU]/L'.
    """
    exact, folded = _aliases()
    for s in (code, unit):
        if isinstance(s, str) and s.strip():
            s = s.strip()
            if s in exact:
                return exact[s]
            f = _fold(s)
            if f in folded:
                return folded[f]
    return None


@cache
def _registry():
    from ucumvert import PintUcumRegistry  # imported on first use (about 0.5 s to build)

    return PintUcumRegistry()


@cache
def _ucum_factor(src: str, dst: str) -> float:
    if src == dst:
        return 1.0
    ureg = _registry()
    q = ureg.from_ucum(src).to(ureg.from_ucum(dst))
    f = float(q.magnitude)
    return float(f"{f:.12g}")  # drop binary noise (1.0000000000000002)


@cache
def factor(kind: str, ucum: str) -> float:
    """Multiplier from ``ucum`` to the canonical unit of ``kind``; raises UnitError if not accepted."""
    table = _table()
    if kind not in table["accepted"]:
        raise UnitError(f"no unit table for {kind}")
    if ucum not in table["accepted"][kind]:
        raise UnitError(f"unit '{ucum}' is not accepted for {kind}")
    explicit = table["factors"].get(kind, {})
    if ucum in explicit:
        return float(explicit[ucum]["factor"])
    try:
        return _ucum_factor(ucum, table["canonical"][kind])
    except Exception as exc:  # pint dimensionality or parse errors: refuse, never assume
        raise UnitError(f"unit '{ucum}' cannot be converted to {table['canonical'][kind]} ({exc})") from None


def convert(kind: str, value: float, code: str | None, unit: str | None) -> tuple[float, str]:
    """(value in the canonical unit, UCUM code it was read as). Raises UnitError."""
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
        raise UnitError(f"value {value!r} is not a number")
    accepted = _accepted_unit(kind, code, unit)
    if accepted is None:
        _raise_unit_error(kind, code, unit)
    f, ucum = accepted
    converted = ten_significant_digits(value * f)
    bounds = _plausible_bounds(kind)
    if not math.isfinite(converted) or (bounds and not bounds[0] <= converted <= bounds[1]):
        raise UnitError(f"value {value:g} {ucum} is not a plausible {kind} result (a data-entry or interface "
                        f"error?); not used")
    return converted, ucum


def ten_significant_digits(x: float) -> float:
    """`float(f"{x:.10g}")`: a converted value without the float noise of its factor (0.3 x 1000 is
    300.00000000000006).  A whole number of at most ten digits is already that, and skips the text
    round trip (most results; tests/mappings/test_fast_paths.py compares the two)."""
    if type(x) is float and x.is_integer() and -1e10 < x < 1e10:
        return x
    return float(f"{x:.10g}")


_ACCEPTED: dict[tuple, tuple[float, str]] = {}
_ACCEPTED_LIMIT = 4096  # (kind, code, unit) triples are a lab's vocabulary; the bound only stops junk


def _accepted_unit(kind: str, code: str | None, unit: str | None) -> tuple[float, str] | None:
    """(factor, UCUM code) for a Quantity's code/unit pair, remembered per spelling, or None where
    the unit is refused (`_raise_unit_error` then says why).  normalise and factor cost ~0.5 us per
    result, and a patient's results repeat a handful of unit spellings."""
    key = (kind, code, unit)
    hit = _ACCEPTED.get(key)
    if hit is not None:
        return hit
    ucum = normalise(code, unit)
    if ucum is None:
        return None
    try:
        hit = (factor(kind, ucum), ucum)
    except UnitError:
        return None
    if len(_ACCEPTED) < _ACCEPTED_LIMIT:
        _ACCEPTED[key] = hit
    return hit


_SPELLINGS: dict[tuple, tuple[float, str, float, float, str | None] | bool] = {}
_FLOAT_MAX = sys.float_info.max


# quantity_spelling's table read directly by a caller with the key tuple at hand (extract's usual result):
# a tuple of (factor, canonical unit, low, high, shown unit), False for a refused spelling, None if not seen
known_spelling = _SPELLINGS.get


def quantity_spelling(kind: str, code: Any, system: Any, unit: Any) -> tuple[float, str, float, float, str | None] | None:
    """For a Quantity's raw code/system/unit as sent: (factor, canonical unit, lowest and highest plausible
    value in it, the unit shown as the original one) when `convert` accepts that spelling for `kind`, else
    None.  Remembered per spelling (a lab's vocabulary: a handful per patient), so a result costs one
    dict lookup instead of the as_str / system / alias / factor / bounds steps.  The bounds are +-max
    float where units.json gives none: then only a non-finite value fails them, as in `convert`.
    Raises TypeError for an unhashable code/system/unit (the caller's general path reports those)."""
    key = (kind, code, system, unit)
    hit = _SPELLINGS.get(key)
    if hit is None:
        hit = _spelling(kind, code, system, unit)
        if len(_SPELLINGS) < _ACCEPTED_LIMIT:
            _SPELLINGS[key] = hit
    return hit or None


def _spelling(kind: str, code: Any, system: Any, unit: Any) -> tuple[float, str, float, float, str | None] | bool:
    # as read_quantity reads them: as_str, and the code only when the system is UCUM or absent
    code = code if isinstance(code, str) and code.strip() else None
    system = system if isinstance(system, str) and system.strip() else None
    unit = unit if isinstance(unit, str) and unit.strip() else None
    ucum_code = code if (system is None or system.rstrip("/") == UCUM) else None
    accepted = _accepted_unit(kind, ucum_code, unit)
    if accepted is None:
        return False
    bounds = _plausible_bounds(kind) or (-_FLOAT_MAX, _FLOAT_MAX)
    return accepted[0], canonical_unit(kind), float(bounds[0]), float(bounds[1]), unit or code


def _raise_unit_error(kind: str, code: str | None, unit: str | None) -> None:
    ucum = normalise(code, unit)
    if ucum is None:
        shown = unit if isinstance(unit, str) and unit.strip() else code
        if not (isinstance(shown, str) and shown.strip()):
            raise UnitError(f"no unit given for {kind}")
        raise UnitError(f"unit '{shown}' is not a known {kind} unit")
    factor(kind, ucum)  # raises the UnitError that made _accepted_unit refuse
    raise UnitError(f"unit '{ucum}' is not accepted for {kind}")  # pragma: no cover - factor raised


@cache
def _plausible_bounds(kind: str) -> tuple[float, float] | None:
    """(min, max) of a plausible result of `kind` in its canonical unit, from units.json."""
    bounds = _table().get("plausible", {}).get(kind)
    return (bounds["min"], bounds["max"]) if bounds else None


def pairing_window_minutes() -> float:
    return float(_table()["pairing"]["eosinophil_percent_wbc_window_minutes"])


def bp_pairing_window_minutes() -> float:
    return float(_table()["pairing"]["bp_systolic_diastolic_window_minutes"])


@cache
def weeks_per_period_unit() -> dict[str, float]:
    """FHIR Timing periodUnit -> weeks (from the UCUM seconds in units.json)."""
    seconds = _table()["timing_period_units"]["seconds"]
    return {unit: s / seconds["wk"] for unit, s in seconds.items()}
