"""State at forecast origins (DESIGN §4): the fast paths equal the window-by-window walk."""

import numpy as np
import pytest
import torch

from lstmstate import StatefulLSTM, StateMode
from lstmstate.evaluate import _walk, origin_outputs

ATOL = 1e-10


def _model(features=2, out=1, seed=0):
    torch.manual_seed(seed)
    return StatefulLSTM(features, 5, 2, out).double().eval()


def _values(n=80, features=2, seed=1):
    return torch.as_tensor(np.random.default_rng(seed).normal(size=(n, features)))


def _reference(model, values, start, t, window, stride):
    """DESIGN §4 by hand: chain the grid windows ending at or before t, then the rows after."""
    state, y = None, None
    g = start
    while g + window - 1 <= t:
        y, state = model(values[g : g + window][None], state)
        g += stride
    last_end = g - stride + window - 1
    if t > last_end:
        y, state = model(values[last_end + 1 : t + 1][None], state)
    return y[0, -1], state


@pytest.mark.parametrize("window,stride", [(4, 1), (4, 4), (5, 2), (6, 3), (3, 3)])
@pytest.mark.parametrize("mode", [StateMode.STATEFUL, StateMode.CHAINED])
def test_origin_outputs_follow_the_chain(mode, window, stride):
    model, values = _model(), _values()
    start = 3
    origins = np.arange(start + window - 1, 70)
    with torch.no_grad():
        fast, _ = origin_outputs(model, mode, values, start, origins, window, stride)
        walked, (h, c) = origin_outputs(
            model, mode, values, start, origins, window, stride, need_state=True
        )
        for i, t in list(enumerate(origins))[:: max(1, stride // 2 + 1)][:24]:
            y, state = _reference(model, values, start, int(t), window, stride)
            torch.testing.assert_close(fast[i], y, atol=ATOL, rtol=0)
            torch.testing.assert_close(walked[i], y, atol=ATOL, rtol=0)
            torch.testing.assert_close(h[:, i], state[0][:, 0], atol=ATOL, rtol=0)
            torch.testing.assert_close(c[:, i], state[1][:, 0], atol=ATOL, rtol=0)


def test_stateless_origin_uses_the_window_ending_there_from_zeros():
    model, values = _model(), _values()
    origins = np.array([10, 11, 40])
    with torch.no_grad():
        out, state = origin_outputs(model, StateMode.STATELESS, values, 0, origins, 6, 6)
        for i, t in enumerate(origins):
            y, _ = model(values[t - 5 : t + 1][None])
            torch.testing.assert_close(out[i], y[0, -1], atol=ATOL, rtol=0)
    assert state is None


@pytest.mark.parametrize("mode", list(StateMode))
def test_no_row_after_the_origin_is_read(mode):
    model, values = _model(), _values()
    origins = np.array([20, 33, 47])
    with torch.no_grad():
        before, _ = origin_outputs(model, mode, values, 0, origins, 5, 2)
        changed = values.clone()
        changed[48:] = 1e6
        after, _ = origin_outputs(model, mode, changed, 0, origins, 5, 2)
    torch.testing.assert_close(before, after, atol=0, rtol=0)


def test_walk_agrees_with_itself_from_a_later_first_origin():
    """Starting the walk at a later window (one fast chain before it) changes nothing."""
    model, values = _model(), _values()
    with torch.no_grad():
        a, _ = _walk(model, values, 0, np.arange(10, 60), 5, 2)
        b, _ = _walk(model, values, 0, np.arange(40, 60), 5, 2)
    torch.testing.assert_close(a[30:], b, atol=ATOL, rtol=0)


def test_an_origin_without_a_full_window_of_history_is_refused():
    with pytest.raises(ValueError, match="less than one window"):
        origin_outputs(_model(), StateMode.STATEFUL, _values(), 5, np.array([7]), 4, 1)
