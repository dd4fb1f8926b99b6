"""The serial frame format and the host client (against an emulated board)."""

import json

import numpy as np
import pytest

from qnnhw import flow, protocol
from qnnhw.families import get_family, names
from qnnhw.flow import fixed_point

from .helpers import EmulatedBoard, run_cli


def test_crc8_matches_the_standard_check_value():
    assert protocol.crc8(b"123456789") == 0xF4   # CRC-8 (poly 0x07) check value


def test_request_round_trip():
    frame = protocol.encode_request([-128, 0, 127, -1], 8)
    assert frame[0] == protocol.REQUEST_SYNC and frame[1:3] == bytes([4, 0])
    assert protocol.decode_request(frame, 4, 8) == [-128, 0, 127, -1]
    wide = protocol.encode_request([-2000, 1999], 12)
    assert wide[1:3] == bytes([4, 0]) and protocol.decode_request(wide, 2, 12) == [-2000, 1999]
    image = protocol.encode_request(list(range(-128, 128)) * 3 + [0] * 16, 8)   # 784 bytes
    assert image[1:3] == (784).to_bytes(2, "little") and len(image) == 784 + 4
    corrupted = bytearray(frame)
    corrupted[3] ^= 1
    assert protocol.decode_request(bytes(corrupted), 4, 8) is None


def test_request_refuses_values_out_of_range():
    with pytest.raises(ValueError, match="does not fit in 8 bits"):
        protocol.encode_request([128], 8)


def test_decoder_skips_noise_and_false_syncs():
    response = protocol.ResponseFormat(20)
    decoder = protocol.ResponseDecoder(response)
    good = protocol.encode_response(-123456, response)
    nak = protocol.encode_response(None, response)
    noise = bytes([0x5A, 0x09, 0x00, 0x5A, 0x03, 0x00, 0x01])
    responses = decoder.feed(noise + good[:3])
    responses += decoder.feed(good[3:] + nak)
    assert [r.value for r in responses] == [-123456, None]


def test_decoder_rejects_a_bad_crc():
    response = protocol.ResponseFormat(16)
    frame = bytearray(protocol.encode_response(77, response))
    frame[-1] ^= 0xFF
    assert protocol.ResponseDecoder(response).feed(bytes(frame)) == []


def test_class_responses_round_trip():
    with_scores = protocol.ResponseFormat(9, 10)
    frame = protocol.encode_response(7, with_scores, [-256, 255] + [0] * 8)
    assert frame[1:3] == bytes([21, 0])   # the class, then 10 scores of 2 bytes
    assert protocol.ResponseDecoder(with_scores).feed(frame) == [
        protocol.Response(7, (-256, 255) + (0,) * 8)]
    label_only = protocol.ResponseFormat(9, 10, scores=False)
    frame = protocol.encode_response(9, label_only)
    assert protocol.ResponseDecoder(label_only).feed(frame) == [protocol.Response(9)]
    with pytest.raises(ValueError, match="at most 256 classes"):
        protocol.ResponseFormat(9, 300)


@pytest.fixture(params=names())
def build_dir(tmp_path, request):
    model = get_family(request.param).example(4, 6, seed=5)
    spec = fixed_point(model)
    model.save(tmp_path / "model.json")
    (tmp_path / "fixedpoint.json").write_text(spec.to_json())
    (tmp_path / "report.json").write_text(json.dumps({"response_scores": True}))
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
    assert "0 differ from the reference, 2 resent" in result.stderr
    assert board.requests == 8


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
    (folder / "report.json").write_text(json.dumps({"response_scores": scores}))
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
