"""Issue #14: a thousand byte faults on the UART link, in the cocotb end-to-end bench.

    python bench/link_faults.py [--faults 1000] [--family bilinear|threshold] [--classes C]

The board design (UART, framing, datapath) runs in Verilator; the host side sends each
request with one injected fault (a flipped bit, a dropped or a duplicated byte, garbage with
sync bytes before the frame), and on a NAK or silence waits out the board's frame timeout
and resends, as ``qnnhw.client`` does. Every answer is compared with the integer reference:
none may be wrong, and every request must end answered. Prints the counts.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from qnnhw import flow  # noqa: E402
from sim.networks import random_model, random_threshold_model  # noqa: E402
from sim.runner import random_vectors, simulate_serial  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--faults", type=int, default=1000)
    parser.add_argument("--family", choices=["bilinear", "threshold"], default="threshold")
    parser.add_argument("--classes", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    model = (random_model(5, 12, classes=args.classes, seed=args.seed)
             if args.family == "bilinear"
             else random_threshold_model(5, 12, classes=args.classes, seed=args.seed))
    spec = flow.fixed_point(model, 8)
    began = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        results = simulate_serial(model, spec, 4, random_vectors(spec, 64, seed=args.seed),
                                  Path(folder), faults=args.faults, seed=args.seed,
                                  progress=lambda message: print(message, file=sys.stderr))
    faults = results.get("survives_injected_faults", {})
    print("| fault | injected |\n|---|---|")
    for kind, count in faults.get("faults", {}).items():
        print(f"| {kind} | {count} |")
    print(f"\n{sum(faults.get('faults', {}).values())} faults, {faults.get('answered')} "
          f"requests answered, {faults.get('wrong')} wrong answers accepted; "
          f"other tests: {results['_failures'] or 'all passed'}; "
          f"{time.perf_counter() - began:.0f} s")
    sys.exit(1 if results["_failures"] else 0)


if __name__ == "__main__":
    main()
