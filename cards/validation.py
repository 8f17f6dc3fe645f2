"""Outbound card validation: refuse to emit a card an EHR would reject.

Mirrors the CDS Hooks 2.0 Card/Source/Suggestion/Action/Link/Coding rules, the logical-model invariant
cds-resp-1 (at-most-one => at most one isRecommended) and Inferno's cards_validation.rb, plus this
project's contract (../shared/docs/card-contract.md): uuid on every card and suggestion, a known topic in
source.topic, override reasons on warning/critical cards, no null or empty value anywhere, plain GFM
(no raw HTML) in detail. Suggestion resources are checked against the FHIR R4 (R4B models) MedicationRequest
model plus the required code bindings the model does not enforce (status, intent, periodUnit).

A bug in the card builder therefore shows up as a `CardValidationError` in a test, not as a card an EHR
silently drops.
"""
from __future__ import annotations

import json
import re
import uuid as uuidlib
from collections.abc import Callable
from functools import cache, lru_cache
from typing import Any
from urllib.parse import urlparse

import orjson

from clinical_core.decisions import TOPICS

from .vocabulary import CARD_TOPIC_SYSTEM, OVERRIDE_REASON_SYSTEM, override_reason_codings, period_unit_allowed

SUMMARY_MAX = 139  # spec: "<140 characters"
INDICATORS = ("info", "warning", "critical")
SELECTION_BEHAVIORS = ("at-most-one", "any")
ACTION_TYPES = ("create", "update", "delete")
LINK_TYPES = ("absolute", "smart")

CARD_KEYS = {"uuid", "summary", "detail", "indicator", "source", "suggestions", "selectionBehavior",
             "overrideReasons", "links", "extension"}
SOURCE_KEYS = {"label", "url", "icon", "topic", "extension"}
SUGGESTION_KEYS = {"label", "uuid", "isRecommended", "actions", "extension"}
ACTION_KEYS = {"type", "description", "resource", "resourceId", "extension"}
LINK_KEYS = {"label", "url", "type", "appContext", "autolaunchable", "extension"}
CODING_KEYS = {"system", "code", "display"}

# FHIR R4 required bindings on MedicationRequest that the pydantic models do not enforce.
MEDREQ_STATUS = {"active", "on-hold", "cancelled", "completed", "entered-in-error", "stopped", "draft",
                 "unknown"}
MEDREQ_INTENT = {"proposal", "plan", "order", "original-order", "reflex-order", "filler-order",
                 "instance-order", "option"}

# A raw HTML tag or comment start that is not backslash-escaped (`_has_raw_html` is the fast form).
_RAW_HTML = re.compile(r"(?<!\\)<(?:[A-Za-z/!?])")
_TAG_START = re.compile(r"<[A-Za-z/!?]")
# Canonical JSON of a suggestion resource (the cache key of `_model_problem`), as the stdlib writes it
# compactly, keys in the resource's own order: the fallback of `_canonical_json`.
_STDLIB_CANONICAL_JSON = json.JSONEncoder(separators=(",", ":")).encode


def _canonical_json(resource: Any) -> str:
    """The cache key of `_model_problem`: compact JSON that reads back as `resource`, keys in its order.

    orjson writes it in about a fifth of the stdlib's time (it runs for every suggestion of every
    card); without sorting the keys it costs half as much again (~19,000 -> ~10,000 instructions a
    demo resource), and the model then validates exactly the resource's own key order. Where orjson
    would not read back as the resource (it writes NaN and Infinity as null) or refuses (integers
    beyond 64 bits, non-string keys), the stdlib writes it.
    """
    try:
        key = orjson.dumps(resource)
    except TypeError:  # orjson.JSONEncodeError
        return _STDLIB_CANONICAL_JSON(resource)
    if b"null" in key:  # a non-finite float, or a null the card check refuses anyway: rare, exact
        return _STDLIB_CANONICAL_JSON(resource)
    return key.decode()


# orjson refuses (TypeError) what it would otherwise write for a str, int, dict or list subclass, a
# dataclass or a datetime: the JSON it writes is then the plain tree's, the one `_canonical_json` writes.
_PLAIN_JSON_ONLY = orjson.OPT_PASSTHROUGH_SUBCLASS | orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_DATETIME


def _plain_json(resource: Any) -> str | None:
    """The compact JSON orjson writes for `resource` when it holds no subclass, dataclass or datetime
    (else None): `_canonical_json(resource)` unless it contains "null"."""
    try:
        return orjson.dumps(resource, option=_PLAIN_JSON_ONLY).decode()
    except TypeError:  # orjson.JSONEncodeError: a subclass, a dataclass, a datetime, a big int, a non-str key
        return None


# The JSON (`_plain_json`) of resources made only of exact dicts, lists, str, int, bool and finite floats
# that passed the null/empty rule. Such a tree is the only plain tree with that JSON, and any other
# tree with the same JSON differs only where the walk does not look (a tuple for a list, an enum or a
# UUID for its value), so it passes too. Bounded (the model verdicts keep as many keys).
_CLEAN_PLAIN_JSON: set[str] = set()
_CLEAN_PLAIN_JSON_MAX = 1024


def _plain_and_clean(value: Any) -> bool:
    """True when `value` is made only of exact dicts, lists, str, int, bool and floats and passes the
    null/empty rule; False when not (a null or empty value, a NaN, or any other type: the walk decides).
    `_has_null_or_empty`'s walk, with every type but a non-NaN float refused."""
    return not _null_or_empty_walk(value, _not_plain_float)


def _not_plain_float(item: Any) -> bool:
    """`_plain_and_clean`'s verdict on a value that is not a str, dict, list, int or bool: refused
    unless it is an exact float that is not NaN."""
    return type(item) is not float or item != item


_CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_RELATIVE_REF = re.compile(r"^[A-Z][A-Za-z]+/[A-Za-z0-9\-.]{1,64}$")


class CardValidationError(ValueError):
    """A card breaks CDS Hooks 2.0 or the card contract; `path` says where (e.g. suggestions[0].uuid)."""

    def __init__(self, path: str, problem: str):
        self.path = path
        self.problem = problem
        super().__init__(f"{path}: {problem}")


def validate_card(card: dict, checked: CheckedResources | None = None) -> None:
    """Raise CardValidationError unless `card` is a spec-valid, contract-valid CDS Hooks card.

    A card of the shapes `cards.builder` writes is first offered to `_surely_valid`, one pass that only
    ever says "valid"; anything it cannot prove goes through the checks below, which decide and name the
    problem, so every card passes or fails exactly as it would without the fast pass.

    checked: the suggestion resources (by object) that passed `validate_fhir_resource` in the caller
    and have not changed since (`CheckedResources`); the fast pass takes their verdict instead of
    checking them again. Every other check of the card, and of any other resource, runs as before."""
    if not _surely_valid(card, checked):
        _validate_card_general(card)


_NOT_HELD = object()


class CheckedResources(dict):
    """Suggestion resources that passed `validate_fhir_resource` (the null/empty rule, the R4B model and
    the required bindings) while `cards.build_cards` built them, and that nothing changes before the
    card check: that check would repeat the same verdict on the same object. Also the overrideReasons
    lists `checked_override_reasons` made (copies of a table that passes their rules).

    id(resource) -> resource: kept by identity, with a reference to each object so that no id is reused
    while the mapping is alive. Only the builder fills it, with resources it made itself (fresh copies
    and new dicts no caller sees before build_cards returns). On the demo family's order-select requests
    the second check of the corrected draft cost ~73,000 of the ~607,000 instructions of build_cards
    (callgrind, cards stage: the null/empty walk of ~40 nodes and the canonical JSON for the model cache).
    A dict subclass without an __init__ (one per build_cards call): a slotted class with one cost ~1,000
    instructions more on order-sign's cards, which have no suggestion."""

    __slots__ = ()

    def add(self, resource: Any) -> None:
        self[id(resource)] = resource

    def holds(self, resource: Any) -> bool:
        return self.get(id(resource), _NOT_HELD) is resource  # (None is not held: get's default)


def _validate_card_general(card: Any) -> None:
    """validate_card's checks, in their order (the first problem found is the one raised)."""
    if not isinstance(card, dict):
        raise CardValidationError("card", "must be a JSON object")
    if _has_null_or_empty(card):
        _locate_null_or_empty(card, "card")  # raises, naming the first offending path
    _only_keys(card, CARD_KEYS, "card")

    _uuid(card.get("uuid"), "card.uuid")
    summary = _required_str(card, "summary", "card")
    if len(summary) > SUMMARY_MAX:
        raise CardValidationError("card.summary", f"{len(summary)} characters; must be under 140")
    if "\n" in summary or "\r" in summary:
        raise CardValidationError("card.summary", "must be one line")

    indicator = _required_str(card, "indicator", "card")
    if indicator not in INDICATORS:
        raise CardValidationError("card.indicator", f"unknown indicator {indicator!r}")

    if "detail" in card:
        detail = card["detail"]
        if not isinstance(detail, str):
            raise CardValidationError("card.detail", "must be a markdown string")
        if _has_raw_html(detail):
            raise CardValidationError("card.detail", "raw HTML is not allowed; use plain GitHub markdown")

    _source(card.get("source"))

    suggestions = card.get("suggestions")
    behavior = card.get("selectionBehavior")
    if suggestions is not None:
        if not isinstance(suggestions, list):
            raise CardValidationError("card.suggestions", "must be an array")
        if behavior is None:
            raise CardValidationError("card.selectionBehavior", "required when suggestions are present")
        seen: set[str] = set()
        for i, suggestion in enumerate(suggestions):
            sid = _suggestion(suggestion, f"card.suggestions[{i}]")
            if sid in seen:
                raise CardValidationError(f"card.suggestions[{i}].uuid", "duplicate suggestion uuid")
            seen.add(sid)
        if card.get("uuid") in seen:
            raise CardValidationError("card.suggestions", "a suggestion reuses the card uuid")
    elif behavior is not None:
        raise CardValidationError("card.selectionBehavior", "present without suggestions")
    if behavior is not None:
        if behavior not in SELECTION_BEHAVIORS:
            raise CardValidationError("card.selectionBehavior", f"unknown value {behavior!r}")
        recommended = sum(1 for s in suggestions if s.get("isRecommended") is True)
        if behavior == "at-most-one" and recommended > 1:
            raise CardValidationError("card.suggestions", "at-most-one allows one isRecommended (cds-resp-1)")

    reasons = card.get("overrideReasons")
    if reasons is not None:
        if not isinstance(reasons, list):
            raise CardValidationError("card.overrideReasons", "must be an array")
        for i, coding in enumerate(reasons):
            path = f"card.overrideReasons[{i}]"
            _coding(coding, path, display_required=True)
            if coding["system"] != OVERRIDE_REASON_SYSTEM:
                raise CardValidationError(f"{path}.system", "must be the project's override-reason system")
    elif indicator in ("warning", "critical"):
        raise CardValidationError("card.overrideReasons", f"required on a {indicator} card")

    links = card.get("links")
    if links is not None:
        if not isinstance(links, list):
            raise CardValidationError("card.links", "must be an array")
        for i, link in enumerate(links):
            _link(link, f"card.links[{i}]")


# ---------------------------------------------------------------------------------------------------
# The fast pass: the rules of validate_card for the card shapes the builder writes, in one walk that
# checks each node's type, content and key set together (validate_card walks every node for the
# null/empty rule and then again for the rest: ~139,000 instructions for the demo card). Exact types only
# (no subclasses), no extension, icon or appContext, and only URLs `_absolute_url` accepted before: the
# rest is left to the general checks. It never raises; tests/cards/test_validation_fast.py checks that
# a card it accepts passes the general checks, over mutations of every card shape.

_CARD_FAST_KEYS = frozenset({"uuid", "summary", "detail", "indicator", "source", "suggestions",
                             "selectionBehavior", "overrideReasons", "links"})
_SOURCE_FAST_KEYS = frozenset({"label", "url", "topic"})
_SUGGESTION_FAST_KEYS = frozenset({"label", "uuid", "isRecommended", "actions"})
_ACTION_FAST_KEYS = frozenset({"type", "description", "resource", "resourceId"})
_LINK_FAST_KEYS = frozenset({"label", "url", "type"})
_TOPIC_CODES = frozenset(TOPICS)
_UUID_MATCH = _CANONICAL_UUID.fullmatch
_ABSENT = object()  # a key not in the card (a None value is present, and refused)
assert all(type(t) is str and t.strip() for t in TOPICS)  # a known topic code is a non-blank text


def _text(value: Any) -> bool:
    """A plain str the null/empty rule accepts: `value.strip() != ""` without copying the text (strip and
    isspace use the same whitespace definition)."""
    return type(value) is str and value != "" and not value.isspace()


def _surely_valid(card: Any, checked: CheckedResources | None = None) -> bool:
    """True only when validate_card's general checks pass `card`; False means "not proven" (invalid, or
    a shape or type this pass does not know)."""
    if type(card) is not dict or not card.keys() <= _CARD_FAST_KEYS:
        return False
    get = card.get
    uuid, summary, indicator = get("uuid"), get("summary"), get("indicator")
    if type(uuid) is not str or _UUID_MATCH(uuid) is None or not _text(summary) \
            or len(summary) > SUMMARY_MAX or "\n" in summary or "\r" in summary \
            or type(indicator) is not str or indicator not in INDICATORS:
        return False
    if "detail" in card:
        detail = card["detail"]
        if not _text(detail) or _has_raw_html(detail):
            return False
    source = get("source")
    if type(source) is not dict or not source.keys() <= _SOURCE_FAST_KEYS or not _text(source.get("label")):
        return False
    if "url" in source:
        url = source["url"]
        if type(url) is not str or url not in _GOOD_URLS:
            return False
    topic = source.get("topic")
    if type(topic) is not dict or not topic.keys() <= CODING_KEYS or topic.get("system") != CARD_TOPIC_SYSTEM \
            or type(topic["system"]) is not str:
        return False
    code = topic.get("code")
    if type(code) is not str or code not in _TOPIC_CODES or ("display" in topic and not _text(topic["display"])):
        return False

    suggestions, behavior = get("suggestions", _ABSENT), get("selectionBehavior", _ABSENT)
    if suggestions is not _ABSENT:
        if type(suggestions) is not list or not suggestions or type(behavior) is not str \
                or behavior not in SELECTION_BEHAVIORS:
            return False
        seen = {uuid}
        recommended = 0
        for suggestion in suggestions:
            if type(suggestion) is not dict or not suggestion.keys() <= _SUGGESTION_FAST_KEYS \
                    or not _text(suggestion.get("label")):
                return False
            sid = suggestion.get("uuid")
            if type(sid) is not str or _UUID_MATCH(sid) is None or sid in seen:
                return False
            seen.add(sid)
            if "isRecommended" in suggestion:
                flag = suggestion["isRecommended"]
                if type(flag) is not bool:
                    return False
                recommended += flag
            actions = suggestion.get("actions")
            if type(actions) is not list or not actions:
                return False
            for action in actions:
                if not _surely_valid_action(action, checked):
                    return False
        if behavior == "at-most-one" and recommended > 1:
            return False
    elif behavior is not _ABSENT:
        return False

    reasons = get("overrideReasons", _ABSENT)
    if reasons is not _ABSENT:
        if not (checked is not None and checked.holds(reasons)) and not _surely_valid_reasons(reasons):
            return False
    elif indicator != "info":
        return False

    links = get("links", _ABSENT)
    if links is not _ABSENT:
        if type(links) is not list or not links:
            return False
        for link in links:
            if type(link) is not dict or not link.keys() <= _LINK_FAST_KEYS or not _text(link.get("label")):
                return False
            url, link_type = link.get("url"), link.get("type")
            if type(url) is not str or url not in _GOOD_URLS or type(link_type) is not str \
                    or link_type not in LINK_TYPES:
                return False
    return True


def _surely_valid_reasons(reasons: Any) -> bool:
    """The fast pass's rules for card.overrideReasons (a non-empty list of override-reason codings)."""
    if type(reasons) is not list or not reasons:
        return False
    for coding in reasons:
        if type(coding) is not dict or not coding.keys() <= CODING_KEYS \
                or coding.get("system") != OVERRIDE_REASON_SYSTEM or type(coding["system"]) is not str \
                or not _text(coding.get("code")) or not _text(coding.get("display")):
            return False
    return True


# Whether a fresh copy of the override-reason table (vocabulary.override_reason_codings) passes
# `_surely_valid_reasons`: decided once, here, on a copy as the builder puts it on a card.
_OVERRIDE_REASONS_PASS = _surely_valid_reasons(override_reason_codings())


def checked_override_reasons(checked: CheckedResources | None) -> list[dict]:
    """`vocabulary.override_reason_codings()` (fresh dicts), entered in `checked` when the table passes
    the fast pass's overrideReasons rules (`_OVERRIDE_REASONS_PASS`): the five codings of every warning
    and critical card were checked again on each card, ~24,000 of the ~64,000 instructions of the
    demo order-select card's fast pass (callgrind). The list is the builder's own until build_cards
    returns, so it is the table's copy when the card is checked."""
    reasons = override_reason_codings()
    if checked is not None and _OVERRIDE_REASONS_PASS:
        checked.add(reasons)
    return reasons


def _surely_valid_action(action: Any, checked: CheckedResources | None = None) -> bool:
    """`_action`'s rules and the null/empty rule for one action, proven or not (never raises).

    A resource in `checked` passed `validate_fhir_resource` unchanged (see CheckedResources), which is
    exactly the null/empty walk and `_validate_fhir_resource` below: their verdict is taken."""
    if type(action) is not dict or not action.keys() <= _ACTION_FAST_KEYS:
        return False
    action_type = action.get("type")
    if type(action_type) is not str or action_type not in ACTION_TYPES or not _text(action.get("description")):
        return False
    if action_type == "delete":
        ref = action.get("resourceId")  # a relative reference is never blank
        return type(ref) is str and "resource" not in action and _RELATIVE_REF.match(ref) is not None
    if "resourceId" in action:
        return False
    resource = action.get("resource")
    if type(resource) is not dict or type(resource.get("resourceType")) is not str \
            or (action_type == "update" and type(resource.get("id")) is not str):
        return False
    if checked is not None and checked.holds(resource):
        return True
    if _has_null_or_empty(resource):
        return False
    try:
        _validate_fhir_resource(resource, "resource", null_checked=True)
    except CardValidationError:
        return False
    return True


def _no_null_or_empty(value: Any, path: str) -> None:
    if _has_null_or_empty(value):
        _locate_null_or_empty(value, path)  # raises, naming the first offending path


def _has_null_or_empty(value: Any) -> bool:
    """The check of `_locate_null_or_empty` without building a path string for every node.

    A valid card, the usual case, is walked once, iteratively (an explicit stack instead of a recursive
    call per node: ~6.5 -> ~4.5 us a card). Plain JSON types are handled inline; anything else (None,
    float, str/dict/list subclasses, other objects) goes through `_has_null_or_empty_generic`, the
    same rules node by node.
    """
    return _null_or_empty_walk(value, _has_null_or_empty_generic)


def _null_or_empty_walk(value: Any, other: Callable[[Any], bool]) -> bool:
    """True at the first blank str, empty dict or empty list in `value`, or the first other value
    (not an exact str, dict, list, int or bool) for which `other` says True; False when there is none."""
    stack = [value]
    pop, extend = stack.pop, stack.extend
    while stack:
        item = pop()
        cls = type(item)
        if cls is str:
            if not item.strip():
                return True
        elif cls is dict:
            if not item:
                return True
            extend(item.values())
        elif cls is list:
            if not item:
                return True
            extend(item)
        elif cls is int or cls is bool:
            continue
        elif other(item):
            return True
    return False


def _has_null_or_empty_generic(value: Any) -> bool:
    """The null/empty rule for one value of any type, recursively (the reference for the fast walk)."""
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, dict):
        return not value or any(map(_has_null_or_empty_generic, value.values()))
    if isinstance(value, list):
        return not value or any(map(_has_null_or_empty_generic, value))
    return isinstance(value, float) and value != value


def _locate_null_or_empty(value: Any, path: str) -> None:
    if value is None:
        raise CardValidationError(path, "null is not allowed (omit the field)")
    if isinstance(value, str):
        if not value.strip():
            raise CardValidationError(path, "empty string is not allowed (omit the field)")
    elif isinstance(value, dict):
        if not value:
            raise CardValidationError(path, "empty object is not allowed (omit the field)")
        for key, item in value.items():
            _locate_null_or_empty(item, f"{path}.{key}")
    elif isinstance(value, list):
        if not value:
            raise CardValidationError(path, "empty array is not allowed (omit the field)")
        for i, item in enumerate(value):
            _locate_null_or_empty(item, f"{path}[{i}]")
    elif isinstance(value, float) and value != value:
        raise CardValidationError(path, "NaN is not JSON")


def _has_raw_html(text: str) -> bool:
    """`_RAW_HTML.search(text) is not None`, 50x faster on a card detail: the look-behind pattern is
    tried at every character, whereas '<' is rare (md_escape writes it as '\\<')."""
    if "<" not in text:
        return False
    for match in _TAG_START.finditer(text):
        start = match.start()
        if start == 0 or text[start - 1] != "\\":
            return True
    return False


def _only_keys(obj: dict, allowed: set[str], path: str) -> None:
    if obj.keys() <= allowed:  # the usual case, without building and sorting a difference
        return
    unknown = sorted(set(obj) - allowed)
    if unknown:
        raise CardValidationError(path, f"unknown field(s) {', '.join(unknown)}")


def _required_str(obj: dict, key: str, path: str) -> str:
    value = obj.get(key)
    if not isinstance(value, str):
        raise CardValidationError(f"{path}.{key}", "required string")
    return value


def _uuid(value: Any, path: str) -> str:
    if not isinstance(value, str):
        raise CardValidationError(path, "required (feedback refers to it)")
    if _CANONICAL_UUID.fullmatch(value) is not None:  # new_uuid's form, which uuid.UUID accepts (~3x cheaper)
        return value
    try:
        uuidlib.UUID(value)
    except ValueError:
        raise CardValidationError(path, f"not a UUID: {value!r}") from None
    return value


def _absolute_url(value: Any, path: str) -> None:
    if not isinstance(value, str):
        raise CardValidationError(path, "required URL string")
    if value in _GOOD_URLS:  # a citation URL of the knowledge files, checked before
        return
    parsed = urlparse(value)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise CardValidationError(path, f"must be an absolute http(s) URL: {value!r}")
    if type(value) is str and len(_GOOD_URLS) < _GOOD_URLS_MAX:
        _GOOD_URLS.add(value)


# URLs `_absolute_url` accepted: card URLs are the knowledge files' citations (a few dozen), and urlparse
# costs ~10,000 instructions; bounded all the same.
_GOOD_URLS: set[str] = set()
_GOOD_URLS_MAX = 4096


def _coding(coding: Any, path: str, *, display_required: bool) -> None:
    if not isinstance(coding, dict):
        raise CardValidationError(path, "a Coding must be an object")
    _only_keys(coding, CODING_KEYS, path)
    _required_str(coding, "system", path)
    _required_str(coding, "code", path)
    if display_required:
        _required_str(coding, "display", path)


def _source(source: Any) -> None:
    if not isinstance(source, dict):
        raise CardValidationError("card.source", "required object")
    _only_keys(source, SOURCE_KEYS, "card.source")
    _required_str(source, "label", "card.source")
    if "url" in source:
        _absolute_url(source["url"], "card.source.url")
    if "icon" in source:
        _absolute_url(source["icon"], "card.source.icon")
    topic = source.get("topic")
    if topic is None:
        raise CardValidationError("card.source.topic", "required by the card contract")
    _coding(topic, "card.source.topic", display_required=False)
    if topic["system"] != CARD_TOPIC_SYSTEM:
        raise CardValidationError("card.source.topic.system", "must be the project's card-topic system")
    if topic["code"] not in TOPICS:
        raise CardValidationError("card.source.topic.code", f"unknown topic {topic['code']!r}")


def _link(link: Any, path: str) -> None:
    if not isinstance(link, dict):
        raise CardValidationError(path, "a link must be an object")
    _only_keys(link, LINK_KEYS, path)
    _required_str(link, "label", path)
    _absolute_url(link.get("url"), f"{path}.url")
    link_type = _required_str(link, "type", path)
    if link_type not in LINK_TYPES:
        raise CardValidationError(f"{path}.type", f"unknown link type {link_type!r}")
    if link_type == "absolute" and "appContext" in link:
        raise CardValidationError(f"{path}.appContext", "not allowed on an absolute link")
    if "autolaunchable" in link and not isinstance(link["autolaunchable"], bool):
        raise CardValidationError(f"{path}.autolaunchable", "must be a boolean")


def _suggestion(suggestion: Any, path: str) -> str:
    if not isinstance(suggestion, dict):
        raise CardValidationError(path, "a suggestion must be an object")
    _only_keys(suggestion, SUGGESTION_KEYS, path)
    _required_str(suggestion, "label", path)
    sid = _uuid(suggestion.get("uuid"), f"{path}.uuid")
    if "isRecommended" in suggestion and not isinstance(suggestion["isRecommended"], bool):
        raise CardValidationError(f"{path}.isRecommended", "must be a boolean")
    actions = suggestion.get("actions")
    if not isinstance(actions, list):
        raise CardValidationError(f"{path}.actions", "a suggestion needs a non-empty array of actions")
    for i, action in enumerate(actions):
        _action(action, f"{path}.actions[{i}]")
    return sid


def _action(action: Any, path: str) -> None:
    if not isinstance(action, dict):
        raise CardValidationError(path, "an action must be an object")
    _only_keys(action, ACTION_KEYS, path)
    action_type = _required_str(action, "type", path)
    if action_type not in ACTION_TYPES:
        raise CardValidationError(f"{path}.type", f"unknown action type {action_type!r}")
    _required_str(action, "description", path)
    if action_type == "delete":
        ref = action.get("resourceId")
        if not is_relative_reference(ref):
            raise CardValidationError(f"{path}.resourceId", "delete needs a relative reference 'Type/id'")
        if "resource" in action:
            raise CardValidationError(f"{path}.resource", "delete uses resourceId, not resource")
        return
    resource = action.get("resource")
    if not isinstance(resource, dict) or not isinstance(resource.get("resourceType"), str):
        raise CardValidationError(f"{path}.resource", f"{action_type} needs a FHIR resource")
    if action_type == "update" and not isinstance(resource.get("id"), str):
        raise CardValidationError(f"{path}.resource.id", "update needs the entire resource with its id")
    # the whole card already passed the null/empty rule: do not walk the resource a second time
    _validate_fhir_resource(resource, f"{path}.resource", null_checked=True)


def is_relative_reference(ref: Any) -> bool:
    """A delete action's resourceId as this validator accepts it: 'Type/id' with a FHIR id."""
    return isinstance(ref, str) and _RELATIVE_REF.match(ref) is not None


def validate_fhir_resource(resource: dict, path: str = "resource") -> None:
    """FHIR R4 structural validation (fhir.resources R4B models) plus required bindings."""
    _validate_fhir_resource(resource, path, null_checked=False)


def _validate_fhir_resource(resource: dict, path: str, *, null_checked: bool) -> None:
    """`validate_fhir_resource`; null_checked: the caller has checked `resource` (or a value holding it)
    against the null/empty rule already."""
    key = None
    if not null_checked:
        # a resource whose JSON passed before passes again: the walk (~50,000 instructions on the demo's
        # corrected draft, ~40 nodes) becomes a set look-up of the JSON the model cache needs anyway
        plain = _plain_json(resource)
        if plain is None or plain not in _CLEAN_PLAIN_JSON:
            if plain is not None and _plain_and_clean(resource):
                if len(_CLEAN_PLAIN_JSON) < _CLEAN_PLAIN_JSON_MAX:
                    _CLEAN_PLAIN_JSON.add(plain)
            else:
                _no_null_or_empty(resource, path)
        if plain is not None and "null" not in plain:
            key = plain  # _canonical_json(resource), already written
    rtype = resource["resourceType"]
    model = _fhir_model(rtype)
    if model is None:
        raise CardValidationError(f"{path}.resourceType", f"no suggestion resources of type {rtype!r}")
    problem = _model_problem(rtype, key if key is not None else _canonical_json(resource))
    if problem is not None:
        raise CardValidationError(path, "not a valid FHIR R4 " + rtype + ": " + problem)
    if rtype == "MedicationRequest":
        if resource.get("status") not in MEDREQ_STATUS:
            raise CardValidationError(f"{path}.status", f"not a MedicationRequest status: {resource.get('status')!r}")
        if resource.get("intent") not in MEDREQ_INTENT:
            raise CardValidationError(f"{path}.intent", f"not a MedicationRequest intent: {resource.get('intent')!r}")
        if "subject" not in resource:
            raise CardValidationError(f"{path}.subject", "required")
        if "medicationCodeableConcept" not in resource and "medicationReference" not in resource:
            raise CardValidationError(f"{path}.medication[x]", "required")
        for i, dosage in enumerate(resource.get("dosageInstruction", [])):
            unit = dosage.get("timing", {}).get("repeat", {}).get("periodUnit")
            if unit is not None and not period_unit_allowed(unit):
                raise CardValidationError(f"{path}.dosageInstruction[{i}].timing.repeat.periodUnit",
                                          f"not a FHIR UnitsOfTime code: {unit!r}")


@lru_cache(maxsize=1024)
def _model_problem(resource_type: str, canonical_json: str) -> str | None:
    """The R4B model's verdict on one suggestion resource, remembered by its canonical JSON: the
    model costs about 0.4 ms a resource and the same patient gets the same suggestions again and again
    (a different resource is a different key, so nothing is skipped)."""
    try:
        _fhir_model(resource_type).model_validate(json.loads(canonical_json))
        return None
    except Exception as exc:  # pydantic.ValidationError, or the model's own errors
        return " / ".join(str(exc).splitlines()[:3])


@cache
def _fhir_model(resource_type: str):
    # Imported lazily: fhir.resources is heavy and only suggestion resources need it.
    if resource_type == "MedicationRequest":
        from fhir.resources.R4B.medicationrequest import MedicationRequest
        return MedicationRequest
    return None
