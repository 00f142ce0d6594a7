"""`lstmstate compare` end to end (DESIGN §5, §6)."""

import re

import pandas as pd
import pytest

from lstmstate.cli import main
from lstmstate.compare import default_variants

COLUMNS = (
    "dataset variant mode layout stride loss_steps seed rmse mae mape smape mase theil_u2 "
    "seconds_per_epoch epochs"
).split()
SMALL = ["compare", "--dataset", "nile", "--modes", "stateless,chained", "--seeds", "2"]
SMALL += ["--epochs", "2", "--hidden-size", "4", "--quiet"]


def test_default_variant_set_is_the_seeds_three_plus_two_streams():
    variants = {v.name: dict(v.changes) for v in default_variants()}
    assert list(variants) == [
        "stateless",
        "stateful",
        "chained",
        "stateful-stream",
        "chained-stream",
    ]
    for name in ("stateless", "stateful", "chained"):
        assert variants[name] == {
            "mode": name,
            "layout": "sequential",
            "stride": 1,
            "loss_steps": "last",
        }
    assert variants["stateful-stream"] == {
        "mode": "stateful",
        "layout": "lanes",
        "stride": "window",
        "loss_steps": "all",
    }
    assert variants["chained-stream"]["stride"] == "window"


@pytest.mark.slow
def test_a_small_compare_writes_every_output(tmp_path):
    out = tmp_path / "cmp"
    assert main([*SMALL, "--jobs", "1", "--out", str(out)]) == 0
    results = pd.read_csv(out / "results.csv")
    assert set(COLUMNS) <= set(results.columns)
    models = results[results["mode"].notna()]
    assert set(models["variant"]) == {"stateless", "chained", "chained-stream"}
    assert len(models) == 3 * 2 and set(models["seed"]) == {0, 1}
    baselines = results[results["mode"].isna()]
    assert list(baselines["variant"]) == ["naive", "seasonal_naive", "ets"]
    summary = pd.read_csv(out / "summary.csv")
    assert {"rmse_mean", "rmse_std", "seconds_per_epoch_mean"} <= set(summary.columns)
    pngs = sorted(p.name for p in out.glob("*.png"))
    for kind in ("forecasts", "loss_curves", "horizon_error", "seconds_per_epoch", "rmse_spread"):
        assert f"nile_{kind}.png" in pngs
    page = (out / "report.html").read_text()
    assert page.count("data:image/png;base64,") == len(pngs)
    assert not re.search(r"(src|href)=\"https?:", page) and "<link" not in page
    assert "<script" not in page
    md = (out / "report.md").read_text()
    assert "Welch" in md or "no clear difference" in md
    assert all(f"({name})" in md for name in pngs)


@pytest.mark.slow
def test_results_do_not_depend_on_the_number_of_workers(tmp_path):
    assert main([*SMALL, "--jobs", "1", "--out", str(tmp_path / "one")]) == 0
    assert main([*SMALL, "--jobs", "2", "--out", str(tmp_path / "two")]) == 0
    timing = ["seconds_per_epoch", "run_seconds"]
    one = pd.read_csv(tmp_path / "one" / "results.csv").drop(columns=timing)
    two = pd.read_csv(tmp_path / "two" / "results.csv").drop(columns=timing)
    pd.testing.assert_frame_equal(one, two)


def test_compare_refuses_bad_options_before_writing(tmp_path, capsys):
    out = tmp_path / "o"
    assert main(["compare", "--modes", "stateless,sideways", "--out", str(out)]) == 2
    assert "unknown mode 'sideways'" in capsys.readouterr().err
    assert main(["compare", "--seeds", "0", "--out", str(out)]) == 2
    assert main(["compare", "--batch-size", "999", "--out", str(out)]) == 2
    assert "batch size 999" in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.slow
def test_reach_writes_the_chart(tmp_path):
    out = tmp_path / "reach"
    args = ["reach", "--delays", "3", "--modes", "stateless,chained", "--seeds", "1"]
    args += ["--epochs", "1", "--echo", "n=600", "--jobs", "1", "--quiet", "--out", str(out)]
    assert main(args) == 0
    for name in ("reach.png", "report.html", "report.md", "results.csv", "summary.csv"):
        assert (out / name).exists(), name
    rows = pd.read_csv(out / "results.csv")
    assert set(rows["variant"]) == {"stateless", "chained", "chained-stream"}
    assert {"mse", "ideal_mse", "no_memory_mse", "normalised"} <= set(rows.columns)
    assert "data:image/png;base64," in (out / "report.html").read_text()
