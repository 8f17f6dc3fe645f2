"""The demo patients in memory: loaded once, dates shifted so the data stays recent, searchable.

Why shift dates: the bundles store absolute dates anchored at ANCHOR_DATE (2026-11-01). Left alone they
would age out (a weight older than 3 months is "stale", an eosinophil count older than 12 months drops
out of the "last 12 months" rule) and the demo answers would change with the calendar. Every date and
dateTime is moved by (today - ANCHOR_DATE) days at load time, birth dates included, so ages and
intervals stay exactly as designed. "Today" is CDS_CLOCK when set (the same clock the service uses).

The raw JSON is read once (functools.cache); the shifted copy is cached per "today".
"""
from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import cache, lru_cache
from importlib import resources
from typing import Any, Iterable

from .build_patients import ANCHOR
from .fhir_search import TypeIndex

ANCHOR_DATE = date.fromisoformat(ANCHOR)  # one anchor: the generator wrote the bundles at it
RESOURCE_TYPES = ("Patient", "Observation", "Condition", "MedicationRequest", "MedicationStatement",
                  "AllergyIntolerance")

_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DATETIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$")


def _read_json(name: str) -> Any:
    return json.loads(resources.files("demo").joinpath("patients", name).read_text(encoding="utf-8"))


@cache
def raw_index() -> dict:
    """demo/patients/index.json: patients (slug, scenario, expected answer) and order drafts."""
    return _read_json("index.json")


@cache
def _raw_bundles() -> tuple[tuple[str, dict], ...]:
    return tuple((p["slug"], _read_json(p["file"])) for p in raw_index()["patients"])


@cache
def _raw_drafts() -> tuple[tuple[str, dict], ...]:
    return tuple((d["id"], _read_json(d["file"])) for d in raw_index()["drafts"])


def shift_dates(value: Any, days: int) -> Any:
    """A deep copy of `value` with every FHIR date / dateTime string moved by `days` days.

    Only strings that are entirely a date or a zoned dateTime are touched, so codes ("2462-0"),
    text and ids are left alone. Partial dates (year, year-month) are not used in the bundles.
    """
    if isinstance(value, dict):
        return {k: shift_dates(v, days) for k, v in value.items()}
    if isinstance(value, list):
        return [shift_dates(v, days) for v in value]
    if isinstance(value, str) and days:
        if _DATE_RE.match(value):
            return (date.fromisoformat(value) + timedelta(days=days)).isoformat()
        if _DATETIME_RE.match(value):
            moved = datetime.fromisoformat(value.replace("Z", "+00:00")) + timedelta(days=days)
            text = moved.isoformat()
            return text.replace("+00:00", "Z") if value.endswith("Z") else text
    return value


_TEXT_DATE_RE = re.compile(r"(?<![\d-])(\d{4}-\d{2}-\d{2})(?![\d-])")


def shift_text_dates(value: Any, days: int) -> Any:
    """Like shift_dates, for dates written inside free text (index.json summaries and notes)."""
    if isinstance(value, dict):
        return {k: shift_text_dates(v, days) for k, v in value.items()}
    if isinstance(value, list):
        return [shift_text_dates(v, days) for v in value]
    if isinstance(value, str) and days:
        def move(m: re.Match) -> str:
            try:
                return (date.fromisoformat(m.group(1)) + timedelta(days=days)).isoformat()
            except ValueError:
                return m.group(1)
        return _TEXT_DATE_RE.sub(move, value)
    return value


@dataclass
class DemoStore:
    """All demo resources for one "today", indexed by type and id."""

    today: date
    shift_days: int
    by_type: dict[str, dict[str, dict]] = field(default_factory=dict)
    bundles: dict[str, dict] = field(default_factory=dict)
    drafts: dict[str, dict] = field(default_factory=dict)
    indexes: dict[str, TypeIndex] = field(default_factory=dict, repr=False)
    # (type, id) -> the resource as the server writes it (json.dumps, ensure_ascii=False), once
    texts: dict[tuple[str, str], str] = field(default_factory=dict, repr=False)

    def read(self, resource_type: str, resource_id: str) -> dict | None:
        found = self.by_type.get(resource_type, {}).get(resource_id)
        return copy.deepcopy(found) if found is not None else None

    def all_of(self, resource_type: str) -> Iterable[dict]:
        return self.by_type.get(resource_type, {}).values()

    def text_of(self, resource: dict) -> str:
        """`json.dumps(resource, ensure_ascii=False)` of a resource of this store, encoded once."""
        return self.texts[resource["resourceType"], resource["id"]]

    def index_of(self, resource_type: str) -> TypeIndex:
        """The resources of `resource_type` indexed for `fhir_search.search` (built by `store_for`:
        the store is never changed after it is built)."""
        return self.indexes.get(resource_type) or TypeIndex(())

    def draft_for(self, draft_id: str, patient_id: str) -> dict | None:
        """A draft MedicationRequest with its subject set to `patient_id`."""
        draft = self.drafts.get(draft_id)
        if draft is None:
            return None
        out = copy.deepcopy(draft)
        out["subject"] = {"reference": f"Patient/{patient_id}"}
        return out


@lru_cache(maxsize=4)
def store_for(today: date) -> DemoStore:
    """The demo data as of `today` (ANCHOR_DATE maps to `today`)."""
    days = (today - ANCHOR_DATE).days
    store = DemoStore(today=today, shift_days=days,
                      by_type={t: {} for t in RESOURCE_TYPES})
    for slug, bundle in _raw_bundles():
        shifted = shift_dates(bundle, days)
        store.bundles[slug] = shifted
        for entry in shifted.get("entry", []):
            res = entry["resource"]
            bucket = store.by_type.setdefault(res["resourceType"], {})
            if res["id"] in bucket:
                raise ValueError(f"duplicate demo resource id {res['resourceType']}/{res['id']}")
            bucket[res["id"]] = res
    for draft_id, draft in _raw_drafts():
        store.drafts[draft_id] = shift_dates(draft, days)
    store.indexes = {t: TypeIndex(bucket.values()) for t, bucket in store.by_type.items()}
    store.texts = {(t, rid): json.dumps(res, ensure_ascii=False)
                   for t, bucket in store.by_type.items() for rid, res in bucket.items()}
    return store


def patient_index(today: date) -> list[dict]:
    """index.json's patient list as of `today`: dates written in the summaries shifted like the data."""
    return shift_text_dates(raw_index()["patients"], (today - ANCHOR_DATE).days)
