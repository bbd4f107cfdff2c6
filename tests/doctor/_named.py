"""The remedy texts each registered detector can put on its alerts, read from its source.

Alerts carry remedies as tuples of module constants (``R.VANISHING``, a class attribute
``remedies = (...)``, a module tuple such as ``FADE_REMEDIES``). This walks each detector
class (and its bases inside gandiag.detectors): the class-level ``remedies`` assignment and
every upper-case name or ``module.NAME`` used inside its methods, resolved in the module,
keeping the strings reachable from them. Hints that are not remedies (``provided_by``
texts) are assigned to other class attributes and are not collected.
"""

from __future__ import annotations

import ast
import inspect
import sys
import textwrap
from typing import Any

from gandiag.detectors.base import DETECTORS


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, tuple) and all(isinstance(v, (str, tuple)) for v in value):
        return [s for v in value for s in _strings(v)]
    return []


def _resolve(node: ast.AST, ns: dict[str, Any]) -> Any:
    if isinstance(node, ast.Name) and node.id.isupper():
        return ns.get(node.id)
    if isinstance(node, ast.Attribute) and node.attr.isupper() and isinstance(node.value, ast.Name):
        mod = ns.get(node.value.id)
        return getattr(mod, node.attr, None) if inspect.ismodule(mod) else None
    return None


def _texts_of_class(cls: type) -> set[str]:
    ns = vars(sys.modules[cls.__module__])
    tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
    body = tree.body[0].body  # type: ignore[attr-defined]
    out: set[str] = set()
    for stmt in body:
        if isinstance(stmt, ast.Assign | ast.AnnAssign):
            targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
            if any(isinstance(t, ast.Name) and t.id == "remedies" for t in targets):
                for node in ast.walk(stmt.value) if stmt.value is not None else ():
                    out.update(_strings(_resolve(node, ns)))
        elif isinstance(stmt, ast.FunctionDef):
            for node in ast.walk(stmt):
                if isinstance(node, ast.Attribute) and node.attr == "remedies":
                    out.update(_strings(getattr(cls, "remedies", ())))
                out.update(_strings(_resolve(node, ns)))
    return out


def remedies_named() -> dict[str, set[str]]:
    """detector name -> the remedy texts its alerts can carry."""
    named: dict[str, set[str]] = {}
    for name in DETECTORS.names():
        cls = DETECTORS.lookup(name)
        texts: set[str] = set()
        for klass in cls.__mro__:
            if klass.__module__.startswith("gandiag.detectors"):
                try:
                    texts |= _texts_of_class(klass)
                except (OSError, TypeError):
                    continue
        texts |= set(_strings(getattr(cls, "remedies", ())))
        named[name] = texts
    return named
