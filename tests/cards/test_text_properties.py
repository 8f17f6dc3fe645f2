"""Whatever text the core or the chart supplies, the card stays valid and the facts table keeps its shape."""
from __future__ import annotations

from datetime import date

from hypothesis import given, settings
from hypothesis import strategies as st

from cards import build_cards
from cards.text import shorten
from clinical_core.decisions import Evidence
from tests.cards.factories import decision, rxnorm_verified

texts = st.text(min_size=1, max_size=400).filter(lambda s: s.strip())


@settings(max_examples=150, deadline=None)
@given(texts)
def test_shorten_is_bounded_one_line_and_a_prefix(text):
    out = shorten(text)
    flat = " ".join(text.split())
    assert len(out) <= 139
    assert "\n" not in out
    if len(flat) <= 139:
        assert out == flat
    else:
        assert out.endswith("…") and flat.startswith(out[:-1])


@settings(max_examples=60, deadline=None)
@given(headline=texts, label=texts, value=texts, ref=texts)
def test_any_text_gives_a_valid_card_with_an_intact_table(headline, label, value, ref):
    ev = Evidence(label, value, date(2026, 1, 1), ref)
    [card] = build_cards([decision("omalizumab-dose", headline=headline, evidence=(ev, ev))],
                         hook="patient-view", patient_id="p1", rxnorm_lookup=rxnorm_verified)
    # build_cards validated the card (summary < 140, no raw HTML, no empty fields); the table has
    # exactly header + separator + two rows, each with four cells.
    lines = card["detail"].split("\n")
    start = lines.index("| Fact | Value | Date | Source |")
    rows = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        rows.append(line)
    assert len(rows) == 4
    for row in rows:
        assert _cell_separators(row) == 5, row


def _cell_separators(row: str) -> int:
    """Count the pipes GFM treats as cell separators (a backslash escapes the next character)."""
    count, i = 0, 0
    while i < len(row):
        if row[i] == "\\":
            i += 2
            continue
        count += row[i] == "|"
        i += 1
    return count
