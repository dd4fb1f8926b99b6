"""Design-space sweeps (qnnhw.sweep): points from a SPEC and the command line, the Pareto
fronts, and sweeps on Dask — an embedded cluster, a scheduler and workers started here, a
worker killed during a point, a rerun that does nothing."""

import csv
import os
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest

from qnnhw.cli import main
from qnnhw.sweep import RESULT_COLUMNS, load_points, mark_pareto, point_parser

from .helpers import run_cli

#: Small points: threshold networks on ionosphere take about a second each to estimate.
SMALL = ["--data", "ionosphere", "--family", "threshold", "--stop", "estimate"]


def rows_of(folder):
    with open(folder / "results.csv", newline="") as table:
        return list(csv.DictReader(table))


def test_points_of_a_spec_and_the_command_line():
    spec = {"stop": "estimate", "options": {"data": "digits"},
            "grid": [{"family": ["threshold"], "beta": [5, 20.0]},
                     {"family": "lut", "beta": [10]}]}
    points = load_points(spec, {"input_bits": 4}, ["board=ice40,ice40-hx8k"], None)
    assert len(points) == 6 and len({point.key for point in points}) == 6
    options = [dict(point.options) for point in points]
    assert {option["board"] for option in options} == {"icebreaker", "ice40-hx8k"}
    assert {option["beta"] for option in options} == {"5", "20", "10"}
    assert all(option["input_bits"] == "4" and option["data"] == "digits"
               for option in options)
    assert all(point.stop == "estimate" for point in points)
    # The same point written twice is one point, with one key.
    same = load_points({"grid": {"beta": [5, 5.0]}}, {}, [], "train")
    assert len(same) == 1
    assert same[0].key == load_points({}, {"beta": 5.0}, [], "train")[0].key
    # Switches become their flags, and a switch at its default needs none.
    (switched,) = load_points({"options": {"bias": False, "scores": True}}, {}, [],
                              "estimate")
    _, actions = point_parser()
    assert "--no-bias" in switched.argv(actions) and "--no-scores" not in switched.argv(
        actions)


def test_random_points_follow_their_seed():
    spec = {"random": {"points": 6, "seed": 3, "axes": {
        "beta": {"low": 1, "high": 100, "log": True},
        "neurons": {"low": 100, "high": 400, "integer": True},
        "family": ["threshold"]}}}
    first, again = (load_points(spec, {}, [], "train") for _ in range(2))
    assert first == again and len(first) == 6
    for point in first:
        options = dict(point.options)
        assert 1 <= float(options["beta"]) <= 100 and 100 <= int(options["neurons"]) <= 400


def _row(board, accuracy, cells, speed):
    return {"status": "ok", "stop": "estimate", "options": {"board": board},
            "test_accuracy": accuracy, "cells": cells, "inferences_per_second": speed,
            "network_neurons": 1}


def test_no_build_option_shares_a_name_with_a_result_column():
    _, actions = point_parser()
    assert not set(actions) & set(RESULT_COLUMNS)


def test_pareto_fronts_are_per_board_and_per_objective():
    rows = [_row("a", 0.90, 1000, 1e6),   # on every front
            _row("a", 0.95, 3000, 1e5),   # most accurate
            _row("a", 0.89, 2000, 5e6),   # fastest, not small
            _row("a", 0.85, 2500, 1e5),   # dominated everywhere
            _row("b", 0.80, 5000, 1e3),   # alone on its board
            {**_row("a", 0.99, 10, 1e9), "status": "refused"}]
    mark_pareto(rows)
    assert [row["pareto_cells"] for row in rows] == [True, True, False, False, True, False]
    assert [row["pareto_speed"] for row in rows] == [True, True, True, False, True, False]
    assert [row["pareto"] for row in rows] == [True, True, True, False, True, False]


def test_a_sweep_on_a_local_cluster_then_a_rerun_that_does_nothing(tmp_path):
    out = tmp_path / "sweep"
    result = run_cli("sweep", "-o", str(out), "--workers", "2", *SMALL, "--grid", "beta=5,30",
                     "--grid", "board=icebreaker,icestick")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "2 workers on 127.0.0.1" in result.stderr and "4/4 points done" in result.stderr
    rows = rows_of(out)
    assert len(rows) == 4
    by_board = {board: [row for row in rows if row["board"] == board]
                for board in ("icebreaker", "icestick")}
    assert all(row["status"] == "ok" and float(row["test_accuracy"]) > 0.8
               and int(row["cells"]) <= 5280 for row in by_board["icebreaker"])
    # The 1,280-cell iCEstick cannot hold the 78-neuron network: a row with its reason.
    assert any(row["status"] == "refused" and "does not fit icestick" in row["reason"]
               for row in by_board["icestick"])
    assert any(row["pareto"] == "true" for row in by_board["icebreaker"])
    assert (out / "pareto.png").read_bytes().startswith(b"\x89PNG")
    assert "Pareto front on icebreaker" in (out / "report.md").read_text()
    table = (out / "results.csv").read_text()

    began = time.perf_counter()
    again = run_cli("sweep", "-o", str(out), *SMALL, "--grid", "beta=5,30",
                    "--grid", "board=icebreaker,icestick")
    assert again.returncode == 0, again.stderr[-3000:]
    assert time.perf_counter() - began < 10
    assert "nothing to run" in again.stderr and "Dask" not in again.stderr
    assert (out / "results.csv").read_text() == table


def _free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def dask_cluster():
    """A scheduler and two workers (no nannies: a killed worker stays dead) on localhost,
    as a user starts them with 'dask scheduler' and 'dask worker'."""
    from distributed import Client

    address = f"tcp://127.0.0.1:{_free_port()}"
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    processes = [subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_scheduler",
                                   "--host", "127.0.0.1", "--port", address.rsplit(":", 1)[1],
                                   "--no-dashboard"], **quiet)]
    processes += [subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_worker",
                                    address, "--nthreads", "1", "--no-nanny", "--no-dashboard",
                                    "--host", "127.0.0.1"], **quiet) for _ in range(2)]
    try:
        with Client(address, timeout="60s") as client:
            client.wait_for_workers(2, timeout=120)
            yield address, client
    finally:
        for process in reversed(processes):   # the workers first, then their scheduler
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def test_a_sweep_on_a_running_scheduler_survives_a_killed_worker(tmp_path, dask_cluster):
    address, client = dask_cluster
    out = tmp_path / "sweep"
    codes = []
    # LUT points take a few seconds each: long enough to kill a worker in the middle of one.
    sweep = threading.Thread(target=lambda: codes.append(main([
        "sweep", "-o", str(out), "--scheduler", address, "--data", "ionosphere",
        "--family", "lut", "--grid", "beta=20,30,40", "--stop", "estimate"])))
    sweep.start()
    deadline = time.monotonic() + 120
    busy: list[str] = []
    while not busy and time.monotonic() < deadline:
        busy = [worker for worker, tasks in client.processing().items() if tasks]
        time.sleep(0.05)
    assert busy, "no point started"
    pid = client.run(os.getpid, workers=busy[:1])[busy[0]]
    os.kill(pid, signal.SIGKILL)
    sweep.join(timeout=300)
    assert codes == [0]
    rows = rows_of(out)
    assert len(rows) == 3 and all(row["status"] == "ok" for row in rows), rows
    assert len(client.scheduler_info()["workers"]) == 1
