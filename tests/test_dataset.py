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


@pytest.mark.parametrize("text, target", [
    ("a,b,t\n1, 2.5 ,0\n2,3e2,1\n\n3,-1,0\n4,0,1\n", None),      # spaces, exponent, blank line
    ("t,a,b\n1,2,0.5\n0,3,1.5\n1,1,2.5\n0,0,3\n", "t"),           # target first
    ("a,b,t\n1,2,x\n2,3,y\n3,1,x\n4,0,y\n", None),                # text target
    ("a,b,t\n1,2,0.5\n2,3,1.5\n3,1,2.5\n4,0,3\n", None),          # regression
])
def test_numpy_reader_and_careful_reader_agree(text, target):
    """A quote anywhere sends a file to the careful reader (it strips the quotes): the same
    file either way must give the same data set."""
    fast = dataset.load_csv("fast.csv", target, test_fraction=0.25, text=text)
    quoted = '"' + text.replace(",", '",', 1)
    careful = dataset.load_csv("careful.csv", target, test_fraction=0.25, text=quoted)
    assert dataset._numeric_features(text, target) is not None
    assert dataset._numeric_features(quoted, target) is None
    for field in ("X_train", "y_train", "X_test", "y_test"):
        np.testing.assert_array_equal(getattr(fast, field), getattr(careful, field))
    assert fast.encoder == careful.encoder and fast.label_names == careful.label_names
    assert fast.task == careful.task


def test_bundled_sets_read_alike_by_both_readers():
    for name in dataset.BUNDLED:
        text = dataset.bundled_text(name)
        fast = dataset.load_csv(name, text=text, test_fraction=0.0)
        careful = dataset.load_csv(name, text='"' + text.replace(",", '",', 1),
                                   test_fraction=0.0)
        np.testing.assert_array_equal(fast.X_train, careful.X_train)
        np.testing.assert_array_equal(fast.y_train, careful.y_train)


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


# -- classes -----------------------------------------------------------------------------------

def classes_csv(tmp_path, labels, rows_per_class=4, name="classes.csv"):
    """Two features whose cluster says the class; ``labels`` as the target texts."""
    rng = np.random.default_rng(0)
    lines = ["a,b,label"]
    for k, label in enumerate(labels):
        for _ in range(rows_per_class):
            a, b = rng.normal(size=2) * 0.2 + (np.cos(k), np.sin(k))
            lines.append(f"{a:.4f},{b:.4f},{label}")
    return write(tmp_path, "\n".join(lines) + "\n", name)


def test_three_or_more_values_are_classes_strings_or_integers(tmp_path):
    strings = dataset.load(str(classes_csv(tmp_path, ["d10", "d2", "d1"])), seed=0)
    assert strings.task == "classification" and strings.outputs == 3
    assert strings.label_names == ("d1", "d2", "d10")   # natural order
    assert set(np.concatenate([strings.y_train, strings.y_test])) == {0, 1, 2}
    targets = strings.train_targets
    assert targets.shape == (len(strings.y_train), 3)
    assert (targets.argmax(axis=1) == strings.y_train).all() and set(targets.ravel()) == {-1, 1}
    integers = dataset.load(str(classes_csv(tmp_path, [0, 5, 9, 7], name="i.csv")))
    assert integers.label_names == ("0", "5", "7", "9") and integers.classes == 4
    regression = dataset.load(str(classes_csv(tmp_path, [0, 5, 9, 7], name="i.csv")),
                              task="regression")
    assert regression.task == "regression" and regression.label_names is None


@pytest.mark.parametrize("labels, rows, options, needle", [
    (["a", "b", "c"], 1, [], "has a single row"),
    ([1, 2, 3], 1, [], "use --task regression"),
    (["a", "b", "c", "d"], 3, ["--test-fraction", "0.75"], "4 classes but only"),
])
def test_class_refusals_are_one_line(tmp_path, labels, rows, options, needle):
    path = classes_csv(tmp_path, labels, rows)
    result = run_cli("train", "--data", str(path), "-o", str(tmp_path / "m.json"), *options)
    assert_one_line_error(result, needle)
    assert not (tmp_path / "m.json").exists()


def test_digits_and_mnist_format_folders(tmp_path):
    import gzip

    digits = dataset.load("digits", seed=1)
    assert digits.classes == 10 and digits.X_train.shape[1] == 64
    assert len(digits.y_train) + len(digits.y_test) == 1797

    def idx(array, code):
        header = bytes([0, 0, code, array.ndim]) + b"".join(
            int(size).to_bytes(4, "big") for size in array.shape)
        return header + array.astype(array.dtype.newbyteorder(">")).tobytes()

    rng = np.random.default_rng(2)
    for split_name, count in (("train", 40), ("t10k", 12)):
        images = rng.integers(0, 256, (count, 4, 3)).astype(np.uint8)
        labels = (np.arange(count) % 3).astype(np.uint8)
        (tmp_path / f"{split_name}-images-idx3-ubyte.gz").write_bytes(
            gzip.compress(idx(images, 0x08)))
        (tmp_path / f"{split_name}-labels-idx1-ubyte").write_bytes(idx(labels, 0x08))
    data = dataset.load(str(tmp_path))
    assert data.classes == 3 and data.X_train.shape == (40, 12) and len(data.y_test) == 12
    assert len(dataset.load(str(tmp_path), subsample=9).y_train) == 9
    (tmp_path / "t10k-labels-idx1-ubyte").write_bytes(b"\x00\x00\x08\x01\x00\x00\x00\x05ab")
    assert_one_line_error(run_cli("train", "--data", str(tmp_path)), "IDX header promises")
