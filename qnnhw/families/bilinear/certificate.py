"""A certified lower bound on the SDP (22), and so on every ±1 network's objective (21).

The SDP of C output blocks (C = 1 for one output; see docs/sdp.md) is

    P* = min ℓ(Ŷ) + βd Σ_c ρ_c   s.t.  Ŷ_ci = ⟨B_i, Q_c⟩,  Q_c ⪰ 0,  diag(Q_c) = ρ_c 1,

with B_i = [[0, xᵢxᵢᵀ], [xᵢxᵢᵀ, 0]] (so ⟨B_i, Q⟩ = 2xᵢᵀZxᵢ) and Q_c of size N = 2d. Its
Lagrange dual is

    max_W  −ℓ*(W)   s.t.  φ(W_c) ≤ βd for every c,
    φ(w) = max { ⟨−C(w), Q̄⟩ : Q̄ ⪰ 0, diag(Q̄) = 1 },   C(w) = Σᵢ wᵢ B_i,

so −ℓ*(W) of any W meeting the constraints is ≤ P*. φ is a MaxCut-type SDP; for any z,
φ(w) ≤ N·λ_max(−C(w) − diag z) + 1ᵀz, and z = −diag(C(w)Q̄) from a primal point Q̄ (or an
interior-point method's own multipliers of diag(Q) = ρ1) makes this tight at the optimum.
:func:`certify` evaluates that bound with a dense float64 eigenvalue solver, adds margins for
the rounding of C(w) and of the eigenvalues, scales each W_c so that its constraint holds
(φ is positively homogeneous) and returns −ℓ*(tW) less its own rounding margin. Any W gives
a valid bound; W = ∇ℓ(Ŷ) at a good Ŷ gives a tight one, whichever solver produced Ŷ.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg

from qnnhw.losses import Elementwise

__all__ = ["Certificate", "CertifiedSolution", "certify", "gram_operator"]

EPS = np.finfo(float).eps


@dataclass
class Certificate:
    """A certified lower bound and what it was made of.

    Attributes
    ----------
    lower_bound : float
        No feasible point of the SDP, hence no ±1 network, has a smaller objective.
    phi : ndarray, shape (C,)
        The certified upper bound φ̄_c on φ(W_c).
    scales : ndarray, shape (C,)
        t_c: the dual point is (t_c W_c)_c.
    min_eigenvalues : ndarray, shape (C,)
        λ_min of the dual slack S_c = C(W_c) − diag(ν_c) (≥ 0 at the optimum).
    eigenvalues, directions : list of ndarray
        For each block, the smallest eigenvalues of S_c and their eigenvectors (columns):
        where a primal point of low rank can still descend.
    deficit : float
        How much higher the bound would be if every S_c were positive semidefinite: what the
        negative eigenvalues cost (the rest of a gap is the primal point's own distance).
    """

    lower_bound: float
    phi: np.ndarray
    scales: np.ndarray
    min_eigenvalues: np.ndarray
    eigenvalues: list[np.ndarray]
    directions: list[np.ndarray]
    deficit: float


@dataclass
class CertifiedSolution:
    """What every qnnhw solver returns besides its point: a feasible point's objective and a
    certificate below it.

    Attributes
    ----------
    objective : float
        The SDP objective (true loss) at the solver's point: an upper bound on the optimum.
    certificate : Certificate
        ``certificate.lower_bound`` is a certified lower bound on the optimum.
    """

    objective: float
    certificate: Certificate
    iterations: int
    seconds: float

    @property
    def lower_bound(self) -> float:
        return self.certificate.lower_bound

    @property
    def gap(self) -> float:
        return max(self.objective - self.lower_bound, 0.0)


def gram_operator(X: np.ndarray, w: np.ndarray) -> np.ndarray:
    """K = Xᵀ diag(w) X, so that C(w) = [[0, K], [K, 0]]."""
    K: np.ndarray = (X.T * w) @ X
    return K


def _dual_slack(K: np.ndarray, factor: np.ndarray | None, nu: np.ndarray | None
                ) -> tuple[np.ndarray, np.ndarray]:
    """S = C(w) − diag(ν): ν as given, or ν = diag(C(w)Q̄) for the primal point Q̄ = RRᵀ
    (R = ``factor``: N × r)."""
    d = K.shape[0]
    C = np.zeros((2 * d, 2 * d))
    C[:d, d:] = K
    C[d:, :d] = K
    if nu is None:
        assert factor is not None
        nu = np.einsum("ij,ij->i", C @ factor, factor)
    return C - np.diag(nu), nu


def certify(X: np.ndarray, loss: Elementwise, beta: float, W: np.ndarray,
            primal: list[np.ndarray] | None, directions: int = 0, *,
            shifts: list[np.ndarray] | None = None) -> Certificate:
    """A lower bound on the SDP's optimum from the dual candidate W (C × n).

    Parameters
    ----------
    X : ndarray, shape (n, d)
        Lifted training inputs.
    loss : Elementwise
        The true loss and targets (C × n); W must lie in its conjugate's domain.
    beta : float
    W : ndarray, shape (C, n)
        Dual candidate, typically ∇ℓ(Ŷ).
    primal : list of ndarray, or None
        For each block, a factor R_c (N × r) of the primal point Q̄_c = R_cR_cᵀ; it only
        chooses the bound's ν = diag(C(W_c)Q̄_c), so any point gives a valid bound.
    directions : int
        How many eigenvectors of each dual slack's smallest eigenvalues to return.
    shifts : list of ndarray, or None
        ν for each block directly, instead of from ``primal`` (an interior-point method's
        own multipliers of diag(Q) = ρ1, negated).
    """
    n, d = X.shape
    N = 2 * d
    blocks = W.shape[0]
    phi = np.empty(blocks)
    scales = np.empty(blocks)
    smallest = np.empty(blocks)
    vectors: list[np.ndarray] = []
    lowest_values: list[np.ndarray] = []
    absolute = np.abs(X)
    bound = ideal = 0.0
    for c in range(blocks):
        K = gram_operator(X, W[c])
        S, nu = _dual_slack(K, None if primal is None else primal[c],
                            None if shifts is None else shifts[c])
        # Rounding of K = Xᵀ diag(w) X: |K̂ − K| ≤ γ_n |X|ᵀ|w||X| elementwise; its Frobenius
        # norm bounds the spectral norm of the error of C(w).
        gamma = n * EPS / (1 - n * EPS)
        formation = gamma * float(np.linalg.norm(gram_operator(absolute, np.abs(W[c]))))
        count = max(1, directions)
        values, eigenvectors = scipy.linalg.eigh(S, subset_by_index=[0, count - 1],
                                                 driver="evr")
        # A backward-stable dense eigensolver errs by at most a small multiple of N·ε·‖S‖.
        eigen_error = 10 * N * EPS * float(np.linalg.norm(S))
        lowest = float(values[0]) - eigen_error - formation
        total = float(nu.sum())
        rounding = N * EPS * float(np.abs(nu).sum())
        phi[c] = -N * lowest - total + rounding
        smallest[c] = float(values[0])
        vectors.append(eigenvectors[:, :directions])
        lowest_values.append(values[:directions])
        column = Elementwise(loss.loss, loss.targets[c])
        scales[c] = column.best_dual_scale(W[c], beta * d / phi[c] if phi[c] > 0 else np.inf)
        value_terms = float(np.sum(np.abs(scales[c] * W[c] * loss.targets[c]))
                            + 0.5 * np.sum((scales[c] * W[c]) ** 2))
        bound += column.dual_value(scales[c] * W[c]) - 4 * n * EPS * value_terms
        psd = -N * max(lowest, 0.0) - total + rounding
        scale = column.best_dual_scale(W[c], beta * d / psd if psd > 0 else np.inf)
        ideal += column.dual_value(scale * W[c]) - 4 * n * EPS * value_terms
    return Certificate(lower_bound=bound, phi=phi, scales=scales, min_eigenvalues=smallest,
                       eigenvalues=lowest_values, directions=vectors,
                       deficit=max(ideal - bound, 0.0))
