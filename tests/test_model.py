"""StatefulLSTM: forward against hand-written LSTM equations, chained against per-window loops."""

import copy

import pytest
import torch
from torch import nn

from lstmstate import StatefulLSTM, StateMode, detach

ATOL = 1e-10


def _model(input_size=2, hidden=5, layers=1, output=1, seed=0):
    torch.manual_seed(seed)
    return StatefulLSTM(input_size, hidden, num_layers=layers, output_size=output).double()


def _state(layers, lanes, hidden, seed=1):
    g = torch.Generator().manual_seed(seed)
    h = torch.randn(layers, lanes, hidden, generator=g, dtype=torch.float64)
    c = torch.randn(layers, lanes, hidden, generator=g, dtype=torch.float64)
    return h, c


def _x(lanes, steps, features, seed=2):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(lanes, steps, features, generator=g, dtype=torch.float64)


def _by_hand(model, x, state):
    """The LSTM equations (gates i, f, g, o as nn.LSTM packs them) and the head at every step."""
    lstm = model.lstm
    lanes, steps, _ = x.shape
    if state is None:
        state = model.zero_state(lanes)
    h = list(state[0].unbind(0))
    c = list(state[1].unbind(0))
    outs = []
    for t in range(steps):
        inp = x[:, t]
        for k in range(lstm.num_layers):
            gates = (
                inp @ getattr(lstm, f"weight_ih_l{k}").T
                + getattr(lstm, f"bias_ih_l{k}")
                + h[k] @ getattr(lstm, f"weight_hh_l{k}").T
                + getattr(lstm, f"bias_hh_l{k}")
            )
            i, f, g, o = gates.chunk(4, dim=1)
            c[k] = torch.sigmoid(f) * c[k] + torch.sigmoid(i) * torch.tanh(g)
            h[k] = torch.sigmoid(o) * torch.tanh(c[k])
            inp = h[k]
        outs.append(model.head(inp))
    return torch.stack(outs, dim=1), (torch.stack(h), torch.stack(c))


def _loop_in_test(model, x, state):
    """Chaining written here: window i runs through ``.lstm`` from window i-1's final state."""
    outs = []
    for i in range(x.shape[0]):
        out, state = model.lstm(x[i : i + 1], state)
        outs.append(model.head(out))
    return torch.cat(outs), state


def _close(a, b, atol=ATOL):
    torch.testing.assert_close(a, b, atol=atol, rtol=0)


# -- structure and forward ---------------------------------------------------------------


def test_holds_plain_lstm_and_linear_head():
    model = StatefulLSTM(3, 7, num_layers=2, output_size=4)
    assert type(model.lstm) is nn.LSTM and model.lstm.batch_first
    assert (model.lstm.input_size, model.lstm.hidden_size, model.lstm.num_layers) == (3, 7, 2)
    assert type(model.head) is nn.Linear
    assert (model.head.in_features, model.head.out_features) == (7, 4)


@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize("with_state", [False, True])
def test_forward_is_head_of_lstm(layers, with_state):
    model = _model(input_size=3, hidden=4, layers=layers, output=2)
    x = _x(3, 6, 3)
    state = _state(layers, 3, 4) if with_state else None
    y, (h, c) = model(x, state)
    assert y.shape == (3, 6, 2) and h.shape == c.shape == (layers, 3, 4)

    out, (h_ref, c_ref) = model.lstm(x, state)
    _close(y, model.head(out))
    _close(h, h_ref)
    _close(c, c_ref)

    y_hand, (h_hand, c_hand) = _by_hand(model, x, state)
    _close(y, y_hand)
    _close(h, h_hand)
    _close(c, c_hand)


def test_none_state_equals_explicit_zeros():
    model = _model(layers=2)
    x = _x(4, 5, 2)
    y0, (h0, c0) = model(x, None)
    zeros = torch.zeros(2, 4, 5, dtype=torch.float64)
    y1, (h1, c1) = model(x, (zeros, zeros.clone()))
    assert torch.equal(y0, y1) and torch.equal(h0, h1) and torch.equal(c0, c1)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_zeros_follow_dtype(dtype):
    model = StatefulLSTM(2, 3, num_layers=2).to(dtype)
    h, c = model.zero_state(5)
    assert h.dtype == c.dtype == dtype
    assert h.shape == c.shape == (2, 5, 3)
    assert not h.any() and not c.any()
    assert h.data_ptr() != c.data_ptr()  # two tensors, not one aliased twice
    _, (h1, c1) = model(torch.zeros(5, 3, 2, dtype=dtype))
    assert h1.dtype == c1.dtype == dtype


def test_detach_cuts_the_graph():
    assert detach(None) is None
    h = torch.ones(1, 2, 3, requires_grad=True) * 2
    c = torch.ones(1, 2, 3, requires_grad=True) * 3
    hd, cd = detach((h, c))
    assert not hd.requires_grad and not cd.requires_grad
    assert torch.equal(hd, h) and torch.equal(cd, c)


# -- chained -----------------------------------------------------------------------------


def _grads(fn, model, x, state):
    """Outputs, final state and the gradients of a scalar of them w.r.t. x, state, parameters."""
    x = x.clone().requires_grad_(True)
    state = tuple(s.clone().requires_grad_(True) for s in state) if state is not None else None
    y, (h, c) = fn(model, x, state)
    loss = (y**2).sum() + (h**3).sum() + c.sum()  # uses outputs and both final states
    wrt = [x, *(state or ()), *model.parameters()]
    return y, (h, c), torch.autograd.grad(loss, wrt)


@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize("with_state", [False, True])
def test_chained_equals_per_window_loops(layers, with_state):
    model = _model(input_size=3, hidden=4, layers=layers, output=2)
    x = _x(5, 4, 3)
    state = _state(layers, 1, 4) if with_state else None

    y, (h, c), grads = _grads(lambda m, x, s: m.chained(x, s), model, x, state)
    assert y.shape == (5, 4, 2) and h.shape == (layers, 1, 4)
    for reference in (lambda m, x, s: m.chained_loop(x, s), _loop_in_test):
        y_ref, (h_ref, c_ref), grads_ref = _grads(reference, model, x, state)
        _close(y, y_ref)
        _close(h, h_ref)
        _close(c, c_ref)
        assert len(grads) == len(grads_ref)
        for g, g_ref in zip(grads, grads_ref, strict=True):
            _close(g, g_ref)


def test_chained_gradient_flows_along_the_chain():
    model = _model()
    x = _x(4, 3, 2).requires_grad_(True)
    y, _ = model.chained(x)
    (grad,) = torch.autograd.grad(y[-1, -1].sum(), x)
    assert grad[0].abs().sum() > 0  # the last window's output depends on the first window
    y, _ = model(x)
    (grad,) = torch.autograd.grad(y[-1, -1].sum(), x)
    assert not grad[:-1].any()  # ...but not when every window runs from its own state


@pytest.mark.parametrize("with_state", [False, True])
@pytest.mark.parametrize(
    "resets",
    [
        [False, False, True, False, False, True],
        [True, False, False, True, False, False],
        [False, True, True, False, False, False],
        [False, False, False, False, False, True],
    ],
)
def test_chained_with_resets_equals_separate_segments(resets, with_state):
    model = _model(layers=2)
    x = _x(6, 3, 2)
    state = _state(2, 1, 5) if with_state else None
    y, (h, c) = model.chained(x, state, resets=resets)

    # by hand: segments between resets, the first from `state` unless reset, the rest from zeros
    starts = [i for i, r in enumerate(resets) if r or i == 0]
    bounds = [*starts, len(resets)]
    ys, s = [], None
    for a, b in zip(bounds[:-1], bounds[1:], strict=False):
        s = state if a == 0 and not resets[0] else None
        y_seg, s = _loop_in_test(model, x[a:b], s)
        ys.append(y_seg)
    _close(y, torch.cat(ys))
    _close(h, s[0])
    _close(c, s[1])
    # resets as a tensor mean the same
    y_t, _ = model.chained(x, state, resets=torch.tensor(resets))
    _close(y, y_t)


def test_chained_without_resets_flags_equals_no_resets():
    model = _model()
    x = _x(4, 3, 2)
    state = _state(1, 1, 5)
    y0, s0 = model.chained(x, state)
    y1, s1 = model.chained(x, state, resets=[False] * 4)
    _close(y0, y1)
    _close(s0[0], s1[0])


def test_one_adam_step_on_chained_equals_one_on_the_loop():
    a = _model(input_size=3, hidden=4, layers=2)
    b, before = copy.deepcopy(a), copy.deepcopy(a)
    x = _x(6, 4, 3)
    target = _x(6, 4, 1, seed=7)
    state = _state(2, 1, 4)
    for model, run in ((a, a.chained), (b, b.chained_loop)):
        opt = torch.optim.Adam(model.parameters(), lr=1e-2)
        y, _ = run(x, state)
        nn.functional.mse_loss(y, target).backward()
        nn.utils.clip_grad_norm_(model.parameters(), 0.5)
        opt.step()
    for (name, pa), pb, p0 in zip(
        a.named_parameters(), b.parameters(), before.parameters(), strict=True
    ):
        torch.testing.assert_close(pa, pb, atol=ATOL, rtol=0, msg=name)
        assert not torch.equal(pa, p0), name  # the step did move every parameter


# -- modes -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("stateful", "stateful_batches", "mode"),
    [
        (False, False, StateMode.STATELESS),
        (True, False, StateMode.STATEFUL),
        (True, True, StateMode.CHAINED),
    ],
)
def test_mode_from_flags(stateful, stateful_batches, mode):
    assert StateMode.from_flags(stateful, stateful_batches) is mode


def test_mode_from_flags_rejects_stateful_batches_without_stateful():
    with pytest.raises(ValueError) as err:
        StateMode.from_flags(False, True)
    message = str(err.value)
    assert message == (
        "stateful_batches=True needs stateful=True: use stateful=True, "
        "stateful_batches=True for the chained mode, or stateful_batches=False"
    )
    assert "stateful_batches=True" in message and "stateful=True" in message


def test_mode_parse_lists_names():
    assert StateMode.parse("chained") is StateMode.CHAINED
    with pytest.raises(
        ValueError, match="unknown mode 'lazy': choose one of stateless, stateful, chained"
    ):
        StateMode.parse("lazy")
