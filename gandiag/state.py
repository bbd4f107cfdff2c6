"""Declared state: one dataclass per stateful piece, from which reset, save and load follow.

What must survive a resume is declared once, as a dataclass of typed fields with their
initial values (torchmetrics' ``Metric.add_state`` is the model)::

    @dataclass
    class ModeCollapseState(DeclaredState):
        pdist: float | None = None
        streak: Streak = field(default_factory=new_streak)

From the declaration follow:

* **reset**: ``State()`` is the initial state;
* **save**: :func:`dump_state` checks every field against its declared type and returns a
  JSON-ready dict (a deep copy), so ``json.dumps`` needs no encoder;
* **load**: :func:`load_state` refuses a state with an unknown or missing field, or a value
  of the wrong type, naming its owner (a detector's name) and the field, and upgrades
  older versions.

The detectors (gandiag.detectors.support) and the ADA controller
(gandiag.reference_models.ada) declare their state this way. A detector's per-record code
reads and writes the instance's attribute dict (``vars(state)``): a plain dict lookup on
the hot path, and the same object the declaration types. A field written there without
being declared is caught at the next save, so a state cannot silently grow keys a resume
would lose.

Versions: ``version`` counts changes of a declaration that older saved states cannot be
read with as they are; ``upgrade`` turns an older state into the current one. States
saved before the declarations existed (no version) hold the same fields, except that a
field written lazily (a smoothed value's ``*_step``) is absent until first written: the
default upgrade gives an absent field its initial value, and drops the fields named in
``retired`` (declared once, never read).
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import types
import typing
from collections.abc import Mapping
from typing import Any, ClassVar, Union, get_args, get_origin, get_type_hints, is_typeddict


@dataclasses.dataclass
class DeclaredState:
    """Base of the declared states (subclass with ``@dataclass``); has no fields itself."""

    #: Bumped when a field changes meaning or type; ``upgrade`` reads the older versions.
    version: ClassVar[int] = 1
    #: Fields older versions stored that this one no longer uses (ignored on load).
    retired: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def upgrade(cls, fields: dict[str, Any], version: int | None) -> dict[str, Any]:
        """Turn the fields of a state saved at ``version`` (None: before declarations) into
        this version's. The default reads unversioned states: absent fields get their
        initial values, retired ones are dropped."""
        if version is not None:
            raise StateError(f"no upgrade from version {version} to {cls.version}")
        defaults = vars(cls())
        out = {k: v for k, v in fields.items() if k not in cls.retired}
        for name, value in defaults.items():
            out.setdefault(name, value)
        return out


S = typing.TypeVar("S", bound=DeclaredState)


class StateError(ValueError):
    """A saved state does not match its declaration (the message names the field)."""


def field_types(cls: type[DeclaredState]) -> dict[str, Any]:
    """The declared fields of ``cls`` and their (resolved) types, in declaration order."""
    # cached: resolving string annotations costs far more than checking the values
    found = _FIELD_TYPES.get(cls)
    if found is None:
        hints = get_type_hints(cls)
        found = _FIELD_TYPES[cls] = {f.name: hints[f.name] for f in dataclasses.fields(cls)}
    return found


_FIELD_TYPES: dict[type[DeclaredState], dict[str, Any]] = {}


def dump_state(owner: str, state: DeclaredState) -> dict[str, Any]:
    """The fields of ``state`` as a JSON-ready dict (deep copy), after checking each one
    against its declared type; ``owner`` (the detector's name) is named in errors."""
    _check_fields(owner, type(state), vars(state), "state")
    return dataclasses.asdict(state)


def load_state(owner: str, cls: type[S], fields: Mapping[str, Any], version: int | None) -> S:
    """Build a ``cls`` from saved ``fields`` (of ``version``; None for unversioned states),
    upgrading older versions and checking every field; errors name ``owner`` and the field."""
    if not isinstance(fields, Mapping):
        raise StateError(f"{owner}: saved state must be a mapping of fields, got {fields!r}")
    data = dict(fields)
    if version != cls.version:
        if version is not None and version > cls.version:
            raise StateError(
                f"{owner}: saved state has version {version}, newer than this gandiag's "
                f"{cls.version}; resume with the gandiag version that saved it"
            )
        try:
            data = cls.upgrade(data, version)
        except StateError as err:
            raise StateError(f"{owner}: {err}") from None
    _check_fields(owner, cls, data, "saved state")
    return cls(**copy.deepcopy(data))  # the caller's lists and dicts stay its own


def _check_fields(
    owner: str, cls: type[DeclaredState], values: Mapping[str, Any], what: str
) -> None:
    """``values`` holds exactly the fields ``cls`` declares, each of its declared type."""
    types_ = field_types(cls)
    unknown = [k for k in values if k not in types_]
    if unknown:
        raise StateError(
            f"{owner}: {what} has unknown field(s) {', '.join(unknown)}, not declared in "
            f"{cls.__name__} (it declares {', '.join(types_) or 'no fields'}); a field the "
            "detector writes must be declared there, so a resume keeps it"
        )
    missing = [k for k in types_ if k not in values]
    if missing:
        raise StateError(
            f"{owner}: {what} lacks field(s) {', '.join(missing)} declared in {cls.__name__}; "
            "pass the dict its state_dict() returned"
        )
    for name, tp in types_.items():
        check_value(values[name], tp, f"{owner}: {what} field {name!r}")


def check_value(value: Any, tp: Any, where: str) -> None:
    """Raise :class:`StateError` unless ``value`` is a JSON value of declared type ``tp``.

    Understands ``Any``, ``None``, ``bool``, ``int``, ``float`` (an int is a float, as in
    PEP 484; NaN and infinities are floats too), ``str``, ``list[T]``, ``dict[str, T]``,
    unions and ``TypedDict`` classes (their keys exactly).
    """
    if not _matches(value, tp, where):
        raise StateError(f"{where} must be {_name(tp)}, got {value!r}")


def _matches(value: Any, tp: Any, where: str) -> bool:
    if tp is Any:
        return True
    if tp is None or tp is type(None):
        return value is None
    if tp is bool:
        return isinstance(value, bool)
    if tp is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if tp is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if tp is str:
        return isinstance(value, str)
    origin = get_origin(tp)
    if origin in (Union, types.UnionType):
        return any(_matches(value, arg, where) for arg in get_args(tp))
    if origin is list:
        (item,) = get_args(tp) or (Any,)
        if not isinstance(value, list):
            return False
        for i, v in enumerate(value):
            check_value(v, item, f"{where}[{i}]")
        return True
    if origin is dict:
        _, item = get_args(tp) or (str, Any)
        if not isinstance(value, dict):
            return False
        for k, v in value.items():
            if not isinstance(k, str):
                raise StateError(f"{where} has key {k!r}; keys must be strings (JSON objects)")
            check_value(v, item, f"{where}[{k!r}]")
        return True
    if is_typeddict(tp):
        if not isinstance(value, dict):
            return False
        hints = _typeddict_hints(tp)
        if set(value) != set(hints):
            raise StateError(
                f"{where} must have keys {', '.join(hints)}, got {', '.join(map(str, value))}"
            )
        for k, t in hints.items():
            check_value(value[k], t, f"{where}[{k!r}]")
        return True
    raise TypeError(f"{where}: declared type {tp!r} is not a JSON type this module checks")


@functools.cache
def _typeddict_hints(tp: Any) -> dict[str, Any]:
    return get_type_hints(tp)


def _name(tp: Any) -> str:
    if tp is type(None):
        return "None"
    if isinstance(tp, type) and get_origin(tp) is None:
        return tp.__name__
    return str(tp).replace("typing.", "")
