"""Static export (kaleido, one Chromium per batch) and run directory reading/writing."""

from __future__ import annotations

import doctest
import json
import math
import struct

import numpy as np
import plotly.graph_objects as go
import pytest
from choreographer.browsers.chromium import Chromium

from lstm_explorer import export, figures

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

needs_chromium = pytest.mark.skipif(
    not Chromium.find_browser(skip_local=False),
    reason="PNG/SVG export needs Chromium (Debian: apt-get install chromium)",
)


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height from the PNG's IHDR chunk (always the first, at byte 16)."""
    assert data[:8] == PNG_MAGIC
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def small_figures() -> dict[str, go.Figure]:
    history = {
        "epochs": [
            {
                "epoch": e,
                "loss": 1.0 / e,
                "val_loss": 1.1 / e,
                "mae": 0.5 / e,
                "probe": {"grad_h": {"layer0": [10.0 ** -(9 - t) for t in range(10)]}},
            }
            for e in (1, 2)
        ],
        "status": "finished",
        "message": "",
    }
    return {
        "loss_curves": figures.loss_curves(history),
        "layer0_gradient_flow": figures.gradient_flow(history),
    }


class FakeKaleido:
    """Stands in for kaleido's sync server: counts starts, stops and renders."""

    def __init__(self, running: bool = False):
        self.running = running
        self.starts = self.stops = 0
        self.renders: list[dict] = []

    def start_sync_server(self, *args, **kwargs):
        assert not self.running, "started twice"
        self.running = True
        self.starts += 1

    def stop_sync_server(self, *args, **kwargs):
        self.running = False
        self.stops += 1

    def calc_fig_sync(self, fig, opts):
        assert self.running, "rendered without a server: one Chromium start per figure"
        self.renders.append(opts)
        return PNG_MAGIC + b"fake"


@pytest.fixture
def fake_kaleido(monkeypatch):
    fake = FakeKaleido()
    monkeypatch.setattr(export.kaleido, "start_sync_server", fake.start_sync_server)
    monkeypatch.setattr(export.kaleido, "stop_sync_server", fake.stop_sync_server)
    monkeypatch.setattr(export.kaleido, "calc_fig_sync", fake.calc_fig_sync)
    monkeypatch.setattr(export, "_server_running", lambda: fake.running)
    monkeypatch.setattr(Chromium, "find_browser", classmethod(lambda cls, **kw: "/bin/sh"))
    return fake


# ----------------------------------------------------------------------------------------
# One Chromium per batch


def test_a_batch_export_starts_one_server_renders_every_figure_and_stops_it(fake_kaleido, tmp_path):
    figs = {f"figure_{i}": go.Figure(go.Scatter(y=[i, 1])) for i in range(4)}
    paths = export.export_figures(figs, tmp_path, format="png", width=800, height=500, scale=3)
    assert (fake_kaleido.starts, fake_kaleido.stops) == (1, 1)
    assert [p.name for p in paths] == [f"figure_{i}.png" for i in range(4)]
    assert fake_kaleido.renders == [{"format": "png", "width": 800, "height": 500, "scale": 3}] * 4


def test_a_batch_uses_a_server_that_is_already_running_and_leaves_it_running(
    fake_kaleido, tmp_path
):
    fake_kaleido.running = True
    export.export_figures(small_figures(), tmp_path, format="svg")
    assert (fake_kaleido.starts, fake_kaleido.stops) == (0, 0)
    assert fake_kaleido.running


def test_figure_bytes_keeps_its_server_for_the_next_download_unless_told_not_to(fake_kaleido):
    fig = go.Figure(go.Scatter(y=[1, 2]))
    export.figure_bytes(fig)
    export.figure_bytes(fig, "svg")
    assert (fake_kaleido.starts, fake_kaleido.stops) == (1, 0)
    fake_kaleido.running = False
    export.figure_bytes(fig, keep_alive=False)
    assert (fake_kaleido.starts, fake_kaleido.stops) == (2, 1)
    assert fake_kaleido.renders[0] == {"format": "png", "width": 1200, "height": 700, "scale": 2}


def test_the_server_is_stopped_even_when_a_render_fails(fake_kaleido, tmp_path, monkeypatch):
    def broken(fig, opts):
        raise RuntimeError("chromium crashed")

    monkeypatch.setattr(export.kaleido, "calc_fig_sync", broken)
    with pytest.raises(RuntimeError, match="chromium crashed"):
        export.export_figures(small_figures(), tmp_path)
    assert not fake_kaleido.running


def test_renders_from_many_threads_never_overlap(fake_kaleido, monkeypatch):
    import threading
    import time

    inside = []
    overlaps = []

    def slow_render(fig, opts):
        inside.append(1)
        if len(inside) > 1:
            overlaps.append(opts)
        time.sleep(0.01)
        inside.pop()
        return PNG_MAGIC

    monkeypatch.setattr(export.kaleido, "calc_fig_sync", slow_render)
    fig = go.Figure(go.Scatter(y=[1, 2]))
    threads = [threading.Thread(target=export.figure_bytes, args=(fig,)) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert overlaps == []
    assert fake_kaleido.starts == 1


def test_without_chromium_export_fails_at_once_with_a_hint_instead_of_hanging(
    fake_kaleido, monkeypatch
):
    monkeypatch.setattr(Chromium, "find_browser", classmethod(lambda cls, **kw: None))
    with pytest.raises(RuntimeError, match="needs Chromium.*apt-get install chromium"):
        export.figure_bytes(go.Figure(), "png")
    assert fake_kaleido.starts == 0


# ----------------------------------------------------------------------------------------
# Real Chromium (one batch per format)


@needs_chromium
def test_png_export_writes_pngs_of_width_and_height_times_scale(tmp_path, monkeypatch):
    starts = []
    real_start = export.kaleido.start_sync_server

    def spy(*args, **kwargs):
        starts.append(kwargs)
        return real_start(*args, **kwargs)

    monkeypatch.setattr(export.kaleido, "start_sync_server", spy)
    paths = export.export_figures(small_figures(), tmp_path, width=600, height=400, scale=2)
    assert len(starts) == 1
    assert not export._server_running()
    for path in paths:
        assert png_size(path.read_bytes()) == (1200, 800)


@needs_chromium
def test_svg_export_and_figure_bytes_render_through_the_same_path(tmp_path):
    with export.kaleido_server():
        (svg,) = export.export_figures(
            {"loss_curves": small_figures()["loss_curves"]}, tmp_path, format="svg"
        )
        png = export.figure_bytes(small_figures()["loss_curves"], "png", scale=1)
    assert svg.read_text(encoding="utf-8").lstrip().startswith("<svg")
    assert 'width="1200"' in svg.read_text(encoding="utf-8")[:500]
    assert png_size(png) == (1200, 700)


# ----------------------------------------------------------------------------------------
# HTML and arguments


def test_html_export_is_self_contained_and_stable(tmp_path):
    figs = small_figures()
    (first,) = export.export_figures({"loss_curves": figs["loss_curves"]}, tmp_path / "a", "html")
    (second,) = export.export_figures(
        {"loss_curves": figs["loss_curves"]}, tmp_path / "b", format="html"
    )
    text = first.read_text(encoding="utf-8")
    assert "<html" in text[:200]
    # plotly.js inlined, nothing fetched: the file opens offline.
    assert "<script src=" not in text and 'src="http' not in text
    assert "* plotly.js v" in text[:2000]
    assert len(text) > 1_000_000
    assert 'id="loss_curves"' in text
    assert first.read_bytes() == second.read_bytes()


def test_figure_bytes_as_html_needs_no_chromium(fake_kaleido):
    data = export.figure_bytes(go.Figure(go.Scatter(y=[1, 2])), "html")
    assert b"<html" in data[:200]
    assert fake_kaleido.starts == 0


@pytest.mark.parametrize("format", ["jpg", "PNG", "", None])
def test_a_bad_format_is_a_value_error_naming_the_argument_and_the_allowed_ones(format, tmp_path):
    for call in (
        lambda: export.export_figures(small_figures(), tmp_path, format=format),
        lambda: export.figure_bytes(go.Figure(), format),
    ):
        with pytest.raises(ValueError, match=r"^format=.*'png', 'svg', 'html'") as info:
            call()
        assert repr(format) in str(info.value)
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize(
    ("options", "argument"),
    [({"width": 0}, "width=0"), ({"height": 7.5}, "height=7.5"), ({"scale": -1}, "scale=-1")],
)
def test_bad_sizes_are_value_errors_naming_the_argument(options, argument, tmp_path):
    with pytest.raises(ValueError, match=f"^{argument}"):
        export.export_figures(small_figures(), tmp_path, **options)


def test_figure_names_that_are_not_file_names_are_rejected(tmp_path):
    with pytest.raises(ValueError, match="not usable as file names"):
        export.export_figures({"../escape": go.Figure()}, tmp_path, format="html")


# ----------------------------------------------------------------------------------------
# Run directory


def sample_history() -> dict:
    return {
        "epochs": [
            {"epoch": 1, "loss": np.float32(0.5), "val_loss": None, "mae": 0.3, "seconds": 1.0},
            {
                "epoch": 2,
                "loss": float("nan"),
                "val_loss": float("inf"),
                "mae": 0.2,
                "probe": {"grad_h": {"layer0": np.array([1e-3, 1e-2, 1.0])}},
            },
        ],
        "status": "diverged",
        "message": "loss became NaN at epoch 2",
    }


def test_history_round_trips_with_nan_inf_and_numpy_values(tmp_path):
    path = export.write_history(tmp_path / "run", sample_history())
    assert path == tmp_path / "run" / "history.json"
    history = export.read_history(tmp_path / "run")
    first, second = history["epochs"]
    assert first["loss"] == 0.5 and first["val_loss"] is None
    assert math.isnan(second["loss"]) and second["val_loss"] == math.inf
    assert second["probe"]["grad_h"]["layer0"] == [1e-3, 1e-2, 1.0]
    assert history["status"] == "diverged"


def test_writing_history_replaces_the_file_whole_and_leaves_no_temporary_files(tmp_path):
    export.write_history(tmp_path, sample_history())
    export.write_history(tmp_path, {"epochs": [], "status": "running", "message": ""})
    assert [p.name for p in tmp_path.iterdir()] == ["history.json"]
    assert export.read_history(tmp_path)["epochs"] == []


def write_run(run_dir) -> dict[str, np.ndarray]:
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "config.json").write_text(json.dumps({"task": {"name": "adding"}}))
    export.write_history(run_dir, sample_history())
    arrays = {
        "inputs": np.zeros((2, 5, 2), "float32"),
        "layer0/h": np.ones((2, 5, 3), "float32"),
        "layer0/grad_h": np.linspace(0, 1, 5),
    }
    np.savez(run_dir / "trace.npz", **arrays)
    return arrays


def test_read_run_returns_config_history_and_the_trace_arrays(tmp_path):
    arrays = write_run(tmp_path)
    config, history, loaded = export.read_run(tmp_path)
    assert config == {"task": {"name": "adding"}}
    assert history["message"] == "loss became NaN at epoch 2"
    assert sorted(loaded) == sorted(arrays)
    for key, value in arrays.items():
        np.testing.assert_array_equal(loaded[key], value)
        assert loaded[key].dtype == value.dtype
    assert "layer0_states" in figures.all_figures(history, loaded)


@pytest.mark.parametrize("missing", ["config.json", "history.json", "trace.npz"])
def test_a_missing_run_file_is_named_with_the_command_that_writes_it(tmp_path, missing):
    write_run(tmp_path)
    (tmp_path / missing).unlink()
    with pytest.raises(FileNotFoundError, match=f"{missing}.*python -m lstm_explorer train"):
        export.read_run(tmp_path)


def test_a_missing_run_directory_says_so(tmp_path):
    with pytest.raises(FileNotFoundError, match="run directory .*does not exist"):
        export.read_history(tmp_path / "nope")


def test_broken_run_files_are_value_errors_naming_the_file(tmp_path):
    write_run(tmp_path)
    (tmp_path / "history.json").write_text("{not json")
    with pytest.raises(ValueError, match="history.json.*not valid JSON"):
        export.read_run(tmp_path)
    export.write_history(tmp_path, sample_history())
    np.savez(tmp_path / "trace.npz", bad=np.array([{"a": 1}], dtype=object))
    with pytest.raises(ValueError, match="trace.npz.*not a readable trace"):
        export.read_run(tmp_path)
    (tmp_path / "history.json").write_text("[1, 2]")
    with pytest.raises(ValueError, match="history.json.*not a training history"):
        export.read_history(tmp_path)


def test_docstring_examples_run():
    result = doctest.testmod(export)
    assert result.attempted >= 5 and result.failed == 0
