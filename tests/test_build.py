"""Boards, fitting the design to a device, and the build flow."""

import json

import pytest

from boards import BOARDS, get_board
from qnnhw import build as build_flow
from qnnhw import estimate as fitting
from qnnhw.errors import QnnhwError
from qnnhw.families import get_family
from qnnhw.families.bilinear.fixedpoint import BilinearSpec
from qnnhw.toolchain import DoesNotFit, Implementation

from .helpers import assert_one_line_error, random_model, run_cli


def test_unknown_board_lists_the_valid_ones():
    with pytest.raises(QnnhwError, match="unknown board 'de0'; choose one of icebreaker, "
                                         "upduino3, ice40-hx8k, icestick, ulx3s, orangecrab"):
        get_board("de0")
    assert get_board("ice40") is BOARDS["icebreaker"]


def test_cli_boards_and_unknown_board():
    result = run_cli("boards")
    assert result.returncode == 0
    for name in BOARDS:
        assert name in result.stdout
    assert "iCE40UP5K" in result.stdout and "LFE5U-85F" in result.stdout
    assert_one_line_error(run_cli("build", "--board", "nope"), "unknown board 'nope'")


def test_every_board_elaborates_its_platform_with_a_uart():
    for board in BOARDS.values():
        platform = board.platform()
        assert platform.device == board.device.name
        assert platform.request("uart", 0, dir="-") is not None


def test_rom_blocks_use_the_best_mode():
    device = BOARDS["icebreaker"].device
    assert device.rom_blocks(16, 256) == 1
    assert device.rom_blocks(68, 768) == 15   # 16-bit × 256 mode: 5 wide, 3 deep
    assert device.rom_blocks(2, 2048) == 1 and device.rom_blocks(32, 300) == 4


def choose_parallel(device, spec):
    family = get_family(spec.FAMILY)
    return fitting.choose_parallel(device, spec.m,
                                   lambda units: family.estimate(device, spec, units, True,
                                                                  "neurons"))


def test_choose_parallel_maximises_throughput_within_the_device():
    model = random_model(33, 1500, seed=1)
    spec = BilinearSpec.for_model(model)
    for name in ("icebreaker", "ice40-hx8k", "ulx3s"):
        device = BOARDS[name].device
        chosen = choose_parallel(device, spec)
        assert chosen is not None and chosen.fits(device)
        better = get_family("bilinear").estimate(device, spec, chosen.parallel + 1, True,
                                                  "neurons")
        groups = -(-spec.m // chosen.parallel)
        assert not better.fits(device) or -(-spec.m // better.parallel) == groups
    assert choose_parallel(BOARDS["icestick"].device, spec) is None


def test_largest_m_fills_but_does_not_overflow_the_ram():
    model = random_model(33, 2500, seed=1)
    spec = BilinearSpec.for_model(model)
    device = BOARDS["icebreaker"].device
    from dataclasses import replace

    def rom_blocks(device, spec, parallel):
        return get_family("bilinear").estimate(device, spec, parallel, True, "neurons").ram_blocks

    m = fitting.largest_m(device, lambda m: rom_blocks(device, replace(spec, m=m), 1), 2500)
    assert rom_blocks(device, replace(spec, m=m), 1) <= device.ram_blocks
    assert rom_blocks(device, replace(spec, m=m + 1), 1) > device.ram_blocks


def test_a_model_too_big_for_the_ram_is_refused_with_the_way_out(tmp_path):
    random_model(33, 2500, seed=1).save(tmp_path / "model.json")
    result = run_cli("build", "--board", "icebreaker", "--model", str(tmp_path / "model.json"),
                     "--arch", "neurons", "-o", str(tmp_path / "out"))
    assert_one_line_error(result, "RAM blocks", "retrain with --m", "ulx3s")
    assert not (tmp_path / "out" / "qnnhw.bin").exists()


def test_a_design_too_big_for_the_logic_is_refused(tmp_path):
    random_model(33, 100, seed=1).save(tmp_path / "model.json")
    result = run_cli("build", "--board", "icestick", "--model", str(tmp_path / "model.json"),
                     "-o", str(tmp_path / "out"))
    assert_one_line_error(result, "does not fit icestick", "logic cells")


def test_a_network_with_too_many_classes_is_refused(tmp_path):
    from .helpers import random_threshold_model

    model = tmp_path / "model.json"
    # 200 output weights per neuron overflow the block RAM …
    random_threshold_model(8, 40, classes=200).save(model)
    result = run_cli("build", "--board", "icebreaker", "--model", str(model), "-o",
                     str(tmp_path / "out"))
    assert_one_line_error(result, "40 neurons, 200 classes", "need 151 RAM blocks",
                          "fewer classes")
    # … and 20 classes' sums, scores and comparators the logic of a small device.
    random_threshold_model(8, 8, classes=20).save(model)
    result = run_cli("build", "--board", "icestick", "--model", str(model), "-o",
                     str(tmp_path / "out"))
    assert_one_line_error(result, "does not fit icestick", "classes (C=20)", "(--no-scores)")
    assert not (tmp_path / "out").exists()


def test_parse_nextpnr_log():
    text = """Info: Device utilisation:
Info: 	         ICESTORM_LC:    4984/   5280    94%
Info: 	        ICESTORM_RAM:      26/     30    86%
Info: 	        ICESTORM_DSP:       2/      8    25%
Info: Max frequency for clock 'cd_sync.clk': 30.00 MHz (PASS at 12.00 MHz)
Info: Max frequency for clock 'cd_sync.clk': 37.70 MHz (PASS at 12.00 MHz)
"""
    from boards.registry import ICE40
    from qnnhw.toolchain import parse_nextpnr_log

    implementation = parse_nextpnr_log(text, ICE40)
    assert (implementation.lcs, implementation.ram_blocks, implementation.dsps) == (4984, 26, 2)
    assert implementation.fmax_mhz == 37.70


def fake_toolchain(monkeypatch, fmax, fail_above=None, calls=None, pll_hangs=False):
    """Elaboration as the real flow does it, then a toolchain that reports ``fmax`` (one
    after the other, if a list) or cannot place more than ``fail_above`` units. ``calls``
    collects each elaboration's (P, clock in MHz or None for the oscillator); with
    ``pll_hangs`` every PLL routing runs out of time. The serial link's simulation answers
    from the clock and divisor it is given (the real one is test_hardware_flow's)."""
    elaborated = []

    def measure_link(model, spec, parallel, inputs, work_dir, *, clock_hz, divisor,
                     selftest_count, **options):
        link_rate = clock_hz / divisor / 10 / 8      # as if 8 bytes per vector
        return ({"inferences_per_second": link_rate, "mismatches": 0, "vectors": len(inputs)},
                {"vectors": selftest_count, "cycles": 3 * selftest_count}, [])

    monkeypatch.setattr(build_flow, "measure_link", measure_link)
    frequencies = list(fmax) if isinstance(fmax, list) else None
    clocks = []

    def elaborate(board, top, folder, name="qnnhw", plain_flip_flops=False):
        from amaranth.hdl import Fragment

        Fragment.get(top, board.platform())   # elaborated, as the real flow would
        elaborated.append(top.engine.datapath.parallel)
        clocks.append(top.clock)
        if calls is not None:
            clock = None if top.clock is None else top.clock.settings.f_out / 1e6
            calls.append((elaborated[-1], clock))
        (folder / "qnnhw.debug.v").write_text("module qnnhw; endmodule\n")
        return [["yosys"], ["nextpnr-ice40"], ["icepack"]]

    def implement(board, commands, folder, step, progress, name="qnnhw", time_limit=None):
        for label in ("synthesis", "place and route", "bitstream"):
            with step(label):
                pass
        if pll_hangs and clocks[-1] is not None:
            assert time_limit is not None and time_limit >= 60
            raise QnnhwError(f"place and route ran longer than {time_limit:.0f} s")
        if fail_above is not None and elaborated[-1] > fail_above:
            raise DoesNotFit("ICESTORM_LC used 6000 of 5280")
        (folder / "qnnhw.bin").write_bytes(b"bitstream")
        (folder / "qnnhw.tim").write_text("log\n")
        return Implementation(lcs=100, dsps=1, ram_blocks=2, log="",
                              fmax_mhz=frequencies.pop(0) if frequencies else fmax)

    monkeypatch.setattr(build_flow, "elaborate", elaborate)
    monkeypatch.setattr(build_flow, "implement", implement)


def test_failing_timing_stops_and_leaves_no_bitstream(tmp_path, monkeypatch):
    fake_toolchain(monkeypatch, fmax=9.5)
    model = random_model(4, 8)
    with pytest.raises(QnnhwError, match=r"fails timing: Fmax 9.5 MHz < the 12 MHz board "
                                         r"clock; try .*; logs in .*failed"):
        build_flow.run_build(BOARDS["icebreaker"], tmp_path / "out", model=model,
                             progress=lambda message: None)
    assert not (tmp_path / "out" / "qnnhw.bin").exists()
    assert not (tmp_path / "out" / "report.json").exists()
    assert not list((tmp_path / "out" / "failed").glob("qnnhw.bin"))
    assert (tmp_path / "out" / "failed" / "qnnhw.tim").exists()


def test_a_place_failure_retries_with_fewer_units(tmp_path, monkeypatch):
    calls = []
    fake_toolchain(monkeypatch, fmax=50.0, fail_above=4, calls=calls)
    model = random_model(4, 8)
    report = build_flow.run_build(BOARDS["icebreaker"], tmp_path / "out", model=model,
                                  parallel=8, clock="board", progress=lambda message: None)
    assert calls == [(8, None), (5, None), (3, None)]
    assert report["parallel"] == 3 and report["cycles_per_vector"] == 3
    saved = json.loads((tmp_path / "out" / "report.json").read_text())
    assert saved["parallel"] == 3
    assert (tmp_path / "out" / "qnnhw.bin").read_bytes() == b"bitstream"
    assert not (tmp_path / "out" / ".staging").exists()


def test_auto_clock_keeps_the_fastest_pll_clock_that_meets_timing(tmp_path, monkeypatch):
    calls = []
    # Oscillator: Fmax 50 → PLL at 43.5 (misses: 40) → at 36 (meets: 44), where no faster
    # clock up to 0.9 × 44 makes the link faster: the link-limited rate chooses the clock.
    # (45 MHz makes 3 Mbaud at best, 43.5 MHz 4 Mbaud; 39 MHz makes 3 Mbaud, 36 MHz 4.)
    fake_toolchain(monkeypatch, fmax=[50.0, 40.0, 44.0], calls=calls)
    report = build_flow.run_build(BOARDS["icebreaker"], tmp_path / "out",
                                  model=random_model(4, 8), parallel=2,
                                  progress=lambda message: None)
    assert calls == [(2, None), (2, 43.5), (2, 36.0)]
    assert report["clock_source"] == "PLL" and report["clock_mhz"] == 36.0
    assert report["fmax_mhz"] == 44.0 and report["pll"] == {"divr": 0, "divf": 47, "divq": 4}
    assert report["inferences_per_second"] == 36e6 / 4
    # The link at 36 MHz: FT2232H's 4 Mbaud is 9 cycles per bit exactly; the figures are
    # the link simulation's.
    assert (report["uart_baud"], report["uart_divisor"], report["uart_baud_error"]) == (
        4_000_000, 9, 0.0)
    assert report["uart_inferences_per_second"] == 50_000.0
    assert report["selftest_cycles_per_vector"] == 3.0
    assert not list((tmp_path / "out").glob("pll*"))
    assert not (tmp_path / "out" / ".staging").exists()


def test_auto_clock_keeps_the_oscillator_when_no_pll_clock_meets_timing(tmp_path,
                                                                       monkeypatch):
    calls = []
    fake_toolchain(monkeypatch, fmax=[30.0, 20.0, 15.0], calls=calls)
    report = build_flow.run_build(BOARDS["icebreaker"], tmp_path / "out",
                                  model=random_model(4, 8), parallel=2,
                                  progress=lambda message: None)
    # 27 MHz misses (Fmax 20), 18 MHz misses (Fmax 15), and 0.9 × 15 MHz is below SB_PLL40's
    # 16 MHz.
    assert calls == [(2, None), (2, 27.0), (2, 18.0)]
    assert report["clock_source"] == "oscillator" and report["clock_mhz"] == 12
    assert report["fmax_mhz"] == 30.0


def test_a_pll_routing_that_runs_out_of_time_keeps_the_oscillator(tmp_path, monkeypatch):
    messages = []
    fake_toolchain(monkeypatch, fmax=50.0, pll_hangs=True)
    report = build_flow.run_build(BOARDS["icebreaker"], tmp_path / "out",
                                  model=random_model(4, 8), parallel=2,
                                  progress=messages.append)
    assert report["clock_source"] == "oscillator" and report["clock_mhz"] == 12
    assert any("ran longer than 60 s" in message for message in messages)
    assert (tmp_path / "out" / "qnnhw.bin").exists()
    assert not list((tmp_path / "out").glob("pll*"))


def test_a_threshold_model_too_big_for_the_ram_is_refused(tmp_path):
    from .helpers import random_threshold_model

    random_threshold_model(60, 3000, seed=1).save(tmp_path / "model.json")
    result = run_cli("build", "--board", "icestick", "--model", str(tmp_path / "model.json"),
                     "-o", str(tmp_path / "out"))
    assert_one_line_error(result, "3000 neurons", "need 57 RAM blocks, icestick has 16",
                          "larger --beta")
    assert not (tmp_path / "out").exists()


def test_threshold_estimate_prefers_constant_weights_when_they_fit():
    from qnnhw.families.threshold.fixedpoint import ThresholdSpec

    from .helpers import random_threshold_model

    spec = ThresholdSpec.for_model(random_threshold_model(33, 7, seed=2))
    chosen = choose_parallel(BOARDS["icebreaker"].device, spec)
    assert chosen is not None and chosen.parallel == 7 and chosen.dsps == 0
    assert chosen.ram_blocks == 2   # the output FIFO and the answers' FIFO: no weight ROM


def test_an_integer_threshold_network_too_big_names_hidden_bits(tmp_path):
    from .helpers import random_threshold_model

    random_threshold_model(33, 16, hidden_bits=8).save(tmp_path / "model.json")
    result = run_cli("build", "--board", "icebreaker", "--model", str(tmp_path / "model.json"),
                     "-o", str(tmp_path / "out"))
    assert_one_line_error(result, "does not fit icebreaker", "use fewer --hidden-bits")


def test_a_build_says_it_removes_the_unfinished_work_of_an_earlier_one(tmp_path):
    model = random_model(2, 4)
    model.save(tmp_path / "model.json")
    staging = tmp_path / "out" / ".staging"
    staging.mkdir(parents=True)
    (staging / "model.json").write_text("half")
    result = run_cli("build", "--model", str(tmp_path / "model.json"), "--input-bits", "1",
                     "-o", str(tmp_path / "out"))
    assert result.returncode == 2
    assert f"removing {staging}, the unfinished work of an earlier build" in result.stderr
    assert not staging.exists()
