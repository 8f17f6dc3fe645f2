"""Small, total helpers for raw FHIR JSON: dates, references, codings, bundles, validation.

Everything here accepts any input shape and returns None / empty instead of raising, because EHR
data is messy and one odd field must never cost the whole answer.
"""
from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from typing import Any

from .codesets import known_system
from .used_elements import used_element_problem

_DATE_RE = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$")
_PARTIAL_DATE_LENGTHS = frozenset((4, 7, 10))  # the only lengths _DATE_RE matches (on stripped text)
# every UTC offset datetime.fromisoformat accepts as '+hh:mm' / '-hh:mm' (under 24 h), and 'Z'
_UTC_OFFSETS = {f"{sign}{h:02d}:{m:02d}": timedelta(hours=h, minutes=m) * (-1 if sign == "-" else 1)
                for sign in "+-" for h in range(24) for m in range(60)}
_UTC_OFFSETS["Z"] = timedelta(0)
_fromisoformat = datetime.fromisoformat  # bound once: no class attribute lookup per result
_TYPE_NAME = re.compile(r"[A-Z][A-Za-z]+")  # the resource type in a reference ('Patient' in Patient/123)


def as_dict(x: Any) -> dict:
    return x if isinstance(x, dict) else {}


def as_list(x: Any) -> list:
    return x if isinstance(x, list) else []


def as_str(x: Any) -> str | None:
    return x if isinstance(x, str) and x.strip() else None


def parse_datetime(value: Any) -> tuple[datetime | None, str]:
    """A FHIR date/dateTime/instant as a naive UTC datetime, and its precision.

    Precision is 'year', 'month', 'day' or 'time'. Partial dates become the first instant of the
    period (the caller decides whether that precision is enough). Timezone-aware values are
    converted to UTC and made naive, so every datetime in the facts compares with every other.

    Every dated resource passes here, so it is written for speed (a quarter of the time of the
    straightforward version for the usual 'YYYY-MM-DDThh:mm:ss+hh:mm' or '...Z', which
    tests/mappings/test_fast_paths.py keeps and compares it with): the partial-date pattern is tried
    only on strings of its lengths; the usual shape is read as a naive time minus its offset, looked
    up in a table of every valid offset; anything else, or anything that shape's reading refuses,
    takes the general reading (offsets subtracted, not converted through astimezone: the same
    instant, and both overflow alike at year 1 / 9999).
    """
    if not isinstance(value, str):
        return None, ""
    s = value.strip()
    if not s:
        return None, ""
    n = len(s)
    try:
        if n in _PARTIAL_DATE_LENGTHS:
            m = _DATE_RE.match(s)
            if m:
                y, mo, d = m.groups()
                return datetime(int(y), int(mo or 1), int(d or 1)), "day" if d else ("month" if mo else "year")
    except (ValueError, OverflowError):
        return None, ""
    if (n == 25 or n == 20) and s[10] == "T" and s[13] == ":" and s[16] == ":":
        offset = _UTC_OFFSETS.get(s[19:])
        if offset is not None:
            try:
                local = _fromisoformat(s[:19])
                if local.tzinfo is None:
                    return local - offset, "time"
            except (ValueError, OverflowError):
                pass  # the general reading decides
    try:
        dt = datetime.fromisoformat(s.replace("Z", "+00:00") if "Z" in s else s)
        offset = dt.utcoffset()
        if offset is not None:
            dt = dt.replace(tzinfo=None) - offset
        return dt, "time"
    except (ValueError, OverflowError):
        return None, ""


def parse_date(value: Any) -> date | None:
    """The date of parse_datetime(value).  The usual full date 'YYYY-MM-DD' (ASCII) is read by
    date.fromisoformat, in C: the same date where that succeeds (anything it refuses takes the
    general reading; tests/mappings/test_fast_paths.py compares the two)."""
    if value is None:  # an absent element (most calls: onset, abatement, bounds ...): no parse_datetime call
        return None
    if type(value) is str and len(value) == 10 and value[4] == "-" and value[7] == "-" and value.isascii():
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    dt, _ = parse_datetime(value)
    return dt.date() if dt else None


def ref_type_id(ref: Any) -> tuple[str | None, str | None]:
    """('Patient', '123') from 'Patient/123', 'https://x/fhir/Patient/123/_history/2', etc."""
    s = as_str(ref)
    if not s:
        return None, None
    s = s.split("/_history/")[0].rstrip("/")
    parts = s.split("/")
    if len(parts) >= 2 and _TYPE_NAME.fullmatch(parts[-2]):
        return parts[-2], parts[-1]
    return None, None


def codings(concept: Any) -> list[dict]:
    return [c for c in as_list(as_dict(concept).get("coding")) if isinstance(c, dict)]


def coded(concept: Any) -> Iterator[tuple[str | None, str, dict]]:
    """(canonical system or None, code, coding) for each coding with a code (a non-blank string).
    One loop over the codings, as_str's test written out: no codings() list, no call per coding but
    known_system's (a Python call is ~1K instructions here; several concepts per request)."""
    coding = concept.get("coding") if isinstance(concept, dict) else None
    if not isinstance(coding, list):
        return
    for c in coding:
        if isinstance(c, dict):
            code = c.get("code")
            if isinstance(code, str) and code.strip():
                yield known_system(c.get("system")), code.strip(), c  # = canonical_system(...)


def concept_text(concept: Any) -> str:
    """code.text, else the first coding display, else ''."""
    d = as_dict(concept)
    t = as_str(d.get("text"))
    if t:
        return t.strip()
    for c in codings(d):
        disp = as_str(c.get("display"))
        if disp:
            return disp.strip()
    return ""


def all_text(concept: Any) -> str:
    """text and every coding display, joined (for name matching)."""
    # the text and each coding's display that as_str keeps (a non-blank string, unstripped), in order:
    # one loop, no helper calls (this runs for every allergy, reaction and medication concept)
    if not isinstance(concept, dict):
        return ""
    text = concept.get("text")
    parts = [text] if isinstance(text, str) and text.strip() else []
    coding = concept.get("coding")
    if isinstance(coding, list):
        for c in coding:
            if isinstance(c, dict):
                display = c.get("display")
                if isinstance(display, str) and display.strip():
                    parts.append(display)
    return " | ".join(parts)


def status_code(concept: Any) -> str | None:
    """The code of a CodeableConcept status (clinicalStatus/verificationStatus), lower-cased.
    The usual first coding with a code answers without building the codings list."""
    if type(concept) is dict:
        first = concept.get("coding")
        if type(first) is list and first:
            first = first[0]
            if type(first) is dict:
                code = first.get("code")
                if type(code) is str:
                    code = code.strip()
                    if code:
                        return code.lower()
    return _status_code_general(concept)


def _status_code_general(concept: Any) -> str | None:
    """status_code for any shape: the first coding with a code, else the text."""
    for c in codings(concept):
        code = as_str(c.get("code"))
        if code:
            return code.strip().lower()
    t = as_str(as_dict(concept).get("text"))
    return t.strip().lower() if t else None


def bundle_entries(obj: Any) -> Iterator[tuple[str | None, dict]]:
    """(fullUrl, resource) pairs of a Bundle (or of a bare resource: (None, resource))."""
    if not isinstance(obj, dict):
        return
    if obj.get("resourceType") == "Bundle" or ("entry" in obj and "resourceType" not in obj):
        entries = obj.get("entry")
        if isinstance(entries, list):
            for e in entries:
                if isinstance(e, dict):
                    r = e.get("resource")
                    if isinstance(r, dict):
                        url = e.get("fullUrl")  # as_str(url), written out: one call less per entry
                        yield (url if isinstance(url, str) and url.strip() else None), r
        return
    yield None, obj


def reference_of(resource: dict) -> str:
    rtype = as_str(resource.get("resourceType")) or "Resource"
    rid = as_str(resource.get("id"))
    return f"{rtype}/{rid or '(no id)'}"


# ------------------------------------------------------------------------------- validation
def validation_problem(resource: dict) -> str | None:
    """None when the elements the mappings read are valid FHIR R4, else a short description.

    Validating the whole R4B model cost 0.3-0.6 ms per resource (1,000 Observations: 300-600 ms),
    mostly on elements no decision reads: see used_elements.py (tests/perf/test_used_element_validation.py
    keeps the R4B model as its reference).
    """
    return used_element_problem(resource)


def subject_id(resource: dict) -> tuple[str | None, str | None]:
    """(type, id) of the patient a resource is about (subject, or patient for AllergyIntolerance)."""
    for key in ("subject", "patient"):
        ref = as_dict(resource.get(key)).get("reference")
        if ref:
            return ref_type_id(ref)
    return None, None


def where_failed(exc: BaseException) -> str:
    """'TypeError at extract.py:123 in _conditions': enough to find a bug, without the exception text
    (which may quote patient data; logs carry ids only)."""
    tb = exc.__traceback__
    last = None
    while tb is not None:
        last = tb
        tb = tb.tb_next
    if last is None:
        return type(exc).__name__
    code = last.tb_frame.f_code
    return f"{type(exc).__name__} at {code.co_filename.rsplit('/', 1)[-1]}:{last.tb_lineno} in {code.co_name}"
