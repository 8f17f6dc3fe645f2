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
from datetime import date

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


# `md_escape_all` joins the texts of one detail with this separator and escapes them as one string. It
# holds no whitespace but spaces and no GFM special character; a text holding its core falls back.
_BATCH_SEP = " ^^ "
_BATCH_CORE = "^^"
# md_escape's characters, the backslash first: escaping it after the others would double their backslashes.
_MD_SPECIAL_CHARS = tuple((c, "\\" + c) for c in "\\`*_[]<>|~#")
# An ASCII text's bytes -> 0 for a control character (every ASCII whitespace but the space is one), 1 for
# a character md_escape escapes, 2 for any other: one translate tells whether either kind occurs.
_ASCII_CLASS = bytes(0 if i < 32 or i == 127 else 1 if chr(i) in "\\`*_[]<>|~#" else 2 for i in range(256))


# md_escape of texts escaped before (exact str only): a detail's texts are mostly the knowledge files'
# words, the fact labels and values and the resource ids of the same patients again and again. Bounded:
# texts up to `_ESCAPED_TEXT_MAX` characters; it stops growing once it holds `_ESCAPED_MAX` (plus the
# last detail's: ~2 MB at most), then new texts are escaped each time.
_ESCAPED: dict[str, str] = {}
_ESCAPED_MAX = 8192
_ESCAPED_TEXT_MAX = 256


def md_escape_all(texts: list) -> list[str]:
    """`[md_escape(t) for t in texts]`: each text's escape remembered (`_ESCAPED`), the others escaped
    in one batch (`_md_escape_batch`) and remembered.

    The batch costs ~80,000 instructions for the ~35 texts of the demo's order-select detail (the join,
    a byte translate, the separator count, one replace per special character present, the split), of
    its ~145,000; the look-ups cost ~10,000 (callgrind). Only exact str texts are looked up: a str
    subclass equal to a remembered text could escape differently (md_escape reads it through str()).
    """
    n = len(texts)
    if not n or [*map(type, texts)].count(str) != n:  # str() of a subclass or a number: md_escape's way
        return [md_escape(t) for t in texts]
    escaped = _ESCAPED
    out = [*map(escaped.get, texts)]
    if None not in out:
        return out
    missing = [t for t, e in zip(texts, out) if e is None]
    fresh = iter(_md_escape_batch(missing))
    out = [e if e is not None else next(fresh) for e in out]
    if len(escaped) < _ESCAPED_MAX:
        for text, e in zip(texts, out):
            if len(text) <= _ESCAPED_TEXT_MAX:
                escaped[text] = e
    return out


def _md_escape_batch(texts: list) -> list[str]:
    """`[md_escape(t) for t in texts]` for exact str texts, in one pass over the joined texts instead of
    ~30 small ones.

    A card detail escapes about 30 texts; each md_escape costs a split, a join and a regex scan. Here
    the texts are joined by `_BATCH_SEP` and checked once: no whitespace to flatten (no whitespace
    character other than the space, no text starting, ending or doubling a space) and no separator
    inside a text. Then escaping the joined string (one `str.replace` per special character present)
    and splitting it at the separators gives each text's escape. Otherwise (rare: a tab, a double
    space, an empty text) every text goes through md_escape.
    """
    n = len(texts)
    blob = _BATCH_SEP.join(texts)
    if blob.isascii():
        classes = blob.encode("ascii").translate(_ASCII_CLASS)
        plain = 0 not in classes  # no tab, newline or other control character
        special = 1 in classes
    else:  # every whitespace character but the space is non-printable (a test checks all of Unicode)
        plain = blob.isprintable()
        special = True
    if (plain and "  " not in blob and blob[:1] != " " and blob[-1:] != " "
            and blob.count(_BATCH_CORE) == n - 1):
        if special:
            for char, escaped in _MD_SPECIAL_CHARS:
                if char in blob:
                    blob = blob.replace(char, escaped)
        out = blob.split(_BATCH_SEP)
        if len(out) == n:
            return out
    return [md_escape(t) for t in texts]


_OPTIONS: dict = {}
_OPTIONS_MAX = 1024


def option_of(dose: DoseRecommendation) -> TherapyOption:
    """`dose.as_option()`, built once per (dose, interval): the option depends on those two numbers only
    (the label tables hold a few dozen), and building the frozen dataclass costs ~16,000 instructions."""
    if type(dose) is not DoseRecommendation:
        return dose.as_option()
    key = (dose.dose_mg, dose.interval_weeks)
    option = _OPTIONS.get(key)
    if option is None:
        option = dose.as_option()
        if len(_OPTIONS) < _OPTIONS_MAX:
            _OPTIONS[key] = option
    return option


def dose_phrase(dose: DoseRecommendation) -> str:
    return f"{dose.dose_mg} mg SC every {dose.interval_weeks} weeks"


def flatten(text: str) -> str:
    """`" ".join(text.split())` (whitespace runs -> one space, none at the ends), without the split and
    join (~8,000 instructions for a headline) when the text is already flat: no whitespace but the space
    (every other whitespace character is non-printable, see md_escape_all), no double space, none at
    the ends. tests/cards/test_text_flatten.py compares the two."""
    if type(text) is str and text.isprintable() and "  " not in text and text[:1] != " " and text[-1:] != " ":
        return text
    return " ".join(text.split())


def shorten(text: str, limit: int = SUMMARY_MAX) -> str:
    """One line of at most `limit` characters; cut at the last word boundary and end with '…'."""
    return _shorten_flat(flatten(text), limit)


def _shorten_flat(flat: str, limit: int) -> str:
    """`shorten` of a text that is already flat (`flatten(flat) == flat`)."""
    if len(flat) <= limit:
        return flat
    room = limit - len(ELLIPSIS)
    cut = flat[:room + 1]
    space = cut.rfind(" ")
    head = cut[:space] if space > room // 2 else flat[:room]
    return head.rstrip(" ,;:.-–—(") + ELLIPSIS


def summary_for(decision: Decision) -> str:
    """The headline, with the omalizumab dose prepended when the headline does not already name it."""
    headline = flatten(decision.headline)
    dose = decision.dose
    if dose is not None and decision.topic in ("omalizumab-dose", "omalizumab-dose-mismatch"):
        if f"{dose.dose_mg} mg" not in headline:
            prefix = f"Omalizumab {dose_phrase(dose)}: "
            return prefix + _shorten_flat(headline, SUMMARY_MAX - len(prefix))
    return _shorten_flat(headline, SUMMARY_MAX)


def detail_for(decision: Decision, notes: tuple[str, ...] | list[str] = ()) -> str:
    """The card detail; `notes` are presentation notes (e.g. why no order could be suggested).

    Written as one list of alternating literal markdown and data texts (`out`: literal, text, literal,
    ..., literal), the texts escaped at once by `md_escape_all` and the whole joined once. `lit` holds
    the literal written since the last text. A `str.format` template cost ~1,000 instructions a slot
    (~32K a demo detail), the join ~4K; text that is not escaped (dates, the URL) needs no brace doubling.
    """
    out: list = ["**", decision.headline]
    lit = "**"
    if decision.rationale.strip():
        out += ("**\n\n", decision.rationale)
        lit = ""

    if decision.evidence:
        lit += "\n\n| Fact | Value | Date | Source |\n|---|---|---|---|"
        iso_dates = _ISO_DATES
        for ev in decision.evidence:
            value, original, day = ev.value, ev.original, ev.date
            if original and original != value and _differs(original, value):  # _differs' own first test, inline
                value = f"{value} (reported as {original})"
            if not day:
                when = "not dated"
            else:
                when = iso_dates.get(day) if type(day) is date else None
                if when is None:
                    when = iso_date(day)
            out += (lit + "\n| ", ev.label, " | ", value, " | " + when + " | ", ev.reference or "not recorded")
            lit = " |"
    else:
        lit += "\n\nNo chart facts were used for this decision."

    if decision.rule:
        out += (lit + "\n\n**Rule:** ", decision.rule)
        lit = ""
    dose = decision.dose
    if dose is not None:
        out += (lit + "\n\n**Table cell:** ", dose.table_label)
        if dose.ige_band:
            out += (", IgE band ", dose.ige_band)
        if dose.weight_band:
            out += (", weight band ", dose.weight_band)
        out += (" (region ", dose.region, ")\n\n**Dose:** omalizumab ", dose_phrase(dose))
        lit = ""
    if len(decision.covers) > 1 and decision.topic.startswith("omalizumab"):
        out += (lit + "\n\n**Treats:** ",
                ", ".join(CONDITION_NAMES.get(c, c.replace("-", " ")) for c in decision.covers))
        lit = ""
    if decision.order_reference:
        out += (lit + "\n\n**Draft order:** ", decision.order_reference)
        lit = ""

    shown = _shown_options(decision, dose)
    if shown:
        heading = "**Options (first preferred):**" if decision.topic in RECOMMENDING_TOPICS else "**Fits instead:**"
        lit += "\n\n" + heading + "\n"
        for opt in shown:
            out += (lit + "\n- ", opt.display)
            if opt.note.strip():
                out += (" (", opt.note)
                lit = ")"
            else:
                lit = ""
    if decision.missing:
        lit = _bullets(out, lit, "**Missing or to record:**", decision.missing)
    cautions = [c for c in decision.cautions if not _repeats_an_option_note(c, shown)]
    if cautions:
        lit = _bullets(out, lit, "**Check before acting:**", cautions)

    if notes:
        lit = _bullets(out, lit, "**Ordering:**", notes)

    out += (lit + "\n\nSource: [", decision.citation.label, "](" + _url(decision.citation.url) + ")")
    out[1::2] = md_escape_all(out[1::2])
    return "".join(out)


def _bullets(out: list, lit: str, heading: str, items) -> str:
    """A bulleted section (blank line, heading, blank line, one `- <item>` per item) whose items are
    escaped data texts, appended to `out` after the pending literal `lit`; returns the new pending literal.
    A one-shot iterable is consumed exactly once, as the list it stands for."""
    lit += "\n\n" + heading + "\n"
    for item in items:
        out += (lit + "\n- ", item)
        lit = ""
    return lit


_ISO_DATES: dict = {}
_ISO_DATES_MAX = 8192


def iso_date(day) -> str:
    """`day.isoformat()`, remembered per calendar date: date.isoformat goes through PyUnicode_FromFormat
    (~4,500 instructions), a dict hit is ~150. The table holds at most `_ISO_DATES_MAX` days (22 years);
    only exact `datetime.date` values are kept (a datetime, or anything else, is formatted each time)."""
    text = _ISO_DATES.get(day) if type(day) is date else None
    if text is None:
        text = day.isoformat()
        if type(day) is date and len(_ISO_DATES) < _ISO_DATES_MAX:
            _ISO_DATES[day] = text
    return text


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
    proposed = option_of(dose)  # built once, not once per alternative
    return [opt for opt in decision.alternatives if opt != proposed]
