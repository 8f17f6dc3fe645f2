"""The clinical core's functions as they were before their fast paths (commit fc83422): the references
the differential tests in test_fast_paths.py swap in and compare with, on every demo patient and on
generated facts.  Not used by the service."""
from __future__ import annotations

from clinical_core.decisions import Evidence


def profile_ev(self, *keys: str) -> tuple[Evidence, ...]:
    out: dict[Evidence, None] = {}
    for k in keys:
        f = self.findings.get(k)
        if f:
            out.update(dict.fromkeys(f.evidence))
    return tuple(out)


def uniq(items) -> tuple:
    return tuple(dict.fromkeys(i for i in items if i))


def unique(rows) -> tuple:
    """evidence.unique / recommend._uniq_ev before the C-hashed form: the Evidence rows themselves as keys."""
    return tuple(dict.fromkeys(rows))


def condition_ev(self, conds):
    """Profile.condition_ev before the per-profile rows: a new row per citation."""
    from clinical_core import evidence as ev
    return [ev.condition(c) for c in conds]


def age_at_first_omalizumab(p):
    """recommend.age_at_first_omalizumab before build_profile kept the first start: a scan of the medications."""
    b = p.facts.birth_date
    starts = [m.start for m in p.facts.medications_of(agent="omalizumab") if m.start is not None]
    if b is None or not starts:
        return None
    first = min(starts)
    return first.year - b.year - ((first.month, first.day) < (b.month, b.day))


def dosing_cell(meta, table, ige, kg):
    """dosing._cell before the per-table cell entries (session 11): band_index loops, band_label and the
    cell's words per call."""
    from clinical_core.dosing import _Lookup, _ige_words, band_index, band_label, fmt_num, table_meta
    """Inputs inside the limits: the cell, or why it may not dose."""
    if table is None:  # not verified: name the table and, where the layout is known, the band
        ige_edges, w_edges = meta.ige_edges, meta.weight_edges
        ib = band_index(ige_edges, ige.value) if ige_edges else None
        wb = band_index(w_edges, kg) if w_edges else None
        ige_band = band_label(ige_edges, ib, "IU/mL", first_symbol="≥") if ib is not None else None
        w_band = band_label(w_edges, wb, "kg", first_symbol="") if wb is not None else None
        where = ""
        if ige_band or w_band:
            where = " The patient falls in " + ", ".join(
                x for x in (ige_band and f"IgE row {ige_band}", w_band and f"weight column {w_band}") if x)
            where += " (band layout as expected, not verified)." if meta.raw.get("edges_source") else "."
        else:
            where = f" Baseline IgE {_ige_words(ige)}, weight {fmt_num(kg)} kg."
        return _Lookup("table-unverified", meta, ige_band, w_band,
                       reason=f"Not dosable automatically: use {meta.short_label} of the {meta.label} "
                              f"(its cells are not verified in this service).{where}", weight_kg=kg)

    ib = band_index(table.ige_edges, ige.value)
    wb = band_index(table.weight_edges, kg)
    assert ib is not None and wb is not None, "limits checked above"
    ige_band = band_label(table.ige_edges, ib, "IU/mL", first_symbol="≥")
    w_band = band_label(table.weight_edges, wb, "kg", first_symbol="")
    lo_i, lo_w = table.ige_edges[ib], table.weight_edges[wb]
    cell: Cell = table.cell_at(lo_i, lo_w)
    where = f"{meta.short_label}, IgE {ige_band}, {w_band}"
    if not cell.verified:
        return _Lookup("unverified-cell", meta, ige_band, w_band, reason=(
            f"Not dosable automatically: the cell {where} is not verified in this service; "
            f"use {meta.short_label} of the {meta.label}."), weight_kg=kg)
    if cell.outcome == "insufficient-data":
        return _Lookup("insufficient-data", meta, ige_band, w_band, reason=(
            f"{where}: the label gives no dose (insufficient data to recommend a dose)."), weight_kg=kg)
    if cell.outcome.startswith("see-table:"):
        other = table_meta(cell.outcome.split(":", 1)[1])
        return _Lookup("see-table", meta, ige_band, w_band, see_table=other, reason=(
            f"{where}: the dose is in {other.short_label} (every-2-weeks table), which is not verified "
            f"in this service. Not dosable automatically: use {other.short_label} of the {other.label}."),
            weight_kg=kg)
    return _Lookup("dose", meta, ige_band, w_band, cell.dose_mg, cell.interval_weeks, weight_kg=kg)




def round_weight(kg):
    """dosing.round_weight before the integral-float shortcut (session 11)."""
    from decimal import ROUND_HALF_UP, Decimal
    if type(kg) is float:
        s = repr(kg)
        dot = s.find(".")
        if dot > 0 and len(s) - dot <= 2 and "e" not in s:
            return kg
    return float(Decimal(str(kg)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


def measurement(label, m, *, decimals=None, note=""):
    """evidence.measurement before fmt_num and SourceRef.reference were written out in it (session 11)."""
    from datetime import datetime

    from clinical_core.dosing import fmt_num
    from clinical_core.evidence import DISPLAY_UNITS, new_evidence
    # (as it was)
    comparator = m.comparator or ""
    unit, value, original_value = m.unit, m.value, m.original_value
    original = None
    # the number as shown: formatted once, and reused for the original when the lab sent the same number in
    # another spelling of the unit ("250 IU/mL" for 250 [IU]/mL; equal numbers format alike)
    num = fmt_num(value if decimals is None else round(value, decimals))
    if original_value is not None and (m.original_unit != unit or original_value != value):
        same = decimals is None and original_value == value
        original = f"{comparator}{num if same else fmt_num(original_value)} {m.original_unit or ''}".strip()
    elif m.derived_from:
        original = "computed from " + ", ".join([r.reference for r in m.derived_from])
    text = f"{comparator}{num} {DISPLAY_UNITS.get(unit or '', unit or '')}".strip()
    if note:
        text = f"{text} ({note})"
    when = m.when
    if when is not None and isinstance(when, datetime):
        when = when.date()
    return new_evidence(label, text, when, m.source.reference, original)

