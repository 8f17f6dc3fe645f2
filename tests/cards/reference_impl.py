"""The card layer's functions as they were before their fast paths (commit fc83422): the references the
differential tests in test_fast_paths.py compare the fast forms with, on every demo patient and on
generated values.  Not used by the service."""
from __future__ import annotations

import json
import unicodedata
import uuid as uuidlib

from cards.text import CONDITION_NAMES, RECOMMENDING_TOPICS, _url, dose_phrase, md_escape
from cards.validation import CardValidationError

_CANONICAL_JSON = json.JSONEncoder(sort_keys=True, separators=(",", ":")).encode


def canonical_key(resource, plain: bool = False) -> str:
    return _CANONICAL_JSON(resource)


def only_keys(obj: dict, allowed: set[str], path: str) -> None:
    unknown = sorted(set(obj) - allowed)
    if unknown:
        raise CardValidationError(path, f"unknown field(s) {', '.join(unknown)}")


def uuid_check(value, path: str) -> str:
    if not isinstance(value, str):
        raise CardValidationError(path, "required (feedback refers to it)")
    try:
        uuidlib.UUID(value)
    except ValueError:
        raise CardValidationError(path, f"not a UUID: {value!r}") from None
    return value


def new_uuid() -> str:
    return str(uuidlib.uuid4())


def detail_for(decision: Decision, notes: tuple[str, ...] | list[str] = ()) -> str:
    """The card detail; `notes` are presentation notes (e.g. why no order could be suggested)."""
    parts: list[str] = [f"**{md_escape(decision.headline)}**"]
    if decision.rationale.strip():
        parts.append(md_escape(decision.rationale))

    if decision.evidence:
        rows = ["| Fact | Value | Date | Source |", "|---|---|---|---|"]
        for ev in decision.evidence:
            value = ev.value if not _differs(ev.original, ev.value) else f"{ev.value} (reported as {ev.original})"
            when = ev.date.isoformat() if ev.date else "not dated"
            rows.append(
                f"| {md_escape(ev.label)} | {md_escape(value)} | {when} | {md_escape(ev.reference or 'not recorded')} |"
            )
        parts.append("\n".join(rows))
    else:
        parts.append("No chart facts were used for this decision.")

    if decision.rule:
        parts.append(f"**Rule:** {md_escape(decision.rule)}")
    dose = decision.dose
    if dose is not None:
        cell = [md_escape(dose.table_label)]
        if dose.ige_band:
            cell.append(f"IgE band {md_escape(dose.ige_band)}")
        if dose.weight_band:
            cell.append(f"weight band {md_escape(dose.weight_band)}")
        parts.append(f"**Table cell:** {', '.join(cell)} (region {md_escape(dose.region)})")
        parts.append(f"**Dose:** omalizumab {md_escape(dose_phrase(dose))}")
    if len(decision.covers) > 1 and decision.topic.startswith("omalizumab"):
        parts.append("**Treats:** " + md_escape(", ".join(CONDITION_NAMES.get(c, c.replace("-", " "))
                                                          for c in decision.covers)))
    if decision.order_reference:
        parts.append(f"**Draft order:** {md_escape(decision.order_reference)}")

    shown = [opt for opt in decision.alternatives if dose is None or opt != dose.as_option()]
    if shown:
        heading = "**Options (first preferred):**" if decision.topic in RECOMMENDING_TOPICS else "**Fits instead:**"
        lines = [heading, ""]
        for opt in shown:
            note = f" ({md_escape(opt.note)})" if opt.note.strip() else ""
            lines.append(f"- {md_escape(opt.display)}{note}")
        parts.append("\n".join(lines))
    if decision.missing:
        parts.append("\n".join(["**Missing or to record:**", ""] + [f"- {md_escape(m)}" for m in decision.missing]))
    cautions = [c for c in decision.cautions if not _repeats_an_option_note(c, shown)]
    if cautions:
        parts.append("\n".join(["**Check before acting:**", ""] + [f"- {md_escape(c)}" for c in cautions]))

    if notes:
        parts.append("\n".join(["**Ordering:**", ""] + [f"- {md_escape(n)}" for n in notes]))

    parts.append(f"Source: [{md_escape(decision.citation.label)}]({_url(decision.citation.url)})")
    return "\n\n".join(parts)


def _repeats_an_option_note(caution: str, options: list[TherapyOption]) -> bool:
    """'<display>: <text>' where <text> is already in that option's listed note: shown once is enough."""
    for opt in options:
        prefix = f"{opt.display}: "
        if caution.startswith(prefix) and opt.note.strip():
            rest = caution[len(prefix):].strip().rstrip(".")
            if rest and rest in opt.note:
                return True
    return False


def _differs(original: str | None, value: str) -> bool:
    """Show what the lab sent only when it differs from the canonical value (a conversion happened)."""
    if not original:
        return False
    squash = lambda text: "".join(unicodedata.normalize("NFKC", text).lower().split())  # noqa: E731
    return squash(original) != squash(value)


