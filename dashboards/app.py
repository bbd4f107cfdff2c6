"""The Dash app: an explicit router over the page modules, and the route serving sample grids.

An explicit router (``dcc.Location`` → page layout) rather than ``use_pages``: Dash's page
registry is global to the process, while ``create_app`` may build several apps (one per
runs folder, several in one test session). Each page module owns its layout and callbacks.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote

from dash import Dash, Input, Output, dcc, html
from flask import abort, send_file

from gandiag.dashboards.components import message
from gandiag.dashboards.context import FILES_ROUTE, SERVED_FILE_HEADERS, RunsFolder, image_type
from gandiag.dashboards.pages import compare, run, runs

NAV_STYLE = {
    "display": "flex",
    "gap": "18px",
    "alignItems": "baseline",
    "borderBottom": "1px solid #ddd",
    "padding": "6px 0",
    "marginBottom": "8px",
}


def create_app(
    runs_dir: str | Path, *, live_interval_ms: int = 2000, max_points: int = 600
) -> Dash:
    """A dashboard over every run under ``runs_dir`` (read-only; serve it with ``app.run``).

    ``live_interval_ms`` is how often open pages look for new steps; ``max_points`` caps
    the points drawn per series (longer runs are averaged into that many buckets).
    """
    folder = RunsFolder.open(
        runs_dir, live_interval_ms=int(live_interval_ms), max_points=int(max_points)
    )
    app = Dash(__name__, title="gandiag", suppress_callback_exceptions=True, update_title=None)
    app.layout = html.Div(
        [
            dcc.Location(id="url", refresh=False),
            html.Nav(
                [
                    html.B("gandiag"),
                    dcc.Link("Runs", href="/"),
                    dcc.Link("Compare", href="/compare"),
                ],
                style=NAV_STYLE,
            ),
            html.Div(id="page"),
        ],
        style={"fontFamily": "system-ui, sans-serif", "margin": "0 24px", "maxWidth": "1200px"},
    )

    @app.callback(Output("page", "children"), Input("url", "pathname"), Input("url", "search"))
    def route(pathname: str | None, search: str | None) -> html.Div:
        path = pathname or "/"
        if path in ("/", runs.PATH):
            return runs.layout(folder)
        if path.rstrip("/") == compare.PATH:
            return compare.layout(folder, search or "")
        if path.startswith("/run/"):
            return run.layout(folder, path[len("/run/") :].rstrip("/"))
        return message(
            f"No page at {path}: go to the runs page (/) or the compare page.",
            "error",
            id="page-missing",
        )

    for page in (runs, run, compare):
        page.register(app, folder)

    @app.server.route(FILES_ROUTE + "<path:rel>")
    def run_file(rel: str):
        # Only regular files inside the runs folder, whatever the path says (.., links),
        # and only raster images: a run folder is data anyone may have written, so nothing
        # from it may run script on the dashboard's origin (no SVG, no HTML, ever).
        path = folder.resolve_file(unquote(rel))
        mimetype = None if path is None else image_type(path)
        if path is None or mimetype is None:
            abort(404)
        resp = send_file(path, mimetype=mimetype, max_age=3600)
        resp.headers.update(SERVED_FILE_HEADERS)
        return resp

    @app.server.after_request
    def no_sniffing(resp):
        resp.headers.setdefault("X-Content-Type-Options", "nosniff")
        return resp

    app.gandiag_folder = folder  # type: ignore[attr-defined]
    return app
