"""Batch layouts are pure index arithmetic: checked with hypothesis against their definitions."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lstmstate import Layout, LossSteps, TrainConfig, UserError
from lstmstate.windows import plan_batches, window_starts

BOUNDED = settings(max_examples=60, deadline=None, database=None)


@st.composite
def counts(draw):
    """(number of windows, batch size <= number of windows)."""
    n = draw(st.integers(1, 200))
    return n, draw(st.integers(1, n))


def _flat(plan):
    return np.concatenate(plan.batches) if plan.batches else np.empty(0, dtype=np.int64)


@BOUNDED
@given(counts(), st.sampled_from(list(Layout)), st.integers(0, 2**32 - 1))
def test_every_window_once_per_epoch_except_reported_drops(nb, layout, seed):
    n, b = nb
    plan = plan_batches(n, b, layout, np.random.default_rng(seed))
    flat = _flat(plan)
    assert len(flat) + plan.dropped == n
    assert len(np.unique(flat)) == len(flat)
    assert set(flat.tolist()) == set(range(plan.dropped, n))  # the drops are the oldest
    assert all(1 <= len(batch) <= b for batch in plan.batches)
    if layout is not Layout.LANES:
        assert plan.dropped == 0
        assert all(len(batch) == b for batch in plan.batches[:-1])  # only the last is partial


@BOUNDED
@given(counts())
def test_lanes_drop_exactly_the_remainder_from_the_oldest_end(nb):
    n, b = nb
    plan = plan_batches(n, b, "lanes")
    assert plan.dropped == n % b
    assert len(plan.batches) == n // b
    assert all(len(batch) == b for batch in plan.batches)  # the batch size stays fixed
    assert _flat(plan).min() == n % b


@BOUNDED
@given(counts())
def test_lanes_are_contiguous_blocks_in_time(nb):
    n, b = nb
    plan = plan_batches(n, b, "lanes")
    grid = np.stack(plan.batches, axis=1)  # -> (lanes, batches)
    per_lane = n // b
    for i, lane in enumerate(grid):
        # lane i is window j of block i: consecutive integers, block after block
        np.testing.assert_array_equal(lane, n % b + i * per_lane + np.arange(per_lane))


@BOUNDED
@given(counts())
def test_sequential_batches_are_consecutive_in_time(nb):
    n, b = nb
    plan = plan_batches(n, b, "sequential")
    for j, batch in enumerate(plan.batches):
        np.testing.assert_array_equal(batch, np.arange(j * b, min((j + 1) * b, n)))
    # in stateful mode lane i of batch j+1 receives the window B after lane i of batch j
    for before, after in zip(plan.batches[:-1], plan.batches[1:], strict=True):
        np.testing.assert_array_equal(after, before[: len(after)] + b)


@BOUNDED
@given(counts(), st.integers(0, 2**32 - 1))
def test_shuffled_is_a_permutation(nb, seed):
    n, b = nb
    plan = plan_batches(n, b, "shuffled", np.random.default_rng(seed))
    assert sorted(_flat(plan).tolist()) == list(range(n))
    assert len(plan.batches) == -(-n // b)


@pytest.mark.parametrize("seed", range(5))
def test_shuffled_changes_between_epochs_and_follows_the_seed(seed):
    rng = np.random.default_rng(seed)
    first = _flat(plan_batches(30, 4, "shuffled", rng))
    second = _flat(plan_batches(30, 4, "shuffled", rng))
    assert not np.array_equal(first, second)
    assert not np.array_equal(first, np.arange(30))
    again = _flat(plan_batches(30, 4, "shuffled", np.random.default_rng(seed)))
    np.testing.assert_array_equal(first, again)


def test_shuffled_without_generator_is_an_error():
    with pytest.raises(ValueError, match="random generator"):
        plan_batches(10, 2, "shuffled")


@pytest.mark.parametrize("layout", list(Layout))
def test_batch_size_larger_than_windows_is_a_user_error(layout):
    with pytest.raises(UserError) as err:
        plan_batches(5, 6, layout, np.random.default_rng(0))
    assert str(err.value) == (
        "batch size 6 is larger than the 5 training windows: "
        "use --batch-size 5 or less, or a shorter window/stride"
    )


def test_batch_size_below_one_is_a_user_error():
    with pytest.raises(UserError, match="batch size must be at least 1, got 0"):
        plan_batches(5, 0, "sequential")


def test_plan_of_the_docstring_example():
    plan = plan_batches(11, 3, "lanes")
    assert plan.dropped == 2
    assert [b.tolist() for b in plan.batches] == [[2, 5, 8], [3, 6, 9], [4, 7, 10]]
    plan = plan_batches(11, 3, "sequential")
    assert [b.tolist() for b in plan.batches] == [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9, 10]]


@BOUNDED
@given(st.integers(0, 50), st.integers(-5, 100), st.integers(1, 10))
def test_window_starts(first, last_start, stride):
    starts = window_starts(first, last_start, stride)
    assert starts.dtype == np.int64
    expected = [s for s in range(first, last_start + 1) if (s - first) % stride == 0]
    assert starts.tolist() == expected


# -- the layout rules of the config ------------------------------------------------------


@pytest.mark.parametrize("mode", ["stateful", "chained"])
def test_shuffled_layout_needs_stateless(mode):
    with pytest.raises(UserError) as err:
        TrainConfig(mode=mode, layout="shuffled")
    assert str(err.value) == (
        f"the shuffled layout destroys the order a {mode} model carries its state along: "
        "use --layout sequential or lanes, or --mode stateless"
    )


def test_chained_needs_the_sequential_layout():
    with pytest.raises(UserError) as err:
        TrainConfig(mode="chained", layout="lanes")
    assert str(err.value) == (
        "the chained mode chains the windows of a batch in time order, so it is defined "
        "on the sequential layout only, not lanes: use --layout sequential"
    )


@pytest.mark.parametrize(
    ("mode", "layout"),
    [
        ("stateless", "sequential"),
        ("stateless", "lanes"),
        ("stateless", "shuffled"),
        ("stateful", "sequential"),
        ("stateful", "lanes"),
        ("chained", "sequential"),
    ],
)
def test_meaningful_combinations_are_accepted(mode, layout):
    config = TrainConfig(mode=mode, layout=layout, loss_steps="all")
    assert config.layout is Layout(layout)
    assert config.loss_steps is LossSteps.ALL


def test_defaults_reproduce_the_seed():
    config = TrainConfig()
    assert (config.layout, config.stride, config.loss_steps) == (
        Layout.SEQUENTIAL,
        1,
        LossSteps.LAST,
    )
    assert config.mode == "stateless"


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("layout", "zigzag", "unknown layout 'zigzag': choose one of sequential, lanes, shuffled"),
        ("loss_steps", "some", "unknown loss_steps 'some': choose one of last, all"),
        ("window", 0, "window must be an integer >= 1, got 0"),
        ("batch_size", True, "batch_size must be an integer >= 1, got True"),
    ],
)
def test_config_errors_name_the_field_and_value(field, value, message):
    with pytest.raises(UserError) as err:
        TrainConfig(**{field: value})
    assert str(err.value) == message
