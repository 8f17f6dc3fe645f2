"""`cards.text.flatten` and `shorten`'s flat form give exactly the split-and-join forms they replace."""
from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from cards import text as card_text

WHITESPACE = [" ", "  ", "\t", "\n", "\r", "\u00a0", "\u2003", "\u2028", "\u3000", "\x1c", "\x0b", "\x85"]


class Str(str):
    pass


texts = st.lists(st.sampled_from(WHITESPACE + ["a", "B", "é", "…", "<", "|", "\x00", "\u200b"]),
                 max_size=12).map("".join) | st.text(max_size=20)


@settings(max_examples=1500, deadline=None)
@given(texts)
def test_flatten_is_split_and_join(text):
    for value in (text, Str(text)):
        out = card_text.flatten(value)
        assert out == " ".join(value.split())
        assert type(out) is str


@settings(max_examples=800, deadline=None)
@given(texts, st.integers(1, 30))
def test_shorten_equals_the_split_and_join_form(text, limit):
    flat = " ".join(text.split())
    reference = flat if len(flat) <= limit else None
    out = card_text.shorten(text, limit)
    if reference is not None:
        assert out == reference
    assert out == card_text._shorten_flat(flat, limit)


def test_every_whitespace_character_is_non_printable_but_the_space():
    import sys
    assert all(not chr(i).isprintable() for i in range(sys.maxunicode + 1) if chr(i).isspace() and chr(i) != " ")
