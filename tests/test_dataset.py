import numpy as np
import pytest

from qnnhw import dataset
from qnnhw.errors import QnnhwError

from .helpers import assert_one_line_error, run_cli


def write(tmp_path, text, name="data.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_bundled_ionosphere_is_the_uci_set():
    data = dataset.load("ionosphere", test_fraction=0.2, seed=1)
    assert data.task == "classification"
    assert data.label_names == ("b", "g")
    assert len(data.y_train) + len(data.y_test) == 351
    assert len(data.y_test) == 70
    assert data.X_train.shape[1] == 34
    assert set(np.unique(data.y_train)) == {-1.0, 1.0}


def test_bundled_breast_cancer_encodes_categories_in_natural_order():
    data = dataset.load("breast-cancer", test_fraction=0.0)
    assert data.X_train.shape == (286, 9)
    age = data.encoder.columns[0]
    assert age.categories is not None
    assert list(age.categories) == sorted(age.categories, key=dataset.natural_key)
    tumor = data.encoder.columns[2].categories
    assert tumor.index("5-9") < tumor.index("10-14")
    assert data.label_names == ("no-recurrence-events", "recurrence-events")


def test_split_depends_on_seed_and_fraction():
    a = dataset.load("ionosphere", seed=0)
    b = dataset.load("ionosphere", seed=1)
    assert not np.array_equal(a.X_train, b.X_train)
    everything = dataset.load("ionosphere", test_fraction=0.0)
    assert len(everything.y_test) == 0 and len(everything.y_train) == 351


def test_planted_generator_matches_the_paper():
    data = dataset.planted(n=100, d=20, neurons=10, test_fraction=0.2, seed=3)
    assert data.X_train.shape == (100, 20) and data.X_test.shape == (25, 20)
    assert data.task == "regression"
    assert not data.standardize_default and not data.bias_default


def test_regression_target(tmp_path):
    path = write(tmp_path, "a,b,t\n1,2,0.5\n2,3,1.5\n3,1,2.5\n4,0,3\n")
    data = dataset.load_csv(path, test_fraction=0.0)
    assert data.task == "regression"
    assert sorted(data.y_train.tolist()) == [0.5, 1.5, 2.5, 3.0]


def test_named_target_anywhere(tmp_path):
    path = write(tmp_path, "label,a\nyes,1\nno,2\nyes,3\nno,4\n")
    data = dataset.load_csv(path, target="label", test_fraction=0.0)
    assert data.feature_names == ["a"]
    assert data.label_names == ("no", "yes")


@pytest.mark.parametrize("text, message", [
    ("a,t\n1,0\nabc,1\n2,1\n", "'abc' is not a number"),
    ("a,t\n1,0\nnan,1\n2,1\n", "not a finite number"),
    ("a,t\n1,0\n,1\n2,1\n", "empty cell"),
    ("a,t\n1,x\n2,x\n3,x\n", "one value only"),
    ("", "empty"),
    ("a,t\n", "no data rows"),
    ("a,t\n1,0,5\n2,1\n", "has 3 fields"),
    ("a,a,t\n1,2,0\n", "duplicate column"),
])
def test_bad_csv_is_refused(tmp_path, text, message):
    with pytest.raises(QnnhwError, match=message):
        dataset.load_csv(write(tmp_path, text), test_fraction=0.0)


def test_wrong_target_name_lists_columns(tmp_path):
    with pytest.raises(QnnhwError, match="no column named 'nope'; the columns are a, t"):
        dataset.load_csv(write(tmp_path, "a,t\n1,0\n2,1\n"), target="nope")


def test_binary_file_is_refused(tmp_path):
    path = tmp_path / "blob.csv"
    path.write_bytes(bytes(range(256)))
    with pytest.raises(QnnhwError, match="not a UTF-8 text file"):
        dataset.load_csv(path)


@pytest.mark.parametrize("text, needle", [
    ("a,t\n1,0\nabc,1\n2,1\n3,0\n", "is not a number"),
    ("a,t\n1,0\nNaN,1\n2,1\n3,0\n", "not a finite number"),
    ("a,t\n1,q\n2,q\n", "one value only"),
    ("", "empty"),
])
def test_cli_reports_bad_csv_in_one_line(tmp_path, text, needle):
    path = write(tmp_path, text)
    result = run_cli("train", "--data", str(path), "-o", str(tmp_path / "m.json"))
    assert_one_line_error(result, needle)
    assert not (tmp_path / "m.json").exists()


def test_cli_reports_missing_file_and_target(tmp_path):
    assert_one_line_error(run_cli("train", "--data", str(tmp_path / "none.csv")),
                          "no such file")
    path = write(tmp_path, "a,t\n1,0\n2,1\n3,0\n4,1\n")
    assert_one_line_error(run_cli("train", "--data", str(path), "--target", "zz"),
                          "no column named 'zz'")
