"""The run page (``/run/<run_id>``): curves, D outputs, gradient heatmaps, sample grids, alerts,
VAE panels; live.

Each section of panels loads in its own callback (a slow section never holds up the
others). When new steps arrive, its figures are redrawn from the same downsampled read a
page reload makes, so a live page and a reloaded one draw the same curves (appending raw
points to bucket-averaged ones made every curve turn noisier where the page was opened).
"""

from __future__ import annotations

import inspect
from typing import Any

import numpy as np
from dash import ALL, MATCH, Dash, Input, Output, Patch, State, ctx, dcc, html, no_update
from dash.exceptions import PreventUpdate

from gandiag.dashboards.components import (
    alert_body,
    alert_groups,
    config_details,
    graph,
    message,
    metrics_table,
    plain_figure,
    run_header,
)
from gandiag.dashboards.context import READ_ERRORS, RunsFolder
from gandiag.figures import (
    SECTIONS,
    alert_timeline_figure,
    build_run_panels,
    points_figure,
    read_alerts_for_display,
    summarize_run,
)
from gandiag.store import RunReader, SamplePoints
from gandiag.store.schema import SchemaVersionError

PATH_TEMPLATE = "/run/<run_id>"
#: Dash 3+ sliders add a number box beside the track; older ones have no such option
NO_INPUT_BOX: dict[str, Any] = (
    {"allow_direct_input": False}
    if "allow_direct_input" in inspect.signature(dcc.Slider).parameters
    else {}
)


GRID_IMG_STYLE = {
    "width": "min(560px, 100%)",
    "imageRendering": "pixelated",
    "border": "1px solid #ddd",
}
HIDDEN = {"display": "none"}


def layout(folder: RunsFolder, run_id: str) -> html.Div:
    try:
        with folder.reader(run_id) as reader:
            summary = summarize_run(reader)
            grid_names = sorted({g.name for g in reader.sample_grids()})
    except SchemaVersionError as exc:
        return message(
            f"This run cannot be shown: {exc} Nothing was modified.", "error", id="run-error"
        )
    except READ_ERRORS as exc:
        return message(f"This run cannot be shown: {exc}", "error", id="run-error")
    sections = []
    for name in SECTIONS:
        sections.append(
            html.Div(
                [
                    dcc.Store(id={"type": "section-state", "name": name}),
                    dcc.Interval(
                        id={"type": "section-tick", "name": name},
                        interval=folder.live_interval_ms,
                        max_intervals=0,
                    ),
                    dcc.Loading(html.Div(id={"type": "section-body", "name": name})),
                ],
                className="gd-section",
            )
        )
    default_grid = "samples" if "samples" in grid_names else (grid_names or [None])[0]
    return html.Div(
        [
            dcc.Store(id="run-state", data={"run_id": run_id, "alerts": -1, "metrics": -1}),
            dcc.Interval(id="run-tick", interval=folder.live_interval_ms),
            html.Div(run_header(summary), id="run-top"),
            config_details(summary.config),
            html.Div(
                [
                    html.Span("Smoothing (EMA) ", style={"marginRight": "6px"}),
                    html.Div(
                        dcc.Slider(
                            min=0,
                            max=0.99,
                            step=0.01,
                            value=0,
                            id="run-smoothing",
                            **NO_INPUT_BOX,
                            marks={0: "0", 0.6: "0.6", 0.9: "0.9", 0.99: "0.99"},
                        ),
                        style={"width": "320px"},
                    ),
                ],
                style={"display": "flex", "alignItems": "center", "margin": "6px 0"},
            ),
            graph(alert_timeline_figure([]), "run-alert-timeline"),
            html.Div(id="run-alert-detail"),
            html.Div(id="run-alert-list"),
            html.H3("Metrics"),
            html.Div(id="run-metrics"),
            html.H3("Sample grids"),
            html.Div(
                [
                    dcc.Dropdown(
                        options=grid_names,
                        value=default_grid,
                        id="grid-name",
                        clearable=False,
                        style={"width": "260px"},
                    ),
                    dcc.Slider(
                        min=0,
                        max=0,
                        step=1,
                        value=0,
                        id="grid-slider",
                        marks=None,
                        **NO_INPUT_BOX,  # the box would show the index, not the step
                    ),
                    html.Img(id="grid-img", style=GRID_IMG_STYLE),
                    # 2-D samples: a scatter with axes over the real data, instead of the PNG
                    dcc.Graph(
                        id="grid-scatter",
                        figure=plain_figure(points_figure(SamplePoints(np.zeros((0, 2))), "")),
                        style=HIDDEN,
                        config={"displaylogo": False},
                    ),
                    html.Div(id="grid-caption", style={"color": "#555"}),
                ]
            ),
            *sections,
        ]
    )


def register(app: Dash, folder: RunsFolder) -> None:
    @app.callback(
        Output("run-top", "children"),
        Output("run-alert-timeline", "figure"),
        Output("run-alert-list", "children"),
        Output("run-metrics", "children"),
        Output("run-state", "data"),
        Input("run-tick", "n_intervals"),
        State("run-state", "data"),
        running=[(Output("run-tick", "disabled"), True, False)],
    )
    def refresh_top(_n: int | None, state: dict[str, Any]) -> tuple:
        try:
            with folder.reader(state["run_id"]) as reader:
                summary = summarize_run(reader)
                alerts = read_alerts_for_display(reader)
                n_metrics = len(reader.read_metrics())
        except READ_ERRORS as exc:
            return message(f"The run can no longer be read: {exc}", "error"), *[no_update] * 4
        # Re-render lists only when they changed: an opened alert stays open.
        timeline = alert_list = metrics = no_update
        if len(alerts) != state.get("alerts"):
            timeline = alert_timeline_figure(alerts, last_step=summary.last_step)
            alert_list = alert_groups(summary.groups)
        elif summary.last_step is not None and summary.last_step != state.get("last_step"):
            timeline = Patch()  # the step axis follows the run, as on a reload
            timeline["layout"]["xaxis"]["range"] = [0, max(1, summary.last_step)]
        if n_metrics != state.get("metrics"):
            metrics = metrics_table(summary.latest_metrics)
        state = {
            **state,
            "alerts": len(alerts),
            "metrics": n_metrics,
            "last_step": summary.last_step,
        }
        return run_header(summary), timeline, alert_list, metrics, state

    @app.callback(
        Output("run-alert-detail", "children"),
        Input("run-alert-timeline", "clickData"),
        State("run-state", "data"),
        prevent_initial_call=True,
    )
    def show_alert(click: dict | None, state: dict[str, Any]) -> Any:
        if not click or not click.get("points"):
            raise PreventUpdate
        index = click["points"][0].get("customdata")
        with folder.reader(state["run_id"]) as reader:
            alerts = read_alerts_for_display(reader)
        if not isinstance(index, int) or not 0 <= index < len(alerts):
            raise PreventUpdate
        return html.Div(
            alert_body(alerts[index]),
            id="run-alert-open",
            style={"border": "1px solid #ddd", "padding": "8px"},
        )

    @app.callback(
        Output("grid-slider", "max"),
        Output("grid-slider", "value"),
        Output("grid-slider", "marks"),
        Output("grid-img", "src"),
        Output("grid-img", "style"),
        Output("grid-scatter", "figure"),
        Output("grid-scatter", "style"),
        Output("grid-caption", "children"),
        Output("grid-name", "options"),
        Input("grid-name", "value"),
        Input("grid-slider", "value"),
        Input("run-tick", "n_intervals"),
        State("grid-slider", "max"),
        State("run-state", "data"),
    )
    def show_grid(
        name: str | None,
        index: int | None,
        _n: int | None,
        old_max: int | None,
        state: dict[str, Any],
    ) -> tuple:
        try:
            with folder.reader(state["run_id"]) as reader:
                all_grids = reader.sample_grids()
                names = sorted({g.name for g in all_grids})
                grids = [g for g in all_grids if g.name == name]
                if not grids:
                    empty = "No sample grids stored for this run yet."
                    return 0, 0, {}, None, HIDDEN, no_update, HIDDEN, empty, names
                top = len(grids) - 1
                # Follow the newest grid unless the user moved the slider back.
                following = (
                    index is None
                    or old_max is None
                    or index >= old_max
                    or ctx.triggered_id == "grid-name"
                )
                i = top if following else min(int(index), top)
                g = grids[i]
                points = reader.sample_points(g)
        except READ_ERRORS:
            raise PreventUpdate from None
        every = max(1, -(-len(grids) // 8))  # at most ~8 labelled ticks
        marks = {j: str(grids[j].step) for j in range(0, len(grids), every)}
        marks[top] = str(grids[top].step)
        caption = f"{g.name} at step {g.step} ({i + 1}/{top + 1})"
        if points is not None:
            scatter = plain_figure(points_figure(points, f"{g.name} at step {g.step}"))
            return top, i, marks, None, HIDDEN, scatter, {}, caption, names
        src = folder.file_url(g.path)
        return top, i, marks, src, GRID_IMG_STYLE, no_update, HIDDEN, caption, names

    @app.callback(
        Output({"type": "section-body", "name": MATCH}, "children"),
        Output({"type": "run-panel", "section": MATCH, "key": ALL}, "figure"),
        Output({"type": "section-state", "name": MATCH}, "data"),
        # A tick arriving while a slow (re)build runs would supersede it and the section
        # would never draw, so each call allows exactly one more tick when it is done.
        Output({"type": "section-tick", "name": MATCH}, "max_intervals"),
        Input({"type": "section-tick", "name": MATCH}, "n_intervals"),
        Input("run-smoothing", "value"),
        State({"type": "section-state", "name": MATCH}, "data"),
        State("run-state", "data"),
    )
    def update_section(
        n: int | None, smoothing: float | None, state: dict[str, Any] | None, run: dict[str, Any]
    ) -> tuple:
        name = ctx.outputs_list[0]["id"]["name"]
        n_figs = len(ctx.outputs_list[1])
        next_tick = (n or 0) + 1
        unchanged = (no_update, [no_update] * n_figs, no_update, next_tick)
        try:
            reader = folder.reader(run["run_id"])
        except READ_ERRORS:
            return unchanged
        with reader:
            signature = len(reader.scalar_names()) + len(reader.histogram_names())
            last = reader.last_step()
            rebuild = state is None or state["signature"] != signature
            smooth = float(smoothing or 0.0)
            if rebuild:
                built = _build_section(folder, reader, name, last, signature, n_figs, smooth)
                return (*built, next_tick)
            restyled = ctx.triggered_id == "run-smoothing"
            if not restyled and (last is None or last == state["last_step"]):
                return unchanged
            # A long run gains less than a bucket per tick: redraw once a bucket's worth of
            # steps arrived (or the run stopped), not on every tick.
            bucket = max(1, (last + 1) // max(1, folder.max_points))  # runs start near step 0
            grown = last - (state["last_step"] or 0) >= bucket
            if not (restyled or grown or reader.info().status != "training"):
                return unchanged
            panels = build_run_panels(
                reader, sections=[name], max_points=folder.max_points, smoothing=smooth
            )
        by_key = {p.key: p for p in panels}
        if [o["id"]["key"] for o in ctx.outputs_list[1]] != [p.key for p in panels]:
            with folder.reader(run["run_id"]) as reader:
                built = _build_section(folder, reader, name, last, signature, n_figs, smooth)
                return (*built, next_tick)
        figures = [_data_patch(by_key[o["id"]["key"]].figure) for o in ctx.outputs_list[1]]
        state = {**state, "last_step": last}
        return no_update, figures, state, next_tick


def _build_section(
    folder: RunsFolder,
    reader: RunReader,
    name: str,
    last: int | None,
    signature: int,
    n_figs: int,
    smoothing: float = 0.0,
) -> tuple:
    panels = build_run_panels(
        reader, sections=[name], max_points=folder.max_points, smoothing=smoothing
    )
    children: list[Any] = []
    if panels:
        children.append(html.H3(name))
    children += [
        graph(p.figure, {"type": "run-panel", "section": name, "key": p.key}) for p in panels
    ]
    state = {
        "last_step": last,
        "signature": signature,
        "appended": 0,
        "specs": [p.spec() for p in panels],
    }
    return children, [no_update] * n_figs, state


def _data_patch(figure: Any) -> Patch:
    """A Patch replacing the traces' data and the x range, keeping the user's zoom, y-axis
    type and legend choices (``uirevision``)."""
    patch = Patch()
    plain = plain_figure(figure)
    patch["data"] = plain["data"]
    shapes = plain["layout"].get("shapes")
    if shapes is not None:
        patch["layout"]["shapes"] = shapes
    return patch
