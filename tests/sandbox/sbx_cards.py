"""What the CDS Hooks Sandbox should render for a card, and the check that compares it with the DOM.

The expected view is derived from the service's own response (never from hard-coded card text), with
the Sandbox's rules: cards sorted by indicator, most severe first (a stable sort); summary; source
label and URL; `detail` through react-markdown + remark-gfm (GFM tables become <table>); one button
per suggestion (its label) and per link (its label); a Dismiss button, with an override-reason menu
when the card has `overrideReasons`.
"""
from __future__ import annotations

import html
import re
from typing import Any

SEVERITY = {"info": 0, "warning": 1, "critical": 2}
# the Sandbox's summary colours per indicator (card-list: info #0079be, warning #ffae42, critical #c00)
SUMMARY_COLORS = {"info": "rgb(0, 121, 190)", "warning": "rgb(255, 174, 66)", "critical": "rgb(204, 0, 0)"}

# The rendered cards, read from the Sandbox's DOM (its MUI card-list component).  A card's content
# is: summary, source, the markdown detail elements, then three divs: suggestions, links, dismiss.
RENDERED_CARDS_JS = r"""() => Array.from(document.querySelectorAll('div[class*="card-list__decision-card"]')).map(card => {
  const content = card.querySelector('.MuiCardContent-root') || card;
  const kids = Array.from(content.children);
  const m = (card.className.match(/card-list__alert-([a-z]+)/) || [null, null]);
  const sourceEl = kids.find(k => (k.className || '').toString().includes('card-list__card-source'));
  const tail = kids.slice(-3);
  const detailEls = kids.slice(sourceEl ? kids.indexOf(sourceEl) + 1 : 1, kids.length - 3);
  const text = el => (el.textContent || '').replace(/\s+/g, ' ').trim();
  const link = sourceEl ? sourceEl.querySelector('a') : null;
  return {
    indicator: m[1],
    summary: text(kids[0]),
    summaryColor: getComputedStyle(kids[0]).color,
    source: link ? {label: text(link), url: link.getAttribute('href')} : null,
    detailText: detailEls.map(text).join(' ').replace(/\s+/g, ' ').trim(),
    detailHtml: detailEls.map(e => e.outerHTML).join(''),
    tables: detailEls.flatMap(e => e.tagName === 'TABLE' ? [e] : Array.from(e.querySelectorAll('table'))).map(t => ({
      head: Array.from(t.querySelectorAll('thead th')).map(text),
      rows: Array.from(t.querySelectorAll('tbody tr')).map(tr => Array.from(tr.children).map(text)),
    })),
    suggestions: Array.from(tail[0].querySelectorAll('button')).map(text),
    links: Array.from(tail[1].querySelectorAll('button')).map(text),
    dismiss: Array.from(tail[2].querySelectorAll('button')).map(b => b.getAttribute('aria-label') || text(b)),
  };
})"""

_ESCAPE = re.compile(r"\\([!-/:-@\[-`{-~])")


def inline_text(markdown: str) -> str:
    """The text a markdown inline span renders to (emphasis, code, links, escapes, entities)."""
    out, i = [], 0
    text = re.sub(r"<br\s*/?>", " ", markdown)
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text) and _ESCAPE.match(text, i):
            out.append(text[i + 1])
            i += 2
            continue
        if ch == "[":
            m = re.compile(r"\[((?:\\.|[^\]\\])*)\]\(([^)\s]*)(?:\s+\"[^\"]*\")?\)").match(text, i)
            if m:
                out.append(inline_text(m.group(1)))
                i = m.end()
                continue
        if ch in "*_`" and not (ch == "_" and i > 0 and text[i - 1].isalnum()):
            i += 1
            continue
        out.append(ch)
        i += 1
    return re.sub(r"\s+", " ", html.unescape("".join(out))).strip()


def _split_row(line: str) -> list[str]:
    line = line.strip()
    if line.startswith("|"):
        line = line[1:]
    if line.endswith("|") and not line.endswith("\\|"):
        line = line[:-1]
    return [inline_text(c) for c in re.split(r"(?<!\\)\|", line)]


_SEPARATOR = re.compile(r"^\s*\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?\s*$")


def markdown_parts(detail: str) -> tuple[list[dict], list[str]]:
    """(GFM tables as {head, rows} of cell texts, the plain text of every other non-blank line)."""
    lines = detail.splitlines()
    tables, texts, i = [], [], 0
    while i < len(lines):
        line = lines[i]
        if "|" in line and i + 1 < len(lines) and _SEPARATOR.match(lines[i + 1]):
            head = _split_row(line)
            rows, i = [], i + 2
            while i < len(lines) and lines[i].strip() and "|" in lines[i]:
                rows.append(_split_row(lines[i]))
                i += 1
            tables.append({"head": head, "rows": rows})
            continue
        stripped = re.sub(r"^\s*(?:[-*+]\s+|\d+[.)]\s+|#{1,6}\s+|>\s*)", "", line)
        if stripped.strip():
            texts.append(inline_text(stripped))
        i += 1
    return tables, texts


def sandbox_order(cards: list[dict]) -> list[dict]:
    """The order the Sandbox shows cards in: by indicator, most severe first, otherwise as returned."""
    return sorted(cards, key=lambda c: -SEVERITY.get(c.get("indicator"), -1))


def card_mismatches(returned: list[dict], rendered: list[dict[str, Any]]) -> list[str]:
    """Every difference between what the service returned and what the Sandbox rendered ([] = same)."""
    problems: list[str] = []
    expected = sandbox_order(returned)
    if len(expected) != len(rendered):
        problems.append(f"{len(expected)} card(s) returned, {len(rendered)} rendered")
    for n, (card, seen) in enumerate(zip(expected, rendered)):
        where = f"card {n} ({((card.get('source') or {}).get('topic') or {}).get('code', '?')})"
        if seen["summary"] != re.sub(r"\s+", " ", card["summary"]).strip():
            problems.append(f"{where}: summary {seen['summary']!r} != returned {card['summary']!r}")
        if seen["indicator"] != card["indicator"]:
            problems.append(f"{where}: indicator {seen['indicator']!r} != returned {card['indicator']!r}")
        elif seen.get("summaryColor") not in (None, SUMMARY_COLORS.get(card["indicator"])):
            problems.append(f"{where}: summary colour {seen['summaryColor']} is not the {card['indicator']} colour")
        source = card.get("source") or {}
        if source.get("label"):
            want = {"label": re.sub(r"\s+", " ", source["label"]).strip(), "url": source.get("url") or "#"}
            if seen["source"] != want:
                problems.append(f"{where}: source {seen['source']!r} != returned {want!r}")
        tables, texts = markdown_parts(card.get("detail") or "")
        if seen["tables"] != tables:
            problems.append(f"{where}: detail tables rendered {seen['tables']!r} != markdown {tables!r}")
        if re.search(r"\|\s*:?-{3,}", seen["detailText"]) or re.search(r"\|[^|]+\|[^|]+\|", seen["detailText"]):
            problems.append(f"{where}: pipe-delimited rows shown as raw text (a broken markdown table)")
        if "<script" in seen["detailHtml"].lower():
            problems.append(f"{where}: a script element in the rendered detail")
        for text in texts:
            if text not in seen["detailText"]:
                problems.append(f"{where}: detail text {text!r} not rendered")
        labels = [re.sub(r"\s+", " ", s["label"]).strip() for s in card.get("suggestions") or ()]
        if seen["suggestions"] != labels:
            problems.append(f"{where}: suggestions {seen['suggestions']!r} != returned {labels!r}")
        links = [re.sub(r"\s+", " ", link["label"]).strip() for link in card.get("links") or ()]
        if seen["links"] != links:
            problems.append(f"{where}: links {seen['links']!r} != returned {links!r}")
        want_dismiss = ["Dismiss", "select dismiss reason"] if card.get("overrideReasons") else ["Dismiss"]
        if card.get("uuid") and seen["dismiss"] != want_dismiss:
            problems.append(f"{where}: dismiss controls {seen['dismiss']!r} != {want_dismiss!r}")
    return problems
