"""Issue #3's figures: the ionosphere datapath (d=34 with bias, m=2500) at P = 1, 8, 64.

    python bench/datapath.py [--parallel 1 8 64] [--vectors 200]

For each P: cycles per vector and latency (simulated, and the generator's numbers), Verilog
size, Verilator lint result, Verilator build time and simulation speed in vectors per second
(the full-rate test; 32 further vectors also run with random stalls).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from qnnhw import dataset, flow  # noqa: E402
from qnnhw.families.bilinear.config import BilinearConfig  # noqa: E402
from qnnhw.families.bilinear.train import SDPTrainer  # noqa: E402
from sim.runner import random_vectors, simulate_datapath  # noqa: E402
from sim.toolchain import verilator_environment  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parallel", type=int, nargs="+", default=[1, 8, 64])
    parser.add_argument("--vectors", type=int, default=200)
    args = parser.parse_args()

    data = dataset.load("ionosphere", seed=0)
    model = SDPTrainer(data, BilinearConfig(loss="hinge", beta=10.0)).sample(2500)
    spec = flow.fixed_point(model)
    inputs = random_vectors(spec, args.vectors)
    verilator_environment()
    print(f"ionosphere model: m={model.m}, d={model.d}, input {spec.input_bits} bits, widths "
          f"a/b {spec.neuron_width}, product {spec.product_width}, sum {spec.sum_width}, "
          f"output {spec.output_width}\n")
    print("| P | cycles/vector (sim / generator) | latency (sim / generator) | Verilog KiB | "
          "lint | build s | vectors/s simulated | mismatches |")
    print("|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        for parallel in args.parallel:
            component = flow.datapath(model, spec, parallel)
            text = flow.verilog_text(component, "qnnhw_datapath")
            source = work / f"p{parallel}.v"
            source.write_text(text)
            lint = subprocess.run(["verilator", "--lint-only", "-Wno-WIDTH", str(source)],
                                  capture_output=True, text=True)
            clean = lint.returncode == 0 and "%Warning" not in lint.stderr
            result = simulate_datapath(model, spec, parallel, inputs, work / "sim",
                                       stall_vectors=32)
            print(f"| {parallel} | {result.cycles_per_vector:g} / "
                  f"{result.initiation_interval} | {result.latency_cycles} / "
                  f"{result.expected_latency} | {len(text) / 1024:.0f} | "
                  f"{'clean' if clean else 'WARNINGS'} | {result.build_seconds:.1f} | "
                  f"{result.vectors_per_second:.1f} | {result.mismatches} |", flush=True)


if __name__ == "__main__":
    main()
