"""The gandiag dashboard: a Dash app over a folder of runs, read only through the run store.

>>> from gandiag.dashboards import create_app          # doctest: +SKIP
>>> create_app("runs").run(host="127.0.0.1", port=8050)  # doctest: +SKIP

Pages: ``/`` (every run, live), ``/run/<run_id>`` (one run's curves, heatmaps, sample
grids, alerts; live), ``/compare?runs=a,b`` (metrics, precision–recall, FID over steps).

Layout: this package lives at the top of the repository as ``dashboards/`` and installs as
``gandiag.dashboards`` (``package-dir`` in pyproject.toml); the symlink
``gandiag/dashboards`` makes ``import gandiag.dashboards`` resolvable from a checkout too.
"""

from gandiag.dashboards.app import create_app

__all__ = ["create_app"]
