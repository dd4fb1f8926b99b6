"""Issues #4, #6, #11 and #13: the papers' models (and digits) built for boards.

    python bench/boards.py [--boards icebreaker ice40-hx8k ulx3s] [--models planted ...]

Each row is one real `python -m qnnhw build` (yosys + nextpnr from YoWASP), with its
defaults: the architecture with the most inferences/s that fits (for a bilinear model in the
neuron architecture m is its width after fitting the board's block RAM; the quadratic one
keeps the trained m), and the PLL clock found within 10 % of Fmax. For a threshold model m is
the neurons its Lasso kept. The bound is the unit bound: P × clock ÷ (m neurons, or the
C·d̂² coefficients of the quadratic form).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

MODELS = {
    "planted": ["--data", "planted", "--bias", "--m", "1000", "--loss", "squared",
                "--beta", "1e-4"],
    "breast-cancer": ["--data", "breast-cancer", "--m", "250", "--beta", "0.1"],
    "ionosphere": ["--data", "ionosphere", "--m", "2500", "--beta", "10"],
    "ionosphere-threshold": ["--family", "threshold", "--data", "ionosphere"],
    "ionosphere-threshold-beta30": ["--family", "threshold", "--data", "ionosphere",
                                    "--beta", "30"],
    "ionosphere-threshold-gaussian": ["--family", "threshold", "--data", "ionosphere",
                                      "--hyperplanes", "gaussian"],
    "ionosphere-threshold-deep": ["--family", "threshold", "--data", "ionosphere",
                                  "--layers", "3", "--layer-width", "24"],
    # Ten classes: the class only (no scores), 4-bit inputs on the UP5K's 5,280 cells.
    "digits-threshold": ["--family", "threshold", "--data", "digits", "--beta", "50",
                         "--input-bits", "4", "--no-scores"],
    "digits-threshold-beta20": ["--family", "threshold", "--data", "digits", "--beta", "20"],
    "digits-bilinear": ["--data", "digits", "--loss", "hinge", "--beta", "10", "--m", "1000",
                        "--input-bits", "4", "--no-scores"],
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--boards", nargs="+", default=["icebreaker", "ice40-hx8k", "ulx3s"])
    parser.add_argument("--models", nargs="+", default=["planted", "breast-cancer", "ionosphere"],
                        choices=list(MODELS))
    parser.add_argument("--clock", default="auto",
                        help="build's --clock for every row (default auto: the PLL search; "
                             "a frequency in MHz routes once, for designs that take long)")
    args = parser.parse_args()
    print("| board | model | arch | d | m | P | LCs | DSPs | RAM | Fmax MHz | clock MHz | "
          "inferences/s | ÷ bound | LC estimate | test accuracy (hardware) | seconds |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for board in args.boards:
        for name in args.models:
            with tempfile.TemporaryDirectory() as folder:
                result = subprocess.run(
                    [sys.executable, "-m", "qnnhw", "build", "--board", board, *MODELS[name],
                     "--clock", args.clock, "-o", str(Path(folder) / "out"), "--json"],
                    capture_output=True, text=True)
            if result.returncode != 0:
                error = (result.stderr.strip().splitlines() or ["?"])[-1]
                print(f"| {board} | {name} | | | | | | | | | | | | | | {error} |", flush=True)
                continue
            r = json.loads(result.stdout)
            print(f"| {board} | {name} | {r['arch']} | {r['d']} | {r['m']} | {r['parallel']} | "
                  f"{r['lc_used']}/{r['lc_total']} | {r['dsp_used']}/{r['dsp_total']} | "
                  f"{r['ram_used']}/{r['ram_total']} | {r['fmax_mhz']:.1f} | "
                  f"{r['clock_mhz']:g} ({r['clock_source']}) | "
                  f"{r['inferences_per_second']:,.0f} | "
                  f"{r['bound_ratio']:.3f} | {r['estimated_lcs']} | "
                  f"{r.get('test_accuracy_hardware', float('nan')):.3f} | {r['seconds']:.0f} |",
                  flush=True)


if __name__ == "__main__":
    main()
