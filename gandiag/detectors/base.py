"""The detector contract: a pure, stateful function of step records that returns alerts.

Detectors read :class:`~gandiag.types.StepRecord` objects only (never models), so the
same code runs live inside the monitor and over a stored run in replay. Their state is
JSON (``state_dict``), so a resumed run alerts exactly as an uninterrupted one; the
built-in detectors declare it as a dataclass (gandiag.state, gandiag.detectors.support).
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Iterable, Mapping
from typing import Any, ClassVar, TypeVar

from gandiag.registry import Registry, subclass_of
from gandiag.roles import Role
from gandiag.types import Alert, StepRecord


class Detector(abc.ABC):
    """Base class. Subclasses set ``name`` and ``requires`` and implement ``update``.

    ``requires`` lists the signal names (or prefixes ending in ``/``) the detector needs;
    ``provided_by`` says, for a user, which Monitor option produces them.
    """

    name: ClassVar[str]
    requires: ClassVar[tuple[str, ...]] = ()
    provided_by: ClassVar[str] = ""

    @abc.abstractmethod
    def update(self, record: StepRecord) -> list[Alert]:
        """Consume one record (records arrive in increasing step order); return new alerts."""

    @abc.abstractmethod
    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue exactly where this detector is; JSON-serialisable."""

    @abc.abstractmethod
    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore a state produced by ``state_dict``."""

    def bind(self, roles: Mapping[str, Role], stages: Mapping[str, str] | None = None) -> None:
        """Learn the run's networks by role (``{name: Role}``) before the first record.

        The suite calls it with the roles the Monitor recorded (live) or the run metadata
        holds (replay), and the stages of the networks that are one stage or level of a
        multi-stage model (``{name: stage}``, see :mod:`gandiag.roles`). Detectors that
        read per-network signals find the networks here, by role, never by name. The
        default does nothing.
        """

    def config(self) -> dict[str, Any]:
        """The constructor arguments that rebuild this detector (recorded with the run).

        ``type(self)(**self.config())`` must behave exactly as ``self`` did from its first
        record; replay rebuilds the live set this way. The default, ``{}``, suits a
        detector without parameters.
        """
        return {}


D = TypeVar("D", bound=type[Detector])
#: The detector registry: name -> Detector subclass (see gandiag.registry for its rules).
DETECTORS: Registry[type[Detector]] = Registry("detector", check=subclass_of(Detector))


def register_detector(cls: D) -> D:
    """Class decorator adding a detector to the registry under ``cls.name``."""
    name = getattr(cls, "name", None)
    if not name:
        raise TypeError(f"{cls.__name__} must set a class attribute `name` to be registered")
    DETECTORS.register(name, cls)
    return cls


def get_detector_class(name: str) -> type[Detector]:
    """The detector class registered as ``name``; an unknown name lists the valid ones."""
    return DETECTORS.lookup(name)


AlertCallback = Callable[[Alert], None]


def run_detectors(detectors: Iterable[Detector], records: Iterable[StepRecord]) -> list[Alert]:
    """Feed ``records`` through ``detectors`` in order and collect every alert.

    A shorthand for ``DetectorSuite(detectors).run(records)``, the one feed loop.
    """
    from gandiag.detectors.suite import DetectorSuite

    return DetectorSuite(detectors).run(records)
