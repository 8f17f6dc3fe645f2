"""The trie-shaped whole-word patterns (codesets._whole_words) and agents_in_text's choice of the names to
try (those whose leading word the text holds: codesets._names_by_word) give exactly the answers of the code
they replaced, kept here as the reference: a plain alternation of the escaped names, and agents_in_text
trying every name that occurs in the text."""
from __future__ import annotations

import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fhir_mappings import codesets as cs

DRUG_NAMES = sorted({n for n, _, _ in cs._name_table()})
ALLERGY_NAMES = sorted({n for names in cs.allergy_group_names().values() for n, _ in names})


def ref_whole_words(names) -> re.Pattern:
    """The pattern before the trie: every name, longest first, one after the other."""
    names = sorted(names, key=len, reverse=True)
    return re.compile(r"(?<![a-z0-9])(?:" + "|".join(re.escape(n) for n in names) + r")(?![a-z0-9])")


def ref_agents_in_text(text):
    """agents_in_text trying every name that occurs in the text (its general path, unchanged)."""
    if not isinstance(text, str) or not text:
        return []
    low = text.lower()
    found, taken = [], []
    for name, pat, agent in [t for t in cs._name_table() if t[0] in low]:
        for m in pat.finditer(low):
            if any(s <= m.start() < e or s < m.end() <= e for s, e in taken):
                continue
            taken.append((m.start(), m.end()))
            found.append((m.start(), agent))
    out = []
    for _, agent in sorted(found):
        if any(x in low for x in cs.agents()[agent].exclude_names):
            continue
        if agent not in out:
            out.append(agent)
    return out


def _spans(pattern: re.Pattern, text: str) -> list[tuple[int, int]]:
    return [m.span() for m in pattern.finditer(text)]


def test_trie_alternation_matches_exactly_the_words():
    words = ["ab", "abcd", "abc", "b", "a-b", "x y", "(z)", ""]
    pat = re.compile("(?:" + cs._trie_alternation(words) + ")")
    for w in words:
        assert pat.fullmatch(w), w
    for w in ["abcde", "ac", "a-", "x", "z", "bb"]:
        assert not pat.fullmatch(w), w
    assert pat.match("abcdz").group() == "abcd"  # the longest word first


def test_samples_same_matches_as_the_plain_alternation():
    tricky = ["levocetirizine", "cetirizine", "zyflo cr", "zyflo", "cyclosporine modified", "toprol-xl"]
    samples = [""] + [f"{p}{n}{s}" for n in DRUG_NAMES + ALLERGY_NAMES + tricky
                      for p in ("", "a", " ", "(", "9") for s in ("", "s", " x", ")", "1", "-")]
    assert len(samples) > 3000
    for names in (DRUG_NAMES, ALLERGY_NAMES):
        new, ref = cs._whole_words(names), ref_whole_words(names)
        for t in samples:
            assert _spans(new, t) == _spans(ref, t), t
    for t in samples + ["XYZAL 5 MG tablet", "cyclosporine 0.05% ophthalmic emulsion (Restasis)",
                        "fluticasone propionate/salmeterol 500/50 mcg inhalation powder (Advair Diskus)"]:
        assert cs.agents_in_text(t) == ref_agents_in_text(t), t


_piece = st.one_of(st.sampled_from(DRUG_NAMES), st.sampled_from(ALLERGY_NAMES),
                   st.sampled_from([" ", "|", "-", "(", ")", "a", "1", "s", "/", ", ", "É"]),
                   st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCXYZ0123456789 -/()", max_size=6))


@settings(max_examples=1500, deadline=None, suppress_health_check=list(HealthCheck))
@given(pieces=st.lists(_piece, max_size=6))
def test_random_texts_same_answers(pieces):
    text = "".join(pieces)
    low = text.lower()
    for names in (DRUG_NAMES, ALLERGY_NAMES):
        assert _spans(cs._whole_words(names), low) == _spans(ref_whole_words(names), low), text
    assert cs.agents_in_text(text) == ref_agents_in_text(text), text


def test_remembered_answers_equal_computed_ones_and_are_fresh_lists():
    texts = ["omalizumab 150 MG/ML injection (Xolair)", "XYZAL 5 MG tablet", "albuterol inhaler", "",
             "cyclosporine 0.05% ophthalmic emulsion (Restasis)", "montelukast 10 mg and zileuton"]
    for _ in range(2):  # computed, then remembered
        for t in texts:
            assert cs.agents_in_text(t) == cs.agents_in_text_uncached(t) == ref_agents_in_text(t), t
    got = cs.agents_in_text(texts[0])
    assert got == ["omalizumab"]
    got.append("changed by a caller")
    assert cs.agents_in_text(texts[0]) == ["omalizumab"]
    assert cs._agents_in_text.cache_info().hits >= len(texts) - 1


def _lookbehind_first(name: str) -> re.Pattern:
    """codesets._whole_word as first written: the lookbehind before the name."""
    return re.compile(r"(?<![a-z0-9])" + re.escape(name) + r"(?![a-z0-9])")


_NAMES = DRUG_NAMES + ALLERGY_NAMES + ["a", "a-b", "x y", "(z)", "9", "é", "a.b", "levocetirizine", "cetirizine"]


def test_whole_word_matches_where_the_lookbehind_first_form_does():
    for name in _NAMES:
        new, ref = cs._whole_word(name), _lookbehind_first(name)
        for p in ("", "a", " ", "(", "9", "-", "É", name, name[:1]):
            for suffix in ("", "s", " x", ")", "1", "-", name):
                t = f"{p}{name}{suffix}"
                assert _spans(new, t) == _spans(ref, t), (name, t)


@settings(max_examples=800, deadline=None, suppress_health_check=list(HealthCheck))
@given(name=st.sampled_from(_NAMES), pieces=st.lists(_piece, max_size=6))
def test_whole_word_random_texts(name, pieces):
    low = "".join(pieces).lower()
    for text in (low, name + low, low + name, low + name + low):
        assert _spans(cs._whole_word(name), text) == _spans(_lookbehind_first(name), text), (name, text)
