"""Issue #14: a million vectors through the datapaths, every output against the reference.

    python bench/verify.py [--vectors 45000] [--idle 20] [--stall 20] [--only NAME ...]

Each configuration is a random network (``sim.networks``) of a shape chosen to reach a
corner of the generators: every family, both bilinear architectures, the unrolled LUT
networks (fan-in 1 to 6, C outputs), P from 1 to m (or d̂),
2- to 16-bit inputs, bias on and off, multi-level weights (replicated features, integer
hidden weights), deep threshold networks, C outputs with and without scores. Its inputs are
the full-scale corners (``corner_vectors``) and then uniform random vectors; Verilator runs
the datapath in a C++ harness (``sim/harness.cpp``) with random input gaps and output
stalls, and every output word is compared with the integer reference's. Prints a Markdown
table and exits non-zero on any mismatch.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from qnnhw import flow  # noqa: E402
from sim.networks import (  # noqa: E402
    random_lut_model,
    random_model,
    random_threshold_model,
)
from sim.runner import random_vectors  # noqa: E402
from sim.verify import corner_vectors, verify_datapath  # noqa: E402

#: name → (network, input bits, P, architecture, scores)
CONFIGURATIONS = {
    "bilinear d=1 m=1 P=1 no bias": (lambda: random_model(1, 1, bias=False), 8, 1, "neurons", True),
    "bilinear m=9 P=4 (P ∤ m)": (lambda: random_model(6, 9, seed=1), 7, 4, "neurons", True),
    "bilinear P=m (constants)": (lambda: random_model(4, 6, seed=2), 8, 6, "neurons", True),
    "bilinear 3-level weights (R=2) P=1": (lambda: random_model(5, 11, replicas=2, seed=3), 5,
                                           1, "neurons", True),
    "bilinear ionosphere shape m=200 P=8": (lambda: random_model(33, 200, seed=4), 8, 8,
                                            "neurons", True),
    "bilinear 16-bit inputs P=m": (lambda: random_model(10, 12, seed=5), 16, 12, "neurons",
                                   True),
    "bilinear 2-bit inputs": (lambda: random_model(3, 7, seed=6), 2, 3, "neurons", True),
    "bilinear C=3 P=2": (lambda: random_model(4, 9, classes=3, seed=7), 6, 2, "neurons", True),
    "bilinear C=4 class only": (lambda: random_model(4, 12, classes=4, seed=8), 5, 3,
                                "neurons", False),
    "quadratic ionosphere shape m=2500 P=8": (lambda: random_model(33, 2500, seed=9), 8, 8,
                                              "quadratic", True),
    "quadratic P=1, padded rounds": (lambda: random_model(5, 9, seed=10), 5, 1, "quadratic",
                                     True),
    "quadratic P=d̂, 12-bit inputs": (lambda: random_model(6, 20, seed=11), 12, 7,
                                     "quadratic", True),
    "quadratic C=3": (lambda: random_model(4, 12, classes=3, seed=12), 6, 3, "quadratic",
                      True),
    "quadratic R=3, no bias": (lambda: random_model(4, 15, bias=False, replicas=3, seed=13), 8,
                               2, "quadratic", True),
    "threshold d=2 K=1": (lambda: random_threshold_model(1, 1, seed=14), 8, 1, "neurons", True),
    "threshold K=11 P=4": (lambda: random_threshold_model(6, 11, seed=15), 6, 4, "neurons",
                           True),
    "threshold P=K (constants)": (lambda: random_threshold_model(5, 7, seed=16), 8, 7,
                                  "neurons", True),
    "threshold 3-bit hidden weights": (lambda: random_threshold_model(4, 9, hidden_bits=3,
                                                                      seed=17), 7, 2,
                                       "neurons", True),
    "threshold 5-bit weights, 16-bit inputs": (lambda: random_threshold_model(
        3, 5, hidden_bits=5, seed=18), 16, 5, "neurons", True),
    "threshold deep (7, 4)": (lambda: random_threshold_model(5, 9, layer_widths=(7, 4),
                                                             seed=19), 8, 3, "neurons", True),
    "threshold C=10 scores": (lambda: random_threshold_model(5, 12, classes=10, seed=20), 6,
                              4, "neurons", True),
    "threshold C=5 class only P=1": (lambda: random_threshold_model(4, 8, classes=5, seed=21),
                                     4, 1, "neurons", False),
    "threshold no bias, 3-bit inputs": (lambda: random_threshold_model(8, 30, bias=False,
                                                                       seed=22), 3, 10,
                                        "neurons", True),
    "lut K=1 fan-in 1": (lambda: random_lut_model(2, 1, fan_in=1, seed=23), 8, 1, "unrolled",
                         True),
    "lut K=40 fan-in 4": (lambda: random_lut_model(12, 40, seed=24), 6, 1, "unrolled", True),
    "lut fan-in 6, 9-bit inputs": (lambda: random_lut_model(6, 25, fan_in=6, seed=25), 9, 1,
                                   "unrolled", True),
    "lut C=10 scores, 7 thresholds": (lambda: random_lut_model(16, 120, levels=7, classes=10,
                                                               seed=26), 6, 1, "unrolled",
                                      True),
    "lut C=10 class only, 2-bit inputs": (lambda: random_lut_model(
        10, 60, classes=10, output_bits=6, seed=27), 2, 1, "unrolled", False),
    "lut folded K=40 P=6": (lambda: random_lut_model(12, 40, classes=10, seed=28), 6, 6,
                            "folded", True),
    "lut folded P=1, class only": (lambda: random_lut_model(8, 9, classes=3, seed=29), 5, 1,
                                   "folded", False),
    "lut folded P=K (constants)": (lambda: random_lut_model(6, 7, seed=30), 8, 7, "folded",
                                   True),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vectors", type=int, default=45000,
                        help="random vectors per configuration, after the corners")
    parser.add_argument("--idle", type=int, default=20, help="input gap probability, %%")
    parser.add_argument("--stall", type=int, default=20, help="output stall probability, %%")
    parser.add_argument("--only", nargs="+", metavar="NAME", help="configurations to run")
    parser.add_argument("--work-dir", type=Path, help="keep the Verilator builds here")
    args = parser.parse_args()

    chosen = {name: item for name, item in CONFIGURATIONS.items()
              if not args.only or any(word in name for word in args.only)}
    work = args.work_dir or Path(tempfile.mkdtemp(prefix="qnnhw-verify-"))
    print("| configuration | arch | P | input bits | outputs | vectors | mismatches | "
          "cycles/vector | vectors/s simulated | build s |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    total = mismatches = 0
    simulated = 0.0
    began = time.perf_counter()
    for seed, (name, (make, bits, parallel, arch, scores)) in enumerate(chosen.items()):
        model = make()
        spec = flow.fixed_point(model, bits)
        inputs = np.concatenate([corner_vectors(spec),
                                 random_vectors(spec, args.vectors, seed=seed)])
        result = verify_datapath(model, spec, parallel, inputs, work, arch=arch, scores=scores,
                                 idle_percent=args.idle, stall_percent=args.stall, seed=seed)
        total += result.vectors
        mismatches += result.mismatches
        simulated += result.seconds
        outputs = f"{spec.outputs}" + ("" if spec.outputs == 1 else
                                       (" + scores" if scores else " (class)"))
        print(f"| {name} | {arch} | {parallel} | {bits} | {outputs} | {result.vectors:,} | "
              f"{result.mismatches} | {result.cycles / result.vectors:.1f} | "
              f"{result.vectors / result.seconds:,.0f} | {result.build_seconds:.0f} |",
              flush=True)
        if result.first_mismatch:
            print(f"  first mismatch: {result.first_mismatch}", flush=True)
    print(f"\n{len(chosen)} configurations, {total:,} vectors, {mismatches} mismatches; "
          f"{total / simulated:,.0f} vectors/s simulated, {time.perf_counter() - began:.0f} s "
          f"in all (Verilator builds included)")
    sys.exit(1 if mismatches else 0)


if __name__ == "__main__":
    main()
