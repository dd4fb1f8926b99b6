"""PLL settings (checked against icepll's and ecppll's answers) and the PLL clock domain on
every board, elaborated through the board's platform."""

import pytest

from boards import BOARDS, MAX_BAUD_ERROR
from boards.clocking import ECP5PLL, ICE40PLL, PLLClock, ecp5_pll, ice40_pll
from boards.top import BoardTop

from .helpers import assert_one_line_error, random_model, run_cli


@pytest.mark.parametrize("f_max, divr, divf, divq, f_out", [
    (40e6, 0, 52, 4, 39.75e6),    # icepll -i 12 -o 40
    (48e6, 0, 63, 4, 48e6),       # icepll -i 12 -o 48
    (100e6, 0, 65, 3, 99e6),      # icepll -i 12 -o 100
])
def test_ice40_pll_matches_icepll(f_max, divr, divf, divq, f_out):
    pll = ice40_pll(12e6, f_max)
    assert (pll.divr, pll.divf, pll.divq) == (divr, divf, divq)
    assert pll.f_out == f_out and pll.filter_range == 1


def test_ecp5_pll_matches_ecppll():
    pll = ecp5_pll(25e6, 100e6)   # ecppll -i 25 -o 100
    assert (pll.clki_div, pll.clkfb_div, pll.clkop_div) == (1, 4, 6) and pll.f_out == 100e6


@pytest.mark.parametrize("search, f_in", [(ice40_pll, 12e6), (ecp5_pll, 25e6),
                                          (ecp5_pll, 48e6)])
def test_pll_settings_respect_the_limits_and_never_exceed_the_request(search, f_in):
    for f_max in (17e6, 23.3e6, 36.75e6, 41.6e6, 77.7e6, 133e6, 250e6):
        pll = search(f_in, f_max)
        assert pll is not None and pll.f_out <= f_max
        assert pll.OUT[0] <= pll.f_out <= pll.OUT[1]
        if isinstance(pll, ICE40PLL):
            f_pfd = f_in / (pll.divr + 1)
            f_vco = f_pfd * (pll.divf + 1)
        else:
            f_pfd = f_in / pll.clki_div
            f_vco = pll.f_out * pll.clkop_div
        assert pll.PFD[0] <= f_pfd <= pll.PFD[1] and pll.VCO[0] <= f_vco <= pll.VCO[1]
        # Near the request (the dividers' granularity allows no closer at 25 MHz ÷ 8).
        assert pll.f_out >= 0.9 * min(f_max, pll.OUT[1])
        # The serial link finds a rate within 2 % at any of these clocks.
        baud, divisor = BOARDS["icebreaker"].link(pll.f_out)
        assert abs(pll.f_out / divisor / baud - 1) < MAX_BAUD_ERROR
    assert ice40_pll(12e6, 15e6) is None   # below SB_PLL40's 16 MHz


@pytest.mark.parametrize("name, clock_hz, baud, divisor", [
    ("icebreaker", 12e6, 1_500_000, 8),       # FT2232H: 12 MHz ÷ 8
    ("icebreaker", 44.25e6, 4_000_000, 11),   # 44.25 / 11 = 4.02 Mbaud: +0.57 %
    ("icebreaker", 48e6, 6_000_000, 8),
    ("ulx3s", 25e6, 1_500_000, 17),           # FT231X: 3 MHz ÷ 2, 25 / 17 = 1.47 Mbaud
    ("ulx3s", 100e6, 3_000_000, 33),          # its fastest
    ("upduino3", 48e6, 115_200, 417),         # an external adapter: the safe default
])
def test_the_link_runs_at_the_fastest_rate_the_bridge_and_the_clock_make(
        name, clock_hz, baud, divisor):
    assert BOARDS[name].link(clock_hz) == (baud, divisor)


def test_a_baud_rate_the_clock_cannot_make_is_refused_in_one_line(tmp_path):
    assert BOARDS["icebreaker"].link(12e6, 1_000_000) == (1_000_000, 12)
    result = run_cli("build", "--board", "icebreaker", "--clock", "board", "--baud", "1400000",
                     "-o", str(tmp_path / "out"))
    assert_one_line_error(result, "--baud 1400000 cannot be made from the 12 MHz clock",
                          "try 1500000")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("name", sorted(BOARDS))
def test_every_board_elaborates_with_its_pll(tmp_path, name):
    from hdl.serial import SerialInference
    from qnnhw import flow
    from qnnhw.toolchain import elaborate

    board = BOARDS[name]
    model = random_model(3, 4, seed=1)
    spec = flow.fixed_point(model)
    settings = board.pll_settings(2.5 * board.clock_hz)
    assert settings is not None and settings.f_out > board.clock_hz
    top = BoardTop(SerialInference(flow.datapath(model, spec, 2),
                                   board.link(settings.f_out)[1]),
                   PLLClock(settings, board.pll, board.clock))
    elaborate(board, top, tmp_path)
    rtlil = (tmp_path / "qnnhw.il").read_text()
    primitive = {"pad": "SB_PLL40_PAD", "core": "SB_PLL40_CORE", "hfosc": "SB_PLL40_CORE",
                 "ecp5": "EHXPLLL"}[board.pll]
    assert f"cell \\{primitive}" in rtlil
    assert ("SB_HFOSC" in rtlil) == (board.pll == "hfosc")


def test_pll_clock_refuses_settings_of_the_other_family():
    with pytest.raises(ValueError, match="do not drive a 'pad' PLL"):
        PLLClock(ECP5PLL(25e6, 1, 4, 6), "pad", "clk12")
    with pytest.raises(ValueError, match="PLL source must be"):
        PLLClock(ICE40PLL(12e6, 0, 52, 4), "pll", "clk12")


def test_build_refuses_a_clock_no_pll_makes(tmp_path):
    random_model(3, 4, seed=1).save(tmp_path / "model.json")
    result = run_cli("build", "--board", "icebreaker", "--model", str(tmp_path / "model.json"),
                     "--clock", "10", "-o", str(tmp_path / "out"))
    assert_one_line_error(result, "no clock at or below 10 MHz", "faster --clock")
    assert not (tmp_path / "out").exists()
    result = run_cli("build", "--board", "icebreaker", "--model", str(tmp_path / "model.json"),
                     "--clock", "fast")
    assert result.returncode == 2 and "expected auto, board or a frequency" in result.stderr
