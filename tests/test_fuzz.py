"""Fuzzing the input path: every generated file runs or ends with the one-line error."""

import string

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lstmstate.cli import main

NAMES = st.text(string.ascii_letters + "_ ", min_size=1, max_size=8).map(str.strip).filter(bool)
CELLS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True, width=64).map(repr),
    st.integers(-(10**20), 10**20).map(str),
    st.sampled_from(["", "NA", "n/a", "abc", "1,5", "1e400", "-0", " 3 ", '"7"', "2020-01-01"]),
)


@st.composite
def tables(draw):
    columns = draw(st.lists(NAMES, min_size=1, max_size=4, unique=True))
    n = draw(st.integers(0, 60))
    numeric = draw(st.booleans())
    base = np.random.default_rng(draw(st.integers(0, 99))).normal(size=(n, len(columns)))
    rows = []
    for i in range(n):
        if numeric and draw(st.integers(0, 9)) > 0:
            rows.append([repr(float(v)) for v in base[i]])
        else:
            rows.append([draw(CELLS) for _ in columns])
    times = list(range(n))
    order = draw(st.sampled_from(["sorted", "shuffled", "duplicated"]))
    if order == "shuffled":
        times = draw(st.permutations(times))
    elif order == "duplicated" and n > 2:
        times[n // 2] = times[n // 2 - 1]
    delimiter = draw(st.sampled_from([",", ";", "\t", "|"]))
    header = draw(st.booleans())
    lines = ([delimiter.join(["time", *columns])] if header else []) + [
        delimiter.join([str(t), *r]) for t, r in zip(times, rows, strict=True)
    ]
    text = "\n".join(lines) + draw(st.sampled_from(["", "\n", "\n\n"]))
    bom = draw(st.booleans())
    target = draw(st.sampled_from([*columns, "missing"]))
    return text, bom, target


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    database=None,
)
@given(case=tables(), use_time=st.booleans())
def test_generated_files_run_or_fail_in_one_line(tmp_path_factory, capsys, case, use_time):
    text, bom, target = case
    folder = tmp_path_factory.mktemp("fuzz")
    path = folder / "data.csv"
    path.write_bytes(("\ufeff" if bom else "").encode() + text.encode("utf-8"))
    args = ["train", "--csv", str(path), "--target", target, "--window", "3", "--epochs", "1"]
    args += ["--hidden-size", "2", "--batch-size", "2", "--quiet", "--out", str(folder / "out")]
    if use_time:
        args += ["--time-col", "time"]
    capsys.readouterr()
    status = main(args)
    err = capsys.readouterr().err
    assert status in (0, 2), err
    assert "Traceback" not in err
    if status == 2:
        assert err.count("\n") == 1 and err.startswith("lstmstate: error: "), err
        assert not (folder / "out").exists()
