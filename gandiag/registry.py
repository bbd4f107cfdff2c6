"""One registry type for every extension point: detectors, feature extractors, datasets,
models and metrics.

Every registry follows the same rules:

* a name is a Python identifier (``fid``, ``mode_collapse``, ``wgan_gp``), so it can stand
  in a signal name (``eval/<metric>``), a CLI override (``detector.param=value``) and a
  comma-separated list;
* registering the same object again under its name does nothing; registering a different
  object under a taken name is an error unless ``replace=True`` says it is meant;
* what is registered is type-checked at registration, not at first use;
* an unknown name raises :class:`UnknownNameError` (a ``KeyError`` and a ``ValueError``)
  listing the valid names, with a did-you-mean.

No torch here; the registries themselves live next to what they hold
(``gandiag.detectors.DETECTORS``, ``gandiag.features.EXTRACTORS``, ``gandiag.data.DATASETS``,
``gandiag.reference_models.MODELS``, ``gandiag.metrics.registry.METRICS``).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Generic, TypeVar

T = TypeVar("T")

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class UnknownNameError(KeyError, ValueError):
    """A name no registry entry has; the message lists the valid names."""

    def __str__(self) -> str:  # KeyError would quote the whole message
        return str(self.args[0]) if self.args else ""


def did_you_mean(name: object, valid: Any) -> str:
    """`` (did you mean 'x'?)`` for the closest of ``valid``, or ``""``."""
    close = difflib.get_close_matches(str(name), [str(v) for v in valid], n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def subclass_of(base: type) -> Callable[[Any], str | None]:
    """A check that the registered object is a subclass of ``base``."""

    def check(obj: Any) -> str | None:
        if isinstance(obj, type) and issubclass(obj, base):
            return None
        return f"must be a subclass of {base.__module__}.{base.__qualname__}, got {obj!r}"

    return check


def instance_of(cls: type) -> Callable[[Any], str | None]:
    """A check that the registered object is an instance of ``cls``."""

    def check(obj: Any) -> str | None:
        if isinstance(obj, cls):
            return None
        return f"must be a {cls.__qualname__}, got {type(obj).__name__}"

    return check


def is_callable(obj: Any) -> str | None:
    """A check that the registered object can be called (a factory or a function)."""
    return None if callable(obj) else f"must be callable, got {type(obj).__name__}"


class Registry(Mapping[str, T], Generic[T]):
    """Named entries of one kind (``what``, e.g. ``"detector"``), read like a dict.

    >>> reg = Registry("metric", check=is_callable)
    >>> reg.register("double", lambda x: 2 * x)  # doctest: +ELLIPSIS
    <function <lambda> at ...>
    >>> reg.lookup("dobule")
    Traceback (most recent call last):
    ...
    gandiag.registry.UnknownNameError: unknown metric 'dobule' (did you mean 'double'?); registered metrics: double
    """

    def __init__(
        self, what: str, *, check: Callable[[Any], str | None] | None = None, plural: str = ""
    ) -> None:
        self.what = what
        self.plural = plural or f"{what}s"
        self._check = check
        self._entries: dict[str, T] = {}

    # -- registration -------------------------------------------------------------------------
    def register(self, name: str, obj: T, *, replace: bool = False) -> T:
        """Add ``obj`` under ``name`` (see the module docstring for the rules); returns ``obj``."""
        if not isinstance(name, str) or not _NAME.match(name):
            raise ValueError(
                f"{self.what} name {name!r} is not valid; use letters, digits and underscores, "
                "starting with a letter (e.g. 'my_" + self.what.replace(" ", "_") + "')"
            )
        if self._check is not None:
            problem = self._check(obj)
            if problem:
                raise TypeError(f"{self.what} {name!r} {problem}")
        old = self._entries.get(name)
        if old is not None and old is not obj and not replace:
            raise ValueError(
                f"a {self.what} named {name!r} is already registered ({_describe(old)}); "
                "choose another name, or pass replace=True to replace it"
            )
        self._entries[name] = obj
        return obj

    def decorator(self, name: str, *, replace: bool = False) -> Callable[[T], T]:
        """``@registry.decorator("name")`` registers what it decorates."""

        def deco(obj: T) -> T:
            return self.register(name, obj, replace=replace)

        return deco

    def unregister(self, name: str) -> T:
        """Remove and return the entry ``name`` (e.g. a test's temporary registration)."""
        self.lookup(name)
        return self._entries.pop(name)

    # -- reading ------------------------------------------------------------------------------
    def lookup(self, name: str) -> T:
        """The entry ``name``; an unknown name raises listing the valid ones."""
        try:
            return self._entries[name]
        except (KeyError, TypeError):
            raise UnknownNameError(
                f"unknown {self.what} {name!r}{did_you_mean(name, self._entries)}; registered "
                f"{self.plural}: {', '.join(self.names()) or '(none)'}"
            ) from None

    def names(self) -> list[str]:
        """The registered names, sorted."""
        return sorted(self._entries)

    def __getitem__(self, name: str) -> T:
        return self.lookup(name)

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __repr__(self) -> str:
        return f"Registry({self.what!r}: {', '.join(self.names())})"


def _describe(obj: Any) -> str:
    mod = getattr(obj, "__module__", None)
    qual = getattr(obj, "__qualname__", None)
    return f"{mod}.{qual}" if mod and qual else type(obj).__name__
