"""Code sets (LOINC, SNOMED CT, ICD-10-CM, RxNorm, allergy substances) loaded from the data files.

The files in ``data/codesets/`` are the reviewable source of truth: every code carries its confidence
and the source it was seen in. Only entries marked ``use: true`` are matched; the discovery prefetch
templates are generated from the same entries, so the two can never drift apart. Everything is
loaded once (functools.cache) and turned into lookup tables, never re-read per request.
"""
from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

DATA_DIR = Path(__file__).parent / "data"
CODESET_DIR = DATA_DIR / "codesets"

LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
UCUM = "http://unitsofmeasure.org"

# Alternative system URIs EHRs use for the same code systems (compared after lower-casing).
SYSTEM_ALIASES: dict[str, str] = {
    "http://loinc.org": LOINC,
    "https://loinc.org": LOINC,
    "urn:oid:2.16.840.1.113883.6.1": LOINC,
    "http://snomed.info/sct": SNOMED,
    "https://snomed.info/sct": SNOMED,
    "urn:oid:2.16.840.1.113883.6.96": SNOMED,
    "http://hl7.org/fhir/sid/icd-10-cm": ICD10CM,
    "urn:oid:2.16.840.1.113883.6.90": ICD10CM,
    "http://hl7.org/fhir/sid/icd-10": ICD10CM,  # WHO ICD-10 codes share the J45/J33/L50 stems used here
    "http://www.nlm.nih.gov/research/umls/rxnorm": RXNORM,
    "https://www.nlm.nih.gov/research/umls/rxnorm": RXNORM,
    "urn:oid:2.16.840.1.113883.6.88": RXNORM,
}

USABLE_CONFIDENCE = ("V", "V2")


def canonical_system(system: Any) -> str | None:
    if not isinstance(system, str):
        return None
    s = system.strip().rstrip("/").lower()
    return SYSTEM_ALIASES.get(s)


def known_system(system: Any) -> str | None:
    """canonical_system(system), the usual exact alias (a key of SYSTEM_ALIASES is its own stripped,
    lower-cased form: tests/mappings/test_codesets.py) answered by one lookup."""
    if type(system) is str:
        canon = SYSTEM_ALIASES.get(system)
        if canon is not None:
            return canon
    return canonical_system(system)


@cache
def load_json(relpath: str) -> dict:
    """Read one data file (path relative to ``fhir_mappings/data``)."""
    with open(DATA_DIR / relpath, encoding="utf-8") as fh:
        return json.load(fh)


@cache
def route_table() -> dict:
    """SNOMED CT route codes (and the dose/period units suggestions may use), with their sources."""
    return load_json("codesets/routes.json")


@cache
def route_by_code() -> dict[tuple[str, str], str]:
    """(system, code) -> route name ('subcutaneous', 'intravenous', 'oral') for reading drafted routes."""
    table = route_table()
    return {(table["system"], entry["code"]): name for name, entry in table["routes"].items()}


# --------------------------------------------------------------------------------------------- LOINC
@dataclass(frozen=True, slots=True)
class LoincCode:
    code: str
    display: str
    concept: str
    kind: str
    confidence: str
    source: str
    allergen: str | None = None
    allergen_group: str | None = None


@cache
def loinc_all() -> tuple[dict, ...]:
    return tuple(load_json("codesets/loinc.json")["codes"])


@cache
def loinc_index() -> dict[str, LoincCode]:
    """Usable LOINC codes by code."""
    out: dict[str, LoincCode] = {}
    for e in loinc_all():
        if not e.get("use"):
            continue
        if e.get("confidence") not in USABLE_CONFIDENCE:
            raise ValueError(f"LOINC {e['code']} marked use=true but confidence {e.get('confidence')!r}")
        out[e["code"]] = LoincCode(
            code=e["code"], display=e["display"], concept=e["concept"], kind=e["kind"],
            confidence=e["confidence"], source=e["source"],
            allergen=e.get("allergen"), allergen_group=e.get("allergen_group"),
        )
    return out


def loinc_codes_for(*concepts: str) -> tuple[str, ...]:
    return tuple(c.code for c in loinc_index().values() if c.concept in concepts)


# ------------------------------------------------------------------------------------ conditions
@dataclass(frozen=True, slots=True)
class ConditionCode:
    system: str
    code: str
    display: str
    concepts: tuple[str, ...]
    match: str = "exact"  # exact | prefix (ICD-10-CM families)


@cache
def snomed_index() -> dict[str, ConditionCode]:
    out = {}
    for e in load_json("codesets/snomed.json")["codes"]:
        if e.get("use") and e.get("confidence") in USABLE_CONFIDENCE:
            out[e["code"]] = ConditionCode(SNOMED, e["code"], e["display"], (e["concept"], *e.get("also", ())))
    return out


@cache
def snomed_substance_index() -> dict[str, str]:
    """SNOMED food-allergy codes that name a substance (for AllergyIntolerance.code)."""
    return {e["code"]: e["substance"] for e in load_json("codesets/snomed.json")["codes"]
            if e.get("use") and e.get("substance")}


def _icd_key(code: str) -> str:
    return code.replace(".", "").strip().upper()


@cache
def icd10_rules() -> tuple[tuple[str, ConditionCode], ...]:
    """(normalised code, rule) for the ICD-10-CM rules, most specific (longest) first."""
    rules = []
    for e in load_json("codesets/icd10cm.json")["codes"]:
        if e.get("use") and e.get("confidence") in USABLE_CONFIDENCE:
            rules.append((_icd_key(e["code"]), ConditionCode(ICD10CM, e["code"], e["display"],
                                                             (e["concept"], *e.get("also", ())),
                                                             e.get("match", "exact"))))
    return tuple(sorted(rules, key=lambda r: -len(r[0])))


def icd10_lookup(code: str) -> ConditionCode | None:
    """The most specific ICD-10-CM rule for `code`: `_icd10_scan`'s answer, by a few dict lookups
    (one per rule length) instead of a pass over every rule."""
    key = _icd_key(code)
    n = len(key)
    for length, first, prefix in icd10_by_length():
        if n == length:
            rule = first.get(key)
        elif n > length:
            rule = prefix.get(key[:length])
        else:
            continue
        if rule is not None:
            return rule
    return None


def _icd10_scan(code: str) -> ConditionCode | None:
    """The reference reading: the first rule, longest first, that the code equals or (a prefix rule)
    starts with.  `icd10_lookup` must give the same answer (tests/mappings/test_codesets.py)."""
    key = _icd_key(code)
    for rk, rule in icd10_rules():
        if key == rk or (rule.match == "prefix" and key.startswith(rk)):
            return rule
    return None


@cache
def icd10_by_length() -> tuple[tuple[int, dict[str, ConditionCode], dict[str, ConditionCode]], ...]:
    """Per rule length, longest first: the first rule of each normalised code (a code of that length
    equals it, whatever the rule's match), and the first prefix rule of each (a longer code starts
    with it).  "First" keeps `icd10_rules`' order, so the answer is the scan's."""
    return _by_length(icd10_rules())


def _by_length(rules) -> tuple[tuple[int, dict, dict], ...]:
    table: dict[int, tuple[dict, dict]] = {}
    for rk, rule in rules:
        first, prefix = table.setdefault(len(rk), ({}, {}))
        first.setdefault(rk, rule)
        if rule.match == "prefix":
            prefix.setdefault(rk, rule)
    return tuple((n, *table[n]) for n in sorted(table, reverse=True))


@cache
def condition_text_patterns() -> tuple[dict, ...]:
    return tuple(load_json("codesets/snomed.json")["text_patterns"]["patterns"])


# ---------------------------------------------------------------------------------- medications
def _whole_word(name: str) -> re.Pattern:
    """`name` where no letter or digit stands before or after it: the matches of
    `(?<![a-z0-9])name(?![a-z0-9])`, with the test of the character before written after the name (the
    lookbehind spans that character and the name just read). A pattern that starts with the name's
    letters lets the regex engine jump to where they occur instead of trying the lookbehind at every
    position (~2-4x faster on a medication text; tests/mappings/test_name_scan.py compares the two forms)."""
    literal = re.escape(name)
    return re.compile(literal + r"(?<![a-z0-9]" + literal + r")(?![a-z0-9])")


@dataclass(frozen=True, slots=True)
class Agent:
    agent: str
    drug_class: str
    display: str
    rxcui: str | None
    confidence: str
    coding_ok: bool
    names: tuple[str, ...]
    brands: tuple[str, ...]
    product_rxcuis: tuple[str, ...] = ()
    exclude_names: tuple[str, ...] = ()
    source: str = ""


@cache
def agents() -> dict[str, Agent]:
    out = {}
    for e in load_json("codesets/rxnorm.json")["agents"]:
        coding_ok = bool(e.get("coding_ok")) and e.get("confidence") in USABLE_CONFIDENCE and bool(e.get("rxcui"))
        out[e["agent"]] = Agent(
            agent=e["agent"], drug_class=e["drug_class"], display=e["display"], rxcui=e.get("rxcui"),
            confidence=e["confidence"], coding_ok=coding_ok, names=tuple(e.get("names", ())),
            brands=tuple(e.get("brands", ())), product_rxcuis=tuple(e.get("product_rxcuis", ())),
            exclude_names=tuple(e.get("exclude_names", ())), source=e.get("source", ""),
        )
    return out


@cache
def rxcui_index() -> dict[str, str]:
    """Every listed RxNorm code (ingredient or product, verified or not) -> agent key, for matching input."""
    out: dict[str, str] = {}
    for a in agents().values():
        for code in ((a.rxcui,) if a.rxcui else ()) + a.product_rxcuis:
            out[code] = a.agent
    return out


@cache
def _name_table() -> tuple[tuple[str, re.Pattern, str], ...]:
    """(lowercase name, whole-word pattern, agent) for every name and brand, longest names first (so
    'levocetirizine' wins over 'cetirizine').  `agents_in_text` runs only the patterns of the names whose
    leading word the text holds (`_names_by_word`)."""
    pairs = []
    for a in agents().values():
        for n in a.names + a.brands:
            pairs.append((n.lower(), a.agent))
    pairs.sort(key=lambda p: -len(p[0]))
    return tuple((n, _whole_word(n), agent) for n, agent in pairs)


_ALNUM_RUN = re.compile(r"[a-z0-9]*")
_WORDS = re.compile(r"[a-z0-9]+")


@cache
def _names_by_word() -> tuple[dict[str, tuple[int, ...]], tuple[int, ...]]:
    """(leading word -> positions in `_name_table`, positions of the names without a leading word).

    A name's leading word is its first run of [a-z0-9] ('insulin' of 'insulin glargine', 'toprol' of
    'toprol-xl'). Where a name's whole-word pattern matches, the text holds that word as a whole run of
    [a-z0-9] (the pattern's lookbehind refuses a letter or digit before the name; after the word comes the
    name's next character, not a letter or digit, or the pattern's lookahead): so only the names whose
    leading word is a word of the text can match, and `agents_in_text` tests only those."""
    by_word: dict[str, list[int]] = {}
    always: list[int] = []
    for i, (name, _, _) in enumerate(_name_table()):
        word = _ALNUM_RUN.match(name).group()
        (by_word.setdefault(word, []) if word else always).append(i)
    return {w: tuple(v) for w, v in by_word.items()}, tuple(always)


@cache
def _any_name() -> re.Pattern:
    """Every name and brand as one whole-word pattern: every agent `agents_in_text` reports comes from a
    whole-word match of a name, so where this finds none the answer is [] without the word scan and the
    name patterns below (one C-level search: ~24K instructions for a medication with no listed name)."""
    return _whole_words(n for n, _, _ in _name_table())


def agents_in_text(text: str) -> list[str]:
    """Agents named in a free text (generic or brand), in order of first appearance, each once.

    Remembered per text (bounded): the answer depends only on the text and the start-up tables, and
    an EHR's medication texts repeat (its formulary's product names); computing it for a text naming an
    agent costs ~80K instructions (`agents_in_text_uncached`)."""
    if not isinstance(text, str) or not text:
        return []
    return list(_agents_in_text(text))


@lru_cache(maxsize=4096)
def _agents_in_text(text: str) -> tuple[str, ...]:
    return tuple(agents_in_text_uncached(text))


def agents_in_text_uncached(text: str) -> list[str]:
    """`agents_in_text` computed (the reference its memo is tested against).

    The names tried are those whose leading word is a word of the text (`_names_by_word`), in table order:
    the others have no whole-word match, so they add nothing. One scan for the words and a lookup per
    distinct word instead of a substring test per name (~90): callgrind ~125K -> ~80K instructions for a
    text naming an agent, with the faster `_whole_word` patterns; tests/mappings/test_name_scan.py compares
    it with the loop over every name that occurs in the text."""
    if not isinstance(text, str) or not text:
        return []
    low = text.lower()
    if _any_name().search(low) is None:  # the usual text (e.g. an inhaler's) names none of the agents
        return []
    by_word, always = _names_by_word()
    tried = [*always]
    for word in set(_WORDS.findall(low)):
        positions = by_word.get(word)
        if positions is not None:
            tried += positions
    tried.sort()  # table order: longest names first
    table = _name_table()
    found: list[tuple[int, str]] = []
    taken: list[tuple[int, int]] = []
    for name, pat, agent in [table[i] for i in tried]:
        for m in pat.finditer(low):
            if any(s <= m.start() < e or s < m.end() <= e for s, e in taken):
                continue  # 'cetirizine' inside an already matched 'levocetirizine'
            taken.append((m.start(), m.end()))
            found.append((m.start(), agent))
    out: list[str] = []
    for _, agent in sorted(found):
        a = agents()[agent]
        if any(x in low for x in a.exclude_names):
            continue
        if agent not in out:
            out.append(agent)
    return out


def rxnorm_for(agent: str) -> tuple[str, str] | None:
    """(RXCUI, display) of a verified ingredient, else None (the caller then codes by text only)."""
    a = agents().get(agent) if isinstance(agent, str) else None
    if a is None or not a.coding_ok or not a.rxcui:
        return None
    return a.rxcui, a.display


# ------------------------------------------------------------------------------------- allergies
@cache
def allergy_group_names() -> dict[str, tuple[tuple[str, re.Pattern], ...]]:
    """group -> (lowercase name, whole-word pattern), longest first: a pattern can match only where its
    name occurs, so callers test the substring before running the regex."""
    data = load_json("codesets/allergy_substances.json")
    return {group: tuple((n.lower(), _whole_word(n.lower())) for n in sorted(names, key=len, reverse=True))
            for group, names in data["groups"].items()}


@cache
def respiratory_manifestation_names() -> tuple[tuple[str, re.Pattern], ...]:
    return tuple((n.lower(), _whole_word(n.lower()))
                 for n in load_json("codesets/allergy_substances.json")["respiratory_manifestations"])


@cache
def allergy_group_patterns() -> dict[str, re.Pattern]:
    """group -> one whole-word pattern for all its names: `pattern.search(text)` finds a match exactly
    when some name's own pattern does (`any(n in text and p.search(text) for n, p in
    allergy_group_names()[group])`): the alternation is tried, with the same look-arounds, at every
    position.  One C-level search instead of a Python loop over ~25 names."""
    return {group: _whole_words([n for n, _ in names]) for group, names in allergy_group_names().items()}


@cache
def respiratory_manifestation_pattern() -> re.Pattern:
    """One pattern for respiratory_manifestation_names() (see allergy_group_patterns)."""
    return _whole_words([n for n, _ in respiratory_manifestation_names()])


def _whole_words(names: Iterable[str]) -> re.Pattern:
    """One whole-word pattern for `names`: it matches where some name's `_whole_word` pattern does, and
    there the longest such name (the names as a trie: a plain alternation tries all ~90 names at every
    position of the text, the trie only the names sharing the letters read so far: ~1.7x faster on a medication text)."""
    return re.compile(r"(?<![a-z0-9])(?:" + _trie_alternation(names) + r")(?![a-z0-9])")


def _trie_alternation(words: Iterable[str]) -> str:
    """A regex matching exactly the strings in `words`, longest first (each optional tail is greedy, so
    a failed look-ahead after a longer word backtracks to a shorter one, as an alternation would)."""
    trie: dict = {}
    for w in words:
        node = trie
        for ch in w:
            node = node.setdefault(ch, {})
        node[""] = {}  # a word ends here

    def emit(node: dict) -> str:
        tails = [re.escape(ch) + emit(sub) for ch, sub in sorted(node.items()) if ch]
        if not tails:
            return ""
        body = tails[0] if len(tails) == 1 else "(?:" + "|".join(tails) + ")"
        return "(?:" + body + ")?" if "" in node else body

    return emit(trie)


# -------------------------------------------------------------------------------------- prefetch
PATIENT_TOKEN = "{{context.patientId}}"


@cache
def _prefetch() -> dict[str, str]:
    loinc = load_json("codesets/loinc.json")
    out: dict[str, str] = {"patient": f"Patient/{PATIENT_TOKEN}"}
    for key, group in loinc["prefetch"]["groups"].items():
        codes = loinc_codes_for(*group["concepts"])
        if not codes:
            raise ValueError(f"prefetch group {key} has no usable LOINC code")
        count = int(group["count"])
        if not 0 < count <= 200:
            raise ValueError(f"prefetch group {key}: _count {count} out of bounds")
        token = ",".join(f"{LOINC}|{c}" for c in codes)
        out[key] = f"Observation?patient={PATIENT_TOKEN}&code={token}&_sort=-date&_count={count}"
    # Conditions: only active ones (clinical-status token by equality; recurrence/relapse are active).
    out["conditions"] = f"Condition?patient={PATIENT_TOKEN}&clinical-status=active,recurrence,relapse"
    # Medications: every status, because the first omalizumab start and stops decide which IgE may dose.
    out["medicationRequests"] = f"MedicationRequest?patient={PATIENT_TOKEN}"
    out["medicationStatements"] = f"MedicationStatement?patient={PATIENT_TOKEN}"
    out["allergies"] = f"AllergyIntolerance?patient={PATIENT_TOKEN}"
    order = ("patient", "totalIge", "eosinophils", "lte4", "weight", "egfr", "bloodPressure",
             "specificIge", "conditions", "medicationRequests", "medicationStatements", "allergies")
    return {k: out[k] for k in order}


def prefetch_templates() -> dict[str, str]:
    """Discovery prefetch templates (a fresh dict each call; the cache holds the original)."""
    return dict(_prefetch())
