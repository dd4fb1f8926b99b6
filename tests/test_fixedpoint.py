"""The fixed-point rules and the integer reference model."""

import numpy as np
import pytest

from hdl.arith import csd_digits
from qnnhw import dataset
from qnnhw.families.bilinear.config import BilinearConfig
from qnnhw.families.bilinear.fixedpoint import BilinearSpec
from qnnhw.families.bilinear.reference import BilinearReference
from qnnhw.families.bilinear.train import SDPTrainer
from qnnhw.fixedpoint import quantize_inputs, round_shift, signed_width

from .helpers import random_model


def test_signed_width():
    assert signed_width(-128, 127) == 8
    assert signed_width(-129, 0) == 9
    assert signed_width(0, 128) == 9
    assert signed_width(0, 0) == 1


def test_round_shift_is_round_half_up():
    values = np.array([-6, -5, -4, -3, -2, -1, 0, 1, 2, 3, 5, 6], dtype=np.int64)
    assert round_shift(values, 2).tolist() == [-1, -1, -1, -1, 0, 0, 0, 0, 1, 1, 1, 2]
    assert round_shift(7, -3) == 56
    assert round_shift(10**30 + 1, 1) == 5 * 10**29 + 1  # exact beyond 64 bits


def test_quantize_rounds_half_to_even_and_saturates():
    q = quantize_inputs(np.array([0.03125, 0.09375, -0.03125, 100.0, -100.0]), 8, 4)
    assert q.tolist() == [0, 2, 0, 127, -128]


def test_csd_digits_represent_the_constant():
    rng = np.random.default_rng(0)
    for constant in [0, 1, 3, 7, 0b1011, 2**17 - 1, *rng.integers(0, 2**20, 200).tolist()]:
        digits = csd_digits(int(constant))
        assert sum(sign << shift for shift, sign in digits) == constant
        shifts = [shift for shift, _ in digits]
        assert all(b - a >= 2 for a, b in zip(shifts, shifts[1:]))  # non-adjacent


@pytest.mark.parametrize("features, m, bias, replicas", [(1, 1, False, 1), (5, 3, True, 1),
                                                         (4, 9, True, 3)])
def test_widths_hold_the_worst_case(features, m, bias, replicas):
    """All weights +1 and all inputs at −2^(B−1) reach |s| = m·Amax² exactly."""
    model = random_model(features, m, bias=bias, replicas=replicas)
    model.U[:] = 1
    model.V[:] = 1
    for bits in (2, 8, 12):
        spec = BilinearSpec.for_model(model, input_bits=bits)
        reference = BilinearReference(model, spec)
        extreme = np.full((1, features), spec.input_min)
        result = reference.run(extreme)
        if not bias:
            assert abs(int(result.s[0])) == spec.sum_bound
        assert abs(int(result.a[0, 0])) <= spec.neuron_bound
        assert abs(int(result.a[0, 0])) < 2 ** (spec.neuron_width - 1)
        assert abs(int(result.s[0])) < 2 ** (spec.sum_width - 1)
        assert spec.output_low <= int(result.y[0]) <= spec.output_high
        assert -(2 ** (spec.output_width - 1)) <= spec.output_low
        assert spec.output_high < 2 ** (spec.output_width - 1)


def test_alpha_keeps_its_significant_bits():
    model = random_model(3, 4, alpha=0.0123)
    spec = BilinearSpec.for_model(model, input_bits=8)
    assert 2 ** 16 <= abs(spec.alpha_mantissa) < 2 ** 17
    assert spec.alpha_value == pytest.approx(0.0123, rel=2 ** -16)
    negative = BilinearSpec.for_model(random_model(3, 4, alpha=-3.0), input_bits=8)
    assert negative.alpha_mantissa < 0


def test_reference_equals_float_network_within_documented_bound():
    data = dataset.load("ionosphere", seed=0)
    model = SDPTrainer(data, BilinearConfig(beta=10.0)).sample(500)
    for bits in (6, 8, 12):
        reference = BilinearReference(model, BilinearSpec.for_model(model, input_bits=bits))
        X = np.vstack([data.X_train, data.X_test])
        hardware = reference.spec.output_to_real(reference.outputs(reference.quantize(X)))
        error = np.abs(hardware - model.decision_function(X))
        bound = reference.error_bound(X)
        assert np.all(error <= bound)
    # At 12 bits the quantised classifier agrees with the float one almost everywhere.
    assert np.mean(np.sign(hardware) == np.sign(model.decision_function(X))) > 0.98


def test_reference_is_exact_beyond_int64():
    model = random_model(30, 2000, alpha=1e-9)
    spec = BilinearSpec.for_model(model, input_bits=24)
    assert spec.sum_width > 62
    reference = BilinearReference(model, spec)
    x = np.random.default_rng(0).integers(spec.input_min, spec.input_max + 1, (3, 30))
    result = reference.run(x)
    lifted = [[int(v) for v in row] + [spec.bias_value] for row in x.tolist()]
    for row, s in zip(lifted, result.s):
        exact = sum(sum(u * v for u, v in zip(uj, row)) * sum(w * v for w, v in zip(vj, row))
                    for uj, vj in zip(model.U.tolist(), model.V.tolist()))
        assert exact == s


def test_reference_refuses_out_of_range_inputs():
    model = random_model(3, 2)
    reference = BilinearReference(model, BilinearSpec.for_model(model, input_bits=4))
    with pytest.raises(Exception, match=r"must lie in \[-8, 7\]"):
        reference.run(np.array([[8, 0, 0]]))
