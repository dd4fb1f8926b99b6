"""Issues #14 and #25: a thousand byte faults on the serial link, in the cocotb end-to-end
bench, at the board's baud rate with the client's window of frames in flight.

    python bench/link_faults.py [--faults 1000] [--family bilinear|threshold] [--classes C]
                                [--board icebreaker] [--clock MHZ] [--window W]

The board design (UART, framing, self-test, datapath) runs in Verilator at the clock and the
baud rate the board's bridge makes from it; the host side is the pipelined client's own
protocol code (qnnhw.protocol.Pipeline): frames of 4 vectors, W in flight, and each of the
first N new frames goes out with one injected fault (a flipped bit, a dropped or a
duplicated byte, garbage with sync bytes before the frame); the client resends what the
board refused (NAK) or lost (a later frame answered first, or a timeout). Every answer is
compared with the integer reference: none may be wrong, every vector must end answered.
Prints the counts.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from boards import get_board  # noqa: E402
from qnnhw import flow, protocol  # noqa: E402
from sim.networks import random_model, random_threshold_model  # noqa: E402
from sim.runner import random_vectors, simulate_serial  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--faults", type=int, default=1000)
    parser.add_argument("--family", choices=["bilinear", "threshold"], default="threshold")
    parser.add_argument("--classes", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--board", default="icebreaker")
    parser.add_argument("--clock", type=float, default=44.25,
                        help="the design's clock in MHz (default: make build's iCEBreaker PLL)")
    parser.add_argument("--window", type=int, default=protocol.DEFAULT_WINDOW)
    args = parser.parse_args()
    clock_hz = args.clock * 1e6
    baud, divisor = get_board(args.board).link(clock_hz)

    model = (random_model(5, 12, classes=args.classes, seed=args.seed)
             if args.family == "bilinear"
             else random_threshold_model(5, 12, classes=args.classes, seed=args.seed))
    spec = flow.fixed_point(model, 8)
    began = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        results = simulate_serial(model, spec, 4, random_vectors(spec, 64, seed=args.seed),
                                  Path(folder), clock_hz=clock_hz, divisor=divisor,
                                  window=args.window, faults=args.faults, seed=args.seed,
                                  progress=lambda message: print(message, file=sys.stderr))
    faults = results.get("survives_injected_faults", {})
    print("| fault | injected |\n|---|---|")
    for kind, count in faults.get("faults", {}).items():
        print(f"| {kind} | {count} |")
    print(f"\n{args.board} at {args.clock:g} MHz, {baud:,} baud, window {args.window}: "
          f"{sum(faults.get('faults', {}).values())} faults in {faults.get('vectors')} vectors, "
          f"{faults.get('answered')} answered, {faults.get('wrong')} wrong answers accepted, "
          f"{faults.get('resent')} frames resent; "
          f"other tests: {results['_failures'] or 'all passed'}; "
          f"{time.perf_counter() - began:.0f} s")
    sys.exit(1 if results["_failures"] else 0)


if __name__ == "__main__":
    main()
