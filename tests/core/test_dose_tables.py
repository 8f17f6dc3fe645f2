"""Every cell of each enabled dosing table, against lists typed by hand from clinical-reference.md.

The expected lists below are transcribed independently from the reference's tables 1(a) and 1(c)
(not read from the CSV files): a cell changed in a data file, or a lookup that picks the wrong
band, fails here.
"""
from __future__ import annotations

import csv
from pathlib import Path

import pytest

from clinical_core.dosing import lookup
from clinical_core.knowledge import DOSING_DIR, dose_table, table_meta
from tests.core.builders import meas

ID = None  # insufficient data / do not dose
T3 = "T3"  # EU: see the every-2-weeks table (not verified)
NV = "NV"  # EU: cell not verified (row >600-700 column positions inferred)

# US PI Table 1 (asthma, >= 12 y), clinical-reference.md 1(a)
US_IGE_ROWS = ["30-100", "100-200", "200-300", "300-400", "400-500", "500-600", "600-700"]
US_WEIGHT_COLS = ["30-60", "60-70", "70-90", "90-150"]
US_TABLE_1 = {
    "30-100":  [(150, 4), (150, 4), (150, 4), (300, 4)],
    "100-200": [(300, 4), (300, 4), (300, 4), (225, 2)],
    "200-300": [(300, 4), (225, 2), (225, 2), (300, 2)],
    "300-400": [(225, 2), (225, 2), (300, 2), ID],
    "400-500": [(300, 2), (300, 2), (375, 2), ID],
    "500-600": [(300, 2), (375, 2), ID, ID],
    "600-700": [(375, 2), ID, ID, ID],
}

# EU SmPC Table 2 (every 4 weeks), clinical-reference.md 1(c)
EU_IGE_ROWS = ["30-100", "100-200", "200-300", "300-400", "400-500", "500-600", "600-700"]
EU_WEIGHT_COLS = ["20-25", "25-30", "30-40", "40-50", "50-60", "60-70", "70-80", "80-90", "90-125", "125-150"]
EU_TABLE_2 = {
    "30-100":  [75, 75, 75, 150, 150, 150, 150, 150, 300, 300],
    "100-200": [150, 150, 150, 300, 300, 300, 300, 300, 450, 600],
    "200-300": [150, 150, 225, 300, 300, 450, 450, 450, 600, T3],
    "300-400": [225, 225, 300, 450, 450, 450, 600, 600, T3, T3],
    "400-500": [225, 300, 450, 450, 600, 600, T3, T3, T3, T3],
    "500-600": [300, 300, 450, 600, 600, T3, T3, T3, T3, T3],
    "600-700": [NV] * 10,
}


def _bounds(band: str) -> tuple[float, float]:
    lo, hi = band.split("-")
    return float(lo), float(hi)


def _probe_points(band: str) -> list[float]:
    """Inside the band: just above the lower edge (or on it for the first band), the middle, the upper edge."""
    lo, hi = _bounds(band)
    return [lo + 0.1, (lo + hi) / 2, hi]


def _csv_rows(name: str) -> list[dict]:
    with open(Path(DOSING_DIR) / name, newline="") as fh:
        return list(csv.DictReader(fh))


def test_us_table_1_csv_matches_hand_list_cell_by_cell():
    rows = _csv_rows("us-asthma-12plus.csv")
    assert len(rows) == len(US_IGE_ROWS) * len(US_WEIGHT_COLS) == 28
    seen = set()
    for r in rows:
        ib = f"{int(float(r['ige_lower']))}-{int(float(r['ige_upper']))}"
        wb = f"{int(float(r['weight_lower']))}-{int(float(r['weight_upper']))}"
        expected = US_TABLE_1[ib][US_WEIGHT_COLS.index(wb)]
        got = None if r["outcome"] == "insufficient-data" else (int(r["dose_mg"]), int(r["interval_weeks"]))
        assert got == expected, (ib, wb)
        assert r["verified"] == "true"
        seen.add((ib, wb))
    assert len(seen) == 28


def test_eu_table_2_csv_matches_hand_list_cell_by_cell():
    rows = [r for r in _csv_rows("eu-q4w.csv") if float(r["ige_upper"]) <= 700]
    assert len(rows) == 70
    for r in rows:
        ib = f"{int(float(r['ige_lower']))}-{int(float(r['ige_upper']))}"
        wb = f"{int(float(r['weight_lower']))}-{int(float(r['weight_upper']))}"
        expected = EU_TABLE_2[ib][EU_WEIGHT_COLS.index(wb)]
        if expected == NV:
            assert r["verified"] == "false", (ib, wb)
        elif expected == T3:
            assert r["outcome"] == "see-table:eu-q2w" and r["dose_mg"] == "", (ib, wb)
        else:
            assert (r["outcome"], int(r["dose_mg"]), int(r["interval_weeks"]), r["verified"]) == \
                ("dose", expected, 4, "true"), (ib, wb)
    above = [r for r in _csv_rows("eu-q4w.csv") if float(r["ige_lower"]) >= 700]
    assert above and all(r["outcome"] == "see-table:eu-q2w" for r in above)


US_CELLS = [(ib, wb, US_TABLE_1[ib][j]) for ib in US_IGE_ROWS for j, wb in enumerate(US_WEIGHT_COLS)]


@pytest.mark.parametrize("ige_band,weight_band,expected", US_CELLS, ids=[f"{a}/{b}" for a, b, _ in US_CELLS])
def test_us_table_1_lookup_every_cell(ige_band, weight_band, expected):
    for ige in _probe_points(ige_band):
        for kg in _probe_points(weight_band):
            lk = lookup("us-asthma-12plus", meas("total-ige", ige), meas("weight", kg))
            if expected is None:
                assert lk.outcome == "insufficient-data", (ige, kg)
                assert lk.dose_mg is None
            else:
                assert lk.outcome == "dose", (ige, kg, lk.reason)
                assert (lk.dose_mg, lk.interval_weeks) == expected, (ige, kg)


EU_CELLS = [(ib, wb, EU_TABLE_2[ib][j]) for ib in EU_IGE_ROWS for j, wb in enumerate(EU_WEIGHT_COLS)]


@pytest.mark.parametrize("ige_band,weight_band,expected", EU_CELLS, ids=[f"{a}/{b}" for a, b, _ in EU_CELLS])
def test_eu_table_2_lookup_every_cell(ige_band, weight_band, expected):
    for ige in _probe_points(ige_band):
        for kg in _probe_points(weight_band):
            lk = lookup("eu-q4w", meas("total-ige", ige), meas("weight", kg))
            if expected == NV:
                assert lk.outcome == "unverified-cell" and lk.dose_mg is None, (ige, kg)
                assert "EU SmPC Table 2" in lk.reason
            elif expected == T3:
                assert lk.outcome == "see-table" and lk.dose_mg is None, (ige, kg)
                assert "EU SmPC Table 3" in lk.reason and "Not dosable automatically" in lk.reason
            else:
                assert lk.outcome == "dose", (ige, kg, lk.reason)
                assert (lk.dose_mg, lk.interval_weeks) == (expected, 4), (ige, kg)


@pytest.mark.parametrize("ige", [750, 1000.5])
def test_eu_ige_above_700_points_to_the_unverified_every_2_weeks_table(ige):
    lk = lookup("eu-q4w", meas("total-ige", ige), meas("weight", 60))
    assert lk.outcome == "see-table"
    assert lk.see_table is not None and lk.see_table.id == "eu-q2w" and not lk.see_table.verified


def test_eu_rows_above_1100_are_not_verified_and_never_dose():
    lk = lookup("eu-q4w", meas("total-ige", 1500), meas("weight", 60))
    assert lk.outcome == "unverified-cell" and lk.dose_mg is None


def test_unverified_tables_have_no_cells_and_name_their_table_number():
    for table_id, number in (("us-asthma-6to11", "2"), ("us-crswnp", "3"), ("us-food-allergy", "4"),
                             ("eu-q2w", "3")):
        assert dose_table(table_id) is None
        meta = table_meta(table_id)
        assert meta.verified is False and meta.table_number == number
        lk = lookup(table_id, meas("total-ige", 250), meas("weight", 35))
        assert lk.outcome == "table-unverified" and lk.dose_mg is None
        assert f"Table {number}" in lk.reason


def test_us_6_to_11_names_band_and_verified_limits():
    lk = lookup("us-asthma-6to11", meas("total-ige", 250), meas("weight", 35))
    assert (lk.ige_band, lk.weight_band) == (">200-300 IU/mL", ">30-40 kg")
    assert "US label Table 2" in lk.reason
    out = lookup("us-asthma-6to11", meas("total-ige", 1350), meas("weight", 35))
    assert out.outcome == "above-max" and "1300 IU/mL" in out.reason
    light = lookup("us-asthma-6to11", meas("total-ige", 250), meas("weight", 19.9))
    assert light.outcome == "below-min" and "20 kg" in light.reason


def test_table_metadata_is_complete():
    for table_id in ("us-asthma-12plus", "eu-q4w", "eu-q2w", "us-asthma-6to11", "us-crswnp", "us-food-allergy"):
        raw = table_meta(table_id).raw
        for key in ("label", "label_date", "table_number", "region", "indication", "age_min", "verified", "sources"):
            assert key in raw, (table_id, key)
        assert all(s["url"].startswith(("https://", "http://")) for s in raw["sources"])
    us = table_meta("us-asthma-12plus")
    assert (us.ige_min, us.ige_max, us.weight_min, us.weight_max, us.age_min) == (30, 700, 30, 150, 12)
