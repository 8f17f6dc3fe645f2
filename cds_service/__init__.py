"""CDS Hooks 2.0 service layer for omalizumab-cds (Flask).

`create_app(config=None)` builds the WSGI app; importing this package does nothing else.
"""
from __future__ import annotations

from typing import Any, Mapping

__all__ = ["create_app"]


def create_app(config: Mapping[str, Any] | None = None):
    from .app import create_app as _create_app

    return _create_app(config)
