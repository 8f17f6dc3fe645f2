"""db.uuid_list_json writes what json.dumps writes for every list (the general form)."""
from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from cds_service.db import uuid_list_json

items = st.one_of(st.uuids().map(str), st.text(max_size=12),
                  st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=0x80), max_size=6),
                  st.integers(), st.none(), st.booleans())


@settings(max_examples=1000, deadline=None)
@given(st.lists(items, max_size=5))
def test_uuid_list_json_is_json_dumps(ids):
    assert uuid_list_json(ids) == json.dumps(ids)


def test_special_characters():
    for ids in ([], [""], ['a"b'], ["a\\b"], ["\x7f"], ["\n"], ["é"], ["a", "b"]):
        assert uuid_list_json(ids) == json.dumps(ids)
