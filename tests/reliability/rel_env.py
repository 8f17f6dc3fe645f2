"""Run-mode constants shared by the reliability tests (imported by name: `conftest` is ambiguous
across test directories, this module is not)."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LONG = os.environ.get("CDS_LONG", "").strip() == "1"
IN_CI = bool(os.environ.get("CI", "").strip())

PG_HOST, PG_PORT = "127.0.0.1", 5432
REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379

long_only = pytest.mark.skipif(not LONG, reason="heavy run: set CDS_LONG=1")


def examples(quick: int, long: int) -> int:
    """Hypothesis max_examples for this mode (CDS_LONG=1: long)."""
    return long if LONG else quick
