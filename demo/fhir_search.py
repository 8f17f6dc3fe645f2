"""FHIR R4 search over the demo store: just the parameters the prefetch templates and the Sandbox use.

Why strict: a search parameter this server does not understand is answered with 400 (not silently
ignored, which real servers may do) so a prefetch template that steps outside what the demo supports
fails loudly in the tests instead of returning too much data.

Supported: `patient`/`subject` (id or Patient/id), token params `code`, `category`, `clinical-status`,
`verification-status` (system|code, |code, code, system|; comma = OR; repeated = AND), `status`,
`intent`, `type`, `_id`, date params (`date`, `authoredon`, `onset-date`, `recorded-date`,
`effective`, `birthdate`) with prefixes eq/lt/gt/le/ge, `_sort` (date, -date, _id, _lastUpdated),
`_count`. Patient also: `name`, `identifier`, `gender`.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timezone
from operator import itemgetter
from typing import Any, Callable, Iterable, Mapping, Sequence

IGNORED = frozenset({"_format", "_pretty", "_elements", "_total"})
DEFAULT_COUNT = 50
MAX_COUNT = 500


class SearchError(ValueError):
    """A search the demo server cannot answer: becomes a 400 OperationOutcome."""


def _codings(cc: Any) -> list[dict]:
    if isinstance(cc, dict):
        return [c for c in cc.get("coding", []) if isinstance(c, dict)]
    if isinstance(cc, list):
        return [c for item in cc for c in _codings(item)]
    return []


class TokenSet:
    """One token parameter value (FHIR token semantics; comma = OR), parsed once per search.

    "system|code": a coding with that system and code; "|code": that code without a system;
    "system|": any code of that system; "code": that code in any system. `matches` looks each
    coding up in sets: a coding field that is not a string cannot equal a parameter's string, so
    only strings are looked up (and a falsy system is "no system", as `not system` tells)."""

    __slots__ = ("codes", "codes_without_system", "systems", "pairs")

    def __init__(self, param_value: str) -> None:
        self.codes: set[str] = set()
        self.codes_without_system: set[str] = set()
        self.systems: set[str] = set()
        self.pairs: set[tuple[str, str]] = set()
        for alt in param_value.split(","):
            if not alt:
                continue
            if "|" not in alt:
                self.codes.add(alt)
                continue
            system, _, code = alt.partition("|")
            if not system:
                self.codes_without_system.add(code)
            elif not code:
                self.systems.add(system)
            else:
                self.pairs.add((system, code))

    def matches(self, codings: Sequence[dict]) -> bool:
        for c in codings:
            system, code = c.get("system"), c.get("code")
            if isinstance(system, str) and system in self.systems:
                return True
            if isinstance(code, str):
                if code in self.codes or (not system and code in self.codes_without_system):
                    return True
                if isinstance(system, str) and (system, code) in self.pairs:
                    return True
        return False


def _token_any(codings: Sequence[dict], param_value: str) -> bool:
    return TokenSet(param_value).matches(codings)


def _string_any(field_value: Any, param_value: str) -> bool:
    return isinstance(field_value, str) and field_value in param_value.split(",")


def _ref_id(reference: Any) -> str | None:
    if isinstance(reference, dict):
        ref = reference.get("reference")
        if isinstance(ref, str):
            return ref.rstrip("/").rsplit("/", 1)[-1]
    return None


def _as_datetime(text: str | None) -> datetime | None:
    """Parse a FHIR date/dateTime to an aware datetime (a date is its midnight UTC)."""
    if not isinstance(text, str) or len(text) < 10:
        return None
    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), time.min, tzinfo=timezone.utc)
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def _first(*values: Any) -> str | None:
    for value in values:
        if isinstance(value, str):
            return value
    return None


def clinical_date(resource: Mapping[str, Any]) -> str | None:
    """The date FHIR's `date`-like search parameter of each type refers to."""
    kind = resource.get("resourceType")
    if kind == "Observation":
        period = resource.get("effectivePeriod") or {}
        return _first(resource.get("effectiveDateTime"), resource.get("effectiveInstant"),
                      period.get("start"), resource.get("issued"))
    if kind == "Condition":
        return _first(resource.get("onsetDateTime"), resource.get("recordedDate"))
    if kind == "MedicationRequest":
        return _first(resource.get("authoredOn"))
    if kind == "MedicationStatement":
        period = resource.get("effectivePeriod") or {}
        return _first(resource.get("effectiveDateTime"), period.get("start"),
                      resource.get("dateAsserted"))
    if kind == "AllergyIntolerance":
        return _first(resource.get("recordedDate"), resource.get("onsetDateTime"))
    if kind == "Patient":
        return _first(resource.get("birthDate"))
    return None


def _date_match(value_text: str | None, param_value: str) -> bool:
    prefix, raw = ("eq", param_value)
    if len(param_value) > 2 and param_value[:2].isalpha():
        prefix, raw = param_value[:2], param_value[2:]
    if prefix not in ("eq", "lt", "gt", "le", "ge"):
        raise SearchError(f"date prefix {prefix!r} is not supported (eq, lt, gt, le, ge)")
    bound = _as_datetime(raw)
    if bound is None:
        raise SearchError(f"not a FHIR date: {raw!r}")
    value = _as_datetime(value_text)
    if value is None:
        return False
    if len(raw) == 10:  # a day: compare on the value's own calendar day
        day = date.fromisoformat(raw)
        vday = date.fromisoformat(value_text[:10])  # as written (local day of the record)
        return {"eq": vday == day, "lt": vday < day, "gt": vday > day,
                "le": vday <= day, "ge": vday >= day}[prefix]
    return {"eq": value == bound, "lt": value < bound, "gt": value > bound,
            "le": value <= bound, "ge": value >= bound}[prefix]


Matcher = Callable[[Mapping[str, Any], str], bool]


def _wanted_ids(value: str) -> set[str]:
    """The ids a reference parameter asks for ("id", "Patient/id"; comma = OR)."""
    return {v.rstrip("/").rsplit("/", 1)[-1] for v in value.split(",") if v}


def _subject_matcher(field_name: str) -> Matcher:
    def match(res: Mapping[str, Any], value: str) -> bool:
        return _ref_id(res.get(field_name)) in _wanted_ids(value)

    def compile_value(value: str) -> Callable[[Mapping[str, Any]], bool]:
        wanted = _wanted_ids(value)  # once per search
        return lambda res: _ref_id(res.get(field_name)) in wanted
    match.reference_field = field_name  # type: ignore[attr-defined]  # what TypeIndex narrows by
    match.compile = compile_value  # type: ignore[attr-defined]
    return match


def _token_matcher(getter: Callable[[Mapping[str, Any]], Any]) -> Matcher:
    def match(res: Mapping[str, Any], value: str) -> bool:
        return _token_any(_codings(getter(res)), value)

    def compile_value(value: str) -> Callable[[Mapping[str, Any]], bool]:
        tokens = TokenSet(value)  # parsed once per search, not once per resource
        return lambda res: tokens.matches(_codings(getter(res)))
    match.compile = compile_value  # type: ignore[attr-defined]
    return match


def _predicate(match: Matcher, value: str) -> Callable[[Mapping[str, Any]], bool]:
    """`match` bound to `value`: the matcher's own compiled form when it has one (the same answer)."""
    compile_value = getattr(match, "compile", None)
    if compile_value is not None:
        return compile_value(value)
    return lambda res: match(res, value)


def _string_matcher(field_name: str) -> Matcher:
    return lambda res, value: _string_any(res.get(field_name), value)


def _date_matcher(getter: Callable[[Mapping[str, Any]], str | None]) -> Matcher:
    return lambda res, value: _date_match(getter(res), value)


def _med_code(res: Mapping[str, Any]) -> Any:
    return res.get("medicationCodeableConcept")


def _category_codes(res: Mapping[str, Any]) -> Any:
    cat = res.get("category")
    if isinstance(cat, list) and all(isinstance(c, str) for c in cat):  # AllergyIntolerance: code list
        return {"coding": [{"system": "http://hl7.org/fhir/allergy-intolerance-category", "code": c}
                           for c in cat]}
    return cat


def _name_match(res: Mapping[str, Any], value: str) -> bool:
    words = []
    for name in res.get("name", []):
        words += [name.get("family", ""), name.get("text", "")] + list(name.get("given", []))
    return any(any(w.lower().startswith(v.lower()) for w in words if w) for v in value.split(","))


def _identifier_match(res: Mapping[str, Any], value: str) -> bool:
    for alt in value.split(","):
        system, _, code = alt.rpartition("|")
        for ident in res.get("identifier", []):
            if ident.get("value") == code and (not system or ident.get("system") == system):
                return True
    return False


_COMMON: dict[str, Matcher] = {"_id": lambda res, value: res.get("id") in value.split(",")}
PARAMS: dict[str, dict[str, Matcher]] = {
    "Patient": {"name": _name_match, "family": _name_match, "given": _name_match,
                "identifier": _identifier_match, "gender": _string_matcher("gender"),
                "birthdate": _date_matcher(lambda r: r.get("birthDate"))},
    "Observation": {"patient": _subject_matcher("subject"), "subject": _subject_matcher("subject"),
                    "code": _token_matcher(lambda r: r.get("code")),
                    "category": _token_matcher(_category_codes),
                    "status": _string_matcher("status"),
                    "date": _date_matcher(clinical_date)},
    "Condition": {"patient": _subject_matcher("subject"), "subject": _subject_matcher("subject"),
                  "code": _token_matcher(lambda r: r.get("code")),
                  "category": _token_matcher(_category_codes),
                  "clinical-status": _token_matcher(lambda r: r.get("clinicalStatus")),
                  "verification-status": _token_matcher(lambda r: r.get("verificationStatus")),
                  "onset-date": _date_matcher(lambda r: r.get("onsetDateTime")),
                  "recorded-date": _date_matcher(lambda r: r.get("recordedDate"))},
    "MedicationRequest": {"patient": _subject_matcher("subject"), "subject": _subject_matcher("subject"),
                          "code": _token_matcher(_med_code), "status": _string_matcher("status"),
                          "intent": _string_matcher("intent"),
                          "authoredon": _date_matcher(lambda r: r.get("authoredOn"))},
    "MedicationStatement": {"patient": _subject_matcher("subject"),
                            "subject": _subject_matcher("subject"),
                            "code": _token_matcher(_med_code), "status": _string_matcher("status"),
                            "effective": _date_matcher(clinical_date)},
    "AllergyIntolerance": {"patient": _subject_matcher("patient"),
                           "code": _token_matcher(lambda r: r.get("code")),
                           "category": _token_matcher(_category_codes),
                           "clinical-status": _token_matcher(lambda r: r.get("clinicalStatus")),
                           "verification-status": _token_matcher(lambda r: r.get("verificationStatus")),
                           "type": _string_matcher("type"),
                           "date": _date_matcher(clinical_date)},
}


@dataclass(frozen=True)
class SearchResult:
    matches: list[dict]  # every match, sorted
    offset: int
    count: int

    @property
    def page(self) -> list[dict]:
        return self.matches[self.offset:self.offset + self.count]

    @property
    def has_next(self) -> bool:
        return self.offset + self.count < len(self.matches)


def _sort_key(name: str) -> Callable[[Mapping[str, Any]], Any]:
    if name in ("date", "_lastUpdated", "authoredon", "onset-date", "recorded-date", "effective",
                "birthdate"):
        return lambda r: _as_datetime(clinical_date(r))
    if name == "_id":
        return lambda r: r.get("id")
    raise SearchError(f"_sort by {name!r} is not supported (date, _id, _lastUpdated)")


def _sort(resources: list[dict], spec: str) -> list[dict]:
    # Apply keys from last to first (stable sort); missing values always go last.
    # Each key is computed once per resource (a date key parses the resource's date).
    out = list(resources)
    for part in reversed([p.strip() for p in spec.split(",") if p.strip()]):
        desc = part.startswith("-")
        key = _sort_key(part.lstrip("-"))
        keyed = [(key(r), r) for r in out]
        present = [pair for pair in keyed if pair[0] is not None]
        present.sort(key=itemgetter(0), reverse=desc)
        out = [r for _, r in present] + [r for k, r in keyed if k is None]
    return out


def _int(name: str, value: str, minimum: int) -> int:
    try:
        number = int(value)
    except ValueError:
        raise SearchError(f"{name} must be an integer, got {value!r}") from None
    if number < minimum:
        raise SearchError(f"{name} must be >= {minimum}")
    return number


class TypeIndex:
    """The resources of one type (in store order) with their positions by reference id, built once
    for an immutable store, so that a search whose first filter is `patient`/`subject` tests only
    that patient's resources instead of every resource of the type.

    Why only the first filter: `search` evaluates filters in parameter order and stops at the first
    that fails, and a date filter with a bad value raises when it is evaluated. A resource of another
    patient fails the first filter before anything else is evaluated on it, so leaving it out changes
    neither the matches, nor their order (positions keep store order), nor which error is raised.
    """

    def __init__(self, resources: Iterable[dict]) -> None:
        self.resources: tuple[dict, ...] = tuple(resources)
        self._positions: dict[tuple[str, str], list[int]] = {}
        for pos, res in enumerate(self.resources):
            for field_name in ("subject", "patient"):
                ref = _ref_id(res.get(field_name))
                if ref is not None:
                    self._positions.setdefault((field_name, ref), []).append(pos)

    def __iter__(self):
        return iter(self.resources)

    def candidates(self, filters: Sequence[tuple[Matcher, str]]) -> tuple[Sequence[dict], bool]:
        """(resources, True): exactly the resources that pass the first filter, when it is a
        reference filter (the positions were filed by the same `_ref_id` the filter tests, and the
        filter has no side effect, so it need not run again); else (every resource, False)."""
        field_name = getattr(filters[0][0], "reference_field", None) if filters else None
        if field_name is None:
            return self.resources, False
        lists = [self._positions.get((field_name, ref), ()) for ref in _wanted_ids(filters[0][1])]
        positions = lists[0] if len(lists) == 1 else sorted(p for found in lists for p in found)
        return [self.resources[p] for p in positions], True


def search(resources: Iterable[dict], resource_type: str,
           params: Sequence[tuple[str, str]]) -> SearchResult:
    """Filter, sort and page `resources` of `resource_type` by FHIR search `params` (name, value).

    `resources` may be a `TypeIndex` of that type: then only the resources that can pass the first
    filter are tested (the same result; tests/demo/test_fhir_search_index.py compares the two).
    """
    matchers = _COMMON | PARAMS.get(resource_type, {})
    filters: list[tuple[Matcher, str]] = []
    sort_spec, count, offset = "", DEFAULT_COUNT, 0
    for name, value in params:
        if name in IGNORED:
            continue
        if name == "_sort":
            sort_spec = value
        elif name == "_count":
            count = min(_int("_count", value, 0), MAX_COUNT)
        elif name == "_getpagesoffset":
            offset = _int("_getpagesoffset", value, 0)
        elif name in matchers:
            filters.append((matchers[name], value))
        else:
            raise SearchError(f"search parameter {name!r} is not supported for {resource_type} "
                              f"by the demo FHIR server")
    predicates = [_predicate(match, value) for match, value in filters]
    if isinstance(resources, TypeIndex):
        resources, first_passed = resources.candidates(filters)
        if first_passed:
            del predicates[0]
    found = [r for r in resources if all(pred(r) for pred in predicates)]
    if sort_spec:
        found = _sort(found, sort_spec)
    return SearchResult(found, offset, count)
