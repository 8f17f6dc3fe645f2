"""Card text: the one-line summary and the markdown detail a clinician reads in a narrow sidebar.

The summary must say the decision (and the drug, dose and interval where there is one) in under 140
characters; a longer headline is shortened at a word boundary, deterministically. The detail is plain
GitHub-flavoured markdown, no raw HTML: a bold decision line, a small facts table (value, date, resource
id), the rule or table cell, what is missing or stale, cautions, and the source. Every piece of text that
comes from data is escaped, so a `|` in a value cannot break the table and a `<` cannot open HTML.
"""
from __future__ import annotations

import re
import unicodedata

from clinical_core.decisions import Decision, DoseRecommendation, TherapyOption

from .validation import SUMMARY_MAX

ELLIPSIS = "…"
# Topics whose alternatives are the recommendation itself (not a replacement for something else).
RECOMMENDING_TOPICS = ("anti-il5-recommended", "leukotriene-modifier-recommended")
# Phenotype keys (Decision.covers) in clinical words, for "Treats:".
CONDITION_NAMES = {
    "allergic-asthma": "allergic asthma",
    "eosinophilic-asthma": "eosinophilic asthma",
    "csu-refractory": "chronic spontaneous urticaria",
    "crswnp": "nasal polyps (CRSwNP)",
    "food-allergy": "IgE-mediated food allergy",
    "aerd": "AERD",
    "bullous-pemphigoid": "bullous pemphigoid",
}
_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|~#])")


def md_escape(text: str) -> str:
    """Escape GFM inline syntax (and table pipes); newlines become spaces so a cell stays one row."""
    flat = " ".join(str(text).split())
    if _MD_SPECIAL.search(flat) is None:
        return flat  # most texts: no substitution machinery at all (1.3 -> 0.65 us)
    return _MD_SPECIAL.sub(_backslash, flat)


def _backslash(match: re.Match) -> str:
    return "\\" + match.group(1)


def dose_phrase(dose: DoseRecommendation) -> str:
    return f"{dose.dose_mg} mg SC every {dose.interval_weeks} weeks"


def shorten(text: str, limit: int = SUMMARY_MAX) -> str:
    """One line of at most `limit` characters; cut at the last word boundary and end with '…'."""
    flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat
    room = limit - len(ELLIPSIS)
    cut = flat[:room + 1]
    space = cut.rfind(" ")
    head = cut[:space] if space > room // 2 else flat[:room]
    return head.rstrip(" ,;:.-–—(") + ELLIPSIS


def summary_for(decision: Decision) -> str:
    """The headline, with the omalizumab dose prepended when the headline does not already name it."""
    headline = " ".join(decision.headline.split())
    dose = decision.dose
    if dose is not None and decision.topic in ("omalizumab-dose", "omalizumab-dose-mismatch"):
        if f"{dose.dose_mg} mg" not in headline:
            prefix = f"Omalizumab {dose_phrase(dose)}: "
            return prefix + shorten(headline, SUMMARY_MAX - len(prefix))
    return shorten(headline)


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

    shown = _shown_options(decision, dose)
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
    if not original or original == value:  # equal texts squash equally
        return False
    squash = lambda text: "".join(unicodedata.normalize("NFKC", text).lower().split())  # noqa: E731
    return squash(original) != squash(value)


def _url(url: str) -> str:
    # Parentheses and spaces would end a markdown link destination early.
    return url.replace(" ", "%20").replace("(", "%28").replace(")", "%29")


def _shown_options(decision: Decision, dose: DoseRecommendation | None) -> list[TherapyOption]:
    if dose is None or not decision.alternatives:
        return list(decision.alternatives)
    proposed = dose.as_option()  # built once, not once per alternative
    return [opt for opt in decision.alternatives if opt != proposed]
