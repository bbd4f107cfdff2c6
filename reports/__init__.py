"""Self-contained HTML reports on one or several runs (``gandiag report RUN ... -o FILE.html``).

>>> from gandiag.reports import write_report                               # doctest: +SKIP
>>> write_report([Path("runs/dcgan"), Path("runs/vae")], Path("report.html"))  # doctest: +SKIP

Layout: this package lives at the top of the repository as ``reports/`` and installs as
``gandiag.reports`` (``package-dir`` in pyproject.toml); the symlink
``gandiag/reports`` makes ``import gandiag.reports`` resolvable from a checkout too.
"""

from gandiag.reports.build import write_report

__all__ = ["write_report"]
