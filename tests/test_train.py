"""The trainer's state semantics (DESIGN §1, §2), checked on float64 runs of tiny models.

The model's ``forward`` and ``chained`` are wrapped to record, for every training batch, the
inputs and the state the trainer hands in, and ``nn.MSELoss`` to record every batch loss.
"""

from dataclasses import dataclass

import numpy as np
import pytest
import torch
from torch import Tensor, nn

import lstmstate
from lstmstate import SeriesData, StatefulLSTM, TrainConfig, UserError, detach
from lstmstate.modes import strategy_for
from lstmstate.train import training_windows
from lstmstate.windows import plan_batches

ATOL = 1e-10
MODES = ["stateless", "stateful", "chained"]


def _config(**changes):
    base = dict(window=4, batch_size=3, hidden_size=4, epochs=1, lr=1e-2, seed=3, dtype="float64")
    return TrainConfig(**{**base, **changes})


def _close(a, b, atol=ATOL):
    torch.testing.assert_close(a, b, atol=atol, rtol=0)


def _zero(state):
    return state is None or (not state[0].any() and not state[1].any())


@dataclass
class Call:
    kind: str  # "forward" or "chained"
    x: Tensor
    state: tuple[Tensor, Tensor] | None  # as the trainer handed it in
    final: tuple[Tensor, Tensor]
    resets: list[bool] | None = None


@pytest.fixture
def record(monkeypatch):
    """Training-time calls of ``forward``/``chained`` and batch losses, in order."""
    calls: list[Call] = []
    losses: list[float] = []
    forward, chained = StatefulLSTM.forward, StatefulLSTM.chained

    def recording_forward(model, x, state=None):
        y, final = forward(model, x, state)
        if model.training:
            calls.append(Call("forward", x.detach().clone(), state, detach(final)))
        return y, final

    def recording_chained(model, x, state=None, resets=None):
        y, final = chained(model, x, state, resets)
        if model.training:
            flags = None if resets is None else [bool(r) for r in resets]
            calls.append(Call("chained", x.detach().clone(), state, detach(final), flags))
        return y, final

    class RecordingMSE(nn.MSELoss):
        def forward(self, input, target):
            loss = super().forward(input, target)
            losses.append(float(loss.detach()))
            return loss

    monkeypatch.setattr(StatefulLSTM, "forward", recording_forward)
    monkeypatch.setattr(StatefulLSTM, "chained", recording_chained)
    monkeypatch.setattr(torch.nn, "MSELoss", RecordingMSE)
    return calls, losses


def _windows_x(values, starts, window):
    v = torch.as_tensor(values)
    return torch.stack([v[s : s + window] for s in starts])


# -- the exact stream: stateful + lanes + stride == window + loss on all steps -------------


def test_stateful_lanes_equals_truncated_backprop_over_each_block(synthetic, record):
    calls, losses = record
    values = synthetic(100, features=2, seed=5)
    data = SeriesData.single(values, 66, 80)
    config = _config(
        mode="stateful", layout="lanes", stride=4, loss_steps="all", epochs=2, clip_grad=0.5
    )
    result = lstmstate.fit(data, config)
    T, B = config.window, config.batch_size

    # training windows start at rows 0, 4, ..., 60 (the last target row is 65): 16 windows,
    # 5 per lane; the oldest is dropped, lane i is the block of rows 4 + 20i .. 23 + 20i
    n, per_lane, dropped = 16, 5, 1
    assert (result.history.train_windows, result.history.dropped_windows) == (n, dropped)
    assert result.history.batches == per_lane

    # the reference: each lane's block as one long sequence, truncated every T steps
    torch.manual_seed(config.seed)
    ref = StatefulLSTM(2, config.hidden_size).double()
    opt = torch.optim.Adam(ref.parameters(), lr=config.lr)
    v = torch.as_tensor(values)
    rows = dropped * T + torch.arange(B)[:, None] * per_lane * T + torch.arange(per_lane * T)
    x_long, y_long = v[rows], v[rows + 1, :1]  # -> (B, L, F), (B, L, 1)
    ref_losses = []
    for _ in range(config.epochs):
        state = None
        for j in range(per_lane):
            steps = slice(j * T, (j + 1) * T)
            out, state = ref(x_long[:, steps], state)
            loss = ((out - y_long[:, steps]) ** 2).mean()
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(ref.parameters(), config.clip_grad)
            opt.step()
            state = (state[0].detach(), state[1].detach())
            ref_losses.append(loss.item())

    np.testing.assert_allclose(losses, ref_losses, atol=ATOL, rtol=0)  # batch by batch
    for e in range(config.epochs):
        epoch = ref_losses[e * per_lane : (e + 1) * per_lane]
        assert result.history.train_loss[e] == pytest.approx(np.mean(epoch), abs=ATOL)
    for (name, p), p_ref in zip(result.model.named_parameters(), ref.parameters(), strict=True):
        torch.testing.assert_close(p, p_ref, atol=ATOL, rtol=0, msg=name)

    # validation: one lane from zeros at the series start over the rows up to each origin
    with torch.no_grad():
        out, _ = ref(v[None, :79])
    origins = np.arange(65, 79)  # targets 66 .. 79, all in the validation part
    val = ((out[0, origins, 0] - v[origins + 1, 0]) ** 2).mean()
    assert result.history.val_loss[-1] == pytest.approx(float(val), abs=ATOL)


# -- where each batch's state comes from ------------------------------------------------


def test_sequential_stateful_lane_gets_the_window_b_earlier(synthetic, record):
    calls, _ = record
    values = synthetic(40, seed=1)
    data = SeriesData.single(values, 30, 35)
    config = _config(mode="stateful", layout="sequential", window=5, batch_size=4)
    result = lstmstate.fit(data, config)
    B = config.batch_size

    n = 30 - 5 - 1 + 1  # stride 1: starts 0 .. 24
    plan = plan_batches(n, B, "sequential")
    assert len(plan.batches) == result.history.batches == len(calls) == 7  # 6 full + 1 of 1
    for j, (call, lanes) in enumerate(zip(calls, plan.batches, strict=True)):
        assert call.kind == "forward"
        _close(call.x, _windows_x(values, lanes, 5))  # stride 1: window k starts at row k
        if j == 0:
            assert _zero(call.state)
            continue
        np.testing.assert_array_equal(lanes, j * B + np.arange(len(lanes)))
        np.testing.assert_array_equal(lanes - B, plan.batches[j - 1][: len(lanes)])
        before = calls[j - 1].final
        assert not call.state[0].requires_grad and not call.state[1].requires_grad
        _close(call.state[0], before[0][:, : len(lanes)])  # lane i <- window (j-1)B + i
        _close(call.state[1], before[1][:, : len(lanes)])
        assert not _zero(call.state)
    assert calls[-1].x.shape[0] == n % B  # the partial last batch took the first lanes


def test_chained_batch_starts_from_the_last_window_of_the_batch_before(synthetic, record):
    calls, _ = record
    values = synthetic(40, features=2, seed=2)
    data = SeriesData.single(values, 30, 35)
    config = _config(mode="chained", window=4, stride=2, batch_size=3)
    result = lstmstate.fit(data, config)
    starts = np.arange(0, 30 - 4 - 1 + 1, 2)  # 0, 2, ..., 24: 13 windows
    plan = plan_batches(len(starts), 3, "sequential")
    assert len(calls) == result.history.batches == len(plan.batches) == 5
    for j, (call, lanes) in enumerate(zip(calls, plan.batches, strict=True)):
        assert call.kind == "chained" and call.resets is None
        _close(call.x, _windows_x(values, starts[lanes], 4))
        if j == 0:
            assert _zero(call.state)
        else:
            assert call.state[0].shape == (1, 1, config.hidden_size)
            assert not call.state[0].requires_grad
            _close(call.state[0], calls[j - 1].final[0])
            _close(call.state[1], calls[j - 1].final[1])


@pytest.mark.parametrize("mode", MODES)
def test_every_epoch_starts_from_zeros(mode, synthetic, record):
    calls, _ = record
    data = SeriesData.single(synthetic(40, seed=3), 30, 35)
    result = lstmstate.fit(data, _config(mode=mode, epochs=2))
    nb = result.history.batches
    assert len(calls) == 2 * nb
    assert {c.kind for c in calls} == {"chained" if mode == "chained" else "forward"}
    assert _zero(calls[0].state) and _zero(calls[nb].state)
    carried = [not _zero(c.state) for c in calls]
    if mode == "stateless":
        assert not any(carried)
    else:
        assert all(carried[1:nb]) and all(carried[nb + 1 :])


# -- gradients stop at batch boundaries --------------------------------------------------


@pytest.mark.parametrize("mode", ["stateful", "chained"])
def test_no_gradient_crosses_a_batch_boundary(mode):
    torch.manual_seed(0)
    model = StatefulLSTM(2, 4).double()
    g = torch.Generator().manual_seed(1)
    x0 = torch.randn(3, 5, 2, generator=g, dtype=torch.float64, requires_grad=True)
    x1 = torch.randn(3, 5, 2, generator=g, dtype=torch.float64)
    strategy, series = strategy_for(mode), np.zeros(3, dtype=np.int64)

    def second_batch_loss(carry):
        resets = strategy.resets(series, None)
        _, final = strategy.run(model, x0, strategy.initial(None, resets), resets)
        resets = strategy.resets(series, series)
        state = strategy.initial(carry(final), resets)
        out, _ = strategy.run(model, x1, state, resets)
        return (out**2).mean(), state

    loss, state = second_batch_loss(detach)  # as the trainer carries it
    assert not _zero(state)  # a real state was carried, only its graph was cut
    (grad,) = torch.autograd.grad(loss, x0, allow_unused=True)
    assert grad is None or not grad.any()

    loss, _ = second_batch_loss(lambda s: s)  # without the cut the gradient would flow
    (grad,) = torch.autograd.grad(loss, x0)
    assert grad.abs().sum() > 0


def test_gradient_flows_along_the_chain_inside_a_batch():
    torch.manual_seed(0)
    model = StatefulLSTM(2, 4).double()
    x = torch.randn(4, 5, 2, dtype=torch.float64, requires_grad=True)
    strategy = strategy_for("chained")
    resets = strategy.resets(np.zeros(4, dtype=np.int64), None)
    out, _ = strategy.run(model, x, strategy.initial(None, resets), resets)
    (grad,) = torch.autograd.grad((out[-1] ** 2).mean(), x)  # the last window's loss
    assert grad[0].abs().sum() > 0  # reaches the first window's input


# -- reproducibility, partial batches, history -------------------------------------------


@pytest.mark.parametrize(
    ("mode", "layout"), [*[(m, "sequential") for m in MODES], ("stateless", "shuffled")]
)
def test_same_seed_same_history_other_seed_other(mode, layout, synthetic):
    data = SeriesData.single(synthetic(40, seed=4), 30, 35)

    def losses(seed):
        h = lstmstate.fit(data, _config(mode=mode, layout=layout, epochs=2, seed=seed)).history
        return h.train_loss + h.val_loss

    first = losses(0)
    assert losses(0) == first
    assert losses(1) != first


def test_shuffled_order_changes_between_epochs(synthetic, record):
    calls, _ = record
    data = SeriesData.single(synthetic(40, seed=4), 30, 35)
    result = lstmstate.fit(data, _config(layout="shuffled", epochs=2))
    nb = result.history.batches
    first = torch.cat([c.x for c in calls[:nb]])
    second = torch.cat([c.x for c in calls[nb:]])
    assert not torch.equal(first, second)

    def windows(x):
        return sorted(map(tuple, x.reshape(len(x), -1).tolist()))

    assert windows(first) == windows(second)  # the same windows, once each, in another order


@pytest.mark.parametrize("mode", MODES)
def test_partial_last_batch_trains(mode, synthetic, record):
    calls, _ = record
    data = SeriesData.single(synthetic(40, features=2, seed=6), 30, 35)
    result = lstmstate.fit(data, _config(mode=mode, batch_size=4, epochs=2))
    h = result.history
    assert h.train_windows == 26 and h.dropped_windows == 0 and h.batches == 7
    assert calls[h.batches - 1].x.shape[0] == 26 % 4
    assert np.isfinite(h.train_loss).all() and np.isfinite(h.val_loss).all()


@pytest.mark.parametrize("mode", MODES)
def test_history_has_one_entry_per_epoch(mode, synthetic):
    data = SeriesData.single(synthetic(40, seed=7), 30, 35)
    h = lstmstate.fit(data, _config(mode=mode, epochs=3)).history
    assert len(h.train_loss) == len(h.val_loss) == len(h.seconds) == 3
    assert np.isfinite(h.val_loss).all() and all(s >= 0 for s in h.seconds)


def test_stateless_validation_loss_by_hand(synthetic):
    values = synthetic(40, seed=8)
    data = SeriesData.single(values, 30, 36)
    result = lstmstate.fit(data, _config(epochs=1))
    origins = np.arange(29, 35)  # targets 30 .. 35
    with torch.no_grad():
        out, _ = result.model(_windows_x(values, origins - 3, 4))
    errors = out[:, -1, 0] - torch.as_tensor(values[origins + 1, 0])
    assert result.history.val_loss[0] == pytest.approx(float((errors**2).mean()), abs=ATOL)


def test_stride_larger_than_window_is_a_user_error(synthetic):
    data = SeriesData.single(synthetic(40), 30, 35)
    with pytest.raises(UserError, match="stride 5 is larger than the window 4"):
        lstmstate.fit(data, _config(stride=5))


def test_batch_size_larger_than_windows_is_a_user_error(synthetic):
    data = SeriesData.single(synthetic(40), 30, 35)
    with pytest.raises(UserError, match="batch size 40 is larger than the 26 training windows"):
        lstmstate.fit(data, _config(batch_size=40))


# -- several series ----------------------------------------------------------------------


def _two_series(synthetic):
    """Series 0: rows 0..49 (train 0..34); series 1: rows 50..86 (train 50..75)."""
    values = np.concatenate([synthetic(50, seed=10), synthetic(37, seed=11)])
    bounds = np.array([[0, 35, 42, 50], [50, 76, 82, 87]], dtype=np.int64)
    return SeriesData(values, bounds)


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"stride": 3},
        {"loss_steps": "all", "stride": 4},
        {"horizon": 3, "strategy": "direct"},
    ],
)
def test_no_training_window_crosses_series(changes, synthetic):
    data = _two_series(synthetic)
    config = _config(**changes)
    w = training_windows(data, config)
    span = config.window + config.output_size
    for i, (a, train_end, _, _) in enumerate(data.bounds):
        mine = w.starts[w.series == i]
        np.testing.assert_array_equal(mine, np.arange(a, train_end - span + 1, config.stride))
        assert (mine >= a).all() and (mine + span <= train_end).all()
    assert (np.diff(w.series) >= 0).all()  # series after series


def test_stateful_lanes_reset_only_the_lane_that_changes_series(synthetic, record):
    calls, _ = record
    data = _two_series(synthetic)
    config = _config(mode="stateful", layout="lanes", batch_size=3, epochs=1)
    result = lstmstate.fit(data, config)
    w = training_windows(data, config)
    plan = plan_batches(len(w.starts), config.batch_size, "lanes")
    assert len(calls) == len(plan.batches) == result.history.batches
    switched = kept = 0
    for j in range(1, len(calls)):
        call, before = calls[j], calls[j - 1]
        new_series = w.series[plan.batches[j]] != w.series[plan.batches[j - 1]]
        _close(call.x, _windows_x(data.values, w.starts[plan.batches[j]], config.window))
        for i in range(config.batch_size):
            if new_series[i]:
                switched += 1
                assert not call.state[0][:, i].any() and not call.state[1][:, i].any()
            else:
                kept += 1
                _close(call.state[0][:, i], before.final[0][:, i])
                _close(call.state[1][:, i], before.final[1][:, i])
                assert call.state[0][:, i].any()
        if new_series.any():
            assert not new_series.all()  # the other lanes of that batch carried on
    assert switched == 1 and kept > 0


@pytest.mark.parametrize("stride", [2, 3])  # series 1 begins batch 4 / is lane 3 of batch 2
def test_chained_resets_where_a_new_series_begins(stride, synthetic, record):
    calls, _ = record
    data = _two_series(synthetic)
    config = _config(mode="chained", batch_size=4, stride=stride)
    lstmstate.fit(data, config)
    w = training_windows(data, config)
    plan = plan_batches(len(w.starts), config.batch_size, "sequential")
    change = np.flatnonzero(np.diff(w.series)) + 1  # the first window of series 1
    assert len(change) == 1
    j, i = divmod(int(change[0]), config.batch_size)
    for k, call in enumerate(calls):
        if k == j and i > 0:
            assert call.resets == [lane == i for lane in range(len(plan.batches[k]))]
        elif k == j:
            assert _zero(call.state)  # the batch begins the new series: nothing carried
        else:
            assert call.resets is None
