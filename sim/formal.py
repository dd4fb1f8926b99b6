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
    Assert,
    Assume,
    Cat,
    Const,
    Elaboratable,
    Module,
    Signal,
    Value,
)

from hdl.folding import FoldedDatapath
from hdl.framing import FrameReceiver
from qnnhw.errors import QnnhwError
from qnnhw.protocol import (
    CRC_BYTES,
    HEADER_BYTES,
    LENGTH_BYTES,
    PROTOCOL_VERSION,
    REQUEST_SYNC,
    Status,
    crc16,
)
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


def _linear_crc(parts: list[Value]) -> Value:
    """CRC-16/XMODEM of the bytes ``parts`` as XORs of their bits: with no initial value and
    no final XOR the check is linear over GF(2), so each of its bits is the XOR of the
    message bits whose lone-bit messages set it (cheaper for the solver than a table)."""
    length = len(parts)
    bits: list[Value] = [Const(0, 1)] * 16
    for index in range(length):
        for bit in range(8):
            message = bytearray(length)
            message[index] = 1 << bit
            column = crc16(bytes(message))
            for k in range(16):
                if column >> k & 1:
                    bits[k] = bits[k] ^ parts[index][bit]
    return Cat(*bits)


def framing_harness(features: int, input_bits: int, timeout: int) -> _Harness:
    """A :class:`FrameReceiver` (one vector per frame) fed any bytes, gaps and line errors
    (never a byte and an error together: the UART receiver reports one or the other), and
    what an OK record — an answer the transmitter will send — must come from: the bytes just
    received form a well-formed INFER frame, in time and clean, and the vector the receiver
    forwarded is that frame's."""
    # A short record queue: what it holds does not matter here, and each entry is state the
    # solver must carry.
    receiver = FrameReceiver(features, input_bits, timeout, max_vectors=1, record_depth=1)
    size = receiver.vector_bytes
    frame_bytes = HEADER_BYTES + size + CRC_BYTES
    length = size.to_bytes(LENGTH_BYTES, "little")
    byte, valid = Signal(8, name="free_byte"), Signal(name="free_valid")
    error, ready = Signal(name="free_error"), Signal(name="free_ready")

    def build(m: Module) -> None:
        m.submodules.dut = dut = receiver
        m.d.comb += [dut.i.payload.eq(byte), dut.i.valid.eq(valid), dut.line_error.eq(error),
                     dut.vectors.ready.eq(ready), dut.records.ready.eq(1),
                     Assume(~(valid & error))]
        # The bytes before this cycle's (history[0] the newest), each with whether it came
        # within the timeout of the one before and with no line error since.
        history = [Signal(8, name=f"byte{k}") for k in range(frame_bytes - 1)]
        clean = [Signal(name=f"clean{k}") for k in range(frame_bytes - 1)]
        idle = Signal(range(timeout + 2))
        with m.If(valid):
            m.d.sync += [idle.eq(0), history[0].eq(byte), clean[0].eq(idle <= timeout)]
            m.d.sync += [history[k].eq(history[k - 1]) for k in range(1, frame_bytes - 1)]
            m.d.sync += [clean[k].eq(clean[k - 1]) for k in range(1, frame_bytes - 1)]
        with m.Elif(idle != timeout + 1):
            m.d.sync += idle.eq(idle + 1)
        with m.If(error):
            m.d.sync += [flag.eq(0) for flag in clean]

        # The frame these bytes and this cycle's would be (oldest first): sync, kind, seq,
        # length, payload, the check (as XORs here).
        frame = [*reversed(history), byte]
        crc = _linear_crc(frame[1:HEADER_BYTES + size])
        well_formed = ((frame[0] == REQUEST_SYNC) & (frame[1] == (PROTOCOL_VERSION << 4))
                       & (Cat(frame[-2], frame[-1]) == crc) & valid & (idle <= timeout))
        for index, value in enumerate(length):
            well_formed &= frame[3 + index] == value
        for k in range(frame_bytes - 2):   # every byte after the sync: in time, clean
            well_formed &= clean[k]
        payload = Cat(*frame[HEADER_BYTES:HEADER_BYTES + size])
        matches: Value = Const(1)
        for index in range(features):
            start = index * input_bits
            matches &= dut.vectors.payload[index] == payload[start:start + input_bits].as_signed()
        answered = dut.push & (dut.pushed.status == Status.OK)
        m.d.comb += Assert(~answered | (well_formed & matches & (dut.pushed.count == 1)),
                           "an answer without a well-formed frame just before it")

    return _Harness(build, [byte, valid, error, ready])
