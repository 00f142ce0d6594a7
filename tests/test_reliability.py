"""Resumable, atomic, deterministic (issue: reliability)."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from lstmstate import TrainConfig
from lstmstate.cli import main
from lstmstate.files import atomic_write_text

CLI = [sys.executable, "-c", "import sys; from lstmstate.cli import main; sys.exit(main())"]


def _csv(path: Path, n: int = 1500) -> Path:
    rng = np.random.default_rng(0)
    t = np.arange(n)
    y = np.sin(t / 7) + 0.3 * np.sin(t / 31) + 0.1 * rng.standard_normal(n)
    pd.DataFrame({"t": t, "y": y}).to_csv(path, index=False)
    return path


def _epoch(folder: Path) -> int:
    try:
        ck = torch.load(folder / "checkpoint.pt", weights_only=True)
    except Exception:  # not written yet, or being replaced
        return -1
    return -1 if ck.get("complete") else ck["training"]["epoch"]


@pytest.mark.slow
def test_a_killed_and_resumed_train_ends_bitwise_like_an_uninterrupted_one(tmp_path):
    csv = _csv(tmp_path / "series.csv")
    args = ["train", "--csv", str(csv), "--target", "y", "--time-col", "t", "--window", "10"]
    args += ["--epochs", "6", "--hidden-size", "16", "--batch-size", "16", "--quiet"]
    whole, cut = tmp_path / "whole", tmp_path / "cut"
    assert subprocess.run([*CLI, *args, "--out", str(whole)], capture_output=True).returncode == 0

    proc = subprocess.Popen([*CLI, *args, "--out", str(cut)], stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while _epoch(cut) < 2 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    stopped_at = _epoch(cut)
    assert 2 <= stopped_at < 6, "the run must be killed mid-training"
    assert not (cut / "metrics.json").exists()

    done = subprocess.run([*CLI, "train", "--resume", str(cut), "--quiet"], capture_output=True)
    assert done.returncode == 0, done.stderr
    a = torch.load(whole / "checkpoint.pt", weights_only=True)
    b = torch.load(cut / "checkpoint.pt", weights_only=True)
    assert b["complete"]
    for key in a["model"]:
        assert torch.equal(a["model"][key], b["model"][key]), key
    assert a["history"]["val_loss"] == b["history"]["val_loss"]
    first = json.loads((whole / "metrics.json").read_text())
    second = json.loads((cut / "metrics.json").read_text())
    assert first["model"] == second["model"] and first["baselines"] == second["baselines"]


def test_resume_refuses_a_finished_run_and_changed_options(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "--dataset", "nile", "--epochs", "1", "--quiet", "--out", str(out)]) == 0
    assert main(["train", "--resume", str(out)]) == 2
    assert "finished run" in capsys.readouterr().err
    assert main(["train", "--resume", str(out), "--epochs", "3"]) == 2
    assert "drop --epochs" in capsys.readouterr().err


def test_an_interrupted_atomic_write_leaves_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "results.csv"
    path.write_text("old\n")

    def fail(*_args):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OSError):
        atomic_write_text(path, "new\n")
    assert path.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["results.csv"]  # no temp file left


def test_a_non_finite_loss_stops_with_status_3_and_keeps_the_last_good_checkpoint(
    tmp_path, monkeypatch, capsys
):
    import lstmstate.train as train_module

    calls = {"n": 0}
    real = train_module.nn.MSELoss

    class Poisoned(real):
        def forward(self, a, b):
            calls["n"] += 1
            loss = super().forward(a, b)
            return loss * float("nan") if calls["n"] > 14 else loss  # 7 batches/epoch

    monkeypatch.setattr(train_module.nn, "MSELoss", Poisoned)
    out = tmp_path / "run"
    code = main(["train", "--dataset", "airline", "--epochs", "5", "--quiet", "--out", str(out)])
    err = capsys.readouterr().err.strip()
    assert code == 3
    assert err.count("\n") == 0 and "non-finite at epoch 3, batch 1" in err
    assert "--lr" in err and "--clip-grad" in err
    assert _epoch(out) == 2  # the last good epoch's checkpoint stays
    assert not (out / "metrics.json").exists()


def test_a_huge_learning_rate_on_unscaled_data_diverges_cleanly(tmp_path, capsys):
    path = tmp_path / "huge.csv"
    pd.DataFrame({"y": np.linspace(1e30, 3e30, 200)}).to_csv(path, index=False)
    args = ["train", "--csv", str(path), "--target", "y", "--scaler", "none", "--epochs", "2"]
    assert main([*args, "--quiet", "--out", str(tmp_path / "o")]) == 3
    assert "non-finite" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()  # diverged in epoch 1: nothing good to keep


@pytest.mark.slow
def test_compare_resumes_and_gives_the_same_results(tmp_path):
    args = ["compare", "--dataset", "nile", "--modes", "stateless,chained", "--seeds", "2"]
    args += ["--epochs", "2", "--jobs", "1", "--quiet"]
    assert main([*args, "--out", str(tmp_path / "a")]) == 0
    # simulate an interruption after two runs: keep only their records
    b = tmp_path / "b"
    assert main([*args, "--out", str(b)]) == 0
    records = sorted((b / "runs").iterdir())
    for extra in records[2:]:
        extra.unlink()
    (b / "results.csv").unlink()
    assert main([*args, "--out", str(b), "--resume"]) == 0
    first = pd.read_csv(tmp_path / "a" / "results.csv")
    second = pd.read_csv(b / "results.csv")
    drop = ["seconds_per_epoch", "run_seconds"]
    pd.testing.assert_frame_equal(first.drop(columns=drop), second.drop(columns=drop))


def test_same_config_twice_gives_identical_numbers():
    from lstmstate import SeriesData, fit

    values = np.sin(np.arange(300) / 5)[:, None]
    data = SeriesData.single(values, 200, 250)
    config = TrainConfig(mode="chained", window=8, epochs=2, hidden_size=8, dropout=0.0)
    a, b = fit(data, config).history, fit(data, config).history
    assert a.train_loss == b.train_loss and a.val_loss == b.val_loss
