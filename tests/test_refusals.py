"""A corpus of bad inputs — data files, flags, model files, boards, build folders — each
refused by the command line in one line naming the problem, exit status 2, no traceback, and
nothing written where the output would have gone."""

import json
import random

import pytest

from qnnhw.families import get_family

from .helpers import assert_one_line_error, random_model, random_threshold_model, run_cli

GOOD_CSV = "a,b,y\n" + "".join(f"{k % 7},{(3 * k) % 5},{'yes' if k % 3 else 'no'}\n"
                               for k in range(40))


def model_file(folder, edit=None, family="bilinear", classes=2):
    """A valid model file, or one changed by ``edit`` (a function of its JSON)."""
    if classes > 2:
        model = get_family(family).example(2, 4, classes=classes)
    else:
        model = random_model(2, 4) if family == "bilinear" else random_threshold_model(2, 4)
    path = folder / "model.json"
    model.save(path)
    if edit is not None:
        data = json.loads(path.read_text())
        edit(data)
        path.write_text(json.dumps(data))
    return path


def csv_file(folder, text, name="data.csv"):
    path = folder / name
    path.write_text(text)
    return path


def spread_regression_csv(folder):
    """Integer targets spread over 0–300 on which the interior point's Newton systems turn
    numerically indefinite (found by a hostile user)."""
    rng = random.Random(1)
    rows = [f"{rng.random():.4f},{rng.random():.4f},{rng.random():.4f},{rng.randint(0, 300)}\n"
            for _ in range(80)]
    return csv_file(folder, "a,b,c,y\n" + "".join(rows), "spread.csv")


def set_weight(data, value):
    data["network"]["U"][0][0] = value


# Each case: (files to make → arguments, words the error must contain). The output folder
# or file is always OUT; it must not exist afterwards.
CASES = {
    "missing CSV": (lambda f: ["train", "--data", str(f / "nope.csv")], ["nope.csv"]),
    "non-numeric cell": (lambda f: ["train", "--data", str(csv_file(
        f, GOOD_CSV.replace("3,", "three,", 1)))], ["three"]),
    "NaN cell": (lambda f: ["train", "--data", str(csv_file(
        f, GOOD_CSV.replace("\n1,", "\nnan,", 1)))], ["nan"]),
    "ragged row": (lambda f: ["train", "--data", str(csv_file(
        f, GOOD_CSV + "1,2,yes,9\n"))], ["data row 42"]),
    "a value whose square overflows": (lambda f: ["train", "--data", str(csv_file(
        f, "".join(line if k % 5 != 1 else "1e308,0,yes\n"
                   for k, line in enumerate(GOOD_CSV.splitlines(keepends=True)))))],
        ["'a'", "too large", "rescale"]),
    "empty CSV": (lambda f: ["train", "--data", str(csv_file(f, ""))], ["empty"]),
    "header only": (lambda f: ["train", "--data", str(csv_file(f, "a,b,y\n"))],
                    ["no data rows"]),
    "unknown target": (lambda f: ["train", "--data", str(csv_file(f, GOOD_CSV)), "--target",
                                  "z"], ["'z'"]),
    "one class": (lambda f: ["train", "--data", str(csv_file(
        f, "a,y\n" + "".join(f"{k},same\n" for k in range(20))))], ["one value only"]),
    "class with a single row": (lambda f: ["train", "--family", "threshold", "--data", str(
        csv_file(f, "a,y\n" + "".join(f"{k},{'abc'[k % 3] if k else 'd'}\n"
                                      for k in range(30))))], ["'d'"]),
    "more classes than rows": (lambda f: ["train", "--family", "threshold", "--data", str(
        csv_file(f, "a,y\n" + "".join(f"{k},c{k}\n" for k in range(12)))),
        "--task", "classification"], ["classes"]),
    "negative beta": (lambda f: ["train", "--data", "planted", "--beta", "-1"], ["--beta"]),
    "zero neurons": (lambda f: ["train", "--data", "planted", "--m", "0"], ["--m"]),
    "test fraction above 1": (lambda f: ["train", "--data", "planted", "--test-fraction",
                                         "1.5"], ["--test-fraction"]),
    "option of the other family": (lambda f: ["train", "--family", "threshold", "--m", "5"],
                                   ["--m", "bilinear"]),
    "unknown data set": (lambda f: ["train", "--data", "mnist-online"], ["mnist-online"]),
    "folder without IDX files": (lambda f: ["train", "--data", str(f)], ["MNIST-format"]),
    "subsample of zero rows": (lambda f: ["train", "--data", "planted", "--subsample", "0"],
                               ["--subsample"]),
    "unknown board": (lambda f: ["build", "--board", "de10", "--model", str(model_file(f))],
                      ["unknown board 'de10'"]),
    "corrupt model file": (lambda f: ["build", "--model", str(csv_file(f, "{not json",
                                                                       "model.json"))],
                           ["corrupt"]),
    "weight outside ±1": (lambda f: ["build", "--model", str(model_file(
        f, lambda data: set_weight(data, 2)))], ["±1"]),
    "non-integer weight": (lambda f: ["build", "--model", str(model_file(
        f, lambda data: set_weight(data, 0.5)))], ["±1"]),
    "unknown family": (lambda f: ["simulate", str(model_file(
        f, lambda data: data.update(family="spiking")))], ["'spiking'"]),
    "regression model file with class labels": (lambda f: ["verilog", str(model_file(
        f, lambda data: data.update(task="regression", label_names=["no", "yes"]))), "-o",
        str(f / "OUT")], ["regression model has no label_names"]),
    "missing network field": (lambda f: ["verilog", str(model_file(
        f, lambda data: data["network"].pop("V"))), "-o", str(f / "OUT")], ["V"]),
    "truncated threshold model": (lambda f: ["simulate", str(model_file(
        f, lambda data: data["network"].pop("H"), family="threshold"))], ["H"]),
    "P above m": (lambda f: ["simulate", str(model_file(f)), "--parallel", "9"],
                  ["--parallel", "m=4"]),
    "1-bit inputs": (lambda f: ["build", "--model", str(model_file(f)), "--input-bits", "1"],
                     ["--input-bits"]),
    "no PLL clock that slow": (lambda f: ["build", "--model", str(model_file(f)), "--clock",
                                          "3"], ["--clock"]),
    "clock above what the PLL makes": (lambda f: ["build", "--model", str(model_file(f)),
                                                  "--clock", "900"], ["275 MHz", "--clock"]),
    "clock that is no number": (lambda f: ["build", "--model", str(model_file(f)), "--clock",
                                           "fast"], ["--clock"]),
    "quadratic threshold network": (lambda f: ["build", "--model", str(model_file(
        f, family="threshold")), "--arch", "quadratic"], ["quadratic", "--arch"]),
    "design too big for the board": (lambda f: ["build", "--board", "icestick", "--model",
                                                str(_saved(f, random_model(33, 100)))],
                                     ["does not fit icestick"]),
    "weights too big for the RAM": (lambda f: ["build", "--board", "icestick", "--arch",
                                               "neurons", "--model",
                                               str(_saved(f, random_model(33, 2500)))],
                                    ["RAM blocks"]),
    "run without a build": (lambda f: ["run", "--port", "/dev/null", "--build", str(f)],
                            ["model file"]),
    "run with a corrupt spec": (lambda f: ["run", "--port", "/dev/null", "--build",
                                           str(_build_folder(f, "{"))], ["corrupt"]),
    "simulate zero vectors": (lambda f: ["simulate", str(model_file(f)), "--vectors", "0"],
                              ["--vectors"]),
    "negative seed": (lambda f: ["train", "--data", "planted", "--seed", "-1"], ["--seed"]),
    "model file named like a folder": (lambda f: ["train", "--data", "planted", "-o",
                                                  str(_folder(f / "models"))],
                                       ["models is a folder", "-o"]),
    "model file under a file": (lambda f: ["train", "--data", "planted", "-o",
                                           str(csv_file(f, "x", "notes.txt") / "m.json")],
                                ["notes.txt is a file, not a folder", "-o"]),
    "model file where nothing can be written": (lambda f: ["train", "--data", "planted", "-o",
                                                           "/proc/qnnhw/m.json"],
                                                ["cannot be written", "-o"]),
    "build folder that is a file": (lambda f: ["build", "--model", str(model_file(f)), "-o",
                                               str(csv_file(f, "x", "build.txt"))],
                                    ["must be a folder", "-o"]),
    "Verilog file named like a folder": (lambda f: ["verilog", str(model_file(f)), "-o",
                                                    str(_folder(f / "rtl"))],
                                         ["rtl is a folder", "-o"]),
    "interior point that fails numerically": (lambda f: [
        "train", "--data", str(spread_regression_csv(f)), "--task", "regression", "--solver",
        "IPM"], ["--solver BM"]),
    "a billion neurons": (lambda f: ["train", "--data", "planted", "--m", "1000000000"],
                          ["GiB", "--m"]),
    "a billion hyperplanes": (lambda f: ["train", "--family", "threshold", "--data", "planted",
                                         "--neurons", "1000000000"], ["GiB", "--neurons"]),
    "vector dump into a folder": (lambda f: ["simulate", str(model_file(f)), "--dump",
                                             str(_folder(f / "dumps"))], ["--dump"]),
    "training option beside a model file": (lambda f: ["build", "--model", str(model_file(f)),
                                                        "--beta", "3"],
                                            ["--beta is a training option", "drop --model"]),
    "one label more than the network's classes": (lambda f: ["verilog", str(model_file(
        f, lambda data: data["label_names"].append("extra"), "lut", 3)), "-o", str(f / "OUT")],
        ["network has 3 outputs", "4 label_names", "retrain"]),
    "a three-class network relabelled as regression": (lambda f: ["simulate", str(model_file(
        f, lambda data: data.update(task="regression", label_names=None), "threshold", 3))],
        ["network has 3 outputs", "a regression"]),
    # -- found refused already, kept so that they stay refused --------------------------------
    "binary file as CSV": (lambda f: ["train", "--data", str(_binary(f / "data.csv"))],
                           ["not a UTF-8 text file"]),
    "infinite cell": (lambda f: ["train", "--data", str(csv_file(
        f, GOOD_CSV.replace("\n1,", "\ninf,", 1)))], ["'inf' is not a finite number"]),
    "semicolon-separated file": (lambda f: ["train", "--data", str(csv_file(
        f, GOOD_CSV.replace(",", ";")))], ["only one column", "delimiter"]),
    "empty class label": (lambda f: ["train", "--data", str(csv_file(
        f, GOOD_CSV.replace(",yes\n", ",\n", 1)))], ["target column 'y': empty cell"]),
    "unterminated quote": (lambda f: ["train", "--data", str(csv_file(
        f, GOOD_CSV.replace("\n1,", '\n"1,', 1)))], ["fields, the header has 3"]),
    "test fraction that leaves no training row": (lambda f: ["train", "--data", str(csv_file(
        f, "a,y\n1,no\n2,yes\n3,no\n4,yes\n")), "--test-fraction", "0.99"],
        ["training row", "--test-fraction"]),
    "subsample of one row": (lambda f: ["train", "--data", "planted", "--subsample", "1"],
                             ["--subsample must be an integer ≥ 2"]),
    "zero neurons m": (lambda f: ["train", "--data", "planted", "--m", "0"],
                       ["--m", "positive integer"]),
    "beta that is NaN": (lambda f: ["train", "--data", "planted", "--beta", "nan"],
                         ["--beta must be a finite number"]),
    "infinite beta": (lambda f: ["train", "--data", "planted", "--beta", "inf"],
                      ["--beta must be a finite number"]),
    "fan-in of 7": (lambda f: ["train", "--family", "lut", "--data", "ionosphere", "--fan-in",
                               "7"], ["--fan-in must be an integer from 1 to 6"]),
    "fan-in of 0": (lambda f: ["train", "--family", "lut", "--data", "ionosphere", "--fan-in",
                               "0"], ["--fan-in", "positive integer"]),
    "no thresholds": (lambda f: ["train", "--family", "lut", "--data", "ionosphere",
                                 "--thresholds", "0"], ["--thresholds", "positive integer"]),
    "1-bit output weights": (lambda f: ["train", "--family", "lut", "--data", "ionosphere",
                                        "--output-bits", "1"], ["--output-bits", "from 2 to 16"]),
    "image shape that does not match": (lambda f: ["train", "--family", "lut", "--data",
                                                   "digits", "--image", "3", "3"],
                                        ["--image 3 3", "H·W = 64"]),
    "hidden bits for binary hyperplanes": (lambda f: ["train", "--family", "threshold",
                                                      "--data", "planted", "--hidden-bits", "17"],
                                           ["--hidden-bits", "gaussian"]),
    "zero layers": (lambda f: ["train", "--family", "threshold", "--data", "planted",
                               "--layers", "0"], ["--layers", "positive integer"]),
    "zero epochs": (lambda f: ["train", "--data", "planted", "--method", "backprop", "--epochs",
                               "0"], ["--epochs", "positive integer"]),
    "zero step size": (lambda f: ["train", "--data", "planted", "--method", "askewsgd",
                                  "--step-size", "0"], ["--step-size", "positive number"]),
    "negative step size": (lambda f: ["train", "--family", "threshold", "--data", "planted",
                                      "--method", "askewsgd", "--step-size", "-0.1"],
                           ["--step-size", "positive number"]),
    "annealing that never tightens": (lambda f: ["train", "--data", "planted", "--method",
                                                 "askewsgd", "--anneal", "1"],
                                      ["--anneal", "never tightens"]),
    "annealing that loosens": (lambda f: ["train", "--data", "planted", "--method",
                                          "askewsgd", "--anneal", "1.5"],
                               ["--anneal", "strictly between 0 and 1"]),
    "annealing to nothing at once": (lambda f: ["train", "--data", "planted", "--method",
                                                "askewsgd", "--anneal", "0"],
                                     ["--anneal", "strictly between 0 and 1"]),
    "hidden bits for askewsgd's ±1 hyperplanes": (
        lambda f: ["train", "--family", "threshold", "--data", "planted", "--method",
                   "askewsgd", "--hidden-bits", "4"], ["--hidden-bits", "±1 weights"]),
    "clock of 0 MHz": (lambda f: ["build", "--model", str(model_file(f)), "--clock", "0"],
                       ["--clock", "positive frequency"]),
    "negative clock": (lambda f: ["build", "--model", str(model_file(f)), "--clock", "-5"],
                       ["--clock", "positive frequency"]),
    "zero units": (lambda f: ["build", "--model", str(model_file(f)), "--parallel", "0"],
                   ["--parallel", "positive integer"]),
    "25-bit inputs": (lambda f: ["build", "--model", str(model_file(f)), "--input-bits", "25"],
                      ["--input-bits must be an integer from 2 to 24"]),
    "architecture of another family": (lambda f: ["build", "--model", str(model_file(
        f, family="lut", classes=3)), "--arch", "quadratic"], ["no 'quadratic' architecture",
                                                               "unrolled or folded"]),
    "model file that does not exist": (lambda f: ["verilog", str(f / "none.json"), "-o",
                                                  str(f / "OUT")], ["no such model file"]),
    "model file that is a folder": (lambda f: ["verilog", str(_folder(f / "model")), "-o",
                                               str(f / "OUT")], ["not a qnnhw model file"]),
    "class names as regression targets": (lambda f: ["train", "--data", str(csv_file(
        f, GOOD_CSV)), "--task", "regression"], ["column 'y'", "is not a number"]),
    "negative vector count": (lambda f: ["simulate", str(model_file(f)), "--vectors", "-5"],
                              ["--vectors", "positive integer"]),
    "every row its own class": (lambda f: ["train", "--data", str(csv_file(
        f, "a,y\n1,1\n2,2\n3,3\n4,4\n")), "--task", "classification"],
        ["single row", "--task regression"]),
    "family that is a list": (lambda f: ["verilog", str(model_file(
        f, lambda data: data.update(family=[]))), "-o", str(f / "OUT")], ["unknown model family"]),
    "negative seed in a model file": (lambda f: ["build", "--model", str(model_file(
        f, lambda data: data["training"].update(seed=-1)))], ["training.seed", "retrain"]),
    "feature scale of zero in a model file": (lambda f: ["verilog", str(model_file(
        f, lambda data: data["training"].update(feature_max_abs=0))), "-o", str(f / "OUT")],
        ["training.feature_max_abs", "positive"]),
    "certificate that is text": (lambda f: ["build", "--model", str(model_file(
        f, lambda data: data["training"].update(lower_bound="low")))],
        ["training.lower_bound", "finite number"]),
    "input width of 99 in a model file": (lambda f: ["simulate", str(model_file(
        f, lambda data: data["training"].update(input_bits=99)))],
        ["training.input_bits", "from 2 to 24"]),
    "sweep SPEC that is not TOML": (lambda f: ["sweep", str(csv_file(
        f, "stop = [", "spec.toml")), "-o", str(f / "OUT")], ["spec.toml", "not valid TOML"]),
    "sweep SPEC with an unknown table": (lambda f: ["sweep", str(csv_file(
        f, "[grids]\nbeta = [1]\n", "spec.toml")), "-o", str(f / "OUT")],
        ["unknown key 'grids'"]),
    "sweep axis of an unknown option": (lambda f: ["sweep", "-o", str(f / "OUT"), "--grid",
                                                   "colour=red,blue"], ["unknown option",
                                                                         "colour"]),
    "sweep axis of a model file": (lambda f: ["sweep", "-o", str(f / "OUT"), "--grid",
                                              "model=a.json,b.json"], ["model",
                                                                       "not a sweep option"]),
    "sweep axis without values": (lambda f: ["sweep", "-o", str(f / "OUT"), "--grid", "beta"],
                                  ["--grid takes NAME=V1,V2"]),
    "sweep axis of another family's option": (lambda f: [
        "sweep", "-o", str(f / "OUT"), "--family", "threshold", "--grid", "m=10,20",
        "--stop", "train"], ["point", "m=10", "--m is for bilinear"]),
    "sweep axis that is not a number": (lambda f: [
        "sweep", "-o", str(f / "OUT"), "--grid", "beta=5,many"], ["point", "--beta",
                                                                  "'many'"]),
    "sweep of an unknown board": (lambda f: [
        "sweep", "-o", str(f / "OUT"), "--grid", "board=icebreaker,nope"], ["nope"]),
    "sweep hardware axis of a training sweep": (lambda f: [
        "sweep", "-o", str(f / "OUT"), "--stop", "train", "--grid", "input_bits=4,8"],
        ["input_bits is a hardware option", "stop at estimate"]),
    "sweep option both fixed and an axis": (lambda f: [
        "sweep", "-o", str(f / "OUT"), "--beta", "5", "--grid", "beta=1,2"],
        ["beta is both an axis", "drop one"]),
    "sweep random axis with low above high": (lambda f: ["sweep", str(csv_file(
        f, "[random]\npoints = 3\n[random.axes]\nbeta = {low = 9, high = 1}\n",
        "spec.toml")), "-o", str(f / "OUT")], ["random axis beta", "low < high"]),
    "sweep point whose clock no PLL makes": (lambda f: [
        "sweep", "-o", str(f / "OUT"), "--stop", "build", "--grid", "clock=30,900"],
        ["clock=900", "PLL makes at most"]),
}


def _binary(path):
    path.write_bytes(b"\xff\xfe\x00binary")
    return path


def _folder(path):
    path.mkdir()
    return path


def _saved(folder, model):
    path = folder / "model.json"
    model.save(path)
    return path


def _build_folder(folder, spec_text):
    model_file(folder)
    (folder / "fixedpoint.json").write_text(spec_text)
    return folder


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_input_is_refused_in_one_line(tmp_path, name):
    make, needles = CASES[name]
    arguments = make(tmp_path)
    out = tmp_path / "OUT"
    if "-o" not in arguments and arguments[0] in ("train", "build"):
        arguments += ["-o", str(out)]
    result = run_cli(*arguments)
    assert result.returncode == 2, (result.returncode, result.stderr)
    assert_one_line_error(result, *needles)
    assert not out.exists()


def test_the_corpus_is_large():
    assert len(CASES) >= 80


def test_the_default_solver_falls_back_when_the_interior_point_fails(tmp_path):
    result = run_cli("train", "--data", str(spread_regression_csv(tmp_path)), "--task",
                     "regression", "-o", str(tmp_path / "m.json"))
    assert result.returncode == 0, result.stderr[-2000:]
    assert "solving by BM instead" in result.stderr and "SDP solved by BM" in result.stderr
