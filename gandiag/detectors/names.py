"""The set of signal names a record carries, interned, so name work is done once per set.

A run's records carry the same few sets of names over and over (every step the losses
and gradient norms, every N steps the samples' statistics too, now and then an
evaluation), while a record has tens of names. Whatever a detector derives from the
names alone (which networks have a gradient norm, which signals are losses, whether the
record holds any signal the detector reads) is therefore computed once per distinct set
and looked up afterwards: :func:`signal_names` returns one shared :class:`SignalNames`
per set, and :meth:`SignalNames.derive` memoises a function of the names on it.

The memo is a cache, never state: it holds functions of the names only, so a resumed
detector, a replay and a live run derive the same values from the same names.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from gandiag.types import StepRecord

T = TypeVar("T")

#: distinct name sets kept; a stream with more (names that change every step) starts over
MAX_INTERNED = 4096


class SignalNames:
    """One distinct, ordered set of signal names (``names``, in the record's order).

    Two records whose scalars have the same names in the same order share one instance,
    so it can key a dict by identity. The order is kept because some detectors report
    names in record order.
    """

    __slots__ = ("_memo", "names")

    def __init__(self, names: tuple[str, ...]) -> None:
        self.names = names
        self._memo: dict[Callable[[tuple[str, ...]], Any], Any] = {}

    def derive(self, fn: Callable[[tuple[str, ...]], T]) -> T:
        """``fn(self.names)``, computed on the first call for this set and cached on it.

        ``fn`` must be a pure function of the names (a module-level function, so that
        it is one object and one cache entry).
        """
        try:
            return self._memo[fn]
        except KeyError:
            value = self._memo[fn] = fn(self.names)
            return value

    def __copy__(self) -> SignalNames:
        return self  # interned: a copy must stay the same key

    def __deepcopy__(self, memo: dict[int, Any]) -> SignalNames:
        return self

    def __repr__(self) -> str:
        return f"SignalNames({len(self.names)} names)"


_interned: dict[tuple[str, ...], SignalNames] = {}
# The record asked about last and its names: the detectors of a suite each ask about the
# same record in turn, so all but the first get the answer from here. A record is frozen;
# it is held (not its id) so a later record cannot be mistaken for it.
_last: tuple[StepRecord | None, SignalNames | None] = (None, None)


def signal_names(record: StepRecord) -> SignalNames:
    """The interned :class:`SignalNames` of ``record.scalars``."""
    global _last
    last = _last
    if last[0] is record:
        return last[1]  # type: ignore[return-value]
    keys = tuple(record.scalars)
    names = _interned.get(keys)
    if names is None:
        if len(_interned) >= MAX_INTERNED:
            _interned.clear()
        names = _interned[keys] = SignalNames(keys)
    _last = (record, names)
    return names


def forget_names() -> None:
    """Drop every interned name set and what was derived from it (tests start clean)."""
    global _last
    _interned.clear()
    _last = (None, None)
