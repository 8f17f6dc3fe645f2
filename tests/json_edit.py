"""One element of a JSON document changed or removed by path, on a copy (the fuzzers and the leaf probe)."""
from __future__ import annotations

import copy
from typing import Any

DELETE = object()  # as the value: remove the element instead of replacing it


def changed(doc: Any, path: tuple, value: Any) -> Any:
    """A deep copy of `doc` with the element at `path` (keys and list indexes) set to `value`, or
    removed when `value` is DELETE."""
    out = copy.deepcopy(doc)
    parent = out
    for step in path[:-1]:
        parent = parent[step]
    if value is DELETE:
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    return out
