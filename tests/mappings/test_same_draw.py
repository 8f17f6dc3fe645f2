"""The eosinophil pairing's two forms of "same draw" give the same items in the same order.

`extract._same_draw_index` compares p with each item when there are few (`_same_draw_scan`) and builds
an index by key and time when there are many (`_same_draw_indexed`): both must answer alike for any
items, keys, times (also at the calendar's ends, where the indexed form clamps its window) and window.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from clinical_core.facts import Measurement, SourceRef
from fhir_mappings import extract as ex

_SRC = SourceRef("Observation", "x")
_TIMES = st.one_of(
    st.none(),
    st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2020, 1, 3)),
    st.sampled_from([datetime.min, datetime.max, datetime.min + timedelta(minutes=5),
                     datetime.max - timedelta(minutes=5)]),
)
_KEYS = st.one_of(st.none(), st.sets(st.sampled_from(["specimen:a", "specimen:b", "report:r"]), max_size=2))


def _measurements(draw, n):
    ms, keys = [], {}
    for _ in range(n):
        m = Measurement("wbc", 1.0, "10*3/uL", draw(_TIMES), _SRC)
        k = draw(_KEYS)
        if k is not None:
            keys[id(m)] = k
        ms.append(m)
    return ms, keys


@settings(max_examples=400, deadline=None)
@given(st.data(), st.integers(0, 12), st.integers(1, 5),
       st.sampled_from([timedelta(0), timedelta(minutes=1), timedelta(hours=2), timedelta(days=400)]))
def test_scan_equals_index(data, n_items, n_probes, window):
    items, keys = _measurements(data.draw, n_items)
    probes, pkeys = _measurements(data.draw, n_probes)
    keys.update(pkeys)
    if data.draw(st.booleans()):
        probes += items  # an item is its own probe too
    indexed = ex._same_draw_indexed(items, keys, window)
    for p in probes:  # the very objects, in the same order
        assert _ids(ex._same_draw_scan(p, items, keys, window)) == _ids(indexed(p))
        assert _ids(ex._same_draw_index(items, keys, window)(p)) == _ids(indexed(p))
    if not keys:  # the usual prefetch: no result names a specimen or a report
        for p in probes:
            assert _ids(ex._same_draw_scan(p, items, {}, window)) == _ids(indexed(p))


def _ids(ms):
    return [id(m) for m in ms]
