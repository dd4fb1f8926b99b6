"""The serial frame format and the host client (against an emulated board)."""

import json

import numpy as np
import pytest

from qnnhw import flow, protocol
from qnnhw.families import get_family, names
from qnnhw.flow import fixed_point

from .helpers import EmulatedBoard, assert_one_line_error, run_cli


def test_crc16_matches_the_standard_check_value():
    assert protocol.crc16(b"123456789") == 0x31C3   # CRC-16/XMODEM check value


def test_vectors_are_packed_bit_by_bit():
    vectors = [[-8, 7, 0, -1], [1, -2, 3, -4]]
    payload = protocol.pack_vectors(vectors, 4)
    assert len(payload) == 2 * protocol.vector_bytes(4, 4) == 4
    assert payload[:2] == bytes([0x78, 0xF0])               # feature 0 in the low nibble
    assert protocol.unpack_vectors(payload, 4, 4) == vectors
    wide = protocol.pack_vectors([[-2000, 1999, 5]], 12)     # 36 bits: 5 bytes
    assert len(wide) == 5 and protocol.unpack_vectors(wide, 3, 12) == [[-2000, 1999, 5]]
    with pytest.raises(ValueError, match="does not fit in 8 bits"):
        protocol.pack_vectors([[128]], 8)


def test_a_request_frame_is_versioned_and_sequenced():
    frame = protocol.request(protocol.Command.INFER, 300, protocol.pack_vectors([[1, 2]], 8))
    assert frame[:5] == bytes([protocol.REQUEST_SYNC, 0x20, 300 % 256, 2, 0])
    assert len(frame) == protocol.OVERHEAD_BYTES + 2
    decoder = protocol.FrameDecoder(protocol.REQUEST_SYNC, {0: frozenset({2})})
    assert decoder.feed(frame) == [protocol.Frame(2, 0, 44, bytes([1, 2]))]


def test_decoder_skips_noise_false_syncs_and_bad_checks():
    response = protocol.ResponseFormat(20)
    decoder = protocol.ReplyDecoder(response)
    good = protocol.response(protocol.Status.OK, 7, response.encode(-123456))
    nak = protocol.response(protocol.Status.NAK, 8)
    corrupted = bytearray(good)
    corrupted[-1] ^= 0xFF
    noise = bytes([0x5A, 0x20, 0x00, 0x5A, 0x03, 0x00, 0x01]) + bytes(corrupted)
    replies = decoder.feed(noise + good[:4])
    replies += decoder.feed(good[4:] + nak)
    assert replies == [protocol.Reply(protocol.Status.OK, 7, (protocol.Response(-123456),)),
                       protocol.Reply(protocol.Status.NAK, 8)]


def test_answers_of_several_vectors_and_classes_round_trip():
    with_scores = protocol.ResponseFormat(9, 10)
    answers = [protocol.Response(7, (-256, 255) + (0,) * 8), protocol.Response(1, (3,) * 10)]
    payload = b"".join(with_scores.encode(a.value, a.scores) for a in answers)
    assert len(payload) == 2 * 21              # the class, then 10 scores of 2 bytes, twice
    frame = protocol.response(protocol.Status.OK, 1, payload)
    assert protocol.ReplyDecoder(with_scores).feed(frame)[0].answers == tuple(answers)
    label_only = protocol.ResponseFormat(9, 10, scores=False)
    frame = protocol.response(protocol.Status.OK, 2, label_only.encode(9))
    assert protocol.ReplyDecoder(label_only).feed(frame)[0].answers == (protocol.Response(9),)
    with pytest.raises(ValueError, match="at most 256 classes"):
        protocol.ResponseFormat(9, 300)


def test_hello_and_selftest_answers_round_trip():
    hello = protocol.Hello(2, 34, 8, 1, 17, True, 4, 44_250_000, 0xDEADBEEF, 170, 10)
    reply = protocol.ReplyDecoder().feed(protocol.response(protocol.Status.HELLO, 3,
                                                           hello.encode()))[0]
    assert reply.hello == hello and reply.hello.response_format == protocol.ResponseFormat(17)
    result = protocol.SelfTestResult(0x12345678, 5 * 2**40 // 7)
    reply = protocol.ReplyDecoder().feed(protocol.response(protocol.Status.SELFTEST, 4,
                                                           result.encode()))[0]
    assert reply.selftest == result


def test_a_slow_datapath_is_paced_one_vector_to_a_frame():
    fast = protocol.Hello(2, 34, 8, 1, 17, True, 4, 44_250_000, 1, 170, 10)
    assert fast.pacing(4_000_000) == (4, 0.0)           # 34 bytes take 85 µs; it needs 4 µs
    slow = protocol.Hello(2, 2, 8, 1, 17, True, 4, 10_000_000, 1, 1000, 10)
    assert slow.pacing(4_000_000) == (1, 1e-4)          # 2 bytes take 5 µs; it needs 100 µs
    pipeline = protocol.Pipeline([[1, 2]] * 5, 8, protocol.ResponseFormat(16), per_frame=1,
                                 window=4, pace=1e-4)
    assert len(pipeline.to_send(0.0)) == 1 and pipeline.to_send(0.5e-4) == []
    assert len(pipeline.to_send(1e-4)) == 1


def test_the_self_test_generator_is_xorshift32_read_by_wiring():
    vectors = protocol.selftest_vectors(3, 5, 8)
    state = protocol.SELFTEST_SEED
    for row in vectors:
        raw = [(state >> ((8 * k) % 32)) & 0xFF for k in range(5)]
        assert row.tolist() == [v - 256 if v >= 128 else v for v in raw]
        state = protocol.xorshift32(state)
    assert protocol.xorshift32(1) == 270369    # Marsaglia's xorshift32 (13, 17, 5)
    # The signature: rotate left, then XOR in the word's 32-bit chunks.
    assert protocol.signature([1, 1], 8) == 3
    assert protocol.signature([1 << 32 | 1], 40) == 0


class Link:
    """A board in software for the pipeline's tests: answers in order, with the faults
    asked for (per frame index: "drop", "nak" or "late")."""

    def __init__(self, faults=None):
        self.faults = faults or {}
        self.frames = 0
        self.decoder = protocol.FrameDecoder(protocol.REQUEST_SYNC, {
            0: frozenset(k * 2 for k in range(1, 5))})

    def answer(self, data):
        out = b""
        for frame in self.decoder.feed(data):
            fault = self.faults.get(self.frames)
            self.frames += 1
            if fault == "drop":
                continue
            if fault == "nak":
                out += protocol.response(protocol.Status.NAK, frame.seq)
                continue
            vectors = protocol.unpack_vectors(frame.payload, 2, 8)
            out += protocol.response(protocol.Status.OK, frame.seq, b"".join(
                protocol.ResponseFormat(16).encode(a + 10 * b) for a, b in vectors))
        return out


@pytest.mark.parametrize("faults", [{}, {1: "drop"}, {0: "nak", 5: "drop", 6: "nak"}])
def test_the_pipeline_matches_every_answer_and_resends_what_was_lost(faults):
    vectors = [[k % 100, -(k % 50)] for k in range(37)]
    pipeline = protocol.Pipeline(vectors, 8, protocol.ResponseFormat(16), per_frame=3,
                                 window=4, timeout=1.0)
    link, now = Link(faults), 0.0
    while not pipeline.done:
        sent = b"".join(pipeline.to_send(now))
        assert len(pipeline.in_flight) <= 4
        pipeline.feed(link.answer(sent), now)
        now += 0.1
    assert [answer.value for answer in pipeline.answers] == [a + 10 * b for a, b in vectors]
    assert pipeline.resent == len(faults)


def test_the_pipeline_gives_up_on_a_silent_board():
    pipeline = protocol.Pipeline([[1, 2]], 8, protocol.ResponseFormat(16), timeout=0.5,
                                 retries=3)
    with pytest.raises(protocol.LinkFailure, match="unanswered after 3 attempts"):
        for step in range(10):
            pipeline.to_send(step * 1.0)
    with pytest.raises(ValueError, match="at least one frame"):
        protocol.Pipeline([[1]], 8, protocol.ResponseFormat(16), window=0)


def report_of(spec, scores=True):
    """What a build's report says of its link."""
    return {"response_scores": scores, "protocol_version": protocol.PROTOCOL_VERSION,
            "uart_baud": 115200, "cycles_per_vector": 2,
            "design_id": protocol.design_id(spec.to_json())}


@pytest.fixture(params=names())
def build_dir(tmp_path, request):
    model = get_family(request.param).example(4, 6, seed=5)
    spec = fixed_point(model)
    model.save(tmp_path / "model.json")
    (tmp_path / "fixedpoint.json").write_text(spec.to_json())
    (tmp_path / "report.json").write_text(json.dumps(report_of(spec)))
    rows = ["x0,x1,x2,x3,y"] + [f"{a},{-a / 2},{a / 3},{1 - a},{'pos' if a > 0 else 'neg'}"
                                for a in (-2.5, -1, 0, 0.5, 1.25, 3)]
    (tmp_path / "data.csv").write_text("\n".join(rows) + "\n")
    return tmp_path, model, spec


def test_run_against_an_emulated_board_recovers_from_nak_and_silence(build_dir):
    folder, model, spec = build_dir
    board = EmulatedBoard(model, spec, faults=["nak", "drop"])
    try:
        result = run_cli("run", "--port", board.port, "--build", str(folder), "--data",
                         str(folder / "data.csv"), timeout=60)
    finally:
        board.close()
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert lines[0] == "row,prediction,y_board,y_reference,target"
    assert len(lines) == 7
    for line in lines[1:]:
        row, prediction, y_board, y_reference, target = line.split(",")
        assert y_board == y_reference
        assert prediction == ("pos" if int(y_board) > 0 else "neg")
    assert "0 differ from the reference, 2 frames resent" in result.stderr
    assert board.requests == 4          # two frames (4 and 2 vectors), each sent twice


def test_run_runs_the_self_test_of_an_emulated_board(build_dir):
    folder, model, spec = build_dir
    board = EmulatedBoard(model, spec)
    try:
        result = run_cli("run", "--port", board.port, "--build", str(folder), "--selftest",
                         "300", timeout=60)
    finally:
        board.close()
    assert result.returncode == 0, result.stderr
    assert "self-test: 300 vectors in 610 cycles" in result.stdout
    assert "matches the reference's" in result.stdout


def test_run_refuses_a_stale_board_build_or_design(build_dir):
    folder, model, spec = build_dir
    old = EmulatedBoard(model, spec, silent=True)
    try:
        result = run_cli("run", "--port", old.port, "--build", str(folder), timeout=60)
    finally:
        old.close()
    assert_one_line_error(result, "runs an older qnnhw bitstream")
    other = EmulatedBoard(model, spec, design_id=1234)
    try:
        result = run_cli("run", "--port", other.port, "--build", str(folder), timeout=60)
    finally:
        other.close()
    assert_one_line_error(result, "runs another design than")
    report = json.loads((folder / "report.json").read_text())
    (folder / "report.json").write_text(json.dumps({**report, "protocol_version": 1}))
    result = run_cli("run", "--port", "/dev/null", "--build", str(folder))
    assert_one_line_error(result, "built for serial protocol version 1")
    result = run_cli("run", "--port", "/dev/null", "--build", str(folder), "--window", "0")
    assert_one_line_error(result, "--window: expected a positive integer, not 0")


def test_run_reports_a_missing_build_folder(tmp_path):
    result = run_cli("run", "--port", "/dev/null", "--build", str(tmp_path))
    assert result.returncode == 2 and "no such model file" in result.stderr


def test_fixed_point_spec_file_is_checked(build_dir):
    folder, _, spec = build_dir
    data = json.loads((folder / "fixedpoint.json").read_text())
    data["bias_value"] += 1
    (folder / "fixedpoint.json").write_text(json.dumps(data))
    result = run_cli("run", "--port", "/dev/null", "--build", str(folder))
    assert result.returncode == 2 and "'bias_value'" in result.stderr


def multiclass_build_dir(folder, family, scores=True):
    """What build writes for a three-class network (without the bitstream), and data."""
    model = get_family(family).example(4, 6, seed=6, classes=3)
    spec = fixed_point(model)
    model.save(folder / "model.json")
    (folder / "fixedpoint.json").write_text(spec.to_json())
    (folder / "report.json").write_text(json.dumps(report_of(spec, scores)))
    rows = ["x0,x1,x2,x3,y"] + [f"{a},{-a / 2},{a / 3},{1 - a},c{k % 3}"
                                for k, a in enumerate((-2.5, -1, 0, 0.5, 1.25, 3))]
    (folder / "data.csv").write_text("\n".join(rows) + "\n")
    return model, spec, rows


@pytest.mark.parametrize("family", names())
def test_run_prints_classes_and_scores_of_a_multiclass_board(tmp_path, family):
    model, spec, rows = multiclass_build_dir(tmp_path, family)
    board = EmulatedBoard(model, spec)
    try:
        result = run_cli("run", "--port", board.port, "--build", str(tmp_path), "--data",
                         str(tmp_path / "data.csv"), "--scores", timeout=60)
    finally:
        board.close()
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert lines[0] == "row,prediction,class_board,class_reference,scores_board,target"
    reference = flow.reference(model, spec)
    expected = reference.outputs(reference.quantize(np.array(
        [[float(v) for v in row.split(",")[:4]] for row in rows[1:]])))
    for line, scores in zip(lines[1:], expected):
        row, prediction, board_class, reference_class, board_scores, _ = line.split(",")
        assert board_class == reference_class == str(int(np.argmax(scores)))
        assert prediction == f"c{board_class}"
        assert board_scores == " ".join(map(str, scores))
    assert "0 differ from the reference" in result.stderr


def test_run_reads_classes_from_a_board_built_without_scores(tmp_path):
    model, spec, rows = multiclass_build_dir(tmp_path, "threshold", scores=False)
    refused = run_cli("run", "--port", "/dev/null", "--build", str(tmp_path), "--scores")
    assert refused.returncode == 2 and "built with --no-scores" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
    board = EmulatedBoard(model, spec, scores=False)
    try:
        result = run_cli("run", "--port", board.port, "--build", str(tmp_path), "--data",
                         str(tmp_path / "data.csv"), timeout=60)
    finally:
        board.close()
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert lines[0] == "row,prediction,class_board,class_reference,target"
    assert len(lines) == len(rows)
    assert all(line.split(",")[2] == line.split(",")[3] for line in lines[1:])
    assert "0 differ from the reference" in result.stderr
