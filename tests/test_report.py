"""report: the summary table, the verdict, and the files write_report leaves behind."""

import re

import numpy as np
import pandas as pd
import pytest

from lstmstate.compare import DatasetRun, RunResult
from lstmstate.report import SUMMARY_METRICS, summarize, verdict, write_report

METRICS = ("rmse", "mae", "mape", "smape", "mase", "theil_u2")
KINDS = ("forecasts", "loss_curves", "horizon_error", "seconds_per_epoch", "rmse_spread")


def model_rows(dataset: str, variant: str, rmse: np.ndarray, **settings) -> list[dict]:
    return [
        {
            "dataset": dataset,
            "variant": variant,
            "mode": settings.get("mode", variant),
            "layout": settings.get("layout", "sequential"),
            "stride": settings.get("stride", 1),
            "loss_steps": settings.get("loss_steps", "last"),
            "seed": seed,
            **{m: value * (i + 1) for i, m in enumerate(METRICS)},
            "seconds_per_epoch": 0.1 + 0.01 * seed,
            "epochs": 3,
            "dropped_windows": settings.get("dropped", 0),
            "train_windows": 40,
        }
        for seed, value in enumerate(rmse)
    ]


def baseline_rows(dataset: str, values: dict[str, float]) -> list[dict]:
    return [
        {"dataset": dataset, "variant": name, "mode": "", "seed": np.nan}
        | {m: v for m in METRICS}
        | {"seconds_per_epoch": np.nan}
        for name, v in values.items()
    ]


def frame(*parts: list[dict]) -> pd.DataFrame:
    return pd.DataFrame([row for part in parts for row in part])


BASELINES = {"naive": 3.0, "seasonal_naive": 2.5, "ets": 1.5}


@pytest.fixture
def clear() -> pd.DataFrame:
    """'good' is far better than 'bad' over five seeds."""
    rng = np.random.default_rng(0)
    return frame(
        model_rows("toy", "bad", 2.0 + 0.01 * rng.standard_normal(5)),
        baseline_rows("toy", BASELINES),
        model_rows("toy", "good", 1.0 + 0.01 * rng.standard_normal(5), layout="lanes", dropped=3),
    )


def test_summarize_means_stds_and_order(clear):
    summary = summarize(clear)
    # models first in order of appearance, then the baselines
    assert list(summary["variant"]) == ["bad", "good", "naive", "seasonal_naive", "ets"]
    expected = ["dataset", "variant", "mode", "layout", "stride", "loss_steps", "n_seeds"]
    expected += [f"{m}_{s}" for m in SUMMARY_METRICS for s in ("mean", "std")]
    assert list(summary.columns) == expected
    good = summary.set_index("variant").loc["good"]
    values = clear.loc[clear["variant"] == "good", "mae"].to_numpy()
    assert good["mae_mean"] == pytest.approx(values.sum() / 5)
    hand_std = np.sqrt(((values - values.mean()) ** 2).sum() / 4)
    assert good["mae_std"] == pytest.approx(hand_std)
    assert good["n_seeds"] == 5 and good["layout"] == "lanes"
    ets = summary.set_index("variant").loc["ets"]
    assert ets["rmse_mean"] == 1.5 and np.isnan(ets["rmse_std"]) and ets["n_seeds"] == 0
    assert np.isnan(ets["seconds_per_epoch_mean"])


def test_summarize_single_seed_std_is_nan_and_nan_metrics_skipped():
    results = frame(model_rows("toy", "a", np.array([1.0])), model_rows("toy", "b", [1.0, 3.0]))
    results.loc[results["variant"] == "b", "mase"] = [np.nan, 2.0]
    summary = summarize(results).set_index("variant")
    assert np.isnan(summary.loc["a", "rmse_std"])
    assert summary.loc["b", "mase_mean"] == 2.0


def p_value(text: str) -> float:
    return float(re.search(r"p = ([0-9.e+-]+)", text).group(1).rstrip("."))


def test_verdict_names_the_clear_winner(clear):
    text = verdict(clear, "toy")
    assert "best model variant by mean RMSE (lower is better) is **good**" in text
    assert "Welch's t-test" in text
    assert p_value(text) < 0.05
    assert "no clear difference" not in text
    # the best baseline, by name, value and relative difference: (1.0 - 1.5) / 1.5
    assert "**ets** (1.5)" in text
    assert re.search(r"3\d\.\d% lower \(better\) than the best baseline", text)


def test_verdict_no_clear_difference_when_seeds_overlap():
    rng = np.random.default_rng(1)
    same = frame(
        model_rows("toy", "a", 1.0 + 0.1 * rng.standard_normal(5)),
        model_rows("toy", "b", 1.0 + 0.1 * rng.standard_normal(5)),
        baseline_rows("toy", BASELINES),
    )
    text = verdict(same, "toy")
    assert "no clear difference between" in text
    assert p_value(text) >= 0.05
    assert "**ets**" in text


def test_verdict_needs_two_seeds_and_handles_nan():
    results = frame(
        model_rows("toy", "a", np.array([1.0])),
        model_rows("toy", "b", np.array([2.0])),
        model_rows("toy", "c", np.array([np.nan, np.nan])),
        baseline_rows("toy", BASELINES),
    )
    text = verdict(results, "toy")
    assert "needs >= 2 seeds" in text and "no clear difference" in text
    assert "**c** has no finite RMSE values" in text


def test_verdict_single_variant_and_bad_arguments(clear):
    one = clear[clear["variant"] != "bad"]
    text = verdict(one, "toy", metric="mae")
    assert "**good**" in text and "t-test" not in text and "**ets**" in text
    with pytest.raises(ValueError, match="dataset 'nope' has no rows in results"):
        verdict(clear, "nope")
    with pytest.raises(ValueError, match="metric 'r2' is not a column"):
        verdict(clear, "toy", metric="r2")


def dataset_run(name: str, n: int = 12, horizon: int = 3) -> DatasetRun:
    t = np.arange(n)
    actuals = np.sin(t[:, None] + np.arange(horizon))
    return DatasetRun(
        name=name,
        spec=None,
        prepared=None,
        series=np.repeat([0, 1], n // 2),
        origin_times=t,
        target_times=t[:, None] + 1 + np.arange(horizon),
        actuals=actuals,
        baselines={
            k: actuals + d for k, d in (("naive", 0.3), ("seasonal_naive", 0.2), ("ets", 0.1))
        },
        notes=["filled 2 missing values by interpolation"],
    )


def run_results(results: pd.DataFrame, data: DatasetRun) -> list[RunResult]:
    rng = np.random.default_rng(2)
    models = results[results["mode"].fillna("") != ""]
    return [
        RunResult(
            row=row,
            train_loss=[1.0, 0.5, 0.3],
            val_loss=[1.2, 0.7, 0.6],
            per_horizon={"rmse": [row["rmse"]] * data.actuals.shape[1]},
            forecasts=data.actuals + 0.05 * rng.standard_normal(data.actuals.shape),
        )
        for row in models.to_dict(orient="records")
    ]


def test_write_report_writes_every_file(tmp_path, clear):
    data = dataset_run("toy")
    out = tmp_path / "out"
    paths = write_report(
        out,
        clear,
        run_results(clear, data),
        {"toy": data},
        command="lstmstate compare --seeds 5",
        notes=["a general note"],
    )
    pngs = [out / f"toy_{kind}.png" for kind in KINDS]
    expected = [out / "summary.csv", *pngs, out / "report.md", out / "report.html"]
    assert paths == expected
    assert all(p.is_file() and p.stat().st_size > 0 for p in expected)
    assert all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in pngs)
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]
    assert list(pd.read_csv(out / "summary.csv")["variant"])[:2] == ["bad", "good"]

    md = (out / "report.md").read_text()
    assert "lstmstate compare --seeds 5" in md and "**good**" in md
    for png in pngs:
        assert f"]({png.name})" in md
    assert "| good |" in md and "filled 2 missing values" in md
    assert "left out the oldest 3 of 40 training windows" in md

    page = (out / "report.html").read_text()
    assert page.count('src="data:image/png;base64,') == len(KINDS)
    for banned in ('src="http', 'href="http', "<link", "<script src"):
        assert banned not in page
    assert "<strong>good</strong>" in page and "a general note" in page


def test_write_report_escapes_html(tmp_path, clear):
    data = dataset_run("toy", horizon=1)
    odd = clear.assign(variant=clear["variant"].replace({"good": "<b>good</b>"}))
    write_report(tmp_path, odd, run_results(odd, data), {"toy": data})
    page = (tmp_path / "report.html").read_text()
    assert "&lt;b&gt;good&lt;/b&gt;" in page and "<b>good</b>" not in page
