"""Validation of the FHIR elements the mappings read, and only those (fast, no model objects).

Why not the full fhir.resources model per resource: validating one Observation with the R4B model
costs 0.3-0.6 ms (pydantic plus Python-level validators on every nested element), so a
patient-view whose prefetch holds 1,000 Observations spent 300-600 ms validating fields no decision
reads (meta, referenceRange, performer, ...).  A resource must not be dropped because of an element
nobody uses, and must be dropped when an element a decision uses is malformed: so this module checks
exactly the elements `extract.py`, `observations.py` and `medications.py` read, with the FHIR R4
datatype rules of fhir_core (the library behind fhir.resources): its regular expressions for
date, dateTime, instant, decimal, code, id; real calendar dates; required elements; one value per
choice element.  It is never stricter than the library on those elements
(tests/perf/test_used_element_validation.py checks that against fhir.resources).

Keep `SCHEMAS` in step with the mappings: an element a mapping starts reading is added here.
"""
from __future__ import annotations

import math
import re
from datetime import date
from functools import cache
from typing import Any, Callable

from fhir_core import types as _t

_DATE = _t.Date.pattern
_DATETIME = _t.DateTime.pattern
_INSTANT = _t.Instant.pattern
_DECIMAL = re.compile(r"-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?")  # fhir_core Decimal.pattern
_CODE = re.compile(r"[^\s]+(\s[^\s]+)*")
_ID = re.compile(r"[A-Za-z0-9\-.]+")  # fhir_core does not bound the length
_STRING = re.compile(r"[ \r\n\t\S]+")  # fhir_core matches these two unanchored (search):
_URI = re.compile(r"\S*")  # a string with one character / any string passes
_FULL_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
_LAX_BOOL = (True, False, 0, 1, "true", "false", "True", "False", "1", "0", "yes", "no", "on", "off",
             "t", "f", "y", "n")

# -- primitives: each check returns None (valid) or a list of "path: problem" strings ------------
Check = Callable[[Any], "list[str] | None"]


def _real_date(value: str) -> bool:
    """After the pattern matched: is the date part a real calendar date (no 30 February)?"""
    if len(value) < 10 or value[8:10] <= "28":
        return True  # partial date (the pattern bounds the month), or a day every month has
    try:
        date.fromisoformat(value[:10])  # the pattern made it YYYY-MM-DD, one C call
    except ValueError:
        return False
    return True


def _temporal(pattern: re.Pattern, kind: str) -> Check:
    fullmatch = pattern.fullmatch

    def check(v: Any) -> list[str] | None:
        if type(v) is str:
            if not fullmatch(v):
                return [f": {kind} value {v[:40]!r} does not match the FHIR {kind} format"]
            if not _real_date(v):
                return [f": {kind} value {v[:40]!r} is not a real calendar date"]
            return None
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            return None  # pydantic (lax) reads a number as a Unix time; the mappings read no date from it
        return [f": {kind} must be a string"]
    check.__name__ = kind  # names the check in the compiled predicates' source
    return check


def _regex(pattern: re.Pattern, kind: str, anchored: bool = True) -> Check:
    match = pattern.fullmatch if anchored else pattern.search
    problem = [f": not a valid FHIR {kind}"]

    def check(v: Any) -> list[str] | None:
        if type(v) is str and match(v):
            return None
        return problem
    check.__name__ = kind
    return check


def _string(v: Any) -> list[str] | None:
    # fhir_core's string pattern [ \r\n\t\S]+ is matched unanchored: any non-empty string passes
    return None if type(v) is str and v else [": not a valid FHIR string"]


def _uri(v: Any) -> list[str] | None:
    return None if type(v) is str else [": not a valid FHIR uri"]  # pattern \S* matched unanchored


def _decimal(v: Any) -> list[str] | None:
    t = type(v)
    if t is int or (t is float and math.isfinite(v)):
        return None
    if t is str and _DECIMAL.fullmatch(v):
        return None
    return [": not a valid FHIR decimal"]


def _positive_int(v: Any) -> list[str] | None:
    if isinstance(v, int) and v > 0:  # True included: pydantic (lax) reads it as 1
        return None
    if isinstance(v, str) and re.fullmatch(r"\+?[1-9][0-9]*", v):
        return None
    if isinstance(v, float) and v.is_integer() and v > 0:
        return None
    return [": not a valid FHIR positiveInt"]


def _boolean(v: Any) -> list[str] | None:
    return None if isinstance(v, (bool, int, str)) and v in _LAX_BOOL else [": not a valid FHIR boolean"]


STRING = _string
CODE = _regex(_CODE, "code")
URI = _uri
ID = _regex(_ID, "id")
DATE = _temporal(_DATE, "date")
DATETIME = _temporal(_DATETIME, "dateTime")
INSTANT = _temporal(_INSTANT, "instant")


# -- complex types ---------------------------------------------------------------------------
def _prefixed(name: str, problems: list[str]) -> list[str]:
    """Child problems under element `name`: ': msg' -> 'name: msg', '.x: msg' -> 'name.x: msg'."""
    return [name + p for p in problems]


class Struct:
    """A complex datatype or resource: the elements read, required elements, choice groups."""

    def __init__(self, name: str, fields: dict[str, Any], required: tuple[str, ...] = (),
                 choices: tuple[str, ...] = ()) -> None:
        self.name, self.fields, self.required, self.choices = name, fields, required, choices
        self._items = tuple((k, _as_check(v)) for k, v in fields.items())
        self._complex = frozenset(k for k, v in fields.items() if isinstance(v, (Struct, ListOf)))

    def __call__(self, value: Any) -> list[str] | None:
        if type(value) is not dict:
            return [f": must be a {self.name} (JSON object)"]
        out: list[str] | None = None
        for name, check in self._items:
            item = value.get(name)
            if item is not None:
                problems = check(item)
                if problems:
                    out = (out or []) + _prefixed("." + name, problems)
        for name in self.required:
            # fhir_core: a missing complex element, or a missing/null primitive, is an error; an
            # explicit null complex element is accepted (and then carries nothing)
            if name not in value or (value[name] is None and name not in self._complex):
                out = (out or []) + [f".{name}: required"]
        for choice in self.choices:
            n = len(choice)
            present = [k for k in value if k.startswith(choice) and k[n:n + 1].isupper() and value[k] is not None]
            if len(present) > 1:
                out = (out or []) + [f".{choice}[x]: only one of {', '.join(sorted(present))} is allowed"]
        return out


class ListOf:
    def __init__(self, spec: Any) -> None:
        self.spec = spec
        self._check = _as_check(spec)

    def __call__(self, value: Any) -> list[str] | None:
        if type(value) is not list:
            return [": must be a list"]
        out: list[str] | None = None
        check = self._check
        for i, element in enumerate(value):
            if element is not None:
                problems = check(element)
                if problems:
                    out = (out or []) + _prefixed(f"[{i}]", problems)
        return out


def _as_check(spec: Any) -> Check:
    return spec


CODING = Struct("Coding", {"system": URI, "code": CODE, "display": STRING, "version": STRING,
                           "userSelected": _boolean})
CODEABLE = Struct("CodeableConcept", {"coding": ListOf(CODING), "text": STRING})
REFERENCE = Struct("Reference", {"reference": STRING, "display": STRING, "type": URI})
QUANTITY = Struct("Quantity", {"value": _decimal, "comparator": CODE, "unit": STRING, "system": URI,
                               "code": CODE})
PERIOD = Struct("Period", {"start": DATETIME, "end": DATETIME})
RANGE = Struct("Range", {"low": QUANTITY, "high": QUANTITY})
DOSAGE = Struct("Dosage", {
    "text": STRING,
    "route": CODEABLE,
    "timing": Struct("Timing", {"repeat": Struct("TimingRepeat", {
        "boundsPeriod": PERIOD, "frequency": _positive_int, "period": _decimal, "periodUnit": CODE})}),
    "doseAndRate": ListOf(Struct("DosageDoseAndRate", {"doseQuantity": QUANTITY, "doseRange": RANGE},
                                 choices=("dose",))),
})

# meta: read by nobody, but a malformed meta (lastUpdated, profile) marks a resource the EHR did not
# produce correctly, and the mappings' tests rely on such a resource being skipped.
META = Struct("Meta", {"versionId": ID, "lastUpdated": INSTANT, "source": URI, "profile": ListOf(URI)})

SCHEMAS: dict[str, Struct] = {
    "Patient": Struct("Patient", {"id": ID, "birthDate": DATE}),
    "Observation": Struct("Observation", {
        "id": ID, "status": CODE, "code": CODEABLE, "subject": REFERENCE,
        "effectiveDateTime": DATETIME, "effectivePeriod": PERIOD, "effectiveInstant": INSTANT,
        "issued": INSTANT, "valueQuantity": QUANTITY, "dataAbsentReason": CODEABLE, "specimen": REFERENCE,
        "component": ListOf(Struct("ObservationComponent", {
            "code": CODEABLE, "valueQuantity": QUANTITY, "dataAbsentReason": CODEABLE},
            required=("code",), choices=("value",))),
    }, required=("status", "code"), choices=("effective", "value")),
    "Condition": Struct("Condition", {
        "id": ID, "clinicalStatus": CODEABLE, "verificationStatus": CODEABLE, "code": CODEABLE,
        "subject": REFERENCE, "onsetDateTime": DATETIME, "onsetPeriod": PERIOD,
        "abatementDateTime": DATETIME, "abatementPeriod": PERIOD, "abatementString": STRING,
        "abatementBoolean": _boolean, "recordedDate": DATETIME,
    }, required=("subject",), choices=("onset", "abatement")),
    "AllergyIntolerance": Struct("AllergyIntolerance", {
        "id": ID, "clinicalStatus": CODEABLE, "verificationStatus": CODEABLE, "type": CODE,
        "category": ListOf(CODE), "criticality": CODE, "code": CODEABLE, "patient": REFERENCE,
        "onsetDateTime": DATETIME, "recordedDate": DATETIME,
        "reaction": ListOf(Struct("AllergyIntoleranceReaction", {
            "substance": CODEABLE, "manifestation": ListOf(CODEABLE)}, required=("manifestation",))),
    }, required=("patient",), choices=("onset",)),
    "MedicationRequest": Struct("MedicationRequest", {
        "id": ID, "status": CODE, "intent": CODE, "medicationCodeableConcept": CODEABLE,
        "medicationReference": REFERENCE, "subject": REFERENCE, "authoredOn": DATETIME,
        "dosageInstruction": ListOf(DOSAGE),
        "dispenseRequest": Struct("MedicationRequestDispenseRequest", {"validityPeriod": PERIOD}),
    }, required=("status", "intent", "subject"), choices=("medication",)),
    "MedicationStatement": Struct("MedicationStatement", {
        "id": ID, "status": CODE, "medicationCodeableConcept": CODEABLE, "medicationReference": REFERENCE,
        "subject": REFERENCE, "effectiveDateTime": DATETIME, "effectivePeriod": PERIOD,
        "dateAsserted": DATETIME, "dosage": ListOf(DOSAGE),
    }, required=("status", "subject"), choices=("medication", "effective")),
    "Medication": Struct("Medication", {
        "id": ID, "code": CODEABLE,
        "ingredient": ListOf(Struct("MedicationIngredient", {
            "itemCodeableConcept": CODEABLE, "itemReference": REFERENCE}, choices=("item",))),
    }),
}
_MEDICATION_REQUIRED = ("MedicationRequest", "MedicationStatement")


# -- compiled predicates: the fast path for valid input -------------------------------------------
# The interpreter above walks the schema generically (a call, a dict lookup and a list build per
# element) and costs ~10 us per resource, although nearly every resource is valid.  `compile_valid`
# turns a Struct into one generated Python function that only answers "valid?" (no problem texts):
# the checks of nested complex types are written inline (a Python call costs about as much as twenty
# simple bytecodes here), and so are the cheap primitive checks.  When it says "invalid", the
# interpreter runs to produce the exact problem texts, so the texts cannot drift; the predicate
# equals `spec(value) is None` (tests/mappings/test_used_elements_compiled.py checks that on
# valid, mutated and junk input).

# The usual full date / dateTime / instant shapes, as patterns whose every match the fhir_core pattern
# also matches (a year 1000-9999, no fraction, seconds below 60): about half the matching cost of the
# general patterns (their year alternation backtracks).  A string they refuse takes the general pattern.
_YMD = r"[1-9][0-9]{3}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])"
_HMS_TZ = r"T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:Z|[+\-](?:0[0-9]|1[0-3]):[0-5][0-9])"
_USUAL = {"date": re.compile(_YMD), "datetime": re.compile(f"{_YMD}(?:{_HMS_TZ})?"),
          "instant": re.compile(_YMD + _HMS_TZ)}

# primitive check -> expression template over a variable, True when the check returns None.
# The real-date test is _real_date's own first test inline (a day 01-28, or a partial date), the call
# only for days 29-31.
_TEMPORAL_OK = ("(((_{k}_usual({{x}}) is not None or _{k}_fullmatch({{x}}) is not None) "
                "and ({{x}}[8:10] <= '28' or _real_date({{x}}))) if type({{x}}) is str else {K}({{x}}) is None)")
_INLINE = {
    STRING: "(type({x}) is str and {x} != '')",
    URI: "(type({x}) is str)",
    # one run of non-space characters, the usual code, needs no regex: a printable string holds no
    # whitespace but ' ' (test_used_elements_compiled checks every code point)
    CODE: "(type({x}) is str and (({x}.isprintable() and ' ' not in {x} and {x} != '') "
          "or _code_fullmatch({x}) is not None))",
    ID: "(type({x}) is str and _id_fullmatch({x}) is not None)",
    # the int / finite float of JSON numbers inline; anything else (a str, a bool) the check itself
    _decimal: "(type({x}) is int or (type({x}) is float and _isfinite({x})) or _check_decimal({x}) is None)",
    # a string: the pattern and a real date; anything else: the check itself (numbers pass)
    DATE: _TEMPORAL_OK.format(k="date", K="DATE"),
    DATETIME: _TEMPORAL_OK.format(k="datetime", K="DATETIME"),
    INSTANT: _TEMPORAL_OK.format(k="instant", K="INSTANT"),
}
_INLINE_NS = {"_code_fullmatch": _CODE.fullmatch, "_id_fullmatch": _ID.fullmatch, "_isfinite": math.isfinite,
              "_check_decimal": _decimal, "_date_fullmatch": _DATE.fullmatch,
              "_datetime_fullmatch": _DATETIME.fullmatch, "_instant_fullmatch": _INSTANT.fullmatch,
              "_date_usual": _USUAL["date"].fullmatch, "_datetime_usual": _USUAL["datetime"].fullmatch,
              "_instant_usual": _USUAL["instant"].fullmatch,
              "_real_date": _real_date, "DATE": DATE, "DATETIME": DATETIME, "INSTANT": INSTANT}
_INLINE_DEPTH = 8  # nested types deeper than this are called, not inlined (the schemas are 5 deep)
_SHAPES_LIMIT = 4096  # key tuples remembered per choice rule: the shapes EHRs send; the bound stops junk


def _choices_exact(value: dict, choices: tuple[str, ...]) -> bool:
    """Struct.__call__'s choice rule, one pass over the keys."""
    seen: set[str] = set()
    for k in value:
        if k.startswith(choices):
            for choice in choices:
                n = len(choice)
                if k.startswith(choice) and k[n:n + 1].isupper() and value[k] is not None:
                    if choice in seen:
                        return False
                    seen.add(choice)
    return True


def _choice_groups(keys: tuple, choices: tuple[str, ...]) -> tuple[tuple[str, ...], ...]:
    """The keys that name an element of each choice group (`_choices_exact`'s key test), for the groups
    with two or more: only those can break the rule, and only when two of their values are not null."""
    out = []
    for choice in choices:
        n = len(choice)
        group = tuple(k for k in keys if k.startswith(choice) and k[n:n + 1].isupper())
        if len(group) > 1:
            out.append(group)
    return tuple(out)


def _choice_rule(choices: tuple[str, ...]) -> Callable[[dict], bool]:
    """`_choices_exact(value, choices)` by the shape of `value` (its tuple of keys): which keys fall in
    which choice group depends on the key names only, and is worked out once per shape (a resource
    type's shapes are few: the elements an EHR fills), so the usual call is a tuple, one dict lookup,
    and nothing to count.  A key that is not a string raises AttributeError, as in the interpreter."""
    shapes: dict[tuple, tuple[tuple[str, ...], ...]] = {}

    def rule(value: dict) -> bool:
        keys = tuple(value)
        groups = shapes.get(keys)
        if groups is None:
            groups = _choice_groups(keys, choices)
            if len(shapes) < _SHAPES_LIMIT:
                shapes[keys] = groups
        for group in groups:
            if sum(value[k] is not None for k in group) > 1:
                return False
        return True
    rule.shapes = shapes  # the compiled predicates skip the call for a known shape without groups
    return rule


def _flat(spec: Any) -> bool:
    """A Struct of primitive elements only, with no required or choice elements (Coding)."""
    return (isinstance(spec, Struct) and not spec.required and not spec.choices
            and not any(isinstance(c, (Struct, ListOf)) for c in spec.fields.values()))


class _Compiler:
    """Generates the source of one `def` for a spec (nested types inline), and executes it once."""

    def __init__(self) -> None:
        self.ns: dict[str, Any] = dict(_INLINE_NS)
        self.consts: dict[int, str] = {}
        self.defs: list[str] = []

    def _const(self, obj: Any, prefix: str = "_check") -> str:
        if id(obj) not in self.consts:
            name = self.consts[id(obj)] = f"{prefix}{len(self.consts)}_{getattr(obj, '__name__', '').strip('_')}"
            self.ns[name] = obj
        return self.consts[id(obj)]

    def _primitive(self, spec: Any, x: str) -> str:
        """An expression that is True when the primitive check `spec` accepts the (non-None) value in `x`."""
        if spec in _INLINE:
            return _INLINE[spec].format(x=x)
        return f"({self._const(spec)}({x}) is None)"  # decimal, boolean, positiveInt: the check itself

    def check(self, spec: Any, x: str, depth: int, pad: str) -> list[str]:
        """Lines that `return False` unless `spec` accepts the (non-None) value in variable `x`."""
        if isinstance(spec, Struct):
            if depth > _INLINE_DEPTH:
                return [f"{pad}if not {self._const(compile_valid(spec), '_struct')}({x}):", f"{pad}    return False"]
            return self.struct_lines(spec, x, depth, pad)
        if isinstance(spec, ListOf):
            e = f"e{depth}"
            return [f"{pad}if type({x}) is not list:", f"{pad}    return False",
                    f"{pad}for {e} in {x}:", f"{pad}    if {e} is not None:",
                    *self.check(spec.spec, e, depth + 1, pad + "        ")]
        return [f"{pad}if not {self._primitive(spec, x)}:", f"{pad}    return False"]

    def struct_lines(self, spec: Struct, v: str, depth: int, pad: str, extra: dict | None = None) -> list[str]:
        # `'k' in v` then `v['k']`: two specialised bytecodes with no call (a bound `v.get` costs a
        # method object and a C call per element, most of them absent)
        lines = [f"{pad}if type({v}) is not dict:", f"{pad}    return False"]
        fields = {**spec.fields, **(extra or {})}
        for field, check in fields.items():
            x = f"x{depth}"
            lines.append(f"{pad}if {field!r} in {v}:")
            lines.append(f"{pad}    {x} = {v}[{field!r}]")
            lines.append(f"{pad}    if {x} is not None:")
            lines += self.check(check, x, depth + 1, pad + "        ")
        for field in spec.required:
            if field in spec._complex:  # a missing complex element; an explicit null one is accepted
                lines += [f"{pad}if {field!r} not in {v}:", f"{pad}    return False"]
            else:  # a missing or null primitive
                lines += [f"{pad}if {v}.get({field!r}) is None:", f"{pad}    return False"]
        if spec.choices:
            # the usual shape was seen before and has no two keys of one group (its groups: ()): no call
            fn = _choice_rule(spec.choices)
            rule = self._const(fn, "_choices")
            shapes = self._const(fn.shapes, "_shapes")
            lines += [f"{pad}if {shapes}.get(tuple({v})) != () and not {rule}({v}):", f"{pad}    return False"]
        return lines

    def build(self, spec: Struct, *, meta: bool = False, medication_required: bool = False) -> Callable[[Any], bool]:
        """The predicate for `spec`; with `meta`, also META's for a non-null meta element (a resource's
        whole used_element_problem test), with `medication_required`, also the medication[x] rule."""
        name = f"_valid_{spec.name}"
        lines = [f"def {name}(value):"]
        lines += self.struct_lines(spec, "value", 0, "    ", {"meta": META} if meta else None)
        if medication_required:
            lines += ["    if 'medicationCodeableConcept' not in value and 'medicationReference' not in value:",
                      "        return False"]
        lines.append("    return True")
        source = "\n".join(lines)
        exec(compile(source, f"<used_elements compiled {spec.name}>", "exec"), self.ns)  # noqa: S102
        fn = self.ns[name]
        fn.source = source  # for reading and debugging
        return fn


def compile_valid(spec: Struct) -> Callable[[Any], bool]:
    """A predicate equal to `spec(value) is None`, generated once from the schema."""
    return _Compiler().build(spec)


@cache
def _valid_for(rtype: str) -> Callable[[Any], bool] | None:
    """The compiled predicate of a resource type's schema (or META's), built on first use."""
    schema = META if rtype == "Meta" else SCHEMAS.get(rtype)
    return compile_valid(schema) if schema is not None else None


_RESOURCE_VALID: dict[str, Callable[[Any], bool]] = {}


def _resource_valid(rtype: str) -> Callable[[Any], bool]:
    """A resource type's whole test (its schema, its meta, the medication[x] rule) as one function, built
    on first use: `used_element_problem` is None exactly when it says True."""
    fn = _RESOURCE_VALID.get(rtype)
    if fn is None:
        fn = _RESOURCE_VALID[rtype] = _Compiler().build(
            SCHEMAS[rtype], meta="meta" not in SCHEMAS[rtype].fields,
            medication_required=rtype in _MEDICATION_REQUIRED)
    return fn


def resource_valid(rtype: str) -> Callable[[Any], bool]:
    """The compiled whole-resource test `used_element_problem` runs first for `rtype` (a key of SCHEMAS):
    True exactly when it returns None.  For a caller that validates many resources of a type it already
    knows (extract's Observations): one call per resource instead of three, the problem text still
    from `used_element_problem` when this says False."""
    return _RESOURCE_VALID.get(rtype) or _resource_valid(rtype)


# The Observation test for a result extract read by its usual path (extract._observations): that path
# took only a status in USED_STATUSES, one code.coding with a usable LOINC code and the system
# 'http://loinc.org', a subject whose reference is a non-empty string ('Patient/<id>'), and a
# valueQuantity whose value is an int or a finite float and whose comparator is null or one of < <= >= >.
# Those checks passed when it read them, so this test leaves them out and checks the rest (the other
# elements, the coding's display/version/userSelected, code.text, subject display/type, the unit's
# spelling, meta, the required and choice rules): for such a resource it answers as resource_valid
# ('Observation') does (tests/mappings/test_used_elements_compiled.py).
_OBS = SCHEMAS["Observation"]
OBSERVATION_READ = Struct("Observation", {
    **{k: v for k, v in _OBS.fields.items() if k != "status"},
    "code": Struct("CodeableConcept", {"coding": ListOf(Struct("Coding", {
        "display": STRING, "version": STRING, "userSelected": _boolean})), "text": STRING}),
    "subject": Struct("Reference", {"display": STRING, "type": URI}),
    "valueQuantity": Struct("Quantity", {"unit": STRING, "system": URI, "code": CODE}),
}, required=_OBS.required, choices=_OBS.choices)


@cache
def observation_read_valid() -> Callable[[Any], bool]:
    """resource_valid('Observation') for a result read by extract's usual path (see OBSERVATION_READ)."""
    return _Compiler().build(OBSERVATION_READ, meta=True)


def used_element_problem(resource: dict) -> str | None:
    """None when every element the mappings read is valid FHIR R4, else a short description."""
    rtype = resource.get("resourceType")
    if rtype not in SCHEMAS:
        return None
    if (_RESOURCE_VALID.get(rtype) or _resource_valid(rtype))(resource):
        return None
    return _problem_text(resource, SCHEMAS[rtype])


def _problem_text(resource: dict, schema: Struct) -> str | None:
    """The reference path: every problem of the elements read, as text (None when there is none)."""
    rtype = resource.get("resourceType")
    out = schema(resource) or []
    meta = resource.get("meta")
    if meta is not None:
        out += _prefixed(".meta", META(meta) or [])
    if rtype in _MEDICATION_REQUIRED and "medicationCodeableConcept" not in resource \
            and "medicationReference" not in resource:
        out.append(".medication[x]: required")
    if not out:
        return None
    out = [p[1:] if p.startswith(".") else p for p in out]
    more = f" (+{len(out) - 3} more)" if len(out) > 3 else ""
    return "; ".join(out[:3]) + more
