"""The logistic refit (qnnhw.logistic): the optimum scikit-learn finds, a support kept, and a
duality gap that is a true bound."""

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from qnnhw.logistic import _dual_value, _softmax, solve_logistic


def neurons_and_labels(classes: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, classes, 300)
    # 0/1 neurons that lean towards some classes, so the fit is neither trivial nor separable.
    lean = rng.normal(size=(classes, 12))
    D = (rng.random((300, 12)) < 1 / (1 + np.exp(-lean[labels]))).astype(float)
    return D, labels


@pytest.mark.parametrize("classes", [2, 4])
def test_full_support_matches_scikit_learn(classes):
    D, labels = neurons_and_labels(classes)
    decay = 3.0
    outputs = 1 if classes == 2 else classes
    solution = solve_logistic(D, labels, classes, np.ones((12, outputs), dtype=bool), decay)
    # scikit-learn minimises ½‖W‖² + C·Σ cross-entropy with a free intercept: C = 1/λ.
    reference = LogisticRegression(C=1 / decay, tol=1e-10, max_iter=10_000).fit(D, labels)
    if classes == 2:
        assert np.allclose(solution.w, reference.coef_[0], atol=1e-4)
        assert np.isclose(solution.bias, reference.intercept_[0], atol=1e-4)
    else:
        # The softmax is unchanged by a shift common to every class: compare differences.
        assert np.allclose(solution.w - solution.w.mean(axis=1, keepdims=True),
                           reference.coef_.T - reference.coef_.T.mean(axis=1, keepdims=True),
                           atol=1e-4)
    assert 0 <= solution.gap <= 1e-6 * solution.objective


def test_weights_stay_on_the_support_and_the_bound_holds_everywhere():
    D, labels = neurons_and_labels(3, seed=1)
    support = np.random.default_rng(2).random((12, 3)) < 0.4
    decay = 1.0
    solution = solve_logistic(D, labels, 3, support, decay)
    assert np.all(solution.w[~support] == 0)
    assert solution.gap <= 1e-6 * solution.objective
    # Weak duality: the dual value at the probabilities of any network on the support is
    # below the optimum, the one at the solution's within its gap of it.
    centred = D - D.mean(axis=0)
    onehot = np.eye(3)[labels]
    rng = np.random.default_rng(3)
    for _ in range(20):
        W = np.where(support, rng.normal(scale=2.0, size=(12, 3)), 0.0)
        probabilities, _ = _softmax(centred @ W + rng.normal(size=3))
        assert _dual_value(centred, onehot, support, decay, probabilities) \
            <= solution.objective + 1e-9
    worse = solution.w + np.where(support, 0.1, 0.0)
    Z = D @ worse + solution.bias
    _, log_totals = _softmax(Z)
    objective = float(np.sum(log_totals - Z[np.arange(len(Z)), labels])
                      + 0.5 * decay * np.sum(worse ** 2))
    assert objective >= solution.objective - solution.gap
