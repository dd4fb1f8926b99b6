"""The convex SDP lower bound (22) and the sampling of Algorithm 1 (Bartan & Pilanci, 2021).

The bilinear network f(x) = Σⱼ (xᵀuⱼ)(xᵀvⱼ) α with uⱼ, vⱼ ∈ {−1, +1}ᵈ is trained as follows:

1. :func:`solve_sdp` solves (22): min ℓ(ŷ, y) + βdρ subject to ŷᵢ = 2xᵢᵀZxᵢ,
   Q = [[V, Z], [Zᵀ, W]] ⪰ 0, diag(Q) = ρ. Its value lower-bounds the objective (21) of every
   ±1 network of any width.
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

__all__ = ["GAMMA", "SDPSolution", "paper_alpha", "sample_neurons", "shape_covariance",
           "solve_sdp"]

#: γ = ln(1 + √2) = asinh(1): the constant of Krivine's bound, sinh(γ) = 1.
GAMMA = math.log(1.0 + math.sqrt(2.0))

SOLVERS = ("SCS", "CLARABEL")


@dataclass
class SDPSolution:
    """Solution of the SDP (22).

    Attributes
    ----------
    lower_bound : float
        The optimal value: no ±1 network of any width has a smaller objective (21).
    Q : ndarray, shape (2d, 2d)
        The optimal [[V, Z], [Zᵀ, W]].
    rho : float
        The common diagonal value ρ*.
    """

    lower_bound: float
    Q: np.ndarray
    rho: float
    status: str
    solver: str
    seconds: float

    @property
    def d(self) -> int:
        return self.Q.shape[0] // 2

    @property
    def Z(self) -> np.ndarray:
        return self.Q[:self.d, self.d:]

    def predict(self, X: np.ndarray) -> np.ndarray:
        """The SDP's own predictions ŷᵢ = 2xᵢᵀZxᵢ (the mean of the sampled networks)."""
        return 2.0 * np.einsum("ij,jk,ik->i", X, self.Z, X)


def solve_sdp(X: np.ndarray, y: np.ndarray, *, loss: str, beta: float, solver: str = "SCS",
              verbose: bool = False) -> SDPSolution:
    """Solve the SDP (22) for lifted inputs ``X`` (n × d) and targets ``y``."""
    import cvxpy as cp  # imported here: it takes a second, and only training needs it

    if solver not in SOLVERS:
        raise QnnhwError(f"unknown SDP @solver {solver!r}; choose one of {', '.join(SOLVERS)}",
                         "solver")
    if not (beta >= 0 and math.isfinite(beta)):
        raise QnnhwError(f"@beta must be a finite number ≥ 0, not {beta}", "beta")
    n, d = X.shape
    Q = cp.Variable((2 * d, 2 * d), symmetric=True)
    rho = cp.Variable()
    Z = Q[:d, d:]
    prediction = 2.0 * cp.sum(cp.multiply(X @ Z, X), axis=1)
    if loss == "squared":
        fit = 0.5 * cp.sum_squares(prediction - y)
    else:
        fit = cp.sum(cp.pos(1.0 - cp.multiply(y, prediction)))
    problem = cp.Problem(cp.Minimize(fit + beta * d * rho), [Q >> 0, cp.diag(Q) == rho])
    start = time.perf_counter()
    try:
        problem.solve(solver=solver, verbose=verbose)
    except cp.error.SolverError as error:
        raise QnnhwError(f"the SDP solver {solver} failed ({error}); try @solver "
                         f"{'CLARABEL' if solver == 'SCS' else 'SCS'}", "solver") from None
    seconds = time.perf_counter() - start
    if problem.status not in ("optimal", "optimal_inaccurate"):
        raise QnnhwError(f"the SDP solver {solver} ended with status {problem.status!r}; try "
                         f"@solver {'CLARABEL' if solver == 'SCS' else 'SCS'}", "solver")
    Q_value = np.asarray(Q.value)
    return SDPSolution(lower_bound=float(problem.value), Q=(Q_value + Q_value.T) / 2,
                       rho=float(np.asarray(rho.value)), status=problem.status, solver=solver,
                       seconds=seconds)


def _unit_diagonal_psd(matrix: np.ndarray) -> np.ndarray:
    """Nearest-in-spirit PSD matrix with unit diagonal: clip eigenvalues, rescale."""
    eigenvalues, eigenvectors = np.linalg.eigh((matrix + matrix.T) / 2)
    psd = (eigenvectors * np.clip(eigenvalues, 0.0, None)) @ eigenvectors.T
    scale = 1.0 / np.sqrt(np.clip(np.diag(psd), 1e-300, None))
    return psd * np.outer(scale, scale)


def shape_covariance(solution: SDPSolution,
                     method: Literal["krivine", "sdp"] = "krivine"
                     ) -> tuple[np.ndarray, float]:
    """Covariance shaping (24). Returns Q* and the residual ‖Q*₁₂ − sin(γZ*/ρ*)‖_F.

    Theorem 2 says the residual is zero in exact arithmetic; what remains measures the SDP
    solver's inaccuracy and is reported as a health check.
    """
    d = solution.d
    if solution.rho <= 1e-12:
        # β is so large that the best network is the zero network: any Q will do.
        return np.eye(2 * d), 0.0
    target = np.sin(GAMMA * solution.Z / solution.rho)
    if method == "krivine":
        G = _unit_diagonal_psd(solution.Q / solution.rho)
        shaped = np.block([[np.sinh(GAMMA * G[:d, :d]), np.sin(GAMMA * G[:d, d:])],
                           [np.sin(GAMMA * G[d:, :d]), np.sinh(GAMMA * G[d:, d:])]])
    elif method == "sdp":
        import cvxpy as cp

        Q = cp.Variable((2 * d, 2 * d), symmetric=True)
        problem = cp.Problem(cp.Minimize(cp.sum_squares(Q[:d, d:] - target)),
                             [Q >> 0, cp.diag(Q) == 1])
        problem.solve(solver="SCS", eps_abs=1e-7, eps_rel=1e-7)
        shaped = _unit_diagonal_psd(np.asarray(Q.value))
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
