"""Property-based tests of everything that reads outside input: random and mutated CSV
files, IDX files, model files and serial frames give a result or one :class:`QnnhwError`
line, never another exception.

``make test`` runs a few hundred inputs per fuzzer; ``make test-all`` selects Hypothesis'
``thorough`` profile (tests/conftest.py): 10,000 each. Every input that once broke something
stays below as an ``@example``: the regression corpus.
"""

import gzip
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from qnnhw import dataset, flow, protocol
from qnnhw.errors import QnnhwError
from qnnhw.families import get_family, names
from qnnhw.model import model_from_dict

#: The files are small and the parsers fast, but xdist's workers share two cores.
FUZZ = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                      HealthCheck.function_scoped_fixture])

VALID_CSV = dataset.bundled_text("ionosphere").splitlines()[:12]

#: Characters that matter to a CSV reader and a number parser, and a few that should not.
CSV_ALPHABET = st.sampled_from(list(",\"'\n\r\t ;.-+e0123456789abcnaNinfINF\x00\ufeffé"))


def load_csv_text(text: str) -> dataset.Dataset | None:
    """A data set from ``text``, or None when it is refused in one line."""
    try:
        return dataset.load_csv("fuzz.csv", text=text, test_fraction=0.25)
    except QnnhwError as refusal:
        assert "\n" not in str(refusal) and str(refusal)
        return None


@FUZZ
@given(st.text(CSV_ALPHABET, max_size=300))
@example("a,b\n1,1e999\n2,3\n")             # an overflowing cell
@example("a,b\n\"1,2\n")                    # an unterminated quote
@example("a,a\n1,2\n")                      # duplicate columns
@example("x,y\n1e308,1\n-1e308,0\n0,1\n")   # finite values whose scale overflows
def test_random_csv_text_is_read_or_refused(text):
    data = load_csv_text(text)
    if data is not None:
        assert np.isfinite(data.X_train).all() and np.isfinite(data.y_train).all()


@FUZZ
@given(st.data())
def test_mutated_csv_files_are_read_or_refused(data):
    lines = list(VALID_CSV)
    for _ in range(data.draw(st.integers(1, 4))):
        row = data.draw(st.integers(0, len(lines) - 1))
        cells = lines[row].split(",")
        column = data.draw(st.integers(0, len(cells) - 1))
        action = data.draw(st.sampled_from(["replace", "delete", "duplicate", "insert"]))
        if action == "replace":
            cells[column] = data.draw(st.one_of(
                st.text(CSV_ALPHABET, max_size=8),
                st.floats().map(repr), st.integers(-10**30, 10**30).map(str)))
        elif action == "delete":
            del cells[column]
        elif action == "duplicate":
            lines.insert(row, lines[row])
        else:
            cells.insert(column, data.draw(st.text(CSV_ALPHABET, max_size=4)))
        lines[row] = ",".join(cells)
    load_csv_text("\n".join(lines) + "\n")


def idx_bytes(array: np.ndarray, code: int) -> bytes:
    """``array`` as an IDX file of element type ``code``."""
    header = bytes([0, 0, code, array.ndim]) + b"".join(
        int(size).to_bytes(4, "big") for size in array.shape)
    return header + array.astype(dataset._IDX_TYPES[code]).tobytes()


def read_idx_bytes(tmp_path: Path, raw: bytes, compressed: bool) -> np.ndarray | None:
    path = tmp_path / ("fuzz.idx.gz" if compressed else "fuzz.idx")
    path.write_bytes(gzip.compress(raw) if compressed else raw)
    try:
        return dataset.read_idx(path)
    except QnnhwError as refusal:
        assert "\n" not in str(refusal)
        return None


@FUZZ
@given(raw=st.binary(max_size=64), compressed=st.booleans())
@example(raw=b"\x00\x00\x08\x03\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff",
         compressed=False)                                   # a header promising 2⁹⁶ values
@example(raw=b"\x00\x00\x0e\x03\xab\x00\x00\x00\x00\x00\x00\x00\x18\x00\x00\x00",
         compressed=False)       # no values, in a shape NumPy cannot hold (found by make test-all)
def test_random_idx_bytes_are_read_or_refused(tmp_path, raw, compressed):
    read_idx_bytes(tmp_path, raw, compressed)


@FUZZ
@given(st.data())
def test_mutated_idx_files_are_read_or_refused(tmp_path, data):
    code = data.draw(st.sampled_from(sorted(dataset._IDX_TYPES)))
    shape = data.draw(st.lists(st.integers(0, 4), min_size=1, max_size=3))
    raw = bytearray(idx_bytes(np.arange(int(np.prod(shape))).reshape(shape) % 100, code))
    for _ in range(data.draw(st.integers(1, 3))):
        offset = data.draw(st.integers(0, len(raw) - 1))
        action = data.draw(st.sampled_from(["flip", "truncate", "extend"]))
        if action == "flip":
            raw[offset] = data.draw(st.integers(0, 255))
        elif action == "truncate":
            del raw[offset:]
            if not raw:
                break
        else:
            raw += data.draw(st.binary(min_size=1, max_size=8))
    read_idx_bytes(tmp_path, bytes(raw), data.draw(st.booleans()))


#: Every family's example network, as the model file qnnhw writes.
MODELS = {name: get_family(name).example(3, 4, seed=2, classes=3).to_dict() for name in names()}

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats() | st.text(max_size=6),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner,
                                                                  max_size=3),
    max_leaves=8)


def mutate(document: Any, data: st.DataObject) -> Any:
    """``document`` with one value somewhere in it replaced, removed or resized."""
    if isinstance(document, dict) and document:
        key = data.draw(st.sampled_from(sorted(document)))
        action = data.draw(st.sampled_from(["descend", "replace", "delete"]))
        if action == "delete":
            return {k: v for k, v in document.items() if k != key}
        value = mutate(document[key], data) if action == "descend" else data.draw(JSON_VALUES)
        return {**document, key: value}
    if isinstance(document, list) and document:
        index = data.draw(st.integers(0, len(document) - 1))
        action = data.draw(st.sampled_from(["descend", "replace", "delete", "append"]))
        if action == "delete":
            return document[:index] + document[index + 1:]
        if action == "append":
            return document + [document[index]]
        value = mutate(document[index], data) if action == "descend" else data.draw(JSON_VALUES)
        return document[:index] + [value] + document[index + 1:]
    return data.draw(JSON_VALUES)


def use(model_dict: Any) -> None:
    """Load a model dict and use it as every command would, or have it refused in one line:
    a model that loads must quantise inputs and give the reference's outputs."""
    try:
        model = model_from_dict(json.loads(json.dumps(model_dict)))
        spec = flow.fixed_point(model)
        reference = flow.reference(model, spec)
        reference.outputs(np.zeros((2, spec.features), dtype=np.int64))
    except QnnhwError as refusal:
        assert "\n" not in str(refusal) and str(refusal)


@pytest.mark.parametrize("family", names())
@FUZZ
@given(data=st.data())
def test_mutated_model_files_are_loaded_or_refused(family, data):
    document = MODELS[family]
    for _ in range(data.draw(st.integers(1, 3))):
        document = mutate(document, data)
    assume(document != MODELS[family])
    use(document)


@pytest.mark.parametrize("family", names())
def test_every_example_model_file_is_one_qnnhw_reads(family):
    use(MODELS[family])


RESPONSE = protocol.ResponseFormat.for_spec(
    flow.fixed_point(get_family("lut").example(3, 4, seed=2, classes=3)), True)


@FUZZ
@given(chunks=st.lists(st.binary(max_size=24), max_size=8))
def test_the_reply_parser_takes_any_bytes(chunks):
    decoder = protocol.ReplyDecoder(RESPONSE)
    for chunk in chunks:
        for reply in decoder.feed(chunk):
            assert reply.status is not None and 0 <= reply.seq < 256
            assert all(isinstance(answer.value, int) for answer in reply.answers)


REQUESTS = {protocol.Command.INFER: frozenset(k * 3 for k in range(1, protocol.MAX_VECTORS + 1))}


@FUZZ
@given(vectors=st.lists(st.lists(st.integers(-128, 127), min_size=3, max_size=3),
                        min_size=1, max_size=4),
       noise=st.binary(max_size=6), cut=st.integers(0, 40))
def test_request_frames_survive_noise_and_are_decoded_exactly(vectors, noise, cut):
    """What the board does with a byte stream, frame by frame: every intact frame gives its
    vectors and seq back; a cut frame and noise give nothing or frames of the right shape,
    never an exception. (A CRC-16 passes one random frame in 65,536.)"""
    frames = [protocol.request(protocol.Command.INFER, seq, protocol.pack_vectors([vector], 8))
              for seq, vector in enumerate(vectors)]
    decoder = protocol.FrameDecoder(protocol.REQUEST_SYNC, REQUESTS)
    decoded = decoder.feed(b"".join(frames))
    assert [(frame.seq, protocol.unpack_vectors(frame.payload, 3, 8)) for frame in decoded] == [
        (seq, [vector]) for seq, vector in enumerate(vectors)]
    for frame in protocol.FrameDecoder(protocol.REQUEST_SYNC, REQUESTS).feed(
            frames[0][:cut % len(frames[0])] + noise):
        assert len(frame.payload) % 3 == 0
        assert all(len(vector) == 3 for vector in protocol.unpack_vectors(frame.payload, 3, 8))
