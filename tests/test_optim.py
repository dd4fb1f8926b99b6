"""ASkewSGD's pieces (qnnhw.optim): the skewed velocity is the projection of −∇f onto the
linearised constraint where it is violated, the schedule tightens, and the descent ends
with the constrained weights at ±1 while it minimises what it can."""

import numpy as np
import pytest

from qnnhw.optim import Annealing, SGDConfig, askew_descent, skewed_velocity


def constraint(w, epsilon):
    return epsilon - (w * w - 1.0) ** 2, -4.0 * w * (w * w - 1.0)


def test_feasible_weights_follow_the_gradient():
    w = np.array([0.95, -1.0, 1.02, -0.9])
    gradient = np.array([3.0, -2.0, 0.5, 1.0])
    # ε = 0.05: (w² − 1)² ≤ ε for every entry.
    assert np.all(constraint(w, 0.05)[0] >= 0)
    assert np.array_equal(skewed_velocity(w, gradient, 0.05, gain=1.0), -gradient)


def test_violated_weights_obey_the_linearised_constraint_at_its_boundary():
    rng = np.random.default_rng(0)
    w = rng.uniform(-0.8, 0.8, 1000)
    w = w[np.abs(w) > 0.05]
    gradient = rng.normal(scale=5.0, size=len(w))
    epsilon, gain = 0.01, 0.7
    velocity = skewed_velocity(w, gradient, epsilon, gain)
    g, slope = constraint(w, epsilon)
    assert np.all(g < 0)
    # Feasible for the linearised constraint, and as close to −∇f as that allows.
    assert np.all(slope * velocity >= -gain * g - 1e-9)
    kept = slope * (-gradient) >= -gain * g
    assert np.array_equal(velocity[kept], -gradient[kept])
    assert np.allclose(slope[~kept] * velocity[~kept], -gain * g[~kept])
    assert kept.any() and (~kept).any()


def test_no_velocity_helps_at_zero():
    assert skewed_velocity(np.array([0.0]), np.array([2.0]), 0.1, 1.0)[0] == -2.0


def test_the_schedule_tightens_after_the_warm_up_and_steps_decrease():
    schedule = Annealing(step_size=0.5, step_rule="decreasing", anneal=0.9)
    assert [schedule.epsilon(k, 8) for k in range(3)] == [1.0, 1.0, pytest.approx(0.9)]
    assert schedule.epsilon(7, 8) == pytest.approx(0.9 ** 6)
    assert schedule.step(3) == pytest.approx(0.25)
    assert Annealing(step_size=0.5).step(3) == 0.5


def test_descent_ends_at_the_best_signs_of_a_separable_quadratic():
    # f(w) = ½‖w − t‖² over w ∈ {±1}ᵈ is minimised by sign(t); ASkewSGD ends there, each
    # weight at the final interval √(1 ± √ε) ∩ [−1, 1] (infeasible iterates are allowed:
    # they lag the shrinking interval by a little).
    rng = np.random.default_rng(1)
    target = rng.normal(size=(1, 40))
    X, y = np.zeros((64, 1)), np.zeros(64)
    epochs = 120

    def gradient(params, xb, yb):
        return [(params[0] - target) / 8]       # eight batches of 8 per epoch

    w = askew_descent(X, y, SGDConfig(batch_size=8), Annealing(step_size=0.5), epochs,
                      init=lambda rng: [rng.uniform(-1, 1, target.shape)],
                      gradient=gradient, constrained=(True,))[0]
    assert np.array_equal(np.sign(w), np.sign(target))
    final = Annealing(step_size=0.5).epsilon(epochs - 1, epochs)
    assert np.all(np.abs(w) >= np.sqrt(1 - np.sqrt(final)) - 1e-3)
    # Plain SGD would end at clip(t); the constraint pulled the small entries to ±1.
    small = np.abs(target) < 0.5
    assert small.any() and np.all(np.abs(w[small]) > 0.9)
