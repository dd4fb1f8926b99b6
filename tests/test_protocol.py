"""The serial frame format and the host client (against an emulated board)."""

import json

import pytest

from qnnhw import protocol
from qnnhw.flow import fixed_point

from .helpers import EmulatedBoard, random_model, random_threshold_model, run_cli


def test_crc8_matches_the_standard_check_value():
    assert protocol.crc8(b"123456789") == 0xF4   # CRC-8 (poly 0x07) check value


def test_request_round_trip():
    frame = protocol.encode_request([-128, 0, 127, -1], 8)
    assert frame[0] == protocol.REQUEST_SYNC and frame[1] == 4
    assert protocol.decode_request(frame, 4, 8) == [-128, 0, 127, -1]
    wide = protocol.encode_request([-2000, 1999], 12)
    assert wide[1] == 4 and protocol.decode_request(wide, 2, 12) == [-2000, 1999]
    corrupted = bytearray(frame)
    corrupted[3] ^= 1
    assert protocol.decode_request(bytes(corrupted), 4, 8) is None


def test_request_refuses_values_out_of_range():
    with pytest.raises(ValueError, match="does not fit in 8 bits"):
        protocol.encode_request([128], 8)


def test_decoder_skips_noise_and_false_syncs():
    decoder = protocol.ResponseDecoder(20)
    good = protocol.encode_response(-123456, 20)
    nak = protocol.encode_response(None, 20)
    noise = bytes([0x5A, 0x09, 0x00, 0x5A, 0x03, 0x01])
    responses = decoder.feed(noise + good[:3])
    responses += decoder.feed(good[3:] + nak)
    assert [r.value for r in responses] == [-123456, None]


def test_decoder_rejects_a_bad_crc():
    frame = bytearray(protocol.encode_response(77, 16))
    frame[-1] ^= 0xFF
    assert protocol.ResponseDecoder(16).feed(bytes(frame)) == []


@pytest.fixture(params=["bilinear", "threshold"])
def build_dir(tmp_path, request):
    model = (random_model(4, 6, seed=5) if request.param == "bilinear"
             else random_threshold_model(4, 6, seed=5))
    spec = fixed_point(model)
    model.save(tmp_path / "model.json")
    (tmp_path / "fixedpoint.json").write_text(spec.to_json())
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
    data["sum_width"] += 1
    (folder / "fixedpoint.json").write_text(json.dumps(data))
    result = run_cli("run", "--port", "/dev/null", "--build", str(folder))
    assert result.returncode == 2 and "'sum_width'" in result.stderr
