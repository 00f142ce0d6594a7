"""Independent check of the state-mode contract (DESIGN.md §1, §2, §6).

Everything here is re-derived from DESIGN.md with plain ``torch.nn.LSTM`` /
``nn.Linear`` calls on the package model's submodules; nothing of the package's
own forward, chaining, windowing or training code is used by the references.
The package is then compared against them in float64.

Initial weights: ``fit`` is aligned by seeding exactly as
``torch.manual_seed(config.seed)`` immediately followed by
``StatefulLSTM(F, hidden, layers, output_size, dropout).double()`` (verified
against ``fit(..., TrainConfig(epochs=0))``, see ``test_fit_initial_weights``).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

import lstmstate
from lstmstate import SeriesData, StatefulLSTM, StateMode, TrainConfig, fit

DT = torch.float64


# ----------------------------------------------------------------------------
# reference model semantics (§6)
# ----------------------------------------------------------------------------


def ref_zero(lstm: nn.LSTM, lanes: int) -> tuple[torch.Tensor, torch.Tensor]:
    z = torch.zeros(lstm.num_layers, lanes, lstm.hidden_size, dtype=DT)
    return z, z.clone()


def ref_forward(model: nn.Module, x: torch.Tensor, state=None):
    """One window per lane, each from its own initial state (None = zeros)."""
    lstm, head = model.lstm, model.head
    if state is None:
        state = ref_zero(lstm, x.shape[0])
    # run lane by lane, step by step through nn.LSTM one step at a time, so the
    # reference does not even share the batched call pattern with the package
    ys, hs, cs = [], [], []
    for lane in range(x.shape[0]):
        h = state[0][:, lane : lane + 1].contiguous()
        c = state[1][:, lane : lane + 1].contiguous()
        outs = []
        for t in range(x.shape[1]):
            o, (h, c) = lstm(x[lane : lane + 1, t : t + 1], (h, c))
            outs.append(o)
        ys.append(head(torch.cat(outs, dim=1)))
        hs.append(h)
        cs.append(c)
    return torch.cat(ys, dim=0), (torch.cat(hs, dim=1), torch.cat(cs, dim=1))


def ref_chained(model: nn.Module, x: torch.Tensor, state=None):
    """Window i starts from window i-1's final state; state in/out has one lane."""
    if state is None:
        state = ref_zero(model.lstm, 1)
    ys = []
    for lane in range(x.shape[0]):
        y, state = ref_forward(model, x[lane : lane + 1], state)
        ys.append(y)
    return torch.cat(ys, dim=0), state


def _close(a: torch.Tensor, b: torch.Tensor, tol: float) -> None:
    assert a.shape == b.shape, (a.shape, b.shape)
    err = (a - b).abs().max().item() if a.numel() else 0.0
    assert err <= tol, f"max abs diff {err:.3e} > {tol:.0e}"


def _random_model(rng: np.random.Generator, seed: int):
    feats = int(rng.integers(1, 4))
    layers = int(rng.integers(1, 3))
    hidden = int(rng.integers(2, 7))
    out = int(rng.integers(1, 3))
    torch.manual_seed(seed)
    model = StatefulLSTM(feats, hidden, num_layers=layers, output_size=out).double()
    return model, feats, layers, hidden, out


def test_public_surface() -> None:
    assert {m.name for m in StateMode} == {"STATELESS", "STATEFUL", "CHAINED"}
    assert StateMode.from_flags(False, False) is StateMode.STATELESS
    assert StateMode.from_flags(True, False) is StateMode.STATEFUL
    assert StateMode.from_flags(True, True) is StateMode.CHAINED
    with pytest.raises(Exception, match="(?i)stateful"):
        StateMode.from_flags(False, True)
    model = StatefulLSTM(3, 5, num_layers=2, output_size=2)
    assert isinstance(model.lstm, nn.LSTM) and model.lstm.batch_first
    assert (model.lstm.input_size, model.lstm.hidden_size, model.lstm.num_layers) == (3, 5, 2)
    assert isinstance(model.head, nn.Linear)
    assert (model.head.in_features, model.head.out_features) == (5, 2)
    assert lstmstate.StatefulLSTM is StatefulLSTM


@pytest.mark.parametrize("seed", range(8))
def test_forward_and_chained_match_reference(seed: int) -> None:
    rng = np.random.default_rng(seed)
    model, feats, layers, hidden, out = _random_model(rng, seed)
    lanes = int(rng.integers(1, 6))
    steps = int(rng.integers(1, 7))
    x = torch.randn(lanes, steps, feats, dtype=DT)

    # forward, from zeros (None) and from a given per-lane state
    for state in (
        None,
        (
            torch.randn(layers, lanes, hidden, dtype=DT),
            torch.randn(layers, lanes, hidden, dtype=DT),
        ),
    ):
        y, (h, c) = model(x, state)
        ry, (rh, rc) = ref_forward(model, x, state)
        assert y.shape == (lanes, steps, out)
        assert h.shape == c.shape == (layers, lanes, hidden)
        _close(y, ry, 1e-10)
        _close(h, rh, 1e-10)
        _close(c, rc, 1e-10)

    # chained, from zeros and from a given one-lane state; gradients too
    for given in (False, True):
        s0 = None
        if given:
            s0 = (
                torch.randn(layers, 1, hidden, dtype=DT, requires_grad=True),
                torch.randn(layers, 1, hidden, dtype=DT, requires_grad=True),
            )
        xg = x.clone().requires_grad_(True)
        y, (h, c) = model.chained(xg, s0)
        assert y.shape == (lanes, steps, out)
        assert h.shape == c.shape == (layers, 1, hidden)
        w = torch.randn_like(y)
        (y * w).sum().add_(h.sum() + 2 * c.sum()).backward()
        got = [xg.grad] + [p.grad.clone() for p in model.parameters()]
        got += [s0[0].grad.clone(), s0[1].grad.clone()] if given else []
        model.zero_grad()
        if given:
            s0[0].grad = None
            s0[1].grad = None
        xr = x.clone().requires_grad_(True)
        ry, (rh, rc) = ref_chained(model, xr, s0)
        (ry * w).sum().add_(rh.sum() + 2 * rc.sum()).backward()
        want = [xr.grad] + [p.grad.clone() for p in model.parameters()]
        want += [s0[0].grad.clone(), s0[1].grad.clone()] if given else []
        model.zero_grad()
        _close(y, ry, 1e-10)
        _close(h, rh, 1e-10)
        _close(c, rc, 1e-10)
        for g, r in zip(got, want, strict=True):
            _close(g, r, 1e-10)


# ----------------------------------------------------------------------------
# reference training (§1, §2)
# ----------------------------------------------------------------------------


def ref_windows(values: np.ndarray, train_end: int, window: int, stride: int, loss_steps: str):
    """Windows of the training rows, anchored at row 0, every `stride` rows.

    The target rows (row t+window for "last", rows t+1..t+window for "all") must
    lie in the training part too.
    """
    starts = list(range(0, train_end - window, stride))  # t + window <= train_end - 1
    xs = np.stack([values[t : t + window] for t in starts])
    if loss_steps == "last":
        ys = np.stack([values[t + window, 0:1] for t in starts])  # (n, 1)
    else:
        ys = np.stack([values[t + 1 : t + window + 1, 0:1] for t in starts])  # (n, T, 1)
    return torch.tensor(xs, dtype=DT), torch.tensor(ys, dtype=DT)


def ref_batches(n: int, batch: int, layout: str) -> tuple[list[list[int]], int]:
    if layout == "sequential":
        return [list(range(j, min(j + batch, n))) for j in range(0, n, batch)], 0
    dropped = n % batch  # oldest windows go
    per = n // batch
    return [[dropped + i * per + j for i in range(batch)] for j in range(per)], dropped


def ref_fit(values: np.ndarray, train_end: int, cfg: dict) -> tuple[nn.Module, int, int]:
    feats = values.shape[1]
    torch.manual_seed(cfg["seed"])
    model = StatefulLSTM(feats, cfg["hidden_size"], cfg["num_layers"], 1, 0.0).double()
    opt = torch.optim.Adam(model.parameters(), lr=cfg["lr"])
    x, y = ref_windows(values, train_end, cfg["window"], cfg["stride"], cfg["loss_steps"])
    batches, dropped = ref_batches(len(x), cfg["batch_size"], cfg["layout"])
    mode = cfg["mode"]
    for _epoch in range(cfg["epochs"]):
        state = None  # zeros at every epoch start
        for idx in batches:
            xb, yb = x[idx], y[idx]
            if mode == "stateless":
                out, _ = ref_forward(model, xb, None)
            elif mode == "stateful":
                if state is not None:  # a partial batch takes the first lanes
                    state = (state[0][:, : len(idx)], state[1][:, : len(idx)])
                out, state = ref_forward(model, xb, state)
            else:
                out, state = ref_chained(model, xb, state)
            if state is not None:
                state = (state[0].detach(), state[1].detach())
            pred = out[:, -1, :] if cfg["loss_steps"] == "last" else out
            loss = nn.functional.mse_loss(pred, yb)
            opt.zero_grad()
            loss.backward()
            if cfg["clip_grad"] is not None:
                nn.utils.clip_grad_norm_(model.parameters(), cfg["clip_grad"])
            opt.step()
    return model, len(x), dropped


def _series(n: int, feats: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    target = 0.5 + 0.3 * np.sin(2 * np.pi * t / 12) + 0.1 * rng.standard_normal(n)
    cols = [target] + [rng.random(n) for _ in range(feats - 1)]
    return np.stack(cols, axis=1)


def test_fit_initial_weights() -> None:
    values = _series(100, 2, 0)
    res = fit(
        SeriesData.single(values, 70, 85),
        TrainConfig(window=6, hidden_size=5, num_layers=2, epochs=0, seed=7, dtype="float64"),
    )
    torch.manual_seed(7)
    ref = StatefulLSTM(2, 5, 2, 1, 0.0).double()
    for (name, p), (_, q) in zip(res.model.named_parameters(), ref.named_parameters(), strict=True):
        assert p.dtype == DT, name
        _close(p.detach(), q.detach(), 0.0)


CASES = {
    # name: (mode, layout, stride, loss_steps, n, train_end, feats, layers, hidden, T, B, clip)
    # 70 - 6 = 64 windows, B = 10: a partial last batch of 4 lanes
    "stateless-seq-s1-last": ("stateless", "sequential", 1, "last", 100, 70, 2, 1, 6, 6, 10, 1.0),
    "stateful-seq-s1-last": ("stateful", "sequential", 1, "last", 100, 70, 2, 2, 5, 6, 10, 0.05),
    "chained-seq-s1-last": ("chained", "sequential", 1, "last", 100, 70, 1, 1, 6, 6, 10, None),
    # windows start 0, 5, ..., 140: 29 windows, B = 4: the oldest one is dropped
    "stateful-lanes-sT-all": ("stateful", "lanes", 5, "all", 200, 150, 3, 2, 6, 5, 4, 0.05),
    # 29 windows, B = 4: fast path, with a partial last batch of 1 window
    "chained-seq-sT-all": ("chained", "sequential", 5, "all", 200, 150, 2, 2, 8, 5, 4, 1.0),
}


@pytest.mark.parametrize("name", list(CASES))
def test_fit_matches_reference_training(name: str) -> None:
    mode, layout, stride, steps, n, train_end, feats, layers, hidden, T, B, clip = CASES[name]
    values = _series(n, feats, seed=len(name))
    cfg = dict(
        mode=mode,
        layout=layout,
        window=T,
        stride=stride,
        loss_steps=steps,
        batch_size=B,
        hidden_size=hidden,
        num_layers=layers,
        epochs=2,
        lr=0.01,
        clip_grad=clip,
        seed=11,
    )
    val_end = train_end + (n - train_end) // 2
    res = fit(SeriesData.single(values, train_end, val_end), TrainConfig(**cfg, dtype="float64"))
    ref, n_windows, dropped = ref_fit(values, train_end, cfg)

    assert res.history.train_windows in (n_windows, n_windows - dropped)
    assert res.history.dropped_windows == dropped
    assert len(res.history.train_loss) == 2
    moved = 0.0
    torch.manual_seed(11)
    init = StatefulLSTM(feats, hidden, layers, 1, 0.0).double()
    for (pname, p), (_, q), (_, p0) in zip(
        res.model.named_parameters(), ref.named_parameters(), init.named_parameters(), strict=True
    ):
        err = (p.detach() - q.detach()).abs().max().item()
        assert err <= 1e-9, f"{pname}: max abs diff {err:.3e}"
        moved = max(moved, (q.detach() - p0.detach()).abs().max().item())
    assert moved > 1e-3  # training really changed the weights


# ----------------------------------------------------------------------------
# combinations that §1/§2 make errors
# ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "layout", "word"),
    [("chained", "lanes", "chained"), ("stateful", "shuffled", "shuffled")],
)
def test_invalid_layouts(mode: str, layout: str, word: str) -> None:
    values = _series(60, 1, 0)
    with pytest.raises(Exception, match=f"(?i){word}"):
        cfg = TrainConfig(mode=mode, layout=layout, window=4, batch_size=4, epochs=1)
        fit(SeriesData.single(values, 40, 50), cfg.replace(dtype="float64"))
