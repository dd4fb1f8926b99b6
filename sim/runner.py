"""Host side of the datapath simulation: Verilog out, Verilator build, cocotb run, results in.

Builds are cached by the hash of the Verilog, so re-running the same design skips the C++
compile (the slow part).
"""

from __future__ import annotations

import hashlib
import json
import time
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from amaranth.back import verilog as amaranth_verilog

from hdl.folding import output_words
from qnnhw import flow, protocol
from qnnhw.errors import QnnhwError
from qnnhw.families import Spec
from qnnhw.model import Network

from .toolchain import verilator_environment

__all__ = ["LINK_TESTS", "SimulationResult", "decode_words", "measure_link", "output_words",
           "random_vectors", "run_cocotb", "simulate_datapath", "simulate_serial"]

TOPLEVEL = "qnnhw_datapath"


@dataclass
class SimulationResult:
    """What one simulation measured (every field is from the simulated hardware)."""

    vectors: int
    mismatches: int
    latency_cycles: int
    cycles_per_vector: float
    parallel: int
    inputs: np.ndarray
    outputs: list[int]
    reference: list[int]
    seconds: float
    build_seconds: float
    expected_latency: int
    initiation_interval: int
    tests: dict[str, Any] = field(default_factory=dict)

    @property
    def vectors_per_second(self) -> float:
        """Simulation speed of the full-rate run (wall time inside the simulator)."""
        seconds = self.tests["full_rate"]["seconds"]
        return self.vectors / seconds if seconds > 0 else float("inf")

    def summary(self) -> dict[str, Any]:
        return {"vectors": self.vectors, "mismatches": self.mismatches,
                "latency_cycles": self.latency_cycles,
                "cycles_per_vector": self.cycles_per_vector, "parallel": self.parallel,
                "simulation_seconds": self.seconds, "build_seconds": self.build_seconds,
                "vectors_per_second": self.vectors_per_second}


def decode_words(spec: Spec, words: list[int]) -> list[Any]:
    """Output words as numbers: y, or for C outputs (class, scores)."""
    from amaranth.lib import data

    from hdl.folding import output_shape

    if spec.outputs == 1:
        return list(words)
    shape = output_shape(spec)
    assert isinstance(shape, data.StructLayout)
    decoded = []
    for word in words:
        view = data.Const(shape, word)
        decoded.append((int(view.label), tuple(int(score) for score in view.scores)))
    return decoded


def random_vectors(spec: Spec, count: int, seed: int = 0) -> np.ndarray:
    """Full-scale corners first (all minimum, all maximum, alternating), then uniform ones."""
    rng = np.random.default_rng(seed)
    corners = [np.full(spec.features, spec.input_min), np.full(spec.features, spec.input_max),
               np.where(np.arange(spec.features) % 2, spec.input_min, spec.input_max),
               np.where(np.arange(spec.features) % 2, spec.input_max, spec.input_min)]
    uniform = rng.integers(spec.input_min, spec.input_max + 1, size=(count, spec.features))
    vectors = np.vstack([np.array(corners[:count]).reshape(-1, spec.features), uniform])
    return vectors[:count].astype(np.int64)


def run_cocotb(verilog: str, toplevel: str, test_module: str, bench: dict[str, Any],
               work_dir: Path, progress: Callable[[str], None],
               testcase: Sequence[str] | None = None) -> tuple[dict[str, Any], float]:
    """Build ``verilog`` with Verilator (cached) and run the cocotb ``test_module`` on it
    (its tests named in ``testcase``, by default all).

    Returns the results the tests recorded and the seconds spent building.
    """
    verilator_environment()
    from cocotb_tools.runner import get_runner

    digest = hashlib.sha256(verilog.encode()).hexdigest()[:16]
    build_dir = work_dir / f"build-{digest}"
    build_dir.mkdir(parents=True, exist_ok=True)
    source = build_dir / f"{toplevel}.v"
    source.write_text(verilog)
    runner = get_runner("verilator")
    start = time.perf_counter()
    binary = build_dir / toplevel
    if not binary.exists():
        progress(f"building the Verilator model ({len(verilog) // 1024} KiB of Verilog)")
    log = build_dir / "build.log"
    try:
        runner.build(sources=[source], hdl_toplevel=toplevel, build_dir=build_dir,
                     build_args=["-Wno-fatal", "-O2"], log_file=log)
    except (SystemExit, Exception) as error:  # cocotb reports a failed build by SystemExit
        raise QnnhwError(f"Verilator build failed ({error}); see {log}") from None
    build_seconds = time.perf_counter() - start
    bench_file = build_dir / "bench.json"
    results_file = build_dir / "results.json"
    bench_file.write_text(json.dumps(bench))
    results_file.unlink(missing_ok=True)
    progress(f"simulating {len(bench['inputs'])} vectors")
    test_log = build_dir / "test.log"
    xml = build_dir / "results.xml"
    try:
        runner.test(test_module=test_module, hdl_toplevel=toplevel, build_dir=build_dir,
                    test_dir=build_dir, log_file=test_log, results_xml=str(xml),
                    testcase=testcase,
                    extra_env={"QNNHW_BENCH": str(bench_file),
                               "QNNHW_RESULTS": str(results_file)})
    except SystemExit:
        pass  # under pytest, failing tests end the runner this way; the XML says what failed
    failures = _failures(xml)
    results = json.loads(results_file.read_text()) if results_file.exists() else {}
    results["_failures"] = failures
    return results, build_seconds


def _failures(xml: Path) -> list[str]:
    if not xml.exists():
        raise QnnhwError(f"the simulation wrote no results ({xml}); see the test log beside it")
    failures = []
    for case in ElementTree.parse(xml).iter("testcase"):
        for failure in list(case.iter("failure")) + list(case.iter("error")):
            failures.append(f"{case.get('name')}: {failure.get('message') or failure.text}")
    return failures


def simulate_datapath(model: Network, spec: Spec, parallel: int,
                      inputs: np.ndarray, work_dir: Path, *, arch: str | None = None,
                      seed: int = 0,
                      idle_probability: float = 0.3, stall_probability: float = 0.3,
                      stall_vectors: int | None = None,
                      progress: Callable[[str], None] = lambda message: None
                      ) -> SimulationResult:
    """Simulate the datapath on ``inputs`` and compare every output with the reference.

    Two cocotb tests run: ``full_rate`` (all vectors back to back, the consumer always ready;
    measures latency and cycles per vector) and ``random_stalls`` (the first
    ``stall_vectors`` vectors with random gaps on the input and random backpressure).
    """
    start = time.perf_counter()
    reference = output_words(spec, flow.reference(model, spec).outputs(inputs))
    dut = flow.datapath(model, spec, parallel, arch=arch)
    progress(f"elaborating the {model.FAMILY} datapath: m={spec.m}, d={spec.d}, P={parallel}, "
             f"T={dut.initiation_interval} cycles per vector")
    text = amaranth_verilog.convert(dut, name=TOPLEVEL, emit_src=False)
    stall_count = len(inputs) if stall_vectors is None else min(stall_vectors, len(inputs))
    bench = {"inputs": inputs.tolist(), "expected": reference, "input_bits": spec.input_bits,
             "signed": spec.outputs == 1, "latency": dut.latency,
             "initiation_interval": dut.initiation_interval,
             "idle_probability": idle_probability, "stall_probability": stall_probability,
             "stall_vectors": stall_count, "seed": seed}
    results, build_seconds = run_cocotb(text, TOPLEVEL, "sim.bench_datapath", bench,
                                        work_dir, progress)
    full = results.get("full_rate")
    if full is None:
        raise QnnhwError("the simulation did not run: " + "; ".join(results["_failures"]))
    mismatches = len(full["mismatches"]) + len(results.get("random_stalls", {})
                                                .get("mismatches", []))
    if results["_failures"] and not mismatches:
        raise QnnhwError("the simulation failed: " + "; ".join(results["_failures"]))
    intervals = full["intervals"]
    return SimulationResult(
        vectors=len(inputs), mismatches=mismatches,
        latency_cycles=max(full["latencies"]) if full["latencies"] else 0,
        cycles_per_vector=float(np.mean(intervals)) if intervals else float(
            dut.initiation_interval),
        parallel=parallel, inputs=inputs, outputs=full["outputs"], reference=reference,
        seconds=time.perf_counter() - start - build_seconds, build_seconds=build_seconds,
        expected_latency=dut.latency, initiation_interval=dut.initiation_interval,
        tests=results)


def simulate_serial(model: Network, spec: Spec, parallel: int, inputs: np.ndarray,
                    work_dir: Path, *, clock_hz: float, divisor: int, scores: bool = True,
                    arch: str | None = None, window: int = 4,
                    per_frame: int = protocol.MAX_VECTORS, faults: int = 0, seed: int = 0,
                    selftest_count: int = 256, tests: Sequence[str] | None = None,
                    progress: Callable[[str], None] = lambda message: None) -> dict[str, Any]:
    """Run the board design (UART, framing, self-test, datapath) end to end in Verilator at
    ``clock_hz`` with ``divisor`` cycles per bit.

    The cocotb bench (:mod:`sim.bench_serial`) sends ``inputs`` with the pipelined client's
    own protocol code (``window`` frames of ``per_frame`` vectors in flight), checks every
    answer against the reference and records the measured inferences per second; it asks
    the board to describe itself and to run its self-test of ``selftest_count`` vectors
    (checked against the reference's signature); it corrupts, drops and pads bytes and
    expects the link to recover; and it sends ``faults`` frames with one injected fault each
    (bit flips, dropped and duplicated bytes, garbage between frames, drawn with ``seed``):
    no answer may be wrong, every vector must be answered. ``tests`` picks some of these
    (default: all). Returns the results the tests recorded.
    """
    from hdl.serial import SerialInference

    reference = flow.reference(model, spec)
    outputs = reference.outputs(inputs)
    expected: list[dict[str, Any]]
    if spec.outputs == 1:
        expected = [{"value": int(y), "scores": None} for y in outputs]
    else:
        expected = [{"value": int(np.argmax(row)),
                     "scores": [int(v) for v in row] if scores else None} for row in outputs]
    datapath = flow.datapath(model, spec, parallel, scores, arch)
    top = SerialInference(datapath, divisor, round(clock_hz),
                          protocol.design_id(spec.to_json()))
    text = amaranth_verilog.convert(top, name="qnnhw_serial", emit_src=False)
    bench = {"inputs": inputs.tolist(), "expected": expected, "features": spec.features,
             "input_bits": spec.input_bits, "output_bits": spec.output_width,
             "outputs": spec.outputs, "scores": scores, "divisor": divisor,
             "period_ps": 2 * round(0.5e12 / clock_hz), "window": window,
             "per_frame": per_frame,
             "faults": faults, "seed": seed, "hello": top.hello.encode().hex(),
             "initiation_interval": datapath.initiation_interval,
             "selftest_count": selftest_count,
             "selftest_signature": flow.selftest_signature(model, spec, scores,
                                                           selftest_count)}
    results, _ = run_cocotb(text, "qnnhw_serial", "sim.bench_serial", bench, work_dir,
                            progress, testcase=tests)
    return results


#: The bench's tests that measure a link: the pipelined client's rate, and the self-test.
LINK_TESTS = ("answers_every_request", "describes_itself_and_runs_the_self_test")


def measure_link(model: Network, spec: Spec, parallel: int, inputs: np.ndarray,
                 work_dir: Path, **options: Any
                 ) -> tuple[dict[str, Any], dict[str, Any], list[str]]:
    """:func:`simulate_serial`'s measuring tests alone (``options`` as there): the link's
    figures (``vectors``, ``mismatches``, ``inferences_per_second``, ``resent``), the
    self-test's (``vectors``, ``cycles``, ``signature``) and the tests' failures."""
    results = simulate_serial(model, spec, parallel, inputs, work_dir, tests=LINK_TESTS,
                              **options)
    link, selftest = results.get("answers_every_request"), results.get("selftest")
    if link is None or selftest is None:
        raise QnnhwError("the serial-link simulation did not run: " + "; ".join(
            results["_failures"] or ["no result"]))
    return link, selftest, results["_failures"]
