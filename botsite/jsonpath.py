"""Dotted paths into JSON documents, as staff write them in configs: "main.temp", "items.0"."""

from typing import Any


def path_get(document: Any, path: str) -> Any:
    """The value at `path` ("a.b" or "items.0.title"); None where it is missing. An empty
    path is the document itself."""
    value = document
    for part in path.split(".") if path else []:
        if isinstance(value, dict):
            value = value.get(part)
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return None
    return value
