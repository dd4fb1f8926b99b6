"""The convex SDP lower bound (22) and the sampling of Algorithm 1 (Bartan & Pilanci, 2021).

The bilinear network f(x) = Σⱼ (xᵀuⱼ)(xᵀvⱼ) α with uⱼ, vⱼ ∈ {−1, +1}ᵈ is trained as follows:

1. :func:`solve_sdp` solves (22): min ℓ(ŷ, y) + βdρ subject to ŷᵢ = 2xᵢᵀZxᵢ,
   Q = [[V, Z], [Zᵀ, W]] ⪰ 0, diag(Q) = ρ. Its value lower-bounds the objective (21) of every
   ±1 network of any width. qnnhw's own solvers (:mod:`.ipm`, an interior-point method, and
   :mod:`.bm`, Burer–Monteiro) never form the n × d² operator; SCS and CLARABEL (through
   CVXPY) remain. Whichever ran, :mod:`.certificate` turns its point into a certified lower
   bound: a solver's reported value is not one (SCS's can lie below the optimum).
2. :func:`shape_covariance` finds Q* ⪰ 0 with unit diagonal and Q*₁₂ = sin(γZ*/ρ*) (24),
   γ = ln(1 + √2). By default it uses Krivine's construction, which is the proof of
   Theorem 2 made explicit: with G = Q/ρ (unit diagonal), the matrix
   [[sinh(γG₁₁), sin(γG₁₂)], [sin(γG₂₁), sinh(γG₂₂)]] (element-wise functions) is the Gram
   matrix of unit vectors, so it is PSD with unit diagonal and solves (24) with residual
   zero up to the SDP solver's accuracy, without a second SDP. ``method="sdp"`` solves (24)
   as written instead.
3. :func:`sample_neurons` draws [u; v] = sign(N(0, Q*)); every neuron gets α = ρ*π/(γm).

Only step 3 depends on m, so one SDP serves every width.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Literal

import numpy as np

from qnnhw.errors import QnnhwError
from qnnhw.families.base import Progress
from qnnhw.losses import Elementwise

from .bm import solve_bm
from .certificate import CertifiedSolution, certify
from .config import SDP_SOLVERS as SOLVERS
from .ipm import solve_ipm

__all__ = ["GAMMA", "SDPSolution", "paper_alpha", "sample_neurons", "shape_covariance",
           "solve_sdp"]

#: γ = ln(1 + √2) = asinh(1): the constant of Krivine's bound, sinh(γ) = 1.
GAMMA = math.log(1.0 + math.sqrt(2.0))

#: ``auto`` uses the interior-point method while its Schur system (n + 2d square, held in
#: single and double precision) stays within this many entries — 10⁸ is 1.2 GB, n ≈ 8,000
#: at d = 785 — and BM (memory O(n·d)) beyond it.
IPM_SIZE_LIMIT = 100_000_000
#: Certified gap qnnhw's solvers stop at, relative to 1 + |objective|.
DEFAULT_TOLERANCE = 1e-4


@dataclass
class SDPSolution:
    """A solution of the SDP (22) with its certificate.

    Attributes
    ----------
    lower_bound : float
        Certified (:mod:`.certificate`): no ±1 network of any width has a smaller objective
        (21), whichever solver produced the point.
    objective : float
        The SDP's objective at ``Q``, a feasible point: the optimum lies in
        [lower_bound, objective].
    rho : float
        The common diagonal value ρ of ``Q``.
    R : ndarray, shape (2d, r)
        A factor with unit rows: Q = ρ·RRᵀ.
    """

    lower_bound: float
    objective: float
    rho: float
    R: np.ndarray
    status: str
    solver: str
    seconds: float
    iterations: int = 0

    @property
    def d(self) -> int:
        return self.R.shape[0] // 2

    @property
    def G(self) -> np.ndarray:
        """Q/ρ = RRᵀ: positive semidefinite with unit diagonal, exactly."""
        G: np.ndarray = self.R @ self.R.T
        return G

    @property
    def Q(self) -> np.ndarray:
        return self.rho * self.G

    @property
    def Z(self) -> np.ndarray:
        return self.Q[:self.d, self.d:]

    @property
    def gap(self) -> float:
        """objective − lower_bound: how far the point may be from the optimum."""
        return max(self.objective - self.lower_bound, 0.0)

    @property
    def relative_gap(self) -> float:
        return self.gap / (1.0 + abs(self.objective))

    def predict(self, X: np.ndarray) -> np.ndarray:
        """The SDP's own predictions ŷᵢ = 2xᵢᵀZxᵢ (the mean of the sampled networks)."""
        d = self.d
        return 2.0 * self.rho * np.sum((X @ self.R[:d]) * (X @ self.R[d:]), axis=1)


def solve_sdp(X: np.ndarray, y: np.ndarray, *, loss: str, beta: float,
              solver: str = "auto", tolerance: float = DEFAULT_TOLERANCE,
              progress: Progress | None = None) -> SDPSolution:
    """Solve the SDP (22) for lifted inputs ``X`` (n × d) and targets ``y``, and certify it.

    ``IPM`` (:mod:`.ipm`) and ``BM`` (:mod:`.bm`) are qnnhw's own solvers, neither of which
    forms the n × d² operator, run to a certified gap ≤ ``tolerance``·(1 + |objective|);
    ``SCS`` and ``CLARABEL`` state the SDP in CVXPY and solve it to their own accuracy;
    ``auto`` takes IPM while its n + 2d square system fits (and β > 0), BM otherwise. Every
    result carries the same certified lower bound.
    """
    if solver not in SOLVERS:
        raise QnnhwError(f"unknown SDP @solver {solver!r}; choose one of {', '.join(SOLVERS)}",
                         "solver")
    if not (beta >= 0 and math.isfinite(beta)):
        raise QnnhwError(f"@beta must be a finite number ≥ 0, not {beta}", "beta")
    chosen = solver == "auto"
    if chosen:
        n, d = X.shape
        solver = "IPM" if (n + 2 * d) ** 2 <= IPM_SIZE_LIMIT and beta > 0 else "BM"
    if solver == "IPM" and beta == 0:
        # 1ᵀz ≤ 0 and C(w) + Diag(z) ⪰ 0 leave the dual no interior to start from.
        raise QnnhwError("the interior-point @solver IPM needs @beta > 0 (at β = 0 the dual "
                         "has no interior); use @solver BM", "solver")
    if solver in ("IPM", "BM"):
        result: CertifiedSolution
        if solver == "IPM":
            try:
                interior = solve_ipm(X, y, loss, beta, tolerance=tolerance, progress=progress)
            except np.linalg.LinAlgError as error:
                # Badly scaled targets can make the Newton systems numerically indefinite.
                if not chosen:
                    raise QnnhwError(f"the interior-point @solver IPM failed numerically "
                                     f"({error}); use @solver BM, or rescale the target",
                                     "solver") from None
                if progress is not None:
                    progress(f"the interior point failed numerically ({error}); solving by "
                             f"BM instead")
                return solve_sdp(X, y, loss=loss, beta=beta, solver="BM",
                                 tolerance=tolerance, progress=progress)
            result, rho, R = interior, interior.rho, interior.R
        else:
            factored = solve_bm(X, y, loss, beta, tolerance=tolerance, progress=progress)
            result, rho, R = factored, float(factored.rho[0]), factored.R[0]
        status = "certified" if result.gap <= tolerance * (1 + abs(result.objective)) \
            else "stopped"
        return SDPSolution(lower_bound=result.lower_bound, objective=result.objective,
                           rho=rho, R=R, status=status, solver=solver,
                           seconds=result.seconds, iterations=result.iterations)
    return _solve_conic(X, y, loss, beta, solver)


def _solve_conic(X: np.ndarray, y: np.ndarray, loss: str, beta: float, solver: str
                 ) -> SDPSolution:
    """The SDP (22) in CVXPY; the point is made exactly feasible and certified afterwards."""
    import cvxpy as cp  # imported here: it takes a second, and only these solvers need it

    n, d = X.shape
    Q = cp.Variable((2 * d, 2 * d), symmetric=True)
    rho = cp.Variable()
    prediction = cp.Variable(n)
    Z = Q[:d, d:]
    fit = (0.5 * cp.sum_squares(prediction - y) if loss == "squared"
           else cp.sum(cp.pos(1.0 - cp.multiply(y, prediction))))
    link = prediction == 2.0 * cp.sum(cp.multiply(X @ Z, X), axis=1)
    problem = cp.Problem(cp.Minimize(fit + beta * d * rho), [Q >> 0, cp.diag(Q) == rho, link])
    start = time.perf_counter()
    other = "CLARABEL" if solver == "SCS" else "SCS"
    try:
        problem.solve(solver=solver)
    except cp.error.SolverError as error:
        raise QnnhwError(f"the SDP solver {solver} failed ({error}); try @solver {other}",
                         "solver") from None
    seconds = time.perf_counter() - start
    if problem.status not in ("optimal", "optimal_inaccurate") or Q.value is None:
        raise QnnhwError(f"the SDP solver {solver} ended with status {problem.status!r}; try "
                         f"@solver {other}", "solver")
    # The solver's point may be slightly outside the set: its nearest unit-diagonal PSD
    # matrix, at the solver's ρ, is a feasible point whose objective bounds the optimum above.
    R = _unit_diagonal_factor(np.asarray(Q.value) / max(float(np.asarray(rho.value)), 1e-300))
    scale = max(float(np.asarray(rho.value)), 0.0)
    true_loss = Elementwise(loss, y[None])
    feasible = scale * 2.0 * np.sum((X @ R[:d]) * (X @ R[d:]), axis=1)
    objective = true_loss.value(feasible[None]) + beta * d * scale
    # The dual of the link is the loss gradient at the optimum: the certificate's candidate.
    # CVXPY's sign convention: orient it as a loss gradient (for the hinge, y·w ≤ 0).
    W = np.asarray(link.dual_value, dtype=float).reshape(1, n)
    if loss == "hinge":
        W = -W if np.sum(y * W) > 0 else W
        W = -y[None] * np.clip(-y[None] * W, 0.0, 1.0)
    elif np.sum(W * true_loss.gradient(feasible[None])) < 0:
        W = -W
    certificate = certify(X, true_loss, beta, W, [R])
    return SDPSolution(lower_bound=certificate.lower_bound, objective=objective, rho=scale,
                       R=R, status=problem.status, solver=solver, seconds=seconds)


def _unit_diagonal_factor(matrix: np.ndarray) -> np.ndarray:
    """R with unit rows and RRᵀ the nearest-in-spirit unit-diagonal PSD matrix to ``matrix``
    (eigenvalues clipped at 0, rows rescaled)."""
    eigenvalues, eigenvectors = np.linalg.eigh((matrix + matrix.T) / 2)
    keep = eigenvalues > 1e-12 * max(float(eigenvalues.max()), 1e-300)
    factor = eigenvectors[:, keep] * np.sqrt(eigenvalues[keep])
    norms = np.linalg.norm(factor, axis=1, keepdims=True)
    normalized: np.ndarray = factor / np.where(norms > 0, norms, 1.0)
    return normalized


def shape_covariance(solution: SDPSolution,
                     method: Literal["krivine", "sdp"] = "krivine"
                     ) -> tuple[np.ndarray, float]:
    """Covariance shaping (24). Returns Q* and the residual ‖Q*₁₂ − sin(γZ*/ρ*)‖_F.

    Theorem 2 says the residual is zero in exact arithmetic. Krivine's construction starts
    from G = RRᵀ, positive semidefinite with unit diagonal by construction, so its residual
    is rounding; the SDP (24) as written shows its own solver's inaccuracy.
    """
    d = solution.d
    if solution.rho <= 1e-12:
        # β is so large that the best network is the zero network: any Q will do.
        return np.eye(2 * d), 0.0
    G = solution.G
    target = np.sin(GAMMA * G[:d, d:])
    if method == "krivine":
        shaped = np.block([[np.sinh(GAMMA * G[:d, :d]), np.sin(GAMMA * G[:d, d:])],
                           [np.sin(GAMMA * G[d:, :d]), np.sinh(GAMMA * G[d:, d:])]])
    elif method == "sdp":
        import cvxpy as cp

        Q = cp.Variable((2 * d, 2 * d), symmetric=True)
        problem = cp.Problem(cp.Minimize(cp.sum_squares(Q[:d, d:] - target)),
                             [Q >> 0, cp.diag(Q) == 1])
        problem.solve(solver="SCS", eps_abs=1e-7, eps_rel=1e-7)
        factor = _unit_diagonal_factor(np.asarray(Q.value))
        shaped = factor @ factor.T
    else:
        raise QnnhwError(f"unknown covariance shaping {method!r}; choose krivine or sdp")
    residual = float(np.linalg.norm(shaped[:d, d:] - target))
    return shaped, residual


def sample_neurons(Q: np.ndarray, m: int, rng: np.random.Generator
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Draw m neurons [u; v] = sign(N(0, Q)); returns U, V as (m, d) arrays of ±1 (int8)."""
    if m < 1:
        raise QnnhwError(f"the number of neurons @m must be at least 1, not {m}", "m")
    eigenvalues, eigenvectors = np.linalg.eigh(Q)
    factor = eigenvectors * np.sqrt(np.clip(eigenvalues, 0.0, None))
    samples = rng.standard_normal((m, Q.shape[0])) @ factor.T
    signs = np.where(samples >= 0.0, 1, -1).astype(np.int8)
    d = Q.shape[0] // 2
    return signs[:, :d], signs[:, d:]


def paper_alpha(rho: float, m: int) -> float:
    """Algorithm 1's second-layer weight α = ρ*π/(γm), the same for every neuron."""
    return rho * math.pi / (GAMMA * m)
