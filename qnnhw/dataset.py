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

A target with two distinct values is a classification task: the values are sorted in natural
order and the second becomes the label +1. A numeric target with more values is a regression
task. The train/test split is a permutation drawn from ``seed``.
"""

from __future__ import annotations

import csv
import math
import re
from dataclasses import dataclass
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
        for i, row in enumerate(rows):
            for k, (column, position) in enumerate(zip(self.columns, positions)):
                out[i, k] = column.encode(row[position], first_row + i)
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
    standardised); ``y_*`` are ±1 labels (classification) or real targets (regression).
    """

    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    encoder: InputEncoder
    task: Task
    target: str
    label_names: tuple[str, str] | None
    source: str
    standardize_default: bool = True
    bias_default: bool = True

    @property
    def feature_names(self) -> list[str]:
        return self.encoder.names


def _clean(field: str) -> str:
    field = field.strip()
    if len(field) >= 2 and field[0] == field[-1] and field[0] in "'\"":
        field = field[1:-1].strip()
    return field


def read_csv_table(path: Path | str, text: str | None = None) -> tuple[list[str], list[list[str]]]:
    """Read a CSV file (header row plus data rows) into cleaned text cells.

    Surrounding quotes and white space are stripped; blank lines are skipped. Every row must
    have as many fields as the header.
    """
    if text is None:
        path = Path(path)
        if not path.is_file():
            raise QnnhwError(f"{path}: no such file; give a CSV file with a header row, "
                             f"or one of: planted, {', '.join(BUNDLED)}")
        try:
            text = path.read_text(encoding="utf-8-sig")
        except UnicodeDecodeError:
            raise QnnhwError(f"{path}: not a UTF-8 text file; give a CSV file") from None
    try:
        records = [row for row in csv.reader(text.splitlines()) if any(f.strip() for f in row)]
    except csv.Error as error:
        raise QnnhwError(f"{path}: malformed CSV ({error})") from None
    if not records:
        raise QnnhwError(f"{path}: the file is empty; it needs a header row and data rows")
    header = [_clean(name) for name in records[0]]
    if len(set(header)) != len(header):
        duplicated = sorted({name for name in header if header.count(name) > 1})
        raise QnnhwError(f"{path}: duplicate column names {', '.join(map(repr, duplicated))}")
    if len(header) < 2:
        raise QnnhwError(f"{path}: only one column; a CSV needs at least one feature and a "
                         f"target (is the delimiter a comma?)")
    rows = []
    for line, record in enumerate(records[1:], start=2):
        if len(record) != len(header):
            raise QnnhwError(f"{path}: data row {line} has {len(record)} fields, the header "
                             f"has {len(header)}")
        rows.append([_clean(field) for field in record])
    if not rows:
        raise QnnhwError(f"{path}: no data rows below the header")
    return header, rows


def _column_encoder(name: str, values: list[str]) -> ColumnEncoder:
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
        raise QnnhwError(f"test fraction must be in [0, 1), not {test_fraction}")
    order = np.random.default_rng(seed).permutation(n)
    n_test = int(round(test_fraction * n))
    return order[n_test:], order[:n_test]


def load_csv(path: Path | str, target: str | None = None, test_fraction: float = 0.2,
             seed: int = 0, *, text: str | None = None, source: str | None = None) -> Dataset:
    """Load a CSV file as a :class:`Dataset` (see the module docstring for the rules)."""
    header, rows = read_csv_table(path, text)
    if target is None:
        target = header[-1]
    if target not in header:
        raise QnnhwError(f"{path}: no column named {target!r}; the columns are "
                         f"{', '.join(header)}")
    target_index = header.index(target)
    target_values = [row[target_index] for row in rows]
    if any(value == "" for value in target_values):
        row = target_values.index("") + 2
        raise QnnhwError(f"row {row}, target column {target!r}: empty cell")
    classes = sorted(set(target_values), key=natural_key)
    task: Task
    if len(classes) < 2:
        raise QnnhwError(f"{path}: the target {target!r} has one value only ({classes[0]!r}); "
                         f"training needs two classes or a numeric target")
    if len(classes) == 2:
        task = "classification"
        y = np.array([1.0 if value == classes[1] else -1.0 for value in target_values])
        label_names: tuple[str, str] | None = (classes[0], classes[1])
    else:
        task = "regression"
        label_names = None
        y = np.array([ColumnEncoder(target).encode(value, row)
                      for row, value in enumerate(target_values, start=2)])
    columns = tuple(_column_encoder(name, [row[k] for row in rows])
                    for k, name in enumerate(header) if k != target_index)
    encoder = InputEncoder(columns)
    X = encoder.encode_rows(header, rows)
    train, test = _split(len(rows), test_fraction, seed)
    if len(train) < 2:
        raise QnnhwError(f"{path}: only {len(train)} training row(s); lower --test-fraction "
                         f"or add data")
    if task == "classification" and len(set(y[train])) < 2:
        raise QnnhwError(f"{path}: the training split holds one class only; lower "
                         f"--test-fraction, change --seed or add data")
    return Dataset(X[train], y[train], X[test], y[test], encoder, task, target, label_names,
                   source or str(path))


def planted(n: int = 100, d: int = 20, neurons: int = 10, test_fraction: float = 0.2,
            seed: int = 0) -> Dataset:
    """The paper's Fig. 1 data: Gaussian inputs, targets from a planted ±1 bilinear network.

    ``n`` training rows, plus ``round(n * F / (1 - F))`` test rows from the same
    distribution. The planted network has ``neurons`` neurons with ±1 weights and second
    layer weights drawn uniformly from [0, 1]. Neither standardisation nor a bias feature is
    used by default: the planted model has neither.
    """
    if not 0.0 <= test_fraction < 1.0:
        raise QnnhwError(f"test fraction must be in [0, 1), not {test_fraction}")
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
    if len(raw) != header + int(np.prod(shape)) * dtype.itemsize:
        raise QnnhwError(f"{path}: the IDX header promises {shape} values of {dtype.itemsize} "
                         f"byte(s), the file holds {len(raw) - header} bytes after it")
    return np.frombuffer(raw, dtype, offset=header).reshape(shape)


def bundled_text(name: str) -> str:
    return resources.files("qnnhw").joinpath("data", f"{name}.csv").read_text(encoding="utf-8")


def load(spec: str, target: str | None = None, test_fraction: float = 0.2,
         seed: int = 0) -> Dataset:
    """Load ``planted``, a bundled set by name, or a CSV file by path."""
    if spec == "planted":
        return planted(test_fraction=test_fraction, seed=seed)
    if spec in BUNDLED:
        return load_csv(spec, target, test_fraction, seed, text=bundled_text(spec), source=spec)
    return load_csv(spec, target, test_fraction, seed)
