"""The SDP (22) by a primal–dual interior-point method built from n × n products.

The SDP and its dual (docs/sdp.md) are

    min ℓ(ŷ) + βdρ   s.t.  ŷ = 𝒜(Q),  diag(Q) = ρ1,  Q ⪰ 0;
    max −ℓ*(w)       s.t.  S = C(w) + Diag(z) ⪰ 0,  s₀ = βd − 1ᵀz ≥ 0,

with 𝒜(Q)ᵢ = ⟨Bᵢ, Q⟩ and C(w) = Σᵢ wᵢBᵢ, Bᵢ = uᵢvᵢᵀ + vᵢuᵢᵀ, uᵢ = [xᵢ; 0], vᵢ = [0; xᵢ].
The hinge's conjugate is finite on the box −yᵢwᵢ ∈ [0, 1]; its two sides are two more
slacks s₁ = −y∘w, s₂ = 1 + y∘w, whose primal multipliers e, ξ ≥ 0 are the hinge's own
slack variables (ξ − e = 1 − y∘ŷ).

Each iteration takes a Newton step on the perturbed optimality conditions QS = μI, ρs₀ = μ,
e∘s₁ = ξ∘s₂ = μ with the HKM direction (ΔQ = μS⁻¹ − Q − sym(QΔS S⁻¹)); eliminating the
primal variables leaves a system in (Δw, Δz) of size n + N whose matrix is

    M_ij = tr(A_i Q A_j S⁻¹),   A = (B₁ … Bₙ, E₁₁ … E_NN),

plus the loss's curvature on the w-block. Because every Bᵢ is made of two rank-one terms,
M's w-block is four Hadamard products of the n × n matrices X·Q_ab·Xᵀ and X·G_ab·Xᵀ
(G = S⁻¹, a, b ∈ {u, v} its d × d blocks): O(n²d + nd²) to form, never the n × d² operator
of the conic formulation, and one Cholesky factorisation of size n + N per iteration.
Mehrotra's predictor–corrector chooses the centring (the hinge's products follow targets
that only fall, see :func:`_direction`); the dual iterate stays strictly feasible (its slacks
are functions of (w, z)), the primal one converges to feasibility.

Every iterate yields both bounds: the primal Q rescaled to an exactly equal diagonal is a
feasible point (an upper bound), and the dual point is certified by :mod:`.certificate`
(a lower bound for every ±1 network). The method stops when their gap is within tolerance.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import scipy.linalg
import scipy.sparse.linalg
from threadpoolctl import threadpool_limits

from qnnhw.losses import Elementwise

from .certificate import Certificate, CertifiedSolution, certify

__all__ = ["IPMResult", "solve_ipm"]

Progress = Callable[[str], None]

#: Fraction of the way to the boundary of the cone that a step may go.
STEP_FRACTION = 0.95
#: Iterations before the method gives up (it usually needs 10–25).
MAX_ITERATIONS = 80
#: Up to this N the step to a cone's boundary comes from a dense eigenvalue solver.
DENSE_STEP_SIZE = 400
#: Below this size of the Schur system (n + N) every BLAS call is small enough that
#: OpenBLAS's threads cost more than they gain (3× slower on two cores at n + N = 1200).
THREADED_SIZE = 2000
#: Seconds between progress lines (a small SDP solves without any).
REPORT_SECONDS = 2.0


@dataclass
class IPMResult(CertifiedSolution):
    """An interior-point solution of the SDP and its certificate.

    Attributes
    ----------
    rho : float
    R : ndarray, shape (N, N)
        A factor with unit rows: Q = ρ·RRᵀ is the feasible point the objective is of.
    """

    rho: float
    R: np.ndarray


class _Problem:
    """The data of one SDP and the operators the method applies to it."""

    def __init__(self, X: np.ndarray, y: np.ndarray, loss: str, beta: float):
        self.X, self.y = X, y
        self.n, self.d = X.shape
        self.N = 2 * self.d
        self.hinge = loss == "hinge"
        self.true_loss = Elementwise(loss, y[None])
        self.beta = beta
        self.penalty = beta * self.d
        #: The barrier parameter of the cone: N for Q, 1 for ρ, 2 per sample for the hinge.
        self.order = self.N + 1 + (2 * self.n if self.hinge else 0)

    def slack(self, w: np.ndarray, z: np.ndarray) -> np.ndarray:
        """S = C(w) + Diag(z)."""
        d = self.d
        K = self.X.T @ (w[:, None] * self.X)
        S = np.diag(z)
        S[:d, d:] += K
        S[d:, :d] += K
        return S

    def apply(self, M: np.ndarray) -> np.ndarray:
        """𝒜(M)ᵢ = ⟨Bᵢ, M⟩ = 2xᵢᵀM_uv xᵢ for a symmetric M."""
        d = self.d
        result: np.ndarray = 2.0 * np.einsum("ij,ij->i", self.X @ M[:d, d:], self.X)
        return result

    def dual_value(self, w: np.ndarray) -> float:
        """−ℓ*(w) (its box is kept by the method for the hinge)."""
        value = -float(w @ self.y)
        return value if self.hinge else value - 0.5 * float(w @ w)


@dataclass
class _Iterate:
    Q: np.ndarray
    rho: float
    w: np.ndarray
    z: np.ndarray
    S: np.ndarray
    s0: float
    e: np.ndarray          # hinge only: multipliers of s₁ = −y∘w (empty otherwise)
    xi: np.ndarray         # hinge only: multipliers of s₂ = 1 + y∘w
    Q_factor: np.ndarray   # Cholesky factors (lower) of Q and S: both are positive definite
    S_factor: np.ndarray

    def complementarity(self, problem: _Problem) -> float:
        total = float(np.sum(self.Q * self.S)) + self.rho * self.s0
        if problem.hinge:
            total += float(self.e @ (-problem.y * self.w) + self.xi @ (1 + problem.y * self.w))
        return total


@dataclass
class _Step:
    dw: np.ndarray
    dz: np.ndarray
    dS: np.ndarray
    ds0: float
    dQ: np.ndarray
    drho: float
    de: np.ndarray
    dxi: np.ndarray


def _start(problem: _Problem) -> _Iterate:
    """A strictly feasible dual point and a primal point on its central path at the scale of
    the zero network's objective."""
    n, N, y = problem.n, problem.N, problem.y
    # The analytic centre of 1ᵀz ≤ βd shared by N + 1 slacks: then Q = μS⁻¹ ≈ μ(N + 1)/βd·I
    # has the diagonal ρ = μ/s₀ that the primal constraint asks for.
    z = np.full(N, problem.penalty / (N + 1))
    if problem.hinge:
        # −y∘w must lie inside (0, 1); small enough that S stays positive definite.
        K = (problem.X.T * y) @ problem.X
        norm = float(np.linalg.norm(K, 2))
        w = -min(0.5, z[0] / (2 * norm) if norm > 0 else 0.5) * y
        zero_network = float(n)
    else:
        w = np.zeros(n)
        zero_network = 0.5 * float(y @ y)
    S = problem.slack(w, z)
    s0 = problem.penalty - float(z.sum())
    mu = max(zero_network, 1.0) / problem.order
    Q = mu * np.linalg.inv(S)
    Q = (Q + Q.T) / 2
    e = np.ones(n) if problem.hinge else np.empty(0)
    # ξ − e = 1 − y∘ŷ with ŷ ≈ 0: the hinge's slack of the zero network.
    xi = 2.0 * np.ones(n) if problem.hinge else np.empty(0)
    return _Iterate(Q, mu / s0, w, z, S, s0, e, xi, np.linalg.cholesky(Q),
                    np.linalg.cholesky(S))


def _inverse(factor: np.ndarray) -> np.ndarray:
    """S⁻¹ from the Cholesky factor of S."""
    inverse_factor = scipy.linalg.solve_triangular(factor, np.eye(len(factor)), lower=True)
    inverse: np.ndarray = inverse_factor.T @ inverse_factor
    return inverse


def _schur(problem: _Problem, point: _Iterate, G: np.ndarray, dtype: type) -> np.ndarray:
    """The Cholesky factor of the (n + N)-square system of the HKM direction, formed and
    factorised in ``dtype``."""
    n, d = problem.n, problem.d
    X: np.ndarray = problem.X.astype(dtype, copy=False)
    Q: np.ndarray = point.Q.astype(dtype)
    G = G.astype(dtype)
    # Rows i of these are (G uᵢ)ᵀ, (G vᵢ)ᵀ, (Q uᵢ)ᵀ, (Q vᵢ)ᵀ.
    Gu, Gv, Qu, Qv = X @ G[:d], X @ G[d:], X @ Q[:d], X @ Q[d:]
    M = np.empty((n + problem.N, n + problem.N), dtype=dtype)
    block = M[:n, :n]
    # tr(Bᵢ Q Bⱼ G) = (vᵢᵀQuⱼ)(uᵢᵀGvⱼ) + (uᵢᵀQvⱼ)(vᵢᵀGuⱼ) + (vᵢᵀQvⱼ)(uᵢᵀGuⱼ) + (uᵢᵀQuⱼ)(vᵢᵀGvⱼ)
    np.multiply(Qv[:, d:] @ X.T, Gu[:, :d] @ X.T, out=block)
    block += (Qu[:, :d] @ X.T) * (Gv[:, d:] @ X.T)
    cross = (Qv[:, :d] @ X.T) * (Gu[:, d:] @ X.T)
    block += cross
    block += cross.T
    del cross
    M[:n, n:] = Gu * Qv + Gv * Qu
    M[n:, :n] = M[:n, n:].T
    M[n:, n:] = Q * G + point.rho / point.s0
    diagonal = np.arange(n)
    if problem.hinge:
        M[diagonal, diagonal] += point.e / (-problem.y * point.w) \
            + point.xi / (1 + problem.y * point.w)
    else:
        M[diagonal, diagonal] += 1.0
    # M is symmetric: its transpose is the same matrix in LAPACK's column-major order.
    potrf, = scipy.linalg.get_lapack_funcs(("potrf",), (M,))
    factor: np.ndarray
    factor, info = potrf(M.T, lower=True, overwrite_a=True, clean=False)
    if info != 0:
        raise np.linalg.LinAlgError("the Schur complement is not positive definite")
    return factor


def _solve_factored(factor: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    potrs, = scipy.linalg.get_lapack_funcs(("potrs",), (factor,))
    solution, info = potrs(factor, rhs.astype(factor.dtype), lower=True)
    if info != 0:
        raise np.linalg.LinAlgError("potrs failed")
    return solution.astype(float)


def _direction(problem: _Problem, point: _Iterate, G: np.ndarray, factor: np.ndarray,
               target: float, predictor: _Step | None = None) -> _Step:
    """The HKM step towards μ = ``target``; with ``predictor``, Mehrotra's second-order
    correction of its complementarity products."""
    y, n = problem.y, problem.n
    s1, s2 = -y * point.w, 1 + y * point.w
    rhs_w = target * problem.apply(G)
    rhs_z = target * (np.diag(G) - 1.0 / point.s0)
    correction = None
    if predictor is not None:
        correction = predictor.dQ @ predictor.dS @ G
        correction = (correction + correction.T) / 2
        rhs_w -= problem.apply(correction)
        rhs_z -= np.diag(correction) - predictor.drho * predictor.ds0 / point.s0
    # The hinge's products are asked to fall to the target, never to rise to it: the start's
    # e∘s₁ lie orders of magnitude below μ (s₁ = −y∘w must start tiny for S to be positive
    # definite), and Newton steps that raise them stall (a target-following path).
    target_e = np.minimum(target, point.e * s1) if problem.hinge else 0.0
    target_xi = np.minimum(target, point.xi * s2) if problem.hinge else 0.0
    if problem.hinge:
        shift = target_e / s1 - target_xi / s2
        if predictor is not None:
            shift -= predictor.de * (-y * predictor.dw) / s1 \
                - predictor.dxi * (y * predictor.dw) / s2
        rhs_w -= y * (1.0 + shift)
    else:
        rhs_w -= y + point.w
    solution = _solve_factored(factor, np.concatenate([rhs_w, rhs_z]))
    dw, dz = solution[:n], solution[n:]
    dS = problem.slack(dw, dz)
    ds0 = -float(dz.sum())
    product = point.Q @ dS @ G
    dQ = target * G - point.Q - (product + product.T) / 2
    drho = target / point.s0 - point.rho - point.rho * ds0 / point.s0
    if predictor is not None and correction is not None:
        dQ -= correction
        drho -= predictor.drho * predictor.ds0 / point.s0
    de = dxi = np.empty(0)
    if problem.hinge:
        ds1, ds2 = -y * dw, y * dw
        de = target_e / s1 - point.e - point.e * ds1 / s1
        dxi = target_xi / s2 - point.xi - point.xi * ds2 / s2
        if predictor is not None:
            de -= predictor.de * (-y * predictor.dw) / s1
            dxi -= predictor.dxi * (y * predictor.dw) / s2
    return _Step(dw, dz, dS, ds0, dQ, drho, de, dxi)


def _cone_step(factor: np.ndarray, direction: np.ndarray) -> float:
    """The largest t with LLᵀ + t·D ⪰ 0 (L = ``factor``): 1/−λ_min(L⁻¹DL⁻ᵀ).

    Dense for small N; beyond, Lanczos on the operator (triangular solves with vectors
    only), whose Ritz value can only overestimate λ_min, so the step can only be too long:
    :func:`_advance` checks the point it reaches."""
    size = len(factor)
    if size <= DENSE_STEP_SIZE:
        half = scipy.linalg.solve_triangular(factor, direction, lower=True)
        scaled = scipy.linalg.solve_triangular(factor, half.T, lower=True)
        lowest = float(scipy.linalg.eigh((scaled + scaled.T) / 2, eigvals_only=True,
                                         subset_by_index=[0, 0], driver="evr")[0])
    else:
        def product(vector: np.ndarray) -> np.ndarray:
            back = scipy.linalg.solve_triangular(factor, vector, lower=True, trans="T",
                                                 check_finite=False)
            result: np.ndarray = scipy.linalg.solve_triangular(
                factor, direction @ back, lower=True, check_finite=False)
            return result

        operator = scipy.sparse.linalg.LinearOperator((size, size), matvec=product,
                                                      dtype=float)
        lowest = float(scipy.sparse.linalg.eigsh(operator, k=1, which="SA", tol=1e-3,
                                                 return_eigenvectors=False)[0])
    return -1.0 / lowest if lowest < 0 else math.inf


def _ray_step(values: np.ndarray, direction: np.ndarray) -> float:
    """The largest t with values + t·direction ≥ 0."""
    falling = direction < 0
    return float(np.min(-values[falling] / direction[falling])) if np.any(falling) \
        else math.inf


def _step_lengths(problem: _Problem, point: _Iterate, step: _Step) -> tuple[float, float]:
    """How far the primal and the dual point may move along ``step`` within their cones."""
    y = problem.y
    primal = min(_cone_step(point.Q_factor, step.dQ),
                 _ray_step(np.array([point.rho]), np.array([step.drho])))
    dual = min(_cone_step(point.S_factor, step.dS),
               _ray_step(np.array([point.s0]), np.array([step.ds0])))
    if problem.hinge:
        primal = min(primal, _ray_step(point.e, step.de), _ray_step(point.xi, step.dxi))
        dual = min(dual, _ray_step(-y * point.w, -y * step.dw),
                   _ray_step(1 + y * point.w, y * step.dw))
    return primal, dual


def _complementarity_after(problem: _Problem, point: _Iterate, step: _Step, primal: float,
                           dual: float) -> float:
    """⟨Q, S⟩ + ρs₀ (+ the hinge's products) after the step, without forming the point."""
    y = problem.y
    total = float(np.sum((point.Q + primal * step.dQ) * (point.S + dual * step.dS))) \
        + (point.rho + primal * step.drho) * (point.s0 + dual * step.ds0)
    if problem.hinge:
        w = point.w + dual * step.dw
        total += float((point.e + primal * step.de) @ (-y * w)
                       + (point.xi + primal * step.dxi) @ (1 + y * w))
    return total


def _shortened(matrix_at: Callable[[float], np.ndarray], length: float
               ) -> tuple[float, np.ndarray, np.ndarray]:
    """(length, matrix, its Cholesky factor): the step length shortened by a fifth at a time
    until ``matrix_at(length)`` factors."""
    for _ in range(40):
        matrix = matrix_at(length)
        try:
            return length, matrix, np.linalg.cholesky(matrix)
        except np.linalg.LinAlgError:
            length *= 0.8
    raise np.linalg.LinAlgError("no step keeps the matrix positive definite")


def _advance(problem: _Problem, point: _Iterate, step: _Step, primal: float, dual: float
             ) -> _Iterate:
    """The point ``primal`` and ``dual`` of the way along ``step``, each shortened until
    its matrix factors (the step length may be an estimate, and rounding is near)."""
    primal, Q, Q_factor = _shortened(lambda length: point.Q + length * step.dQ, primal)
    dual, S, S_factor = _shortened(
        lambda length: problem.slack(point.w + length * step.dw, point.z + length * step.dz),
        dual)
    w, z = point.w + dual * step.dw, point.z + dual * step.dz
    e = point.e + primal * step.de if problem.hinge else point.e
    xi = point.xi + primal * step.dxi if problem.hinge else point.xi
    return _Iterate(Q, point.rho + primal * step.drho, w, z, S,
                    problem.penalty - float(z.sum()), e, xi, Q_factor, S_factor)


def _feasible_primal(problem: _Problem, point: _Iterate) -> tuple[float, np.ndarray, float]:
    """Q rescaled to an exactly equal diagonal: (ρ, R with unit rows and Q = ρRRᵀ, the
    objective there) — a feasible point, so its objective bounds the optimum above."""
    rho = float(np.mean(np.diag(point.Q)))
    R = point.Q_factor / np.linalg.norm(point.Q_factor, axis=1, keepdims=True)
    d = problem.d
    prediction = 2.0 * rho * np.sum((problem.X @ R[:d]) * (problem.X @ R[d:]), axis=1)
    objective = problem.true_loss.value(prediction[None]) + problem.penalty * rho
    return rho, R, objective


def solve_ipm(X: np.ndarray, y: np.ndarray, loss: str, beta: float, *,
              tolerance: float = 1e-4, progress: Progress | None = None) -> IPMResult:
    """Solve the SDP for lifted inputs X (n × d) and targets y to a certified gap
    ≤ ``tolerance``·(1 + |objective|), or as far as double precision allows."""
    n, d = X.shape
    with threadpool_limits(limits=None if n + 2 * d >= THREADED_SIZE else 1, user_api="blas"):
        return _solve(X, y, loss, beta, tolerance, progress)


def _solve(X: np.ndarray, y: np.ndarray, loss: str, beta: float, tolerance: float,
           progress: Progress | None) -> IPMResult:
    say = progress or (lambda message: None)
    problem = _Problem(X, np.asarray(y, dtype=float), loss, beta)
    start = last_report = time.perf_counter()
    point = _start(problem)
    best: tuple[float, float, np.ndarray] | None = None
    certificate: Certificate | None = None
    iteration = 0
    precision: type = np.float32
    for iteration in range(1, MAX_ITERATIONS + 1):
        G = _inverse(point.S_factor)
        rho, R, objective = _feasible_primal(problem, point)
        if best is None or objective < best[1]:
            best = (rho, objective, R)
        dual_value = problem.dual_value(point.w)
        gap = best[1] - dual_value
        if time.perf_counter() - last_report >= REPORT_SECONDS:
            last_report = time.perf_counter()
            say(f"  … SDP iteration {iteration}: objective {best[1]:.8g}, dual bound "
                f"{dual_value:.8g}, gap {gap / (1 + abs(best[1])):.1e} of 1 + |objective|, "
                f"{last_report - start:.1f} s")
        if gap <= tolerance * (1 + abs(best[1])):
            certificate = _certify(problem, point)
            if best[1] - certificate.lower_bound <= tolerance * (1 + abs(best[1])):
                break
        mu = point.complementarity(problem) / problem.order
        try:
            factor = _schur(problem, point, G, precision)
        except np.linalg.LinAlgError:
            if precision == np.float64:
                break
            precision = np.float64
            factor = _schur(problem, point, G, precision)
        predictor = _direction(problem, point, G, factor, 0.0)
        primal, dual = _step_lengths(problem, point, predictor)
        predicted = _complementarity_after(problem, point, predictor, min(1.0, primal),
                                           min(1.0, dual))
        centring = (predicted / problem.order / mu) ** 3
        step = _direction(problem, point, G, factor, centring * mu, predictor)
        corrected = _step_lengths(problem, point, step)
        if min(corrected) < 0.5 * min(1.0, primal, dual):
            # Far from the central path the second-order term can point out of the cones:
            # then the centred step without it goes further.
            step = _direction(problem, point, G, factor, centring * mu)
            corrected = _step_lengths(problem, point, step)
        primal, dual = corrected
        try:
            point = _advance(problem, point, step, min(1.0, STEP_FRACTION * primal),
                             min(1.0, STEP_FRACTION * dual))
        except np.linalg.LinAlgError:
            break       # a cone's boundary within rounding: the last iterate is as far as it goes
    if certificate is None or best is None \
            or best[1] - certificate.lower_bound > tolerance * (1 + abs(best[1])):
        certificate = _certify(problem, point)
    assert best is not None
    rho, objective, R = best
    return IPMResult(rho=rho, R=R, objective=objective, certificate=certificate,
                     iterations=iteration, seconds=time.perf_counter() - start)


def _certify(problem: _Problem, point: _Iterate) -> Certificate:
    """The certificate of the dual point (w, z): ν = −z, the method's own multipliers."""
    return certify(problem.X, problem.true_loss, problem.beta, point.w[None],
                   primal=None, shifts=[-point.z])
