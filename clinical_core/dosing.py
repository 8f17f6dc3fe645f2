"""Omalizumab table lookup: which band a baseline IgE and a weight fall in, and what the label says there.

Band edges follow the label: the first band includes its lower limit ("≥30-100"), later bands are
"lower < x <= upper", so a value exactly on an edge belongs to the lower band. Weight is rounded to
0.1 kg (half up) before the bands are applied. A value reported with a comparator (">700", "<30")
is placed only when the comparator settles it ("<2" is below 30, ">1500" is above any limit);
otherwise the exact value is asked for. Tables or cells not verified from a primary source never
produce a dose: the result names the label table to read instead.
"""
from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass
from functools import lru_cache
from decimal import ROUND_HALF_UP, Decimal
from typing import Literal

from ._fast_init import fast_init, maker  # a cheaper __init__ (and maker): see _fast_init.py
from .facts import Measurement
from .knowledge import Cell, TableMeta, dose_table, table_meta

Outcome = Literal[
    "dose",  # a verified cell with a dose
    "insufficient-data",  # the label cell says do not dose / insufficient data
    "see-table",  # the cell points to another table that is not verified here
    "unverified-cell",  # the cell exists but its value was not verified
    "table-unverified",  # the whole table is not verified: refer to it by number
    "below-min",
    "above-max",
    "indeterminate",  # a comparator value that cannot be placed in a band
]

Position = Literal["in", "below", "above", "indeterminate"]


_TENTH = Decimal("0.1")


def round_weight(kg: float) -> float:
    """Round to 0.1 kg, half up (60.05 -> 60.1), as the band rule requires.

    The decimal rounding is of the float's shortest repr (`str(kg)`). A float whose repr has at most one
    decimal ("72.4", "80.0") is already on the 0.1 grid: quantizing leaves its value, so it is returned
    as it is (the Decimal round trip costs as much as a whole band lookup). tests/core/test_band_edges.py
    checks this against the Decimal form."""
    if type(kg) is float:
        if kg.is_integer() and -1e15 < kg < 1e15:  # repr "75.0": on the grid (repr costs ~2K instructions)
            return kg
        s = repr(kg)
        dot = s.find(".")
        if dot > 0 and len(s) - dot <= 2 and "e" not in s:
            return kg
    return float(Decimal(str(kg)).quantize(_TENTH, rounding=ROUND_HALF_UP))


def fmt_num(x: float) -> str:
    """1500.0 -> '1500', 60.1 -> '60.1', 0.35 -> '0.35'."""
    whole = int(x)
    return str(whole) if x == whole else f"{x:.2f}".rstrip("0").rstrip(".")


def band_index(edges: tuple[float, ...], x: float) -> int | None:
    """Index of the band holding x; the first band is closed below, every band closed above."""
    if len(edges) < 2 or x < edges[0] or x > edges[-1]:
        return None
    for i in range(len(edges) - 1):
        if x <= edges[i + 1]:
            return i
    return None  # pragma: no cover - unreachable given the checks above


@lru_cache(maxsize=512)
def band_label(edges: tuple[float, ...], i: int, unit: str, *, first_symbol: str) -> str:
    """'>100-200 IU/mL' (the first band: '≥30-100 IU/mL'). Remembered: the edges are a table's, from
    the data files, so the labels are few."""
    lo, hi = fmt_num(edges[i]), fmt_num(edges[i + 1])
    return f"{first_symbol}{lo}-{hi} {unit}" if i == 0 else f">{lo}-{hi} {unit}"


def position(value: float, comparator: str | None, lo: float | None, hi: float | None) -> Position:
    """Where a (possibly comparator-qualified) value lies relative to the limits [lo, hi]."""
    if comparator is None:
        if lo is not None and value < lo:
            return "below"
        if hi is not None and value > hi:
            return "above"
        return "in"
    if comparator == ">":
        return "above" if hi is not None and value >= hi else "indeterminate"
    if comparator == ">=":
        return "above" if hi is not None and value > hi else "indeterminate"
    if comparator == "<":
        return "below" if lo is not None and value <= lo else "indeterminate"
    if comparator == "<=":
        return "below" if lo is not None and value < lo else "indeterminate"
    return "indeterminate"


@fast_init  # one or two per assessment
@dataclass(frozen=True, slots=True)
class Lookup:
    outcome: Outcome
    table: TableMeta
    ige_band: str | None = None
    weight_band: str | None = None
    dose_mg: int | None = None
    interval_weeks: int | None = None
    reason: str = ""  # plain words: why there is no dose (empty when there is one)
    missing: tuple[str, ...] = ()
    see_table: TableMeta | None = None
    weight_kg: float | None = None  # the rounded weight the bands were applied to

    @property
    def cell_text(self) -> str:
        bands = ", ".join(b for b in (self.ige_band and f"IgE {self.ige_band}", self.weight_band) if b)
        return f"{self.table.short_label}: {bands}" if bands else self.table.short_label

    @property
    def rule(self) -> str:
        if self.outcome == "dose":
            return (f"{self.table.short_label} ({self.table.region}), row IgE {self.ige_band}, column "
                    f"{self.weight_band}: {self.dose_mg} mg every {self.interval_weeks} weeks")
        return self.reason


def _ige_words(m: Measurement) -> str:
    return f"{m.comparator or ''}{fmt_num(m.value)} IU/mL"


def outside_limits(table_id: str, ige: Measurement | None, weight: Measurement | None) -> Lookup | None:
    """With one input missing: the Lookup saying the other is already outside the table's limits (no
    measurement of the missing one could give a dose), or None when what is known is inside them."""
    meta = table_meta(table_id)
    lk = _limits(meta, ige, weight)
    return lk if lk is not None and lk.outcome in ("below-min", "above-max") else None


_Lookup = maker(Lookup)  # Lookup(...) without the generic class call: see _fast_init.maker


def lookup(table_id: str, ige: Measurement, weight: Measurement) -> Lookup:
    """Apply one label table to a baseline IgE (IU/mL) and a body weight (kg)."""
    meta = table_meta(table_id)
    table = dose_table(table_id)
    kg = round_weight(weight.value)
    outside = _limits(meta, ige, weight, kg)
    if outside is not None:
        return outside
    return _cell(meta, table, ige, kg)


def _limits(meta: TableMeta, ige: Measurement | None, weight: Measurement | None,
            kg: float | None = None) -> Lookup | None:
    """The table-limit problems of whichever inputs are given (None: none). `kg`: the weight already
    rounded (round_weight(weight.value)), when the caller has it."""
    if kg is None and weight is not None:
        kg = round_weight(weight.value)
    ige_pos = position(ige.value, ige.comparator, meta.ige_min, meta.ige_max) if ige is not None else "in"
    w_pos = position(kg, weight.comparator, meta.weight_min, meta.weight_max) if weight is not None else "in"
    if ige_pos == "in" and w_pos == "in":  # no problem to word (the usual case)
        return None

    problems: list[str] = []
    missing: list[str] = []
    if ige_pos == "below":
        problems.append(f"baseline IgE {_ige_words(ige)} is below the table's lower limit of "
                        f"{fmt_num(meta.ige_min)} IU/mL")
    elif ige_pos == "above":
        problems.append(f"baseline IgE {_ige_words(ige)} is above the table's upper limit of "
                        f"{fmt_num(meta.ige_max)} IU/mL")
    elif ige_pos == "indeterminate":
        problems.append(f"baseline IgE reported as {_ige_words(ige)} cannot be placed in a band")
        missing.append("a quantitative baseline total IgE (IU/mL) without a '<' or '>' qualifier")
    if w_pos == "below":
        problems.append(f"weight {fmt_num(kg)} kg is below the table's lower limit of {fmt_num(meta.weight_min)} kg")
    elif w_pos == "above":
        problems.append(f"weight {fmt_num(kg)} kg is above the table's upper limit of {fmt_num(meta.weight_max)} kg")
    elif w_pos == "indeterminate":
        problems.append(f"weight reported as {weight.comparator}{fmt_num(kg)} kg cannot be placed in a band")
        missing.append("a measured body weight (kg)")

    if problems:
        outcome: Outcome = ("indeterminate" if "indeterminate" in (ige_pos, w_pos)
                            else "below-min" if "below" in (ige_pos, w_pos) else "above-max")
        lim = []
        if meta.ige_min is not None and meta.ige_max is not None:
            lim.append(f"{fmt_num(meta.ige_min)}-{fmt_num(meta.ige_max)} IU/mL")
        if meta.weight_min is not None and meta.weight_max is not None:
            lim.append(f"{fmt_num(meta.weight_min)}-{fmt_num(meta.weight_max)} kg")
        limits = f" (table limits {', '.join(lim)})" if lim else ""
        text = meta.raw.get("outside_limits_text", "no dose can be given from the table").rstrip(".")
        tail = "" if outcome == "indeterminate" else f" {text[0].upper()}{text[1:]}."
        return _Lookup(outcome, meta, reason=f"{meta.short_label}: " + "; ".join(problems) + limits + "." + tail,
                       missing=tuple(missing), weight_kg=kg)
    return None


def _cell(meta: TableMeta, table, ige: Measurement, kg: float) -> Lookup:
    """Inputs inside the limits: the cell, or why it may not dose."""
    if table is None:  # not verified: name the table and, where the layout is known, the band
        ige_edges, w_edges = meta.ige_edges, meta.weight_edges
        ib = band_index(ige_edges, ige.value) if ige_edges else None
        wb = band_index(w_edges, kg) if w_edges else None
        ige_band = band_label(ige_edges, ib, "IU/mL", first_symbol="≥") if ib is not None else None
        w_band = band_label(w_edges, wb, "kg", first_symbol="") if wb is not None else None
        where = ""
        if ige_band or w_band:
            where = " The patient falls in " + ", ".join(
                x for x in (ige_band and f"IgE row {ige_band}", w_band and f"weight column {w_band}") if x)
            where += " (band layout as expected, not verified)." if meta.raw.get("edges_source") else "."
        else:
            where = f" Baseline IgE {_ige_words(ige)}, weight {fmt_num(kg)} kg."
        return _Lookup("table-unverified", meta, ige_band, w_band,
                       reason=f"Not dosable automatically: use {meta.short_label} of the {meta.label} "
                              f"(its cells are not verified in this service).{where}", weight_kg=kg)

    cells = _cells_of(meta, table)
    ib = cells.band(table.ige_edges, ige.value)
    wb = cells.band(table.weight_edges, kg)
    assert ib is not None and wb is not None, "limits checked above"
    entry = cells.entries.get((ib, wb))
    if entry is None:
        entry = cells.entries[(ib, wb)] = _cell_entry(meta, table, ib, wb)
    return _Lookup(*entry, kg)


def _cell_entry(meta: TableMeta, table, ib: int, wb: int) -> tuple:
    """Everything of a verified cell's Lookup but the patient's weight (Lookup's fields in order, without
    weight_kg): the bands' labels, the outcome and its words depend on the table and the cell only."""
    ige_band = band_label(table.ige_edges, ib, "IU/mL", first_symbol="≥")
    w_band = band_label(table.weight_edges, wb, "kg", first_symbol="")
    lo_i, lo_w = table.ige_edges[ib], table.weight_edges[wb]
    cell: Cell = table.cell_at(lo_i, lo_w)
    where = f"{meta.short_label}, IgE {ige_band}, {w_band}"
    if not cell.verified:
        return ("unverified-cell", meta, ige_band, w_band, None, None,
                f"Not dosable automatically: the cell {where} is not verified in this service; "
                f"use {meta.short_label} of the {meta.label}.", (), None)
    if cell.outcome == "insufficient-data":
        return ("insufficient-data", meta, ige_band, w_band, None, None,
                f"{where}: the label gives no dose (insufficient data to recommend a dose).", (), None)
    if cell.outcome.startswith("see-table:"):
        other = table_meta(cell.outcome.split(":", 1)[1])
        return ("see-table", meta, ige_band, w_band, None, None,
                f"{where}: the dose is in {other.short_label} (every-2-weeks table), which is not verified "
                f"in this service. Not dosable automatically: use {other.short_label} of the {other.label}.", (),
                other)
    return ("dose", meta, ige_band, w_band, cell.dose_mg, cell.interval_weeks, "", (), None)


class _TableCells:
    """A verified table's cells as `_cell` reads them, filled once per process: each cell's Lookup fields
    (bands' labels, outcome, words) the first time a patient falls in it, so a lookup is two bisections, a
    dict look-up and the Lookup (callgrind: `_cell` ~21K -> ~12K instructions, `lookup` ~30K -> ~18K; two
    band_index loops, two band_label cache calls hashing the edge tuples, cell_at and the f-strings per
    request before). A cell's
    entry is built on first use, not at load, so a bad cell (a see-table target file missing) fails only
    the lookups that reach it, as before."""

    __slots__ = ("meta", "table", "entries")

    def __init__(self, meta: TableMeta, table) -> None:
        self.meta, self.table = meta, table  # held: the cache is keyed by their ids
        self.entries: dict[tuple[int, int], tuple] = {}

    @staticmethod
    def band(edges: tuple[float, ...], x: float) -> int | None:
        """`band_index` for a table's edges (sorted, distinct: built from the cells' set), by bisection: the
        first edge at or above x, from the second on, ends x's band; outside [first, last] (or NaN): None."""
        if len(edges) < 2:
            return band_index(edges, x)
        if not (edges[0] <= x <= edges[-1]):
            return None
        return bisect_left(edges, x, 1) - 1


_TABLE_CELLS: dict[tuple[int, int], _TableCells] = {}


def _cells_of(meta: TableMeta, table) -> _TableCells:
    cells = _TABLE_CELLS.get((id(meta), id(table)))
    if cells is None or cells.meta is not meta or cells.table is not table:
        cells = _TABLE_CELLS[(id(meta), id(table))] = _TableCells(meta, table)
    return cells


def band_of(table_id: str, weight_kg: float) -> str | None:
    """Weight column label of a verified table (for 'weight moved to another band')."""
    table = dose_table(table_id)
    if table is None:
        return None
    i = band_index(table.weight_edges, round_weight(weight_kg))
    return None if i is None else band_label(table.weight_edges, i, "kg", first_symbol="")
