"""Sinks receive what the run store receives; each is read back with its own tool."""

from __future__ import annotations

import logging
import math

import numpy as np
import pytest
from sink_run import STEPS, monitored_run

from gandiag.sinks import LoggerSink, Tee
from gandiag.store import RunReader


def _store_scalars(run_dir):
    with RunReader(run_dir) as r:
        return (
            {
                (name, int(s)): float(v)
                for name, series in r.read_scalars().items()
                for s, v in zip(series.steps, series.values)
            },
            r.read_alerts(),
            r.histogram_names(),
            r.sample_grids(),
        )


def test_tensorboard_sink_holds_what_the_store_holds(tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from gandiag.sinks import TensorBoardSink

    monitored_run(tmp_path / "run", [TensorBoardSink(tmp_path / "tb")])
    scalars, alerts, hist_names, grids = _store_scalars(tmp_path / "run")
    acc = EventAccumulator(
        str(tmp_path / "tb"),
        size_guidance={"scalars": 0, "images": 0, "histograms": 0, "tensors": 0},
    )
    acc.Reload()
    tags = acc.Tags()
    tb = {
        (tag, e.step): e.value
        for tag in tags["scalars"]
        if not tag.startswith("metrics/")
        for e in acc.Scalars(tag)
    }
    assert set(tb) == set(scalars)
    for key, value in scalars.items():
        assert (math.isnan(value) and math.isnan(tb[key])) or tb[key] == pytest.approx(
            value, rel=1e-6
        )
    # the metric, at its step
    (fid,) = acc.Scalars("metrics/fid")
    assert (fid.step, fid.value) == (STEPS - 1, 12.5)
    # histograms with the store's counts
    assert hist_names and set(hist_names) <= set(tags["histograms"])
    with RunReader(tmp_path / "run") as r:
        stored = dict(r.read_histograms(hist_names[0]))
    events = acc.Histograms(hist_names[0])
    assert [e.step for e in events] == sorted(stored)
    for e in events:
        assert e.histogram_value.num == stored[e.step].total
        assert list(e.histogram_value.bucket) == list(stored[e.step].counts)
    # sample grids as images of the stored PNGs' size
    imgs = acc.Images("samples/samples")
    assert [i.step for i in imgs] == [g.step for g in grids]
    from PIL import Image

    with Image.open(grids[0].path) as im:
        assert (imgs[0].width, imgs[0].height) == im.size
    # alerts as text with their diagnosis
    texts = acc.Tensors("alerts/test_threshold/text_summary")
    assert [t.step for t in texts] == [a.step for a in alerts]
    body = texts[0].tensor_proto.string_val[0].decode()
    assert alerts[0].diagnosis in body and "WARNING" in body


def _wandb_records(path):
    """Payloads of a .wandb transaction log: a 7-byte header, then LevelDB-log records
    (crc32, little-endian length, type FULL/FIRST/MIDDLE/LAST) in 32 KiB blocks."""
    import struct

    data = path.read_bytes()
    assert data[:4] == b":W&B"
    pos, block, chunks = 7, 32768, b""
    while pos + 7 <= len(data):
        if block - pos % block < 7:  # a block's tail too short for a header is padding
            pos += block - pos % block
            continue
        _, length, kind = struct.unpack("<IHB", data[pos : pos + 7])
        payload = data[pos + 7 : pos + 7 + length]
        pos += 7 + length
        if kind == 0 and length == 0:
            break
        chunks = payload if kind in (1, 2) else chunks + payload
        if kind in (1, 4):
            yield chunks


def _wandb_history(run_dir):
    """Rows of an offline W&B run, decoded from its .wandb transaction log."""
    import json

    from wandb.proto import wandb_internal_pb2

    (path,) = run_dir.glob("wandb/offline-run-*/run-*.wandb")
    rows = []
    for data in _wandb_records(path):
        rec = wandb_internal_pb2.Record()
        rec.ParseFromString(data)
        if rec.WhichOneof("record_type") == "history":
            rows.append(
                {
                    i.key or "/".join(i.nested_key): json.loads(i.value_json)
                    for i in rec.history.item
                }
            )
    return rows


def test_wandb_sink_offline_holds_what_the_store_holds(tmp_path, monkeypatch):
    pytest.importorskip("wandb")
    from gandiag.sinks import WandbSink
    from gandiag.sinks.wandb import STEP_KEY

    monkeypatch.setenv("WANDB_SILENT", "true")
    monkeypatch.setenv("WANDB_MODE", "offline")
    sink = WandbSink(project="gandiag-test", mode="offline", dir=str(tmp_path))
    monitored_run(tmp_path / "run", [sink])
    scalars, alerts, hist_names, grids = _store_scalars(tmp_path / "run")
    rows = _wandb_history(tmp_path)
    logged = {}
    for row in rows:
        for key, value in row.items():
            if isinstance(value, (int, float)) and key != STEP_KEY and not key.startswith("_"):
                logged[(key, row[STEP_KEY])] = value
    fid = logged.pop(("metrics/fid", STEPS - 1))
    assert fid == 12.5 and logged.pop(("metrics/fid_std", STEPS - 1)) == 0.5
    finite = {k: v for k, v in scalars.items() if math.isfinite(v)}
    assert set(finite) <= set(logged)
    for key, value in finite.items():
        assert logged[key] == pytest.approx(value, rel=1e-9)
    # nested values (histograms, media) decode as "<key>/<field>"
    name = hist_names[0]
    hist_rows = {r[STEP_KEY]: r for r in rows if f"{name}/_type" in r}
    with RunReader(tmp_path / "run") as r:
        stored = dict(r.read_histograms(name))
    assert sorted(hist_rows) == sorted(stored)
    for step, row in hist_rows.items():
        assert row[f"{name}/_type"] == "histogram"
        assert row[f"{name}/values"] == list(stored[step].counts)
        assert row[f"{name}/bins"] == pytest.approx(stored[step].edges)
    image_steps = [r[STEP_KEY] for r in rows if r.get("samples/samples/_type") == "image-file"]
    assert image_steps == [g.step for g in grids]
    tables = [r for r in rows if r.get("alerts/_type") == "table-file"]
    assert tables and tables[-1]["alerts/nrows"] == len(alerts)


class _Recorder:
    def __init__(self) -> None:
        self.metrics: list[tuple[dict, int]] = []

    def log_metrics(self, metrics, step):
        self.metrics.append((dict(metrics), step))


def test_logger_sink_sends_scalars_through_log_metrics(tmp_path):
    logger = _Recorder()
    monitored_run(tmp_path / "run", [LoggerSink(logger)])
    scalars, *_ = _store_scalars(tmp_path / "run")
    got = {(k, s): v for m, s in logger.metrics for k, v in m.items()}
    assert got.pop(("metrics/fid", STEPS - 1)) == 12.5
    assert set(got) == set(scalars)
    assert all((math.isnan(v) and math.isnan(got[k])) or got[k] == v for k, v in scalars.items())


class _Broken:
    def __init__(self) -> None:
        self.calls = 0
        self.closed = False

    def write_steps(self, records):
        self.calls += 1
        raise RuntimeError("disk full")

    def write_alerts(self, alerts): ...
    def write_metrics(self, results): ...
    def write_image(self, step, name, png): ...

    def close(self):
        self.closed = True


def test_a_failing_sink_is_dropped_and_the_store_is_complete(tmp_path, caplog):
    broken = _Broken()
    with caplog.at_level(logging.WARNING, logger="gandiag.sinks.base"):
        monitored_run(tmp_path / "run", [broken])
    assert broken.calls == 1
    assert "disk full" in caplog.text and "run store is unaffected" in caplog.text
    with RunReader(tmp_path / "run") as r:
        assert r.info().num_steps == STEPS and r.info().status == "finished"


def test_a_non_sink_is_rejected_with_the_fix():
    with pytest.raises(TypeError, match="TensorBoardSink"):
        Tee(object(), [np.zeros(3)])
