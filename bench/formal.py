"""Issue #14: formal checks of the control logic, with yosys's SAT solver.

    python bench/formal.py [--steps 40] [--checks framing credits]

The frame receiver (two 8-bit features, a 3-cycle timeout) is proven by temporal induction:
for every byte sequence, gap pattern and line error, a vector is offered only right after a
complete, well-formed frame, received in time and cleanly, and it is that frame's payload
(so a corrupted — failing its CRC — or truncated frame never yields an answer). The
datapaths' stream handshake is proven the same way, for every input and ready sequence:
credits within the FIFO depth, none used without being free, no FIFO write while full (no
output lost), no output without a vector in flight and no more words queued than vectors in
flight (none duplicated), and the folding counter issuing every vector as groups 0 … T − 1
on consecutive cycles. The induction closes on the invariant that the credits are exactly
the vectors in the pipeline plus the words in the FIFO (with the FIFO's own invariants,
which Amaranth asserts for the "formal" platform). Prints a table.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from qnnhw import flow  # noqa: E402
from sim import formal  # noqa: E402
from sim.networks import random_model, random_threshold_model  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=40, help="induction length limit")
    parser.add_argument("--checks", nargs="+", choices=["framing", "credits"],
                        default=["framing", "credits"])
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="qnnhw-formal-"))
    checks = []
    if "framing" in args.checks:
        checks.append(("frame receiver: only well-formed frames are answered",
                       formal.framing_harness(2, 8, 3)))
    for name, model, parallel, arch in () if "credits" not in args.checks else (
            ("threshold datapath, K=5, P=2", random_threshold_model(2, 5, seed=1), 2,
             "neurons"),
            ("threshold datapath, C=3", random_threshold_model(2, 5, seed=2, classes=3), 2,
             "neurons"),
            ("bilinear datapath, C=3, P=2", random_model(2, 5, seed=1, classes=3), 2,
             "neurons"),
            ("quadratic datapath, P=2", random_model(2, 5, seed=1), 2, "quadratic"),
            ("bilinear datapath, d=34, m=200, P=8", random_model(34, 200, seed=3), 8,
             "neurons"),
            ("quadratic datapath, d=34, P=7", random_model(34, 200, seed=3), 7, "quadratic"),
            ("threshold datapath, d=16, 60 neurons, C=10, P=4",
             random_threshold_model(16, 60, seed=3, classes=10), 4, "neurons")):
        datapath = flow.datapath(model, flow.fixed_point(model, 3), parallel, True, arch)
        checks.append((f"{name}: credits, FIFO, outputs, folding",
                       formal.credit_harness(datapath)))
    print("| check | method | result | induction length | seconds |\n|---|---|---|---|---|")
    failed = False
    for index, (name, harness) in enumerate(checks):
        result = formal.prove(harness, work, f"check{index}", args.steps)
        failed |= not result.proven
        verdict = "holds" if result.proven else "FAILS (see the log)"
        print(f"| {name} | induction | {verdict} | {result.steps or '—'} | "
              f"{result.seconds:.0f} |", flush=True)
    print(f"\nlogs in {work}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
