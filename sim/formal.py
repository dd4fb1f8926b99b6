"""Formal checks of the control logic with yosys's SAT solver: temporal induction proofs
and bounded model checks.

Each check wraps a design in a harness of assertions (Amaranth's ``Assert``), whose inputs
are free: the solver considers every input sequence, reset included. ``sat -tempinduct``
(in the YoWASP yosys, no other solver needed) proves the assertions for every reachable
state (base case from the initial state, induction step of growing length), or returns a
counterexample; its base case alone checks every input sequence of a bounded length.

* :func:`credit_harness` — a datapath's stream handshake and folding counter under any
  input and ready pattern: every accepted vector is issued as groups 0 … T − 1 on
  consecutive cycles (the group, the weight ROMs' address, never out of range);
  the credits never exceed the FIFO depth, no vector is accepted without one, the output
  FIFO is never written while full (no output lost), and an output is offered only while a
  vector is in flight, with no more words queued than vectors in flight (none made up or
  duplicated). The invariant that makes the induction close: the credits are exactly the
  vectors in the pipeline (``FoldedDatapath.occupancy``) plus the words in the FIFO, whose
  own invariants (pointers against level) Amaranth's FIFO asserts when elaborated for the
  ``"formal"`` platform, as every harness here is.
* :func:`framing_harness` — the frame receiver under any byte sequence, gaps and line
  errors: a vector is only ever offered right after a complete, well-formed frame whose
  bytes came without a gap longer than the timeout and without a line error, and it is
  that frame's payload. The frame's CRC is recomputed here from a table built in Python,
  independently of ``amaranth.lib.crc``.
"""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from amaranth.back import rtlil
from amaranth.hdl import (
    Array,
    Assert,
    Assume,
    Cat,
    Const,
    Elaboratable,
    Module,
    Signal,
    Value,
    unsigned,
)

from hdl.folding import FoldedDatapath
from hdl.framing import FrameReceiver
from qnnhw.errors import QnnhwError
from qnnhw.protocol import LENGTH_BYTES, REQUEST_SYNC
from qnnhw.toolchain import tool_environment

__all__ = ["ProofResult", "credit_harness", "framing_harness", "prove"]


@dataclass
class ProofResult:
    proven: bool
    steps: int | None     # the induction length that proved it
    seconds: float
    log: str


def prove(harness: _Harness, work_dir: Path, name: str, max_steps: int = 40,
          bounded: bool = False) -> ProofResult:
    """Prove every ``Assert`` of ``harness`` for all inputs (``Assume`` restricting them),
    by temporal induction of up to ``max_steps`` steps; or, ``bounded``, check them on every
    input sequence of ``max_steps`` cycles from the initial state (the induction's base
    case alone: a bounded model check, not a proof for all time)."""
    from boards.registry import ICE40

    work_dir.mkdir(parents=True, exist_ok=True)
    (work_dir / f"{name}.il").write_text(rtlil.convert(harness, ports=harness.inputs,
                                                               platform="formal"))
    # Memories (ROMs, the FIFO) become logic: the SAT solver models no memory cells.
    script = (f"read_rtlil {name}.il; prep -top top; flatten; memory_map; opt_clean; "
              f"async2sync; chformal -lower; dffunmap; "
              f"sat -tempinduct -prove-asserts -set-assumes -maxsteps {max_steps}"
              + (" -tempinduct-baseonly" if bounded else ""))
    env = tool_environment(ICE40)
    start = time.perf_counter()
    result = subprocess.run([env["YOSYS"], "-p", script], cwd=work_dir, env=env,
                            capture_output=True, text=True)
    seconds = time.perf_counter() - start
    log = result.stdout + result.stderr
    (work_dir / f"{name}.log").write_text(log)
    if result.returncode != 0:
        raise QnnhwError(f"yosys could not run the proof {name!r}; see {work_dir}/{name}.log")
    if bounded:
        proven = "FAIL" not in log and f"Base case for induction length {max_steps} proven" in log
    else:
        proven = "Induction step proven: SUCCESS!" in log
    lengths = re.findall(r"Trying induction with length (\d+)", log)
    return ProofResult(proven, int(lengths[-1]) if proven and lengths else None, seconds, log)


class _Harness(Elaboratable):
    """A module made by ``build``, with ``inputs``: the top-level ports the solver drives
    (an undriven signal would be the constant of its initial value)."""

    def __init__(self, build: Callable[[Module], object], inputs: list[Signal]):
        self._build = build
        self.inputs = inputs

    def elaborate(self, platform: Any) -> Module:
        m = Module()
        self._build(m)
        return m


def credit_harness(datapath: FoldedDatapath) -> _Harness:
    """``datapath`` with free stream inputs and the handshake's safety properties."""
    # Valid, payload and ready are whatever the solver chooses, each cycle.
    ports = (datapath.i.valid, datapath.i.payload, datapath.o.ready)
    free = [Signal(len(Value.cast(port)), name=f"free_{index}")
            for index, port in enumerate(ports)]

    def build(m: Module) -> None:
        m.submodules.dut = dut = datapath
        fifo = dut.output_fifo
        m.d.comb += [port.eq(value) for port, value in zip(ports, free)]
        accepted = dut.i.valid & dut.i.ready
        m.d.comb += [
            Assert(dut.in_flight <= dut.fifo_depth, "credits above the FIFO depth"),
            Assert(~(accepted & (dut.in_flight == dut.fifo_depth)), "accepted without credit"),
            Assert(~(fifo.w_en & ~fifo.w_rdy), "output FIFO written while full"),
            Assert(~dut.o.valid | (dut.in_flight != 0), "output with nothing in flight"),
            Assert(fifo.r_level <= dut.in_flight, "more words than vectors in flight"),
            Assert(dut.in_flight == dut.occupancy + fifo.r_level,
                   "credits other than the vectors in the pipeline and the FIFO"),
        ]
        # The folding counter: an accepted vector is issued as groups 0, 1, …, T − 1 on
        # consecutive cycles, never stalled or cut short, and the group never leaves 0…T − 1
        # (the weight ROMs' addresses).
        last_group = dut.groups - 1
        was_accepted, was_busy = Signal(), Signal()
        previous_group = Signal.like(dut.group)
        m.d.sync += [was_accepted.eq(accepted), was_busy.eq(dut.busy),
                     previous_group.eq(dut.group)]
        m.d.comb += Assert(dut.group <= last_group, "group counter out of range")
        with m.If(was_accepted):
            m.d.comb += Assert(dut.busy & (dut.group == 0), "a vector not issued from group 0")
        with m.Elif(was_busy & (previous_group != last_group)):
            m.d.comb += Assert(dut.busy & (dut.group == previous_group + 1),
                               "a vector's groups not issued in order on consecutive cycles")
        m.d.comb += Assert(~accepted | ~dut.busy | (dut.group == last_group),
                           "a vector accepted before the last one's last group")

    return _Harness(build, free)


def _crc_byte(byte: int) -> int:
    """CRC-8 (polynomial 0x07) of one byte from a zero register: the table entry."""
    value = byte
    for _ in range(8):
        value = ((value << 1) ^ 0x07) & 0xFF if value & 0x80 else (value << 1) & 0xFF
    return value


def framing_harness(features: int, input_bits: int, timeout: int) -> _Harness:
    """A :class:`FrameReceiver` fed any bytes, gaps and line errors (never a byte and an
    error together: the UART receiver reports one or the other), and where a vector it offers
    must come from."""
    receiver = FrameReceiver(features, input_bits, timeout)
    frame_bytes = 1 + LENGTH_BYTES + receiver.length + 1
    length = receiver.length.to_bytes(LENGTH_BYTES, "little")
    byte, valid = Signal(8, name="free_byte"), Signal(name="free_valid")
    error, ready = Signal(name="free_error"), Signal(name="free_ready")

    def build(m: Module) -> None:
        m.submodules.dut = dut = receiver
        m.d.comb += [dut.i.payload.eq(byte), dut.i.valid.eq(valid), dut.line_error.eq(error),
                     dut.o.ready.eq(ready), Assume(~(valid & error))]
        # The last bytes (history[0] the newest), each with whether it came within the
        # timeout of the one before and with no line error since.
        history = [Signal(8, name=f"byte{k}") for k in range(frame_bytes)]
        clean = [Signal(name=f"clean{k}") for k in range(frame_bytes)]
        idle = Signal(range(timeout + 2))
        with m.If(valid):
            m.d.sync += [idle.eq(0), history[0].eq(byte), clean[0].eq(idle <= timeout)]
            m.d.sync += [history[k].eq(history[k - 1]) for k in range(1, frame_bytes)]
            m.d.sync += [clean[k].eq(clean[k - 1]) for k in range(1, frame_bytes)]
        with m.Elif(idle != timeout + 1):
            m.d.sync += idle.eq(idle + 1)
        with m.If(error):
            m.d.sync += [flag.eq(0) for flag in clean]

        # The frame the history would be: sync, length, payload, CRC (table-driven here).
        table = Array(Const(_crc_byte(entry), unsigned(8)) for entry in range(256))
        crc: Value = Const(0, 8)
        for k in range(frame_bytes - 2, 0, -1):   # the length and payload bytes, in order
            crc = table[(crc ^ history[k])[:8]]
        well_formed = history[frame_bytes - 1] == REQUEST_SYNC
        for index, value in enumerate(length):
            well_formed &= history[frame_bytes - 2 - index] == value
        well_formed &= history[0] == crc
        for k in range(frame_bytes - 1):   # every byte after the sync: in time, clean
            well_formed &= clean[k]
        payload = Cat(*(history[frame_bytes - 2 - LENGTH_BYTES - j]
                        for j in range(receiver.length)))
        matches: Value = Const(1)
        for index in range(features):
            start = 8 * receiver.width * index
            matches &= dut.o.payload[index] == payload[start:start + input_bits].as_signed()

        # A vector is offered anew when o.valid rises (it stays until taken).
        was_offered = Signal()
        m.d.sync += was_offered.eq(dut.o.valid & ~dut.o.ready)
        offered = dut.o.valid & ~was_offered
        m.d.comb += Assert(~offered | (well_formed & matches),
                           "a vector without a well-formed frame just before it")

    return _Harness(build, [byte, valid, error, ready])
