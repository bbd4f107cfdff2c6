"""``gandiag export``: tables read back with pandas equal the store; TensorBoard export too."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from sink_run import STEPS, monitored_run

from gandiag.cli import main
from gandiag.store import RunReader

pd = pytest.importorskip("pandas")


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("export") / "run"
    monitored_run(path, [])
    return path


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_tables_read_back_with_pandas(run_dir, tmp_path, fmt, capsys):
    if fmt == "parquet":
        pytest.importorskip("pyarrow")
    out = tmp_path / fmt
    assert main(["export", str(run_dir), "--format", fmt, "-o", str(out)]) == 0
    assert f"{fmt}" in capsys.readouterr().out
    read = pd.read_csv if fmt == "csv" else pd.read_parquet
    scalars = read(out / f"scalars.{fmt}").set_index("step")
    with RunReader(run_dir) as r:
        stored = r.read_scalars()
        alerts, metrics = r.read_alerts(), r.read_metrics()
        hist_name = r.histogram_names()[0]
        hists = r.read_histograms(hist_name)
    assert scalars.index.tolist() == list(range(STEPS))
    for name, series in stored.items():
        col = scalars[name].dropna()
        finite = np.isfinite(series.values)
        assert col.index.tolist() == series.steps[finite].tolist()
        np.testing.assert_allclose(col.to_numpy(), series.values[finite], rtol=1e-15)
    h = read(out / f"histograms.{fmt}")
    h = h[h["name"] == hist_name]
    assert sorted(set(h["step"])) == [s for s, _ in hists]
    for step, hist in hists:
        assert h[h["step"] == step]["count"].tolist() == list(hist.counts)
    a = read(out / f"alerts.{fmt}")
    assert a["step"].tolist() == [x.step for x in alerts]
    assert a["diagnosis"].tolist() == [x.diagnosis for x in alerts]
    assert json.loads(a["evidence"].iloc[0]) == pytest.approx(dict(alerts[0].evidence))
    m = read(out / f"metrics.{fmt}")
    assert m[["name", "step", "value", "uncertainty"]].values.tolist() == [
        [x.name, x.step, x.value, x.uncertainty] for x in metrics
    ]
    assert json.loads(m["protocol"].iloc[0])["feature_extractor"] == "test"


def test_tensorboard_export_matches_the_store(run_dir, tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    out = tmp_path / "tb"
    assert main(["export", str(run_dir), "--format", "tensorboard", "-o", str(out)]) == 0
    acc = EventAccumulator(str(out), size_guidance={"scalars": 0, "images": 0, "tensors": 0})
    acc.Reload()
    with RunReader(run_dir) as r:
        stored = r.read_scalars()
        n_grids, n_alerts = len(r.sample_grids()), len(r.read_alerts())
    for name, series in stored.items():
        events = acc.Scalars(name)
        assert [e.step for e in events] == series.steps.tolist()
        for e, v in zip(events, series.values):
            assert (math.isnan(v) and math.isnan(e.value)) or e.value == pytest.approx(v)
    assert len(acc.Images("samples/samples")) == n_grids
    assert len(acc.Tensors("alerts/test_threshold/text_summary")) == n_alerts
    assert [e.value for e in acc.Scalars("metrics/fid")] == [12.5]


def test_export_of_a_missing_run_is_one_line(tmp_path, capsys):
    assert main(["export", str(tmp_path / "nope"), "--format", "csv"]) == 2
    assert "export: error" in capsys.readouterr().err
