"""Read-once access to the clinical data files (dose tables, therapy regimens, policy thresholds).

Clinical facts live in `clinical_core/data/` so that a clinician can review them without reading
Python; this module only parses them, once per process (functools.cache), and refuses a file whose
shape is wrong rather than guessing.
"""
from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from .decisions import Citation

DATA_DIR = Path(__file__).parent / "data"
DOSING_DIR = DATA_DIR / "dosing"

TABLE_IDS = ("us-asthma-12plus", "us-asthma-6to11", "us-crswnp", "us-food-allergy", "eu-q4w", "eu-q2w")


class KnowledgeError(RuntimeError):
    """A data file is missing or malformed: a deployment error, never a patient-data error."""


@dataclass(frozen=True, slots=True)
class Cell:
    ige_lower: float
    ige_upper: float
    weight_lower: float
    weight_upper: float
    outcome: str  # "dose" | "insufficient-data" | "see-table:<id>"
    dose_mg: int | None
    interval_weeks: int | None
    verified: bool
    source: str


@dataclass(frozen=True, slots=True)
class TableMeta:
    id: str
    region: str
    table_number: str | None
    short_label: str
    title: str
    label: str
    label_date: str
    age_min: int | None
    age_max: int | None
    ige_min: float | None
    ige_max: float | None
    weight_min: float | None
    weight_max: float | None
    verified: bool
    ige_edges: tuple[float, ...]
    weight_edges: tuple[float, ...]
    citation: Citation
    raw: dict[str, Any]

    @property
    def refer_text(self) -> str:
        return f"{self.short_label}" + (f" ({self.title})" if self.title else "")


@dataclass(frozen=True, slots=True)
class DoseTable:
    meta: TableMeta
    cells: tuple[Cell, ...]
    # Derived from the cells once, at construction (a table is read once per process; the lookup used to
    # re-sort the edges three times per patient).
    ige_edges: tuple[float, ...] = field(init=False, repr=False, compare=False)
    weight_edges: tuple[float, ...] = field(init=False, repr=False, compare=False)
    _by_lower: dict[tuple[float, float], Cell] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        cells = self.cells
        object.__setattr__(self, "ige_edges",
                           tuple(sorted({c.ige_lower for c in cells} | {c.ige_upper for c in cells})))
        object.__setattr__(self, "weight_edges",
                           tuple(sorted({c.weight_lower for c in cells} | {c.weight_upper for c in cells})))
        by_lower: dict[tuple[float, float], Cell] = {}
        for c in cells:
            by_lower.setdefault((c.ige_lower, c.weight_lower), c)
        object.__setattr__(self, "_by_lower", by_lower)

    def cell_at(self, ige_lower: float, weight_lower: float) -> Cell:
        """The first cell whose lower IgE and weight limits are these (a dict lookup; the scan is kept
        for keys a dict cannot find by equality, e.g. NaN)."""
        cell = self._by_lower.get((ige_lower, weight_lower))
        if cell is not None and cell.ige_lower == ige_lower and cell.weight_lower == weight_lower:
            return cell
        return next(c for c in self.cells if c.ige_lower == ige_lower and c.weight_lower == weight_lower)


def _load_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:  # pragma: no cover - deployment error
        raise KnowledgeError(f"cannot read {path.name}: {exc}") from exc


def _num(v: Any) -> float | None:
    return None if v is None else float(v)


@cache
def table_meta(table_id: str) -> TableMeta:
    raw = _load_json(DOSING_DIR / f"{table_id}.json")
    if raw.get("id") != table_id:
        raise KnowledgeError(f"{table_id}.json has id {raw.get('id')!r}")
    src = raw["sources"][0]
    label = raw.get("short_label") or raw["label"]
    return TableMeta(
        id=table_id,
        region=raw["region"],
        table_number=raw.get("table_number"),
        short_label=label,
        title=raw.get("table_title", ""),
        label=raw["label"],
        label_date=raw.get("label_date", ""),
        age_min=raw.get("age_min"),
        age_max=raw.get("age_max"),
        ige_min=_num(raw.get("ige_min")),
        ige_max=_num(raw.get("ige_max")),
        weight_min=_num(raw.get("weight_min")),
        weight_max=_num(raw.get("weight_max")),
        verified=bool(raw.get("verified")),
        ige_edges=tuple(float(x) for x in raw.get("ige_edges", ())),
        weight_edges=tuple(float(x) for x in raw.get("weight_edges", ())),
        citation=Citation(f"{raw['label']}, {label}" if raw.get("table_number") else raw["label"], src["url"]),
        raw=raw,
    )


@cache
def dose_table(table_id: str) -> DoseTable | None:
    """The cells of a table whose metadata says verified; None for a table that may not dose."""
    meta = table_meta(table_id)
    if not meta.verified or not meta.raw.get("cells"):
        return None
    cells: list[Cell] = []
    with open(DOSING_DIR / meta.raw["cells"], newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            outcome = row["outcome"]
            if outcome not in ("dose", "insufficient-data") and not outcome.startswith("see-table:"):
                raise KnowledgeError(f"{table_id}: unknown outcome {outcome!r}")
            dose = int(row["dose_mg"]) if row["dose_mg"] else None
            interval = int(row["interval_weeks"]) if row["interval_weeks"] else None
            if (outcome == "dose") != (dose is not None and interval is not None):
                raise KnowledgeError(f"{table_id}: cell {row} has an inconsistent dose")
            cells.append(Cell(float(row["ige_lower"]), float(row["ige_upper"]), float(row["weight_lower"]),
                              float(row["weight_upper"]), outcome, dose, interval,
                              row["verified"].strip().lower() == "true", row["source"]))
    table = DoseTable(meta, tuple(cells))
    # every (IgE band, weight band) pair exactly once: a hole or a duplicate would mis-dose
    pairs = {(c.ige_lower, c.weight_lower) for c in cells}
    ige_l = {c.ige_lower for c in cells}
    w_l = {c.weight_lower for c in cells}
    if len(pairs) != len(cells) or len(pairs) != len(ige_l) * len(w_l):
        raise KnowledgeError(f"{table_id}: the cells do not form a complete grid")
    return table


@cache
def policy() -> dict[str, dict[str, Any]]:
    raw = _load_json(DATA_DIR / "policy.json")
    values = raw["values"]
    for key, entry in values.items():
        if not {"value", "source", "note"} <= entry.keys():
            raise KnowledgeError(f"policy {key} lacks value/source/note")
    return values


def policy_value(key: str) -> float:
    return policy()[key]["value"]


class PolicyValues:
    """policy.json's values as plain attributes (`POLICY.egfr_warn_below`), resolved once.

    The rules read a dozen thresholds per patient; each `policy_value(key)` call was a function call,
    a cache call and two dict look-ups. The file stays the single source: every attribute is the very
    value object `policy_value(key)` returns, and a key the file lacks is an AttributeError, as it was
    a KeyError."""

    def __init__(self, values: dict[str, dict[str, Any]]) -> None:
        for key, entry in values.items():
            setattr(self, key, entry["value"])


@cache
def policy_values() -> PolicyValues:
    return PolicyValues(policy())


@cache
def _therapies_file() -> dict[str, Any]:
    """therapies.json, read once for its regimens, citations and label age limits."""
    return _load_json(DATA_DIR / "therapies.json")


def therapies() -> dict[str, dict[str, Any]]:
    return _therapies_file()["regimens"]


def label_age_limits() -> dict[str, dict[str, Any]]:
    """Youngest labelled age per agent (therapies.json label_age_limits, each with its source)."""
    return _therapies_file().get("label_age_limits", {})


@cache
def citations() -> dict[str, Citation]:
    raw = _therapies_file()["citations"]
    return {k: Citation(v["label"], v["url"]) for k, v in raw.items()}


def citation(key: str) -> Citation:
    return citations()[key]


@cache
def csu_fixed() -> dict[str, Any]:
    return _load_json(DOSING_DIR / "csu-fixed.json")
