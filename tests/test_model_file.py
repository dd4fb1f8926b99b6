"""The model file: round trip and every refusal."""

import json
import os
import stat

import numpy as np
import pytest

from qnnhw import dataset
from qnnhw.errors import QnnhwError
from qnnhw.families.bilinear.config import BilinearConfig
from qnnhw.families.bilinear.model import BilinearModel
from qnnhw.training import train

from .helpers import assert_one_line_error, random_model, run_cli


@pytest.fixture(scope="module")
def model():
    data = dataset.load("breast-cancer", seed=0)
    return train(data, BilinearConfig(m=40, beta=0.1))[0]


def test_round_trip_recomputes_every_prediction(model, tmp_path):
    path = tmp_path / "model.json"
    model.save(path)
    loaded = BilinearModel.load(path)
    data = dataset.load("breast-cancer", seed=0)
    assert np.array_equal(loaded.U, model.U) and np.array_equal(loaded.V, model.V)
    assert loaded.alpha == model.alpha
    assert loaded.label_names == model.label_names
    assert loaded.encoder == model.encoder
    assert np.array_equal(loaded.decision_function(data.X_test),
                          model.decision_function(data.X_test))
    assert loaded.training["lower_bound"] == model.training["lower_bound"]
    for key in ("loss", "beta", "m", "seed", "objective", "method"):
        assert key in loaded.training


def corrupt(model, tmp_path, edit):
    data = model.to_dict()
    edit(data)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data))
    return path


@pytest.mark.parametrize("edit, message", [
    (lambda d: d["network"]["U"][0].__setitem__(3, 0.5), r"U\[0\]\[3\] = 0.5 is not ±1"),
    (lambda d: d["network"]["V"][2].__setitem__(0, 2), r"V\[2\]\[0\] = 2 is not ±1"),
    (lambda d: d["network"]["U"][1].__setitem__(0, True), "is not ±1"),
    (lambda d: d["network"]["U"][0].pop(), "has 9 weights, expected 10"),
    (lambda d: d["network"]["V"].pop(), "U has 40 neurons but network.V has 39"),
    (lambda d: d["network"].__setitem__("alpha", float("nan")), "alpha must be a finite"),
    (lambda d: d["network"].__setitem__("alpha", "0.1"), "alpha must be a finite"),
    (lambda d: d.__setitem__("version", 99), "version 99 is not supported"),
    (lambda d: d.__setitem__("format", "other"), "not a qnnhw model"),
    (lambda d: d.pop("lifting"), "missing or has a malformed field"),
    (lambda d: d["standardize"]["scale"].__setitem__(0, 0.0), "scale that is not positive"),
])
def test_bad_model_files_are_refused(model, tmp_path, edit, message):
    with pytest.raises(QnnhwError, match=message):
        BilinearModel.load(corrupt(model, tmp_path, edit))


def test_corrupt_json_is_refused(model, tmp_path):
    path = tmp_path / "model.json"
    model.save(path)
    path.write_text(path.read_text()[:200])
    with pytest.raises(QnnhwError, match="corrupt model file, invalid JSON"):
        BilinearModel.load(path)


def test_save_leaves_no_partial_file(model, tmp_path):
    model.save(tmp_path / "model.json")
    assert [p.name for p in tmp_path.iterdir()] == ["model.json"]


def test_cli_train_json_report(tmp_path):
    out = tmp_path / "m.json"
    result = run_cli("train", "--data", "planted", "--m", "200", "-o", str(out), "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    for key in ("lower_bound", "objective", "m", "d", "alpha", "solve_seconds", "total_seconds",
                "covariance_residual", "train_loss", "test_loss"):
        assert key in report
    assert report["m"] == 200 and report["d"] == 20
    assert report["lower_bound"] <= report["objective"]
    assert "solving the SDP" in result.stderr  # progress
    assert BilinearModel.load(out).m == 200


def test_cli_train_classification_human_summary(tmp_path):
    result = run_cli("train", "--data", "ionosphere", "--m", "300", "-o",
                     str(tmp_path / "m.json"))
    assert result.returncode == 0, result.stderr
    assert "SDP lower bound" in result.stdout and "accuracy" in result.stdout


@pytest.mark.parametrize("args, needle", [
    (["--loss", "hinge", "--data", "planted"], "hinge loss needs a two-class target"),
    (["--beta", "-1"], "--beta must be a finite number"),
    (["--weight-levels", "1"], "--weight-levels must be an integer ≥ 2"),
    (["--test-fraction", "1.5"], "--test-fraction must be in [0, 1)"),
])
def test_cli_refuses_bad_options(tmp_path, args, needle):
    assert_one_line_error(run_cli("train", *args, "-o", str(tmp_path / "m.json")), needle)
    assert not (tmp_path / "m.json").exists()


@pytest.mark.parametrize("options", [["--data", "planted", "--m", "60"],
                                     ["--family", "threshold", "--data", "ionosphere"]])
def test_the_same_seed_writes_the_same_model_file(tmp_path, options):
    """Byte for byte: times are reported, never written to the model file."""
    files = []
    for run in range(2):
        out = tmp_path / f"model{run}.json"
        result = run_cli("train", *options, "--seed", "3", "-o", str(out), "--json")
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout)["solve_seconds"] > 0
        files.append(out.read_bytes())
    assert files[0] == files[1]


def test_files_get_the_users_umask(tmp_path):
    previous = os.umask(0o027)
    try:
        random_model(2, 3).save(tmp_path / "model.json")
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / "model.json").stat().st_mode) == 0o640
