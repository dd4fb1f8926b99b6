"""Data sets: CSV files, the bundled UCI sets and the paper's planted generator.

A CSV file has one header row. The target is the column named by ``target`` (default: the
last one). Every other column is a feature:

* a column whose every value parses as a finite number is numeric;
* a column where no value parses as a number is categorical and is encoded as the index of
  its value in natural sort order (``'0-4' < '5-9' < '10-14'``), one feature per column, as
  the paper does for breast-cancer (d = 9); its missing cells (empty, ``?``, ``nan``, ``NA``)
  form one more category, ``?``, placed last;
* anything else (a stray word in a numeric column, an empty cell, NaN, infinity) is an
  error that names the row and column.

The target decides the task (``task="auto"``): a target that is not numeric, has two distinct
values, or has at most 32 distinct integer values is a classification target with C classes,
sorted in natural order (numerically for numbers); any other numeric target is a regression
target. ``task="regression"`` or ``"classification"`` says so explicitly. Two classes are
labels −1 and +1 (the second is +1); C ≥ 3 classes are indices 0 … C−1. Every class needs two
rows at least and a row in the training split.

Besides CSV files: ``planted`` (the paper's Fig. 1 generator), the bundled UCI sets, ``digits``
(scikit-learn's bundled copy of the UCI handwritten digits, 8 × 8 pixels) and a folder of
MNIST-format IDX files (``train-images-idx3-ubyte[.gz]`` and its labels, with the ``t10k``
files as the test split), such as Fashion-MNIST. Nothing is ever downloaded. The train/test
split is a permutation drawn from ``seed``, unless the data set has its own.
"""

from __future__ import annotations

import csv
import math
import re
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import numpy as np

from .errors import QnnhwError

__all__ = [
    "BUNDLED",
    "ColumnEncoder",
    "Dataset",
    "InputEncoder",
    "load",
    "load_csv",
    "planted",
    "read_csv_table",
]

Task = Literal["classification", "regression"]

#: Data sets shipped as package data, reachable by name from ``--data``.
BUNDLED = ("ionosphere", "breast-cancer")
#: Every name ``--data`` knows besides a path.
NAMES = ("planted", *BUNDLED, "digits")
TASKS = ("auto", "classification", "regression")
#: A numeric target with at most this many distinct integer values is taken for classes.
AUTO_CLASSES = 32


def natural_key(text: str) -> list[Any]:
    """Sort key that orders embedded numbers by value: ``'5-9'`` before ``'10-14'``."""
    return [(0, int(part)) if part.isdigit() else (1, part)
            for part in re.split(r"(\d+)", text) if part]


#: Cell texts that mean "no value". A categorical column encodes them as one more category.
MISSING = frozenset({"", "?", "nan", "na", "n/a", "null", "none"})
MISSING_CATEGORY = "?"


def _is_missing(text: str) -> bool:
    return text.lower() in MISSING


def _parse_number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value


@dataclass(frozen=True)
class ColumnEncoder:
    """How one input column becomes one real feature.

    Parameters
    ----------
    name : str
        Column name from the CSV header.
    categories : tuple of str, or None
        For a categorical column, its values in code order; ``None`` for a numeric column.
    """

    name: str
    categories: tuple[str, ...] | None = None

    def encode(self, text: str, row: int) -> float:
        if self.categories is not None:
            if _is_missing(text):
                text = MISSING_CATEGORY
            try:
                return float(self.categories.index(text))
            except ValueError:
                raise QnnhwError(
                    f"row {row}, column {self.name!r}: unknown category {text!r}; "
                    f"the model knows {', '.join(map(repr, self.categories))}") from None
        if text == "":
            raise QnnhwError(f"row {row}, column {self.name!r}: empty cell; fill or drop the row")
        value = _parse_number(text)
        if value is None:
            raise QnnhwError(f"row {row}, column {self.name!r}: {text!r} is not a number")
        if not math.isfinite(value):
            raise QnnhwError(f"row {row}, column {self.name!r}: {text!r} is not a finite number; "
                             f"fill or drop the row")
        return value

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name,
                "categories": None if self.categories is None else list(self.categories)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ColumnEncoder:
        categories = data["categories"]
        return cls(str(data["name"]), None if categories is None else tuple(map(str, categories)))


@dataclass(frozen=True)
class InputEncoder:
    """Turns rows of raw CSV text into a real feature matrix, in a fixed column order."""

    columns: tuple[ColumnEncoder, ...]

    @property
    def names(self) -> list[str]:
        return [column.name for column in self.columns]

    def encode_rows(self, header: list[str], rows: list[list[str]], first_row: int = 2
                    ) -> np.ndarray:
        """Encode ``rows`` (laid out as ``header``) into an ``(n, len(columns))`` array."""
        positions = []
        for column in self.columns:
            if column.name not in header:
                raise QnnhwError(f"column {column.name!r} is missing; the model needs columns "
                                 f"{', '.join(self.names)}")
            positions.append(header.index(column.name))
        out = np.empty((len(rows), len(self.columns)))
        for k, (column, position) in enumerate(zip(self.columns, positions)):
            values = [row[position] for row in rows]
            parsed = _numeric_column(values) if column.categories is None else None
            if parsed is None:
                parsed = np.array([column.encode(value, first_row + i)
                                   for i, value in enumerate(values)])
            out[:, k] = parsed
        return out

    def to_dict(self) -> list[dict[str, Any]]:
        return [column.to_dict() for column in self.columns]

    @classmethod
    def from_dict(cls, data: list[dict[str, Any]]) -> InputEncoder:
        return cls(tuple(ColumnEncoder.from_dict(item) for item in data))


@dataclass
class Dataset:
    """A data set split into training and test parts.

    ``X_*`` are real feature matrices (categorical columns already encoded, not yet
    standardised); ``y_*`` are ±1 labels (two classes), class indices 0 … C−1 (C ≥ 3
    classes) or real targets (regression).
    """

    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    encoder: InputEncoder
    task: Task
    target: str
    label_names: tuple[str, ...] | None
    source: str
    standardize_default: bool = True
    bias_default: bool = True
    #: (height, width) when the columns are the pixels of an image, row by row.
    image_shape: tuple[int, int] | None = None

    @property
    def feature_names(self) -> list[str]:
        return self.encoder.names

    @property
    def classes(self) -> int:
        """C: the number of classes (0 for regression)."""
        return len(self.label_names) if self.label_names else 0

    @property
    def outputs(self) -> int:
        """The network's outputs: one per class from three classes on, else one."""
        return self.classes if self.classes >= 3 else 1

    @property
    def train_targets(self) -> np.ndarray:
        """What the network is fitted to: ``y_train`` for one output; for C outputs, the
        one-hot ±1 matrix (+1 in the column of the row's class, −1 elsewhere)."""
        if self.outputs == 1:
            return self.y_train
        return np.where(np.arange(self.outputs) == self.y_train.astype(int)[:, None],
                        1.0, -1.0)


def _clean(field: str) -> str:
    field = field.strip()
    if len(field) >= 2 and field[0] == field[-1] and field[0] in "'\"":
        field = field[1:-1].strip()
    return field


def _clean_row(record: list[str], quoted: bool) -> list[str]:
    """:func:`_clean` of every field; without a call per field when the file has no quote
    character at all (a large CSV spends its time here)."""
    return [_clean(field) for field in record] if quoted else [field.strip() for field in record]


def _numeric_column(values: list[str]) -> np.ndarray | None:
    """The column as finite numbers, parsed at once, or None when a cell is not one (then
    the cell-by-cell path finds it and names it)."""
    try:
        column = np.array(values, dtype=float)
    except ValueError:
        return None
    return column if np.isfinite(column).all() else None


def _read_text(path: Path | str) -> str:
    path = Path(path)
    if not path.is_file():
        raise QnnhwError(f"{path}: no such file; give a CSV file with a header row, "
                         f"or one of: planted, {', '.join(BUNDLED)}")
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise QnnhwError(f"{path}: not a UTF-8 text file; give a CSV file") from None


def _checked_header(path: Path | str, header: list[str]) -> list[str]:
    if len(set(header)) != len(header):
        duplicated = sorted({name for name in header if header.count(name) > 1})
        raise QnnhwError(f"{path}: duplicate column names {', '.join(map(repr, duplicated))}")
    if len(header) < 2:
        raise QnnhwError(f"{path}: only one column; a CSV needs at least one feature and a "
                         f"target (is the delimiter a comma?)")
    return header


def read_csv_table(path: Path | str, text: str | None = None) -> tuple[list[str], list[list[str]]]:
    """Read a CSV file (header row plus data rows) into cleaned text cells.

    Surrounding quotes and white space are stripped; blank lines are skipped. Every row must
    have as many fields as the header.
    """
    if text is None:
        text = _read_text(path)
    try:
        records = [row for row in csv.reader(text.splitlines()) if any(f.strip() for f in row)]
    except csv.Error as error:
        raise QnnhwError(f"{path}: malformed CSV ({error})") from None
    if not records:
        raise QnnhwError(f"{path}: the file is empty; it needs a header row and data rows")
    quoted = '"' in text or "'" in text
    header = _checked_header(path, _clean_row(records[0], quoted))
    rows = []
    for line, record in enumerate(records[1:], start=2):
        if len(record) != len(header):
            raise QnnhwError(f"{path}: data row {line} has {len(record)} fields, the header "
                             f"has {len(header)}")
        rows.append(_clean_row(record, quoted))
    if not rows:
        raise QnnhwError(f"{path}: no data rows below the header")
    return header, rows


def _numeric_features(text: str, target: str | None
                      ) -> tuple[list[str], str, np.ndarray, list[str]] | None:
    """The header, the target's name, every feature column as numbers (NumPy's C reader, one
    call) and the target's texts — or None when anything needs the careful reader: quotes, a
    text or empty or non-finite feature cell, ragged rows, a header it would refuse. That
    reader then accepts the file or names the row and column at fault."""
    if '"' in text or "'" in text:
        return None
    lines = [line for line in text.splitlines() if line.strip()]
    if len(lines) < 2:
        return None
    header = [name.strip() for name in lines[0].split(",")]
    target = header[-1] if target is None else target
    if target not in header or len(set(header)) != len(header) or len(header) < 2:
        return None
    commas = len(header) - 1
    if any(line.count(",") != commas for line in lines[1:]):
        return None
    target_index = header.index(target)
    features = [k for k in range(len(header)) if k != target_index]
    try:
        X = np.loadtxt(lines[1:], delimiter=",", usecols=features, ndmin=2, comments=None,
                       dtype=float)
    except ValueError:
        return None
    if not np.isfinite(X).all():
        return None
    return header, target, X, [line.split(",")[target_index].strip() for line in lines[1:]]


def _column_encoder(name: str, values: list[str]) -> ColumnEncoder:
    if _numeric_column(values) is not None:
        return ColumnEncoder(name)
    parsed = [_parse_number(value) for value in values]
    present = [text for text in values if not _is_missing(text)]
    if present and all(_parse_number(text) is None for text in present):
        categories = sorted(set(present), key=natural_key)
        if len(present) < len(values):
            categories.append(MISSING_CATEGORY)
        return ColumnEncoder(name, tuple(categories))
    for row, (text, value) in enumerate(zip(values, parsed), start=2):
        if text == "":
            raise QnnhwError(f"row {row}, column {name!r}: empty cell; fill or drop the row")
        if value is None:
            raise QnnhwError(f"row {row}, column {name!r}: {text!r} is not a number, but other "
                             f"rows of this column are numeric")
        if not math.isfinite(value):
            raise QnnhwError(f"row {row}, column {name!r}: {text!r} is not a finite number; "
                             f"fill or drop the row")
    return ColumnEncoder(name)


def _split(n: int, test_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    if not 0.0 <= test_fraction < 1.0:
        raise QnnhwError(f"@test_fraction must be in [0, 1), not {test_fraction}",
                         "test_fraction")
    order = np.random.default_rng(seed).permutation(n)
    n_test = int(round(test_fraction * n))
    return order[n_test:], order[:n_test]


def load_csv(path: Path | str, target: str | None = None, test_fraction: float = 0.2,
             seed: int = 0, *, text: str | None = None, source: str | None = None,
             task: str = "auto") -> Dataset:
    """Load a CSV file as a :class:`Dataset` (see the module docstring for the rules).

    A file whose feature cells are all plain numbers is read by NumPy's C parser in one call;
    any other goes through the careful reader, which names the row and column of every cell
    it refuses. Both give the same data set."""
    if text is None:
        text = _read_text(path)
    fast = _numeric_features(text, target)
    if fast is not None:
        header, target, X, target_values = fast
        encoder = InputEncoder(tuple(ColumnEncoder(name) for name in header if name != target))
    else:
        header, rows = read_csv_table(path, text)
        if target is None:
            target = header[-1]
        if target not in header:
            raise QnnhwError(f"{path}: no column named {target!r}; the columns are "
                             f"{', '.join(header)}")
        target_index = header.index(target)
        target_values = [row[target_index] for row in rows]
        encoder = InputEncoder(tuple(_column_encoder(name, [row[k] for row in rows])
                                     for k, name in enumerate(header) if k != target_index))
        X = encoder.encode_rows(header, rows)
    return split(X, target_values, encoder, target, source or str(path), task=task,
                 test_fraction=test_fraction, seed=seed)


def encode_target(values: list[str], target: str, task: str, where: str
                  ) -> tuple[Task, np.ndarray, tuple[str, ...] | None]:
    """The task, the targets and the class names of a target column (module docstring)."""
    if task not in TASKS:
        raise QnnhwError(f"unknown @task {task!r}; choose one of {', '.join(TASKS)}", "task")
    if any(value == "" for value in values):
        row = values.index("") + 2
        raise QnnhwError(f"row {row}, target column {target!r}: empty cell")
    numbers = [_parse_number(value) for value in values]
    numeric = all(number is not None and math.isfinite(number) for number in numbers)
    distinct = set(values)
    if len(distinct) < 2:
        raise QnnhwError(f"{where}: the target {target!r} has one value only "
                         f"({next(iter(distinct))!r}); training needs two classes or a "
                         f"numeric target")
    if task == "auto":
        integral = numeric and all(float(number).is_integer() for number in numbers
                                   if number is not None)
        task = ("classification" if not numeric or len(distinct) == 2
                or (integral and len(distinct) <= AUTO_CLASSES) else "regression")
    if task == "regression":
        y = np.array([ColumnEncoder(target).encode(value, row)
                      for row, value in enumerate(values, start=2)])
        return "regression", y, None
    key = (lambda text: float(text)) if numeric else natural_key
    classes = sorted(distinct, key=key)
    counts = {name: 0 for name in classes}
    for value in values:
        counts[value] += 1
    lonely = [name for name in classes if counts[name] == 1]
    if lonely:
        advice = "; if the target is a number, use @task regression" if numeric else ""
        raise QnnhwError(f"{where}: class {lonely[0]!r} of the target {target!r} has a single "
                         f"row, too few to train and test on ({len(classes)} classes in "
                         f"{len(values)} rows){advice}", "task")
    index = {name: k for k, name in enumerate(classes)}
    if len(classes) == 2:
        y = np.array([1.0 if value == classes[1] else -1.0 for value in values])
    else:
        y = np.array([float(index[value]) for value in values])
    return "classification", y, tuple(classes)


def split(X: np.ndarray, target_values: list[str], encoder: InputEncoder, target: str,
          source: str, *, task: str = "auto", test_fraction: float = 0.2, seed: int = 0,
          test: tuple[np.ndarray, list[str]] | None = None) -> Dataset:
    """A :class:`Dataset` from encoded features and target texts: the target encoded by
    :func:`encode_target`, split by ``seed`` (or with the given ``test`` rows: a data set's
    own split)."""
    if test is not None:
        values = target_values + test[1]
        task, y_all, labels = encode_target(values, target, task, source)
        y, y_test = y_all[:len(X)], y_all[len(X):]
        X_test = test[0]
    else:
        task, y_all, labels = encode_target(target_values, target, task, source)
        train_rows, test_rows = _split(len(X), test_fraction, seed)
        X, X_test, y, y_test = X[train_rows], X[test_rows], y_all[train_rows], y_all[test_rows]
    return _checked(Dataset(X, y, X_test, y_test, encoder, task, target, labels, source))


def _checked(data: Dataset) -> Dataset:
    """Refuse a training split too small to train on, or lacking a class."""
    if len(data.y_train) < 2:
        raise QnnhwError(f"{data.source}: only {len(data.y_train)} training row(s); lower "
                         f"--test-fraction or add data")
    if data.label_names:
        classes = len(data.label_names)
        if classes > len(data.y_train):
            raise QnnhwError(f"{data.source}: {classes} classes but only "
                             f"{len(data.y_train)} training rows; lower --test-fraction or "
                             f"add data")
        present = set(class_indices(data.y_train, classes).tolist())
        missing = [k for k in range(classes) if k not in present]
        if missing:
            raise QnnhwError(f"{data.source}: the training split holds no row of class "
                             f"{data.label_names[missing[0]]!r}; lower --test-fraction, "
                             f"change --seed or add data")
    return data


def class_indices(y: np.ndarray, classes: int) -> np.ndarray:
    """Class indices 0 … C−1 of targets: ±1 for two classes (−1 is class 0), else the index."""
    if classes == 2:
        return (np.asarray(y) > 0).astype(int)
    return np.asarray(y).astype(int)


def planted(n: int = 100, d: int = 20, neurons: int = 10, test_fraction: float = 0.2,
            seed: int = 0) -> Dataset:
    """The paper's Fig. 1 data: Gaussian inputs, targets from a planted ±1 bilinear network.

    ``n`` training rows, plus ``round(n * F / (1 - F))`` test rows from the same
    distribution. The planted network has ``neurons`` neurons with ±1 weights and second
    layer weights drawn uniformly from [0, 1]. Neither standardisation nor a bias feature is
    used by default: the planted model has neither.
    """
    if not 0.0 <= test_fraction < 1.0:
        raise QnnhwError(f"@test_fraction must be in [0, 1), not {test_fraction}",
                         "test_fraction")
    rng = np.random.default_rng(seed)
    n_test = int(round(n * test_fraction / (1.0 - test_fraction)))
    X = rng.standard_normal((n + n_test, d))
    U = rng.choice([-1.0, 1.0], size=(neurons, d))
    V = rng.choice([-1.0, 1.0], size=(neurons, d))
    weights = rng.uniform(0.0, 1.0, size=neurons)
    y = ((X @ U.T) * (X @ V.T)) @ weights
    encoder = InputEncoder(tuple(ColumnEncoder(f"x{k + 1}") for k in range(d)))
    return Dataset(X[:n], y[:n], X[n:], y[n:], encoder, "regression", "y", None,
                   f"planted(n={n}, d={d}, neurons={neurons})",
                   standardize_default=False, bias_default=False)


#: IDX element types (the third byte of the magic number) → NumPy big-endian dtypes.
_IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: Path | str) -> np.ndarray:
    """An IDX file (the MNIST format; gzip-compressed when it ends in .gz) as an array."""
    import gzip

    path = Path(path)
    try:
        raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    except FileNotFoundError:
        raise QnnhwError(f"{path}: no such file") from None
    except (OSError, EOFError):
        raise QnnhwError(f"{path}: not a readable gzip file") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_TYPES:
        raise QnnhwError(f"{path}: not an IDX file (bad magic number); give MNIST-format "
                         f"files")
    dimensions = raw[3]
    header = 4 + 4 * dimensions
    shape = tuple(int.from_bytes(raw[4 + 4 * k:8 + 4 * k], "big") for k in range(dimensions))
    dtype = np.dtype(_IDX_TYPES[raw[2]])
    # Python's integers: a product of four 32-bit sizes can overflow NumPy's.
    if len(raw) != header + math.prod(shape) * dtype.itemsize:
        raise QnnhwError(f"{path}: the IDX header promises {shape} values of {dtype.itemsize} "
                         f"byte(s), the file holds {len(raw) - header} bytes after it")
    try:
        return np.frombuffer(raw, dtype, offset=header).reshape(shape)
    except ValueError:   # an empty array with sizes NumPy cannot index
        raise QnnhwError(f"{path}: the IDX header's shape {shape} is not one of an array; "
                         f"give MNIST-format files") from None


def bundled_text(name: str) -> str:
    return resources.files("qnnhw").joinpath("data", f"{name}.csv").read_text(encoding="utf-8")


def load_digits(test_fraction: float = 0.2, seed: int = 0, task: str = "auto") -> Dataset:
    """scikit-learn's bundled copy of the UCI handwritten digits: 1,797 images of 8 × 8 pixels
    valued 0–16, ten classes."""
    from sklearn.datasets import load_digits as sklearn_digits

    bunch = sklearn_digits()
    encoder = InputEncoder(tuple(ColumnEncoder(f"pixel{k}") for k in range(bunch.data.shape[1])))
    data = split(np.asarray(bunch.data, dtype=float), [str(int(v)) for v in bunch.target],
                 encoder, "digit", "digits", task=task, test_fraction=test_fraction, seed=seed)
    return replace(data, image_shape=(8, 8))


def load_idx_folder(folder: Path, seed: int = 0, task: str = "auto",
                    subsample: int | None = None) -> Dataset:
    """MNIST-format files in ``folder``: ``train-`` images and labels for training, ``t10k-``
    ones for testing (each ``.gz`` or not), pixels as features."""
    def find(prefix: str) -> Path:
        for name in (prefix, prefix + ".gz"):
            if (folder / name).is_file():
                return folder / name
        raise QnnhwError(f"{folder}: no {prefix}[.gz]; a folder of MNIST-format data holds "
                         f"train-images-idx3-ubyte, train-labels-idx1-ubyte and the t10k "
                         f"pair")

    shapes = []

    def pair(split_name: str) -> tuple[np.ndarray, np.ndarray]:
        images = read_idx(find(f"{split_name}-images-idx3-ubyte"))
        shapes.append(images.shape[1:])
        labels = read_idx(find(f"{split_name}-labels-idx1-ubyte"))
        if images.ndim < 2 or labels.ndim != 1 or len(images) != len(labels):
            raise QnnhwError(f"{folder}: {split_name} images {images.shape} and labels "
                             f"{labels.shape} do not pair up")
        return images.reshape(len(images), -1).astype(float), labels

    X, y = pair("train")
    X_test, y_test = pair("t10k")
    if X_test.shape[1] != X.shape[1]:
        raise QnnhwError(f"{folder}: training images have {X.shape[1]} pixels, test images "
                         f"{X_test.shape[1]}")
    encoder = InputEncoder(tuple(ColumnEncoder(f"pixel{k}") for k in range(X.shape[1])))
    data = split(X, [str(int(v)) for v in y], encoder, "label", str(folder), task=task,
                 seed=seed, test=(X_test, [str(int(v)) for v in y_test]))
    if len(shapes[0]) == 2:
        data = replace(data, image_shape=(int(shapes[0][0]), int(shapes[0][1])))
    return data if subsample is None else subsampled(data, subsample, seed)


def load(spec: str, target: str | None = None, test_fraction: float = 0.2,
         seed: int = 0, task: str = "auto", subsample: int | None = None) -> Dataset:
    """Load ``planted``, a bundled set or ``digits`` by name, a folder of MNIST-format files
    or a CSV file by path; ``subsample`` draws that many training rows."""
    if spec == "planted":
        data = planted(test_fraction=test_fraction, seed=seed)
    elif spec == "digits":
        data = load_digits(test_fraction, seed, task)
    elif spec in BUNDLED:
        data = load_csv(spec, target, test_fraction, seed, text=bundled_text(spec),
                        source=spec, task=task)
    elif Path(spec).is_dir():
        return load_idx_folder(Path(spec), seed, task, subsample)
    else:
        data = load_csv(spec, target, test_fraction, seed, task=task)
    return data if subsample is None else subsampled(data, subsample, seed)


def subsampled(data: Dataset, rows: int, seed: int) -> Dataset:
    """``data`` with ``rows`` of its training rows, drawn by ``seed`` (all when fewer)."""
    if isinstance(rows, bool) or not (isinstance(rows, int) and rows >= 2):
        raise QnnhwError(f"@subsample must be an integer ≥ 2, not {rows!r}", "subsample")
    if rows >= len(data.y_train):
        return data
    chosen = np.sort(np.random.default_rng(seed + 1).permutation(len(data.y_train))[:rows])
    return _checked(replace(data, X_train=data.X_train[chosen], y_train=data.y_train[chosen]))
