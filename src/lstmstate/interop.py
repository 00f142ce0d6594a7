"""Weights to and from Keras: a stack of ``LSTM`` layers and a ``Dense`` head.

Keras and PyTorch compute the same LSTM; only the storage differs:

=====================  ==========================  ===========================
                       Keras (per LSTM layer)      ``nn.LSTM`` (layer ``k``)
=====================  ==========================  ===========================
input weights          ``kernel`` ``(F, 4H)``      ``weight_ih_lk`` ``(4H, F)``
recurrent weights      ``recurrent_kernel``        ``weight_hh_lk`` ``(4H, H)``
                       ``(H, 4H)``
bias                   ``bias`` ``(4H,)``, one     ``bias_ih_lk + bias_hh_lk``,
                                                   two that are always added
gate blocks            ``i, f, c, o``              ``i, f, g, o`` (``g`` is
                                                   Keras's ``c``: same order)
=====================  ==========================  ===========================

So a kernel is transposed, the gate blocks stay where they are, and the one
Keras bias goes to ``bias_ih`` with zeros in ``bias_hh`` (the reverse adds the
two). A ``Dense`` kernel ``(H, O)`` is the transpose of ``head.weight``.

``keras.Model.get_weights()`` lists, layer by layer, ``kernel,
recurrent_kernel, bias`` for each LSTM and ``kernel, bias`` for the Dense, so
the list alone fixes the architecture: :func:`from_keras` accepts it without
keras installed (weights saved with ``np.savez(path, *model.get_weights())``
in a TensorFlow environment load here), and :func:`to_keras_weights` writes it.

Keras is imported lazily: ``lstmstate`` does not depend on it.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from .errors import UserError
from .model import StatefulLSTM

__all__ = ["from_keras", "to_keras_weights"]

INSTALL_HINT = "pip install 'lstmstate[keras]' and set KERAS_BACKEND=torch"
SUPPORTED = "a stack of LSTM layers followed by one Dense layer"


@dataclass
class _Lstm:
    """One LSTM layer as Keras stores it; ``name`` is what error messages call it."""

    name: str
    kernel: np.ndarray  # (F, 4H)
    recurrent_kernel: np.ndarray  # (H, 4H)
    bias: np.ndarray  # (4H,)


@dataclass
class _Dense:
    name: str
    kernel: np.ndarray  # (H, O)
    bias: np.ndarray  # (O,)


def from_keras(source: Any) -> StatefulLSTM:
    """A :class:`StatefulLSTM` with the weights of a Keras LSTM stack.

    ``source`` is either a built Keras 3 model (``keras.Model`` or
    ``keras.Sequential``) made of ``LSTM`` layers (or ``RNN(LSTMCell)``) and
    one final ``Dense`` (or ``TimeDistributed(Dense)``), or the list of arrays
    that its ``get_weights()`` returns; for a list, the activations are taken
    to be Keras's defaults (which a list cannot show) and every layer must
    have a bias. ``Input`` and ``Dropout`` layers, and the ``dropout`` and
    ``recurrent_dropout`` of the LSTM layers, act only in training and are not
    carried over: the returned model has ``dropout=0``. Its dtype is float64
    if the Keras weights are, else float32.

    The last LSTM may return only its last step (``return_sequences=False``,
    many-to-one): ``StatefulLSTM`` applies the head at every step, and its
    last step is the Keras output.

    Keras trains one bias per gate; ``nn.LSTM`` has two that get the same
    gradient, so to continue training with updates identical to Keras's,
    freeze the zero ``bias_hh_l*`` (``requires_grad_(False)``).

    Anything else (GRU, Bidirectional, another activation, a Dense with an
    activation, LSTM layers of different sizes, ...) raises
    :class:`~lstmstate.errors.UserError` naming the layer.
    """
    if isinstance(source, (list, tuple)):
        lstms, dense = _from_arrays(source)
    else:
        lstms, dense = _from_model(source)
    return _build(lstms, dense)


def to_keras_weights(model: StatefulLSTM) -> list[np.ndarray]:
    """``model``'s weights in ``get_weights()`` order of the equivalent Keras stack.

    The stack is ``num_layers`` ``keras.layers.LSTM(hidden_size,
    return_sequences=True)`` and ``keras.layers.Dense(output_size)`` on an
    input of ``input_size`` features; ``keras_model.set_weights(...)`` takes
    the list. Each Keras bias is ``bias_ih + bias_hh``. The arrays have the
    model's dtype.
    """
    if not isinstance(model, StatefulLSTM):
        raise TypeError(f"to_keras_weights expects a StatefulLSTM, got {type(model).__name__}")
    lstm = model.lstm
    weights = []
    for k in range(lstm.num_layers):
        w_ih = getattr(lstm, f"weight_ih_l{k}")  # (4H, F)
        w_hh = getattr(lstm, f"weight_hh_l{k}")  # (4H, H)
        bias = getattr(lstm, f"bias_ih_l{k}") + getattr(lstm, f"bias_hh_l{k}")  # (4H,)
        weights += [_numpy(w_ih.T), _numpy(w_hh.T), _numpy(bias)]
    weights += [_numpy(model.head.weight.T), _numpy(model.head.bias)]  # (H, O), (O,)
    return weights


def _numpy(t: torch.Tensor) -> np.ndarray:
    return np.ascontiguousarray(t.detach().cpu().numpy())


def _import_keras() -> Any:
    try:  # import_module: keras is optional and ships no type information
        keras = importlib.import_module("keras")
    except ImportError as exc:
        if exc.name == "keras":
            raise ImportError(f"from_keras needs keras: {INSTALL_HINT}") from None
        raise ImportError(
            f"keras is installed but cannot load its backend ({exc}): set KERAS_BACKEND=torch"
            " before keras is first imported (the lstmstate[keras] extra has no TensorFlow)"
        ) from exc
    return keras


def _from_arrays(arrays: Sequence[Any]) -> tuple[list[_Lstm], _Dense]:
    """Split ``get_weights()`` output into 3 arrays per LSTM layer and 2 for the Dense."""
    n = len(arrays)
    if n < 5 or (n - 2) % 3:
        raise UserError(
            f"from_keras got {n} arrays; get_weights() of {SUPPORTED} has 3 per LSTM layer"
            " (kernel, recurrent_kernel, bias) and 2 for the Dense (kernel, bias): 5, 8, 11, ..."
            " (a layer without bias: pass the Keras model itself)"
        )
    arrays = [np.asarray(a) for a in arrays]
    lstms = [
        _Lstm(f"LSTM layer {k} (arrays {3 * k}-{3 * k + 2})", *arrays[3 * k : 3 * k + 3])
        for k in range((n - 2) // 3)
    ]
    return lstms, _Dense(f"Dense layer (arrays {n - 2}-{n - 1})", *arrays[-2:])


def _from_model(model: Any) -> tuple[list[_Lstm], _Dense]:
    """Check the layers of a Keras model one by one and collect their weights."""
    keras = _import_keras()
    if not isinstance(model, keras.Model):
        raise TypeError(
            "from_keras expects a keras Model or Sequential, or the list of its get_weights(),"
            f" got {type(model).__name__}"
        )
    if not model.built:
        raise UserError("from_keras: the Keras model is not built: give it an Input first")
    lstms: list[_Lstm] = []
    dense: _Dense | None = None
    last_lstm = None
    for layer in model.layers:
        label = f"layer {layer.name!r} ({type(layer).__name__})"
        if isinstance(layer, (keras.layers.InputLayer, keras.layers.Dropout)):
            continue
        if dense is not None:
            raise UserError(f"from_keras: {label} follows the Dense layer; expected {SUPPORTED}")
        if isinstance(layer, keras.layers.RNN) and isinstance(layer.cell, keras.layers.LSTMCell):
            _check_lstm(keras, layer, label)
            if last_lstm is not None and not last_lstm.return_sequences:
                raise UserError(
                    f"from_keras: layer {last_lstm.name!r} returns only its last step"
                    " (return_sequences=False) but feeds another LSTM layer: lstmstate stacks"
                    " need return_sequences=True in every LSTM layer but the last"
                )
            last_lstm = layer
            lstms.append(_lstm_weights(layer, label))
            continue
        inner = layer.layer if isinstance(layer, keras.layers.TimeDistributed) else layer
        if isinstance(inner, keras.layers.Dense):
            if not lstms:
                raise UserError(f"from_keras: {label} comes before any LSTM; expected {SUPPORTED}")
            if inner.activation is not keras.activations.linear:
                raise UserError(
                    f"from_keras: {label} has activation {_name(inner.activation)!r};"
                    " lstmstate's head is linear: remove the activation (activation=None)"
                )
            dense = _dense_weights(inner, label)
            continue
        raise UserError(f"from_keras: {label} is not supported; expected {SUPPORTED}")
    if not lstms:
        raise UserError(f"from_keras: the model has no LSTM layer; expected {SUPPORTED}")
    if dense is None:
        raise UserError(
            f"from_keras: the model does not end with a Dense layer; expected {SUPPORTED}"
        )
    return lstms, dense


def _check_lstm(keras: Any, layer: Any, label: str) -> None:
    cell = layer.cell
    if cell.activation not in (keras.activations.tanh, keras.ops.tanh):
        raise UserError(
            f"from_keras: {label} has activation {_name(cell.activation)!r};"
            " nn.LSTM computes tanh only"
        )
    if cell.recurrent_activation not in (keras.activations.sigmoid, keras.ops.sigmoid):
        raise UserError(
            f"from_keras: {label} has recurrent_activation"
            f" {_name(cell.recurrent_activation)!r}; nn.LSTM computes sigmoid only"
        )
    if layer.go_backwards:
        raise UserError(f"from_keras: {label} has go_backwards=True; lstmstate runs forwards only")


def _name(fn: Any) -> str:
    return getattr(fn, "__name__", type(fn).__name__)


def _lstm_weights(layer: Any, label: str) -> _Lstm:
    arrays = layer.get_weights()  # kernel, recurrent_kernel[, bias]
    if not layer.cell.use_bias:
        arrays.append(np.zeros(4 * layer.cell.units, arrays[0].dtype))
    return _Lstm(label, *arrays)


def _dense_weights(layer: Any, label: str) -> _Dense:
    arrays = layer.get_weights()  # kernel[, bias]
    if not layer.use_bias:
        arrays.append(np.zeros(layer.units, arrays[0].dtype))
    return _Dense(label, *arrays)


def _build(lstms: list[_Lstm], dense: _Dense) -> StatefulLSTM:
    """Check the shapes layer by layer, then copy into a new ``StatefulLSTM``."""
    features = _check_shapes(lstms, dense)
    hidden = lstms[0].recurrent_kernel.shape[0]
    arrays = [a for lay in lstms for a in (lay.kernel, lay.recurrent_kernel, lay.bias)]
    wide = any(a.dtype == np.float64 for a in [*arrays, dense.kernel, dense.bias])
    dtype = torch.float64 if wide else torch.float32
    model = StatefulLSTM(features, hidden, len(lstms), dense.kernel.shape[1]).to(dtype)

    def put(param: torch.Tensor, value: np.ndarray) -> None:
        param.copy_(torch.from_numpy(np.asarray(value, dtype=np.float64)))

    with torch.no_grad():
        for k, lay in enumerate(lstms):
            put(getattr(model.lstm, f"weight_ih_l{k}"), lay.kernel.T)  # (F, 4H) -> (4H, F)
            put(getattr(model.lstm, f"weight_hh_l{k}"), lay.recurrent_kernel.T)
            put(getattr(model.lstm, f"bias_ih_l{k}"), lay.bias)
            getattr(model.lstm, f"bias_hh_l{k}").zero_()
        put(model.head.weight, dense.kernel.T)  # (H, O) -> (O, H)
        put(model.head.bias, dense.bias)
    return model


def _check_shapes(lstms: list[_Lstm], dense: _Dense) -> int:
    """The input size, after checking every shape against the layer before it."""
    first = lstms[0]
    hidden = _units(first)
    width = first.kernel.shape[0] if first.kernel.ndim == 2 else -1
    for k, lay in enumerate(lstms):
        units = lay.recurrent_kernel.shape[0] if lay.recurrent_kernel.ndim == 2 else -1
        if k > 0 and units != hidden and lay.recurrent_kernel.shape == (units, 4 * units):
            raise UserError(
                f"from_keras: {lay.name} has {units} units but {first.name} has {hidden}:"
                f" nn.LSTM stacks layers of one hidden size; give every LSTM layer {hidden} units"
            )
        expected = {
            "kernel": (width, 4 * hidden),
            "recurrent_kernel": (hidden, 4 * hidden),
            "bias": (4 * hidden,),
        }
        for field, shape in expected.items():
            got = getattr(lay, field).shape
            if got != shape or hidden < 1 or width < 1:
                raise UserError(
                    f"from_keras: {lay.name}: {field} has shape {got}; Keras LSTM weights are"
                    " kernel (F, 4H), recurrent_kernel (H, 4H), bias (4H,)"
                )
        width = hidden
    if dense.kernel.ndim != 2 or dense.kernel.shape[0] != hidden:
        raise UserError(
            f"from_keras: {dense.name}: kernel has shape {dense.kernel.shape},"
            f" expected ({hidden}, outputs) after LSTM layers of {hidden} units"
        )
    if dense.bias.shape != (dense.kernel.shape[1],):
        raise UserError(
            f"from_keras: {dense.name}: bias has shape {dense.bias.shape},"
            f" expected ({dense.kernel.shape[1]},)"
        )
    return first.kernel.shape[0]


def _units(layer: _Lstm) -> int:
    """The hidden size that most of the layer's arrays agree on (-1: none), for messages."""
    rec, bias, kernel = layer.recurrent_kernel.shape, layer.bias.shape, layer.kernel.shape
    if len(rec) == 2 and rec[1] == 4 * rec[0] > 0:
        return rec[0]
    if len(bias) == 1 and bias[0] % 4 == 0 and bias[0] > 0:
        return bias[0] // 4
    if len(kernel) == 2 and kernel[1] % 4 == 0 and kernel[1] > 0:
        return kernel[1] // 4
    return -1
