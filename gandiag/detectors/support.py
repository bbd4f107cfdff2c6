"""Shared machinery for the built-in detectors: parameters, missing signals, state.

:class:`SignalDetector` adds three things to the :class:`~gandiag.detectors.base.Detector`
contract:

* **Parameters.** Every threshold is a named parameter with a documented default
  (``params``); ``SomeDetector(patience_steps=500)`` overrides it, and an unknown name
  raises a ``ValueError`` listing the valid ones.
* **Missing signals.** ``requires_any`` lists groups of signal patterns (``fnmatch``
  syntax); a group is satisfied when any record carried a signal matching any of its
  patterns. If a group is still unsatisfied ``missing_grace_steps`` steps after the first
  record, the detector emits ONE ``INFO`` alert naming the signals and the Monitor option
  that provides them. We chose an alert over ``warnings.warn`` because the monitor runs
  detectors off the training thread, where warnings are easy to lose, whereas alerts are
  stored with the run, printed by the CLI and shown by the dashboard and ``replay``.
* **State.** All mutable state is declared once, as a dataclass named by ``State``
  (see :mod:`gandiag.state`): ``reset`` starts from it, ``state_dict`` checks
  and copies it, ``load_state_dict`` validates and upgrades a saved one. The per-record
  code reads and writes it through ``self.state``, the instance's attribute dict.
"""

from __future__ import annotations

import copy
import fnmatch
from collections.abc import Mapping
from typing import Any, ClassVar, TypedDict

from gandiag.advice import Advice
from gandiag.detectors.base import Detector
from gandiag.detectors.names import MAX_INTERNED, SignalNames, signal_names
from gandiag.roles import DEFAULT_ROLES, Role, expand_patterns, networks_with_role
from gandiag.state import DeclaredState, StateError, check_value, dump_state, load_state
from gandiag.types import Alert, Severity, StepRecord


class SignalCoverage(TypedDict):
    """Which ``requires_any`` groups have been seen, and which were reported missing."""

    first_step: int | None
    seen: list[bool]
    reported: list[bool]


COMMON_PARAMS: dict[str, Any] = {
    # Steps after the first record before an unmet signal requirement is reported.
    "missing_grace_steps": 1000,
}


class SignalDetector(Detector):
    """Base of the built-in detectors (see the module docstring)."""

    params: ClassVar[dict[str, Any]] = {}
    # Patterns may name a role in angle brackets (``grad/<generator>/norm``): it stands for
    # every network playing that role in the run (see gandiag.roles).
    requires_any: ClassVar[tuple[tuple[str, ...], ...]] = ()
    # One hint per ``requires_any`` group: which Monitor option produces those signals.
    provided_by_groups: ClassVar[tuple[str | Advice, ...]] = ()
    kinds: ClassVar[tuple[str, ...]] = ("gan",)
    #: The declared state (a dataclass; see gandiag.state); no fields by default.
    State: ClassVar[type[DeclaredState]] = DeclaredState
    # The signals (patterns as in ``requires_any``) without which ``check`` has nothing to
    # do: on a record holding none of them it returns no alert and leaves the state as it
    # was, so ``update`` skips it. None (the default): ``check`` sees every record, as a
    # detector that counts steps or closes blocks on any record must.
    reads: ClassVar[tuple[str, ...] | None] = None
    # The least number of networks of a role for the detector to have anything to check
    # (several discriminators to compare, say). In a run whose recorded networks hold
    # fewer, a missing signal is expected, not a gap: no "inactive" notice is given
    # (``check`` still runs, so signals that do arrive are read).
    needs_roles: ClassVar[Mapping[Role, int]] = {}

    def __init__(self, **params: Any) -> None:
        valid = {**COMMON_PARAMS, **self.params}
        unknown = sorted(set(params) - set(valid))
        if unknown:
            raise ValueError(
                f"{self.name}: unknown parameter(s) {', '.join(unknown)}; "
                f"valid parameters: {', '.join(sorted(valid))}"
            )
        self.cfg: dict[str, Any] = {**valid, **params}
        for key, value in self.cfg.items():
            default = valid[key]
            numeric = isinstance(default, (int, float)) and not isinstance(default, bool)
            if numeric and value is not None and not isinstance(value, (int, float)):
                raise ValueError(f"{self.name}: parameter {key} must be a number, got {value!r}")
        self.reset()
        self.bind(DEFAULT_ROLES)

    def reset(self) -> None:
        """Forget every record fed: the declared initial state, no signal seen yet."""
        self._set_state(self.State())
        self._signals: SignalCoverage = {
            "first_step": None,
            "seen": [False] * len(self.requires_any),
            "reported": [False] * len(self.requires_any),
        }
        self._checked_names: set[str] = set()

    def _set_state(self, state: DeclaredState) -> None:
        self.declared_state = state
        # the per-record code indexes the instance's attribute dict: plain dict lookups
        # on the hot path, the very storage of the typed object
        self.state: dict[str, Any] = vars(state)

    def bind(self, roles: Mapping[str, Role], stages: Mapping[str, str] | None = None) -> None:
        self.roles = dict(roles)
        self.stages = dict(stages or {})
        self._groups = [expand_patterns(group, self.roles) for group in self.requires_any]
        self._applies = all(
            len(networks_with_role(self.roles, role)) >= n for role, n in self.needs_roles.items()
        )
        # names already matched against every group's patterns (a cache, not state: the
        # patterns are fixed, so a name that matched nothing never will), and the name
        # sets (gandiag.detectors.names) whose names all are
        self._checked_names = set()
        self._checked_sets: set[SignalNames] = set()
        self._reported_all: SignalCoverage | None = None
        self._reads = None if self.reads is None else expand_patterns(self.reads, self.roles)
        self._listens: dict[SignalNames, bool] = {}

    # -- to implement -------------------------------------------------------------------------
    def check(self, record: StepRecord) -> list[Alert]:
        raise NotImplementedError

    # -- contract -----------------------------------------------------------------------------
    def update(self, record: StepRecord) -> list[Alert]:
        # the feed loop of every run and replay: each detector, every record
        names = signal_names(record)
        sig = self._signals
        if sig["first_step"] is None or False in sig["seen"]:
            notices = self._check_signals(record, names)
        else:
            notices = []
        if self._reads is not None:
            listens = self._listens.get(names)
            if not (self._listens_to(names) if listens is None else listens):
                return notices
        found = self.check(record)
        return notices + found if notices else found

    def listens_to(self, record: StepRecord) -> bool:
        """Whether ``update`` passes ``record`` to ``check`` (see ``reads``)."""
        return self._reads is None or self._listens_to(signal_names(record))

    def _listens_to(self, names: SignalNames) -> bool:
        listens = self._listens.get(names)
        if listens is None:
            if len(self._listens) >= MAX_INTERNED:
                self._listens.clear()
            patterns = self._reads or ()
            listens = self._listens[names] = any(
                fnmatch.filter(names.names, pattern) for pattern in patterns
            )
        return listens

    def config(self) -> dict[str, Any]:
        return dict(self.cfg)

    def state_dict(self) -> dict[str, Any]:
        return {
            "detector": self.name,
            "version": self.State.version,
            "params": dict(self.cfg),
            "state": dump_state(self.name, self.declared_state),
            "signals": copy.deepcopy(self._signals),
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore a state saved by ``state_dict`` (or by gandiag before states were
        declared: no ``version`` entry; see gandiag.state for the upgrade)."""
        if state.get("detector") != self.name:
            raise ValueError(
                f"state belongs to detector {state.get('detector')!r}, not {self.name!r}; "
                "load each detector's own state (DetectorSuite.load_state_dict matches them by name)"
            )
        for key in ("state", "signals"):
            if key not in state:
                raise StateError(
                    f"{self.name}: saved state has no {key!r} entry; "
                    "pass the dict returned by state_dict()"
                )
        # Parameters given to the constructor win over stored ones, so replay with
        # overridden thresholds can start from a stored state.
        loaded = load_state(self.name, self.State, state["state"], state.get("version"))
        signals = state["signals"]
        check_value(signals, SignalCoverage, f"{self.name}: saved state entry 'signals'")
        groups = len(self.requires_any)
        if len(signals["seen"]) != groups or len(signals["reported"]) != groups:
            raise StateError(
                f"{self.name}: saved state entry 'signals' covers {len(signals['seen'])} "
                f"signal group(s), this detector requires {groups}"
            )
        self._set_state(loaded)
        self._signals = {
            "first_step": signals["first_step"],
            "seen": list(signals["seen"]),
            "reported": list(signals["reported"]),
        }
        self._checked_names = set()

    # -- helpers ------------------------------------------------------------------------------
    def alert(
        self,
        severity: Severity,
        step: int,
        onset: int,
        diagnosis: str,
        evidence: Mapping[str, float],
        remedies: tuple[str, ...],
    ) -> Alert:
        return Alert(
            detector=self.name,
            severity=severity,
            step=int(step),
            onset_step=int(min(onset, step)),
            diagnosis=diagnosis,
            evidence={k: float(v) for k, v in evidence.items()},
            remedies=tuple(remedies),
        )

    def _check_signals(self, record: StepRecord, names: SignalNames) -> list[Alert]:
        sig = self._signals
        first = sig["first_step"]
        if first is None:
            first = sig["first_step"] = int(record.step)
        if False not in sig["seen"]:
            return []  # every group seen: nothing left to match or report
        if names in self._checked_sets:
            if self._reported_all is sig:
                return []  # no new name to match, every missing group already reported
            new = []
        else:
            checked = self._checked_names
            new = [n for n in names.names if n not in checked]
            if len(self._checked_sets) >= MAX_INTERNED:
                self._checked_sets.clear()
            self._checked_sets.add(names)
        alerts = []
        for i, group in enumerate(self.requires_any):
            if sig["seen"][i]:
                continue
            if new and any(fnmatch.filter(new, pattern) for pattern in self._groups[i]):
                sig["seen"][i] = True
                continue
            late = record.step - first >= self.cfg["missing_grace_steps"]
            if late and not sig["reported"][i] and self._applies:
                sig["reported"][i] = True
                hint = self.provided_by_groups[i] if i < len(self.provided_by_groups) else ""
                alerts.append(
                    self.alert(
                        Severity.INFO,
                        record.step,
                        record.step,
                        f"{self.name} is inactive: no signal {' or '.join(group)} in "
                        f"{self.cfg['missing_grace_steps']} steps" + (f"; {hint}" if hint else ""),
                        {},
                        (),
                    )
                )
        self._checked_names.update(new)
        if all(seen or reported for seen, reported in zip(sig["seen"], sig["reported"])):
            # until a state is loaded (a new dict): seen and reported flags only ever get set
            self._reported_all = sig
        return alerts

    def signal_seen(self, group: int) -> bool:
        return bool(self._signals["seen"][group])
