"""Clinical core: type-2 phenotypes and omalizumab / anti-IL-5 / leukotriene / cyclosporine decisions.

Pure Python: no Flask, requests, FHIR models, fhir_mappings or cards. Inputs are `facts` types,
outputs `decisions` types; clinical knowledge lives in `data/` (dose tables, regimens, policy).
"""
from __future__ import annotations

from .orders import check_orders
from .recommend import REGIONS, assess

__all__ = ["assess", "check_orders", "REGIONS"]
