"""Keras parity and weight interop (``lstmstate.interop``).

Keras 3 on the torch backend with the same weights computes what lstmstate
computes: stateful lanes batch by batch, stateless windows, the chained mode
as stateful batch size 1, and truncated-BPTT training on the lane stream. The
tests that need keras skip without it (``pip install 'lstmstate[keras]'``);
the array round trips and error messages run without it.

Keras layers are built with ``use_cudnn=False``: on the torch backend the
default ``"auto"`` makes every stateful ``fit``/``train_on_batch`` fail with an
in-place autograd error (keras issue 23462).
"""

import os

os.environ.setdefault("KERAS_BACKEND", "torch")  # before keras is first imported

import sys

import numpy as np
import pytest
import torch

from lstmstate import StatefulLSTM, UserError
from lstmstate.interop import from_keras, to_keras_weights

# keras 3.15 on numpy 2 converts its torch tensors with the pre-numpy-2 __array__ signature
pytestmark = pytest.mark.filterwarnings(
    "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning"
)

ATOL = 1e-5  # float32, two implementations
SUPPORTED = "expected a stack of LSTM layers followed by one Dense layer"


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Keras steps its LSTM in Python over tiny matrices: extra threads only add waiting."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def keras():
    return pytest.importorskip(
        "keras", minversion="3.0", reason="keras 3 not installed: pip install 'lstmstate[keras]'"
    )


def _model(input_size=2, hidden=6, layers=2, output=1, seed=0):
    """float32, weights wide enough that the gates leave their linear range."""
    torch.manual_seed(seed)
    model = StatefulLSTM(input_size, hidden, num_layers=layers, output_size=output)
    with torch.no_grad():
        for p in model.parameters():
            p.uniform_(-0.8, 0.8)
    return model


def _stack(keras, batch, steps, features, hidden, layers, output, stateful):
    """Input(batch_shape) -> ``layers`` x LSTM(return_sequences=True) -> Dense, Keras init."""
    inputs = keras.Input(batch_shape=(batch, steps, features))
    x = inputs
    for k in range(layers):
        lstm = keras.layers.LSTM(
            hidden, stateful=stateful, return_sequences=True, use_cudnn=False, name=f"lstm{k}"
        )
        x = lstm(x)
    return keras.Model(inputs, keras.layers.Dense(output, name="head")(x))


def _stack_like(keras, model, batch, steps, stateful):
    """The Keras stack equivalent to ``model``, with its weights."""
    net = _stack(
        keras,
        batch,
        steps,
        model.input_size,
        model.hidden_size,
        model.num_layers,
        model.output_size,
        stateful,
    )
    net.set_weights(to_keras_weights(model))
    return net


def _lstms(keras, net):
    return [layer for layer in net.layers if isinstance(layer, keras.layers.LSTM)]


def _keras_state(keras, net):
    """The stateful layers' (h, c) as lstmstate holds them: each (layers, lanes, hidden)."""
    states = [[keras.ops.convert_to_numpy(v) for v in layer.states] for layer in _lstms(keras, net)]
    return np.stack([h for h, _ in states]), np.stack([c for _, c in states])


def _diff(a, b):
    a = a.detach().numpy() if isinstance(a, torch.Tensor) else a
    b = b.detach().numpy() if isinstance(b, torch.Tensor) else b
    assert a.shape == b.shape
    return float(np.abs(a - b).max())


def _lane_stream(synthetic, lanes, batches, steps, features=2, extra=0):
    """(lanes, batches*steps + extra, F) float32: lane i is block i of one series."""
    length = batches * steps + extra
    series = synthetic(lanes * length, features=features).astype(np.float32)
    return series.reshape(lanes, length, features)  # -> (B, J*T + extra, F)


# --- parity: forward ----------------------------------------------------------


def test_stateful_lanes_match_keras_stateful_every_batch_and_after_reset(keras, synthetic):
    lanes, steps, batches = 4, 5, 6
    blocks = _lane_stream(synthetic, lanes, batches, steps)
    net = _stack(keras, lanes, steps, 2, 6, 2, 1, stateful=True)
    rng = np.random.default_rng(3)  # Keras-side weights this time, imported
    net.set_weights([rng.uniform(-0.8, 0.8, w.shape).astype(w.dtype) for w in net.get_weights()])
    model = from_keras(net)

    worst, epochs = 0.0, []
    for _ in range(2):
        for layer in _lstms(keras, net):  # Keras 3: no model-level reset_state
            layer.reset_state()
        state = None  # lstmstate: zeros at every epoch start
        outputs = []
        for j in range(batches):
            x = blocks[:, j * steps : (j + 1) * steps]  # (B, T, F): lane i continues lane i
            y_keras = net.predict_on_batch(x)
            with torch.no_grad():
                y, state = model(torch.from_numpy(x), state)
            h_keras, c_keras = _keras_state(keras, net)
            worst = max(
                worst, _diff(y, y_keras), _diff(state[0], h_keras), _diff(state[1], c_keras)
            )
            outputs.append(y_keras)
        epochs.append(np.stack(outputs))
    print(f"stateful lanes vs Keras stateful: max abs diff {worst:.2e}")
    assert worst < ATOL
    assert np.array_equal(epochs[0], epochs[1])  # the reset really restarted from zeros
    assert np.abs(state[0].numpy()).min() > 0  # and a carried state is not trivially zero


def test_stateless_matches_keras_without_stateful(keras, synthetic):
    model = _model()
    lanes, steps = 4, 5
    net = _stack_like(keras, model, lanes, steps, stateful=False)
    rng = np.random.default_rng(0)
    series = synthetic(200, features=2).astype(np.float32)
    worst = 0.0
    for _ in range(5):
        starts = rng.choice(len(series) - steps, size=lanes, replace=False)
        x = np.stack([series[s : s + steps] for s in starts])  # (B, T, F), any order
        y_keras = net.predict_on_batch(x)
        with torch.no_grad():
            y, _ = model(torch.from_numpy(x), None)
        worst = max(worst, _diff(y, y_keras))
        assert np.array_equal(net.predict_on_batch(x), y_keras)  # Keras carried nothing
    print(f"stateless vs Keras stateless: max abs diff {worst:.2e}")
    assert worst < ATOL


def test_chained_matches_keras_stateful_batch_size_one(keras, synthetic):
    model = _model()
    steps, windows = 5, 7
    stream = synthetic(windows * steps, features=2).astype(np.float32)
    x = stream.reshape(windows, steps, 2)  # contiguous windows, one per lane
    net = _stack_like(keras, model, 1, steps, stateful=True)
    y_keras = np.concatenate([net.predict_on_batch(x[i : i + 1]) for i in range(windows)])
    h_keras, c_keras = _keras_state(keras, net)
    with torch.no_grad():  # two chained batches: the state carries between them too
        y1, state = model.chained(torch.from_numpy(x[:3]))
        y2, state = model.chained(torch.from_numpy(x[3:]), state)
    y = torch.cat([y1, y2])
    worst = max(_diff(y, y_keras), _diff(state[0], h_keras), _diff(state[1], c_keras))
    print(f"chained vs Keras stateful batch size 1: max abs diff {worst:.2e}")
    assert worst < ATOL


# --- parity: training ----------------------------------------------------------


def test_stateful_training_matches_keras_train_on_batch(keras, synthetic):
    """SGD on the lane stream, state carried and detached per batch: Keras stateful training.

    Keras trains one bias per gate, nn.LSTM two (``bias_ih + bias_hh``) that get the
    same gradient, so SGD moves their sum twice as far: parity needs ``bias_hh``
    frozen at zero, as ``from_keras`` leaves it.
    """
    lanes, steps, batches, lr = 3, 4, 5, 0.1
    blocks = _lane_stream(synthetic, lanes, batches, steps, extra=1)
    net = _stack_like(keras, _model(hidden=4), lanes, steps, stateful=True)
    model = from_keras(net)
    for k in range(model.num_layers):
        getattr(model.lstm, f"bias_hh_l{k}").requires_grad_(False)
    net.compile(optimizer=keras.optimizers.SGD(learning_rate=lr), loss="mse", jit_compile=False)
    optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=lr)
    for _ in range(2):
        for layer in _lstms(keras, net):
            layer.reset_state()
        state = None
        for j in range(batches):
            x = blocks[:, j * steps : (j + 1) * steps]  # (B, T, F)
            target = blocks[:, j * steps + 1 : (j + 1) * steps + 1, :1]  # next value, every step
            net.train_on_batch(x, target)
            y, state = model(torch.from_numpy(x), state)
            loss = torch.nn.functional.mse_loss(y, torch.from_numpy(target))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            state = (state[0].detach(), state[1].detach())  # truncated BPTT at the boundary
    worst = max(
        _diff(a, b) for a, b in zip(to_keras_weights(model), net.get_weights(), strict=True)
    )
    print(f"SGD training vs Keras train_on_batch: max abs weight diff {worst:.2e}")
    assert worst < ATOL


# --- import / export -------------------------------------------------------------


def test_round_trip_through_keras_keeps_the_model(keras, synthetic):
    model = _model(input_size=3, hidden=5, layers=3, output=2)
    net = _stack_like(keras, model, None, None, stateful=False)
    back = from_keras(net)

    original, imported = model.state_dict(), back.state_dict()
    assert original.keys() == imported.keys()
    worst_bias = 0.0
    for k in range(model.num_layers):  # Keras has one bias: the two fold into bias_ih
        folded = original.pop(f"lstm.bias_ih_l{k}") + original.pop(f"lstm.bias_hh_l{k}")
        worst_bias = max(worst_bias, _diff(imported.pop(f"lstm.bias_ih_l{k}"), folded))
        assert not imported.pop(f"lstm.bias_hh_l{k}").any()
    assert worst_bias < 1e-6
    for name, value in original.items():
        assert torch.equal(imported[name], value), name

    x = synthetic(40, features=3).astype(np.float32).reshape(4, 10, 3)
    with torch.no_grad():
        y, _ = model(torch.from_numpy(x))
        y_back, _ = back(torch.from_numpy(x))
    worst_back, worst_keras = _diff(y_back, y), _diff(net.predict_on_batch(x), y)
    print(
        f"round trip: bias {worst_bias:.2e}, predictions {worst_back:.2e}, Keras {worst_keras:.2e}"
    )
    assert worst_back < 1e-6
    assert worst_keras < ATOL
    assert back.dropout == 0.0 and back.lstm.dropout == 0.0


def test_model_and_its_weight_list_import_the_same(keras):
    net = _stack(keras, None, None, 2, 4, 2, 3, stateful=False)
    from_model, from_list = from_keras(net).state_dict(), from_keras(net.get_weights()).state_dict()
    assert all(torch.equal(from_model[name], from_list[name]) for name in from_model)
    assert all(
        np.array_equal(a, b)
        for a, b in zip(to_keras_weights(from_keras(net)), net.get_weights(), strict=True)
    )


def _many_to_one(keras):
    return keras.Sequential(
        [keras.Input(shape=(6, 2)), keras.layers.LSTM(4), keras.layers.Dense(1)]
    )


def _time_distributed_with_dropout(keras):
    return keras.Sequential(
        [
            keras.Input(shape=(6, 2)),
            keras.layers.LSTM(4, return_sequences=True, dropout=0.2, recurrent_dropout=0.1),
            keras.layers.Dropout(0.5),
            keras.layers.RNN(keras.layers.LSTMCell(4), return_sequences=True),
            keras.layers.TimeDistributed(keras.layers.Dense(2)),
        ]
    )


def _without_biases(keras):
    return keras.Sequential(
        [
            keras.Input(shape=(6, 2)),
            keras.layers.LSTM(4, return_sequences=True, use_bias=False),
            keras.layers.Dense(2, use_bias=False),
        ]
    )


@pytest.mark.parametrize("build", [_many_to_one, _time_distributed_with_dropout, _without_biases])
def test_import_predicts_like_keras(keras, synthetic, build):
    net = build(keras)
    rng = np.random.default_rng(1)
    net.set_weights([rng.uniform(-0.7, 0.7, w.shape).astype(w.dtype) for w in net.get_weights()])
    model = from_keras(net)
    x = synthetic(30, features=2).astype(np.float32).reshape(5, 6, 2)
    y_keras = net.predict_on_batch(x)
    with torch.no_grad():
        y, _ = model(torch.from_numpy(x))
    if y_keras.ndim == 2:  # many-to-one: Keras returns the last step only
        y = y[:, -1]
    assert _diff(y, y_keras) < ATOL


# --- errors naming the layer -----------------------------------------------------------


def _seq(keras, *layers):
    return keras.Sequential([keras.Input(shape=(5, 2)), *layers])


def _lstm(keras, units=4, name="lstm", **kwargs):
    return keras.layers.LSTM(units, return_sequences=True, name=name, **kwargs)


UNSUPPORTED = {
    "gru": (
        lambda k: _seq(k, k.layers.GRU(4, return_sequences=True, name="gru"), k.layers.Dense(1)),
        f"from_keras: layer 'gru' (GRU) is not supported; {SUPPORTED}",
    ),
    "bidirectional": (
        lambda k: _seq(k, k.layers.Bidirectional(_lstm(k), name="bi"), k.layers.Dense(1)),
        f"from_keras: layer 'bi' (Bidirectional) is not supported; {SUPPORTED}",
    ),
    "activation": (
        lambda k: _seq(k, _lstm(k, activation="relu"), k.layers.Dense(1)),
        "from_keras: layer 'lstm' (LSTM) has activation 'relu'; nn.LSTM computes tanh only",
    ),
    "recurrent_activation": (
        lambda k: _seq(k, _lstm(k, recurrent_activation="hard_sigmoid"), k.layers.Dense(1)),
        "from_keras: layer 'lstm' (LSTM) has recurrent_activation 'hard_sigmoid';"
        " nn.LSTM computes sigmoid only",
    ),
    "go_backwards": (
        lambda k: _seq(k, _lstm(k, go_backwards=True), k.layers.Dense(1)),
        "from_keras: layer 'lstm' (LSTM) has go_backwards=True; lstmstate runs forwards only",
    ),
    "dense_activation": (
        lambda k: _seq(k, _lstm(k), k.layers.Dense(1, activation="relu", name="out")),
        "from_keras: layer 'out' (Dense) has activation 'relu'; lstmstate's head is linear:"
        " remove the activation (activation=None)",
    ),
    "unequal_sizes": (
        lambda k: _seq(k, _lstm(k, 4, "small"), _lstm(k, 8, "big"), k.layers.Dense(1)),
        "from_keras: layer 'big' (LSTM) has 8 units but layer 'small' (LSTM) has 4: nn.LSTM"
        " stacks layers of one hidden size; give every LSTM layer 4 units",
    ),
    "no_dense": (
        lambda k: _seq(k, _lstm(k)),
        f"from_keras: the model does not end with a Dense layer; {SUPPORTED}",
    ),
    "two_dense": (
        lambda k: _seq(k, _lstm(k), k.layers.Dense(3), k.layers.Dense(1, name="d2")),
        f"from_keras: layer 'd2' (Dense) follows the Dense layer; {SUPPORTED}",
    ),
    "dense_first": (
        lambda k: _seq(k, k.layers.Dense(3, name="d0"), _lstm(k), k.layers.Dense(1)),
        f"from_keras: layer 'd0' (Dense) comes before any LSTM; {SUPPORTED}",
    ),
    "not_built": (
        lambda k: k.Sequential([_lstm(k), k.layers.Dense(1)]),
        "from_keras: the Keras model is not built: give it an Input first",
    ),
}


@pytest.mark.parametrize("case", UNSUPPORTED)
def test_unsupported_keras_models_name_the_layer(keras, case):
    build, message = UNSUPPORTED[case]
    with pytest.raises(UserError) as info:
        from_keras(build(keras))
    assert str(info.value) == message


def test_middle_layer_returning_its_last_step_is_named(keras):
    first, second = _lstm(keras, name="first"), _lstm(keras, name="second")
    net = _seq(keras, first, second, keras.layers.Dense(1))
    first.return_sequences = False  # Keras itself cannot build this stack
    with pytest.raises(UserError) as info:
        from_keras(net)
    assert str(info.value) == (
        "from_keras: layer 'first' returns only its last step (return_sequences=False) but feeds"
        " another LSTM layer: lstmstate stacks need return_sequences=True in every LSTM layer"
        " but the last"
    )


@pytest.mark.usefixtures("keras")
def test_from_keras_rejects_other_objects():
    with pytest.raises(TypeError, match="expects a keras Model or Sequential"):
        from_keras("model.keras")


# --- without keras: weight lists -----------------------------------------------------------


def _keras_shaped(features=2, hidden=3, layers=2, output=1, dtype=np.float32, seed=0):
    """Random arrays in ``get_weights()`` order of an LSTM stack and a Dense."""
    rng = np.random.default_rng(seed)
    shapes = []
    for k in range(layers):
        width = features if k == 0 else hidden
        shapes += [(width, 4 * hidden), (hidden, 4 * hidden), (4 * hidden,)]
    shapes += [(hidden, output), (output,)]
    return [rng.standard_normal(s).astype(dtype) for s in shapes]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_weight_list_round_trips_exactly(dtype):
    arrays = _keras_shaped(features=3, hidden=4, layers=3, output=2, dtype=dtype)
    model = from_keras(arrays)
    sizes = model.input_size, model.hidden_size, model.num_layers, model.output_size
    assert sizes == (3, 4, 3, 2)
    assert model.head.weight.dtype == torch.from_numpy(arrays[0]).dtype
    back = to_keras_weights(model)
    assert all(
        a.dtype == b.dtype and np.array_equal(a, b) for a, b in zip(arrays, back, strict=True)
    )
    assert not model.lstm.bias_hh_l0.any()


def test_to_keras_weights_folds_the_two_biases():
    model = _model(layers=1)
    kernel, recurrent, bias, dense_kernel, dense_bias = to_keras_weights(model)
    assert np.array_equal(kernel, model.lstm.weight_ih_l0.detach().numpy().T)
    assert np.array_equal(recurrent, model.lstm.weight_hh_l0.detach().numpy().T)
    assert np.array_equal(bias, (model.lstm.bias_ih_l0 + model.lstm.bias_hh_l0).detach().numpy())
    assert np.array_equal(dense_kernel, model.head.weight.detach().numpy().T)
    assert np.array_equal(dense_bias, model.head.bias.detach().numpy())


def test_weight_list_errors():
    with pytest.raises(UserError, match=r"^from_keras got 4 arrays; get_weights\(\) of a stack"):
        from_keras(_keras_shaped()[:4])
    uneven = _keras_shaped(hidden=3, layers=1)[:3] + _keras_shaped(features=3, hidden=5)[3:]
    with pytest.raises(UserError) as info:
        from_keras(uneven)
    assert str(info.value) == (
        "from_keras: LSTM layer 1 (arrays 3-5) has 5 units but LSTM layer 0 (arrays 0-2) has 3:"
        " nn.LSTM stacks layers of one hidden size; give every LSTM layer 3 units"
    )
    wrong = _keras_shaped()
    wrong[1] = wrong[1].T
    with pytest.raises(UserError) as info:
        from_keras(wrong)
    assert str(info.value) == (
        "from_keras: LSTM layer 0 (arrays 0-2): recurrent_kernel has shape (12, 3); Keras LSTM"
        " weights are kernel (F, 4H), recurrent_kernel (H, 4H), bias (4H,)"
    )


def test_to_keras_weights_wants_a_stateful_lstm():
    with pytest.raises(TypeError, match="expects a StatefulLSTM, got LSTM"):
        to_keras_weights(torch.nn.LSTM(2, 3))


def test_missing_keras_gives_the_install_hint(monkeypatch):
    monkeypatch.setitem(sys.modules, "keras", None)  # import keras -> ModuleNotFoundError
    with pytest.raises(ImportError, match=r"pip install 'lstmstate\[keras\]'"):
        from_keras(object())
