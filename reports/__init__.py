"""Self-contained HTML reports on one or several runs (``gandiag report RUN ... -o FILE.html``).

>>> from gandiag.reports import write_report                               # doctest: +SKIP
>>> write_report([Path("runs/dcgan"), Path("runs/vae")], Path("report.html"))  # doctest: +SKIP
"""

from gandiag.reports.build import write_report

__all__ = ["write_report"]
