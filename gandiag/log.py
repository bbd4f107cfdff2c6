"""gandiag's loggers: alerts and runtime warnings go through :mod:`logging`.

Everything logs under the ``gandiag`` logger (alerts under ``gandiag.alerts``). When the
application has not configured logging (the root logger has no handler), a stderr
handler on ``gandiag`` prints them so alerts show up by default, the way PyTorch
Lightning does it; configure logging yourself (``logging.basicConfig``, a file handler,
``logging.getLogger("gandiag").setLevel(logging.ERROR)``) and gandiag follows it.
``warnings.warn`` remains for misuse the caller should fix in code (a VAE without
``.decode``, a Monitor never closed).
"""

from __future__ import annotations

import logging

from gandiag.types import Alert, Severity

_ROOT = "gandiag"
_LEVELS = {
    Severity.INFO: logging.INFO,
    Severity.WARNING: logging.WARNING,
    Severity.CRITICAL: logging.ERROR,
}


def get_logger(name: str = "") -> logging.Logger:
    """The ``gandiag`` logger, or its child ``gandiag.<name>``."""
    return logging.getLogger(f"{_ROOT}.{name}" if name else _ROOT)


def log_alert(alert: Alert) -> None:
    """Log ``alert`` on ``gandiag.alerts`` at the level of its severity (critical: ERROR)."""
    get_logger("alerts").log(_LEVELS[alert.severity], alert.one_line())


class _FallbackHandler(logging.StreamHandler):
    """stderr for gandiag's records, but only while the root logger has no handler.

    Decided per record, not once at import: an application (or pytest's log capture) that
    configures logging after importing gandiag gets gandiag's records through ordinary
    propagation, and this handler stays silent.
    """

    def emit(self, record: logging.LogRecord) -> None:
        if not logging.getLogger().handlers:
            super().emit(record)


def _default_handler() -> None:
    logger = get_logger()
    if logger.level == logging.NOTSET:
        logger.setLevel(logging.INFO)
    if not any(isinstance(h, _FallbackHandler) for h in logger.handlers):
        handler = _FallbackHandler()  # stderr
        handler.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(handler)


_default_handler()
