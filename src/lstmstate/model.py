"""The model: a plain ``nn.LSTM`` with a linear head applied at every step.

The model does not know about state strategies. It offers two ways to run a
batch of windows, and the trainer picks one through the strategy object:

* ``model(x, state)`` runs every window (lane) from its own initial state;
* ``model.chained(x, state)`` runs the windows one after the other, each
  starting from the final state of the one before it.

Chaining window ``i`` from the final state of window ``i-1`` is, by
definition, one LSTM pass over the concatenated windows, so ``chained`` is a
single ``nn.LSTM`` call over ``(1, lanes*T, F)`` whatever the stride: the
per-window Python loop of the seed (``chained_loop``, kept as the reference)
computes the same numbers, step for step, many times slower.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

__all__ = ["State", "StatefulLSTM", "detach"]

State = tuple[Tensor, Tensor]  # (h, c), each (num_layers, lanes, hidden)


def detach(state: State | None) -> State | None:
    """Cut the graph at a batch boundary: truncated backpropagation through time."""
    if state is None:
        return None
    return state[0].detach(), state[1].detach()


class StatefulLSTM(nn.Module):
    """LSTM forecaster: ``nn.LSTM(batch_first=True)`` as ``.lstm``, ``nn.Linear`` as ``.head``.

    ``output_size`` is the number of target steps predicted at every time step
    (1 for one-step-ahead, ``H`` for a direct multi-step head).
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        output_size: int = 1,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.output_size = output_size
        self.dropout = dropout
        self.lstm = nn.LSTM(
            input_size,
            hidden_size,
            num_layers=num_layers,
            batch_first=True,
            dropout=dropout if num_layers > 1 else 0.0,
        )
        self.head = nn.Linear(hidden_size, output_size)

    def zero_state(self, lanes: int) -> State:
        """Zeros built from a parameter, so device and dtype follow the weights."""
        w = self.head.weight
        h = w.new_zeros(self.num_layers, lanes, self.hidden_size)
        return h, h.clone()

    def forward(self, x: Tensor, state: State | None = None) -> tuple[Tensor, State]:
        """Run each lane's window from its own initial state (``None`` = zeros)."""
        # B lanes, T steps, F features, H hidden, O outputs
        out, (h, c) = self.lstm(x, state)  # -> (B, T, H); h, c: (layers, B, H)
        return self.head(out), (h, c)  # -> (B, T, O)

    def chained(
        self,
        x: Tensor,
        state: State | None = None,
        resets: Sequence[bool] | Tensor | None = None,
    ) -> tuple[Tensor, State]:
        """Run the windows in lane order, window ``i`` from the final state of ``i-1``.

        ``state`` and the returned state have one lane. ``resets[i]`` true starts
        window ``i`` from zeros instead (a new series begins there); lane 0 with
        a reset ignores ``state``. Each run of windows between resets is one
        LSTM call over their concatenation.
        """
        # B lanes (windows), T steps, F features, O outputs
        lanes, steps, features = x.shape
        starts = [0]
        if resets is not None:
            flags = [bool(r) for r in resets]
            if flags[0]:
                state = None
            starts += [i for i in range(1, lanes) if flags[i]]
        bounds = [*starts, lanes]
        outputs = []
        for a, b in zip(bounds[:-1], bounds[1:], strict=False):
            if a > 0:
                state = None
            flat = x[a:b].reshape(1, (b - a) * steps, features)  # -> (1, n*T, F)
            out, state = self.lstm(flat, state)  # -> (1, n*T, H)
            outputs.append(out.reshape(b - a, steps, -1))  # -> (n, T, H)
        out = outputs[0] if len(outputs) == 1 else torch.cat(outputs, dim=0)
        assert state is not None
        return self.head(out), state

    def chained_loop(self, x: Tensor, state: State | None = None) -> tuple[Tensor, State]:
        """Reference for ``chained``: the seed's per-window loop (slow; for tests/benchmarks)."""
        outputs = []
        for i in range(x.shape[0]):
            y, state = self.forward(x[i : i + 1], state)
            outputs.append(y)
        assert state is not None
        return torch.cat(outputs, dim=0), state
