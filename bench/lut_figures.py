"""LUT networks (issue #22): accuracy in hardware integers, size and certificate over seeds.

    python bench/lut_figures.py [--data digits|DIR] [--seeds 10] [--beta B] [--output-bits B]
                                [--thresholds T] [--neurons N] [--refit KIND]
                                [--refit-beta B]
                                [--subsample N]

For each seed (qnnhw's 80/20 split of digits, or the fixed test set of an MNIST-format folder):
train a LUT network, then print its test accuracy in floating point and on the hardware
integers (the integer reference, which the gateware equals bit for bit), its neurons and
non-zero output weights, the LUT4s of its datapath as qnnhw's estimate counts them (neurons,
two per full adder, comparators), the Lasso's certified relative gap and the training time;
then the mean ± standard deviation of each.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from hdl.lut import output_plans
from qnnhw.dataset import class_indices, load
from qnnhw.families.lut.config import LutConfig
from qnnhw.families.lut.estimate import compare_cells
from qnnhw.families.lut.fixedpoint import LutSpec
from qnnhw.families.lut.reference import LutReference
from qnnhw.families.lut.train import LutTrainer


def datapath_luts(spec: LutSpec) -> int:
    """Neurons + 2 per full adder + the comparators' LUT4s."""
    adders = sum(plan.full_adders for plan in output_plans(spec))
    return spec.m + 2 * adders + len(set(spec.inputs)) * compare_cells(spec.input_bits)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="digits")
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--beta", type=float, default=None)
    parser.add_argument("--output-bits", type=int, default=None)
    parser.add_argument("--thresholds", type=int, default=None)
    parser.add_argument("--neurons", type=int, default=None)
    parser.add_argument("--refit", default=None)
    parser.add_argument("--refit-beta", type=float, default=None)
    parser.add_argument("--subsample", type=int, default=None)
    args = parser.parse_args()
    options = {key: value for key, value in (
        ("beta", args.beta), ("output_bits", args.output_bits),
        ("thresholds", args.thresholds), ("neurons", args.neurons),
        ("refit", args.refit), ("refit_beta", args.refit_beta)) if value is not None}
    print(f"LUT networks on {args.data}, options {options or 'default'}")
    print("| seed | float test | hardware test | neurons | weights | datapath LUT4s "
          "| input bits | rel. gap | seconds |")
    print("|---|---|---|---|---|---|---|---|---|")
    rows = []
    for seed in range(args.seeds):
        data = load(args.data, seed=seed, subsample=args.subsample)
        started = time.perf_counter()
        model = LutTrainer(data, LutConfig(seed=seed, **options)).train()
        seconds = time.perf_counter() - started
        spec = LutSpec.for_model(model, int(model.training["input_bits"]))
        reference = LutReference(model, spec)
        truth = class_indices(data.y_test, data.classes)
        floating = float(np.mean(model.predict_classes(data.X_test) == truth))
        hardware = float(np.mean(reference.predict_classes(reference.quantize(data.X_test))
                                 == truth))
        training = model.training
        row = (floating, hardware, model.m, training["nonzero_weights"],
               datapath_luts(spec), spec.input_bits,
               training["lasso_gap"] / training["lasso_objective"], seconds)
        rows.append(row)
        print(f"| {seed} | {row[0]:.4f} | {row[1]:.4f} | {row[2]} | {row[3]} | {row[4]} | "
              f"{row[5]} | {row[6]:.1e} | {row[7]:.1f} |", flush=True)
    values = np.array(rows, dtype=float)
    mean, std = values.mean(axis=0), values.std(axis=0)
    print(f"| mean ± std | {mean[0]:.4f} ± {std[0]:.4f} | {mean[1]:.4f} ± {std[1]:.4f} | "
          f"{mean[2]:.0f} ± {std[2]:.0f} | {mean[3]:.0f} ± {std[3]:.0f} | "
          f"{mean[4]:.0f} ± {std[4]:.0f} | | {mean[6]:.1e} | {mean[7]:.1f} |")


if __name__ == "__main__":
    main()
