"""The SDP (22) without ever forming it: Burer–Monteiro on the exact feasible set.

Each output block's matrix is written Q_c = ρ_c R_c R_cᵀ with ρ_c ≥ 0 and R_c an N × r
matrix (N = 2d) whose rows have unit norm, so Q_c ⪰ 0 and diag(Q_c) = ρ_c hold by
construction. The predictions are

    ŷ_ci = ⟨B_i, Q_c⟩ = ρ_c s_ci,   s_ci = 2 (xᵢᵀR_c,u)·(xᵢᵀR_c,v)     (R_c,u, R_c,v: halves)

at O(ndr) cost: the n × d² operator of the conic formulation never exists. The solver:

* eliminates the scales: for a given R, each ρ_c solves a one-dimensional convex problem
  (in closed form for the squared loss, by a safeguarded Newton iteration otherwise), and the
  search runs over R alone — variable projection, which removes the ill-conditioned coupling
  between a block's scale and its shape;
* starts from a Frank–Wolfe step out of Q = 0 (the eigenvectors of C(∇ℓ(0)) along which the
  objective falls fastest), so it does not sit in the saddle at ρ = 0;
* minimises over the product of oblique manifolds by a Riemannian trust region with a
  truncated conjugate-gradient inner solver and exact Hessian-vector products (of the reduced
  function: the Schur complement of the scales);
* replaces the hinge by an entropic proximal smoothing whose centre moves to the current
  multipliers round after round (the proximal method of multipliers) while μ shrinks, so
  each round is a smooth, well-conditioned problem (the certificate is for the true hinge);
* after each round certifies the point (:mod:`.certificate`): the dual slack's smallest
  eigenvalues either prove it optimal to the tolerance or give directions of descent, along
  which it adds columns to R (the rank staircase); columns the optimum does not need are
  pruned again.

The result is a primal point (its objective an upper bound on the SDP's value) and a
certified lower bound; their difference is the certified gap.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from qnnhw.losses import Elementwise

from .certificate import Certificate, CertifiedSolution, certify

__all__ = ["BMResult", "solve_bm"]

Progress = Callable[[str], None]

#: μ of the hinge's proximal smoothing (the slack 1 − yŷ has the scale of 1): the first
#: round's, the factor from round to round, and the smallest.
SMOOTHING, SMOOTHING_FACTOR, SMOOTHING_MIN = 0.5, 0.5, 1e-3
#: Rank of R at the start.
INITIAL_RANK = 4
#: Trust-region iterations per round, and conjugate-gradient iterations per step.
ROUND_ITERATIONS, CG_ITERATIONS = 500, 300


def _normalize_rows(R: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(R, axis=2, keepdims=True)
    return R / np.where(norms > 0, norms, 1.0)


@dataclass
class _State:
    """Everything the trust region needs at one point R, computed once."""

    R: np.ndarray              # (C, N, r), unit rows
    A: np.ndarray              # (C, n, r): X R_u
    B: np.ndarray              # (C, n, r): X R_v
    s: np.ndarray              # (C, n): predictions per unit ρ
    rho: np.ndarray            # (C,): the optimal scales for this R
    prediction: np.ndarray     # (C, n)
    value: float
    gradient_loss: np.ndarray  # (C, n): ∇ℓ(Ŷ)
    curvature: np.ndarray      # (C, n): diagonal ∇²ℓ(Ŷ)
    row_inner: np.ndarray      # (C, N): ⟨egrad row, R row⟩
    gradient: np.ndarray       # (C, N, r): the Riemannian gradient
    scale_curvature: np.ndarray  # (C,): ∂²f/∂ρ_c²
    back: np.ndarray           # (C, N, r): [Xᵀ(G∘B); Xᵀ(G∘A)], the gradient per unit 2ρ


class _Objective:
    """F(R) = min_ρ≥0 ℓ(Ŷ) + βd Σ_c ρ_c for one smoothing of the loss."""

    def __init__(self, X: np.ndarray, loss: Elementwise, beta: float):
        self.X = X
        self.loss = loss
        self.penalty = beta * X.shape[1]

    def _scales(self, s: np.ndarray) -> np.ndarray:
        """argmin over ρ_c ≥ 0 of ℓ(ρ_c s_c) + βd ρ_c, block by block."""
        if self.loss.loss == "squared":
            numerator = np.sum(s * self.loss.targets, axis=1) - self.penalty
            return np.maximum(numerator, 0.0) / np.maximum(np.sum(s * s, axis=1), 1e-300)
        rho = np.empty(s.shape[0])
        for c in range(s.shape[0]):
            column = Elementwise(self.loss.loss, self.loss.targets[c], self.loss.smoothing,
                                 self.loss.anchor[c])
            rho[c] = _convex_root(*self._scale_derivatives(column, s[c]))
        return rho

    def _scale_derivatives(self, column: Elementwise, s: np.ndarray
                           ) -> tuple[Callable[[float], float], Callable[[float], float]]:
        """f'(ρ) and f''(ρ) of ρ ↦ ℓ(ρs) + βdρ for one block."""
        def first(rho: float) -> float:
            return float(s @ column.gradient(rho * s)) + self.penalty

        def second(rho: float) -> float:
            return float((s * s) @ column.curvature(rho * s))

        return first, second

    def state(self, R: np.ndarray) -> _State:
        A, B = self._forward(R)
        s = 2.0 * np.sum(A * B, axis=2)
        rho = self._scales(s)
        prediction = rho[:, None] * s
        value = self.loss.value(prediction) + self.penalty * float(rho.sum())
        G = self.loss.gradient(prediction)
        h = self.loss.curvature(prediction)
        back = self._backward(G[..., None] * B, G[..., None] * A)
        egrad = 2.0 * rho[:, None, None] * back
        row_inner = np.sum(egrad * R, axis=2)
        return _State(R, A, B, s, rho, prediction, value, G, h, row_inner,
                      egrad - R * row_inner[..., None], np.sum(h * s * s, axis=1), back)

    def _forward(self, R: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """X R_u and X R_v, as one product."""
        d, r = self.X.shape[1], R.shape[2]
        both = np.matmul(self.X, np.concatenate([R[:, :d, :], R[:, d:, :]], axis=2))
        return both[..., :r], both[..., r:]

    def _backward(self, U: np.ndarray, V: np.ndarray) -> np.ndarray:
        """[Xᵀ U; Xᵀ V] (U, V: C × n × r), as one product."""
        r = U.shape[2]
        both = np.matmul(self.X.T, np.concatenate([U, V], axis=2))
        return np.concatenate([both[..., :r], both[..., r:]], axis=1)

    def hessian(self, state: _State, eta: np.ndarray) -> np.ndarray:
        """The Riemannian Hessian of F at ``state`` applied to the tangent vector ``eta``:
        that of f at fixed ρ less the Schur complement of the scales (where ρ_c > 0)."""
        rho, G, h = state.rho, state.gradient_loss, state.curvature
        A_dot, B_dot = self._forward(eta)
        s_dot = 2.0 * np.sum(A_dot * state.B + state.A * B_dot, axis=2)
        # ∂²f/∂ρ∂R·η, then the change of the optimal ρ that it causes.
        mixed = np.sum(G * s_dot, axis=1) + rho * np.sum(h * state.s * s_dot, axis=1)
        rho_dot = np.where((rho > 0) & (state.scale_curvature > 0),
                           -mixed / np.where(state.scale_curvature > 0,
                                             state.scale_curvature, 1.0), 0.0)
        prediction_dot = rho[:, None] * s_dot + rho_dot[:, None] * state.s
        G_dot = h * prediction_dot
        dgrad = (2.0 * rho[:, None, None] * self._backward(
            G_dot[..., None] * state.B + G[..., None] * B_dot,
            G_dot[..., None] * state.A + G[..., None] * A_dot)
            + 2.0 * rho_dot[:, None, None] * state.back)
        projected = dgrad - state.R * np.sum(dgrad * state.R, axis=2)[..., None]
        hessian: np.ndarray = projected - eta * state.row_inner[..., None]
        return hessian

    def project(self, state: _State, eta: np.ndarray) -> np.ndarray:
        projected: np.ndarray = eta - state.R * np.sum(eta * state.R, axis=2)[..., None]
        return projected


def _convex_root(derivative: Callable[[float], float], second: Callable[[float], float]
                 ) -> float:
    """The minimiser over ρ ≥ 0 of a convex function from its derivative: 0 where the
    derivative is ≥ 0 at 0, else the root, by Newton steps kept inside a bracket."""
    if derivative(0.0) >= 0:
        return 0.0
    low, high = 0.0, 1.0
    while derivative(high) < 0:
        low, high = high, 2 * high
        if high > 1e300:
            return high
    rho = 0.5 * (low + high)
    for _ in range(100):
        value = derivative(rho)
        if value < 0:
            low = rho
        else:
            high = rho
        slope = second(rho)
        step = rho - value / slope if slope > 0 else -1.0
        rho = step if low < step < high else 0.5 * (low + high)
        if high - low <= 1e-14 * high:
            break
    return rho


def _truncated_cg(objective: _Objective, state: _State, radius: float
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Steihaug–Toint truncated CG for the trust-region model; returns η and Hη."""
    grad = state.gradient
    eta = np.zeros_like(grad)
    H_eta = np.zeros_like(grad)
    residual = grad
    r0 = math.sqrt(float(np.sum(grad * grad)))
    direction = -residual
    rr = r0 * r0
    for _ in range(CG_ITERATIONS):
        H_direction = objective.hessian(state, direction)
        curvature = float(np.sum(direction * H_direction))
        if curvature <= 0:
            tau = _to_boundary(eta, direction, radius)
            return eta + tau * direction, H_eta + tau * H_direction
        alpha = rr / curvature
        candidate = eta + alpha * direction
        if math.sqrt(float(np.sum(candidate * candidate))) >= radius:
            tau = _to_boundary(eta, direction, radius)
            return eta + tau * direction, H_eta + tau * H_direction
        eta, H_eta = candidate, H_eta + alpha * H_direction
        residual = residual + alpha * H_direction
        rr_next = float(np.sum(residual * residual))
        if math.sqrt(rr_next) <= r0 * min(r0, 0.1):
            break
        direction = objective.project(state, -residual + (rr_next / rr) * direction)
        rr = rr_next
    return eta, H_eta


def _to_boundary(eta: np.ndarray, direction: np.ndarray, radius: float) -> float:
    """τ ≥ 0 with ‖η + τ·direction‖ = radius."""
    a = float(np.sum(direction * direction))
    b = 2.0 * float(np.sum(eta * direction))
    c = float(np.sum(eta * eta)) - radius ** 2
    return (-b + math.sqrt(max(b * b - 4 * a * c, 0.0))) / (2 * a)


def _trust_region(objective: _Objective, state: _State, tolerance: float, radius: float,
                  report: Callable[[_State, int], None]) -> tuple[_State, int, float]:
    """Riemannian trust region from ``radius`` until ‖grad‖ ≤ tolerance; returns the last
    point, the iterations and the radius reached."""
    maximum_radius = math.sqrt(state.R.shape[0] * state.R.shape[1]) + 1.0
    for iteration in range(ROUND_ITERATIONS):
        if math.sqrt(float(np.sum(state.gradient ** 2))) <= tolerance:
            return state, iteration, radius
        report(state, iteration)
        eta, H_eta = _truncated_cg(objective, state, radius)
        model_decrease = -(float(np.sum(state.gradient * eta)) + 0.5 * float(np.sum(eta * H_eta)))
        candidate = objective.state(_normalize_rows(state.R + eta))
        actual = state.value - candidate.value
        if model_decrease <= 1e-15 * (1 + abs(state.value)) and actual <= 0:
            return state, iteration, radius   # no further decrease is measurable
        ratio = actual / model_decrease if model_decrease > 0 else -1.0
        if ratio < 0.25:
            radius /= 4
        elif ratio > 0.75 and math.sqrt(float(np.sum(eta * eta))) >= 0.99 * radius:
            radius = min(2 * radius, maximum_radius)
        if ratio > 0.1:
            state = candidate
        if radius < 1e-14:
            return state, iteration, radius
    return state, ROUND_ITERATIONS, radius


def _frank_wolfe_start(objective: _Objective, blocks: int, rank: int,
                       rng: np.random.Generator) -> np.ndarray:
    """The best descent out of Q = 0: for each block the eigenvectors of C(∇ℓ(0)) with the
    most negative eigenvalues, weighted by √|λ|, as the columns of R (rows normalised)."""
    X, d = objective.X, objective.X.shape[1]
    G0 = objective.loss.gradient(np.zeros((blocks, X.shape[0])))
    R = np.empty((blocks, 2 * d, rank))
    for c in range(blocks):
        values, vectors = np.linalg.eigh((X.T * G0[c]) @ X)
        # C = [[0, K], [K, 0]] has eigenvalues ±λ(K): −|λ| with eigenvector [v; −sign(λ)v].
        order = np.argsort(-np.abs(values))[:rank]
        columns = [np.concatenate([vectors[:, k], -np.sign(values[k]) * vectors[:, k]])
                   * math.sqrt(abs(values[k])) for k in order]
        while len(columns) < rank:
            columns.append(rng.standard_normal(2 * d) * 1e-3)
        R[c] = np.stack(columns, axis=1) + 1e-9 * rng.standard_normal((2 * d, rank))
    return _normalize_rows(R)


def _pruned(R: np.ndarray) -> np.ndarray:
    """R without the directions in which RRᵀ is (numerically) zero in every block: a point
    the staircase raised to a higher rank than the optimum needs comes back down."""
    blocks, N, rank = R.shape
    bases = [np.linalg.svd(R[c], full_matrices=False) for c in range(blocks)]
    keep = max(int(np.sum(sigma > 1e-6 * sigma[0])) for _, sigma, _ in bases)
    if keep >= rank:
        return R
    return _normalize_rows(np.stack([U[:, :keep] * sigma[:keep] for U, sigma, _ in bases]))


def _escape(objective: _Objective, state: _State, certificate: Certificate,
            negative: list[int], room: int) -> _State:
    """Add columns to every R_c along its dual slack's ``negative[c]`` negative eigenvectors
    (as many columns as the most negative block needs, at most ``room``; zero columns where
    a block is optimal already), stepping as far as the objective decreases."""
    blocks, N, rank = state.R.shape
    columns = min(max(negative), room)
    added = np.zeros((blocks, N, columns))
    for c in range(blocks):
        vectors = certificate.directions[c][:, :min(negative[c], columns)]
        added[c, :, :vectors.shape[1]] = vectors
    step = 1.0
    while step > 1e-8:
        trial = objective.state(_normalize_rows(np.concatenate([state.R, step * added],
                                                               axis=2)))
        if trial.value < state.value:
            return trial
        step /= 4
    return objective.state(np.concatenate([state.R, np.zeros((blocks, N, columns))], axis=2))


@dataclass
class BMResult(CertifiedSolution):
    """A Burer–Monteiro solution of the SDP and its certificate.

    Attributes
    ----------
    rho : ndarray, shape (C,)
    R : ndarray, shape (C, N, r)
        Q_c = ρ_c R_c R_cᵀ, rows of R_c of unit norm.
    """

    rho: np.ndarray
    R: np.ndarray


def solve_bm(X: np.ndarray, targets: np.ndarray, loss: str, beta: float, *,
             tolerance: float = 1e-4, time_limit: float = 3600.0, seed: int = 0,
             progress: Progress | None = None) -> BMResult:
    """Solve the SDP for lifted inputs X (n × d) and targets (C × n) to a certified gap
    ≤ ``tolerance`` · (1 + |objective|), or until ``time_limit`` seconds have passed."""
    say = progress or (lambda message: None)
    targets = np.atleast_2d(np.asarray(targets, dtype=float))
    blocks, N = targets.shape[0], 2 * X.shape[1]
    true_loss = Elementwise(loss, targets)
    start = time.perf_counter()
    objective = _Objective(X, Elementwise(loss, targets, SMOOTHING), beta)
    state = objective.state(_frank_wolfe_start(objective, blocks, min(INITIAL_RANK, N),
                                               np.random.default_rng(seed)))
    iterations = 0
    last_report = [start]

    def due(seconds: float) -> bool:
        """Whether ``seconds`` have passed since the last progress line (quiet when quick)."""
        if time.perf_counter() - last_report[0] < seconds:
            return False
        last_report[0] = time.perf_counter()
        return True

    def report(current: _State, iteration: int) -> None:
        if due(5.0):
            say(f"  … SDP iteration {iterations + iteration}: objective {current.value:.6g}, "
                f"rank {current.R.shape[2]}, |grad| "
                f"{math.sqrt(float(np.sum(current.gradient ** 2))):.1e}, "
                f"{time.perf_counter() - start:.0f} s")

    refinement = 1e-2
    radius = math.sqrt(blocks * N) / 8
    previous_gap = math.inf
    while True:
        gradient = math.sqrt(float(np.sum(state.gradient ** 2)))
        state, used, radius = _trust_region(objective, state, refinement * gradient,
                                            max(radius, 1e-6), report)
        iterations += used
        primal = true_loss.value(state.prediction) + objective.penalty * float(state.rho.sum())
        certificate = certify(X, true_loss, beta, state.gradient_loss,
                              [state.R[c] for c in range(blocks)],
                              directions=min(N, 8))
        gap = max(primal - certificate.lower_bound, 0.0)
        if due(2.0):
            say(f"  … SDP round: objective {primal:.8g}, certified lower bound "
                f"{certificate.lower_bound:.8g}, gap {gap:.2e}, rank {state.R.shape[2]}, "
                f"{time.perf_counter() - start:.1f} s")
        if gap <= tolerance * (1 + abs(primal)) or time.perf_counter() - start > time_limit:
            break
        # Negative eigenvalues of the dual slack cost the bound its deficit. Where that is
        # what keeps the gap open (or the last round changed nothing), the point is not
        # optimal at any rank it has: add those directions as columns (the rank staircase).
        # Otherwise the point is as good as this round's objective allows: move the hinge's
        # smoothing to the multipliers (the proximal method of multipliers), or solve more
        # closely.
        threshold = -0.1 * tolerance * objective.penalty / N
        negative = [int(np.sum(values < threshold)) for values in certificate.eigenvalues]
        rank = state.R.shape[2]
        stalled = gap >= 0.99 * previous_gap
        previous_gap = gap
        if max(negative) > 0 and rank < N and (certificate.deficit > 0.5 * gap or stalled):
            state = _escape(objective, state, certificate, negative, N - rank)
        elif loss == "hinge":
            smoothing = max(objective.loss.smoothing * SMOOTHING_FACTOR, SMOOTHING_MIN)
            objective = _Objective(X, Elementwise(
                loss, targets, smoothing, objective.loss.multipliers(state.prediction)), beta)
            state = objective.state(_pruned(state.R))
        elif refinement > 1e-12 and not (stalled and loss == "squared" and refinement < 1e-8):
            refinement /= 100
            state = objective.state(_pruned(state.R))
        else:
            break
    return BMResult(rho=state.rho, R=state.R, objective=primal, certificate=certificate,
                    iterations=iterations, seconds=time.perf_counter() - start)
