"""Batched algebra on many small matrices (one p × p matrix per gene).

DESeq2 solves a tiny linear system per gene (p is the number of model coefficients, usually
2–6). Looping over genes in Python is far too slow, and LAPACK's batched routines spend most of
their time on per-matrix overhead at this size, so these routines work on whole stacks with
closed forms (p ≤ 3) or a Cholesky factorisation written over the stack (p ≥ 4). No BLAS
product is involved, so every gene's arithmetic runs in one fixed order and results do not
depend on how genes are chunked.
"""

from __future__ import annotations

import functools

import numpy as np

__all__ = [
    "DesignStructure",
    "design_structure",
    "gram",
    "inv",
    "linear_predictor",
    "linear_predictor_exp",
    "logdet",
    "row_sums",
    "sandwich",
    "solve",
    "trimmed_mean",
    "upper_inverse",
    "upper_logdet",
    "upper_solve",
]

_FEW_GROUPS = 32


def gram(weights: np.ndarray, design: np.ndarray, /) -> np.ndarray:
    """``X' diag(w_g) X`` for every gene ``g``.

    Samples sharing a design row contribute the same outer product, so the weights are
    first summed within such groups (a factor design has far fewer groups than samples).

    Parameters
    ----------
    weights
        Genes × samples weights.
    design
        Samples × coefficients model matrix.

    Returns
    -------
    numpy.ndarray
        Genes × p × p.
    """
    groups = design_structure(design)
    return groups.gram(groups.sums(weights))


class DesignStructure:
    """The distinct rows of a design and which samples share each (cached per design).

    Attributes
    ----------
    rows
        Distinct design rows, k × p, in order of first appearance.
    """

    def __init__(self, design: np.ndarray) -> None:
        self.p = design.shape[1]
        rows, first, inverse = np.unique(design, axis=0, return_index=True, return_inverse=True)
        order_of_rows = np.argsort(first, kind="stable")
        rank = np.empty_like(order_of_rows)
        rank[order_of_rows] = np.arange(order_of_rows.size)
        self.group = rank[inverse.ravel()]
        self.rows = rows[order_of_rows]
        self.n_groups = self.rows.shape[0]
        self.n_samples = design.shape[0]
        self.members = [np.flatnonzero(self.group == k) for k in range(self.n_groups)]
        self.order = np.argsort(self.group, kind="stable")
        self.sorted = bool(np.all(self.order == np.arange(self.n_samples)))
        self.starts = np.flatnonzero(np.r_[True, np.diff(self.group[self.order]) != 0])
        self.stops = np.r_[self.starts[1:], self.n_samples]
        upper_i, upper_j = np.triu_indices(self.p)
        self.products = self.rows[:, upper_i] * self.rows[:, upper_j]  # k × p(p+1)/2
        position = np.zeros((self.p, self.p), dtype=np.int64)
        position[upper_i, upper_j] = np.arange(upper_i.size)
        position[upper_j, upper_i] = np.arange(upper_i.size)
        self.position = position.ravel()
        self.diagonal = np.flatnonzero(upper_i == upper_j)
        self.gram_terms = _sum_terms(self.products)
        # u' M u = sum over the upper triangle, off-diagonal entries counted twice
        self.products_symmetric = self.products * np.where(upper_i == upper_j, 1.0, 2.0)

    def sums(self, weights: np.ndarray, /) -> np.ndarray:
        """Per gene, the weights summed within each group of samples (k × genes).

        Groups first, so that each group's sums are contiguous for the per-gene arithmetic on
        them; a design without shared rows gives the weights themselves, transposed.
        """
        if self.n_groups == self.n_samples:
            return weights.T if self.sorted else weights[:, self.order].T
        out = np.empty((self.n_groups, weights.shape[0]))
        if self.n_samples > _FEW_GROUPS:
            # Many samples: sum each group's (contiguous, once ordered) block of columns.
            ordered = weights if self.sorted else weights[:, self.order]
            for k, (start, stop) in enumerate(zip(self.starts, self.stops, strict=True)):
                out[k] = ordered[:, start:stop].sum(axis=1)
            return out
        columns = weights.T
        for k, members in enumerate(self.members):  # each group's samples in their order
            if members.size == 1:
                out[k] = columns[members[0]]
                continue
            np.add(columns[members[0]], columns[members[1]], out=out[k])
            for j in members[2:]:
                out[k] += columns[j]
        return out

    def gram_upper(self, sums: np.ndarray, /) -> np.ndarray:
        """The distinct entries of ``sum_k W_gk u_k u_k'`` (upper triangle, row by row) × genes.

        ``sums`` are the groups' weights as :meth:`sums` gives them (k × genes).
        """
        k = self.n_groups
        if k > _FEW_GROUPS:
            # Genes-major, the layout whose order of summation einsum keeps for every block.
            return np.einsum("gk,kc->gc", np.ascontiguousarray(sums.T), self.products).T
        # One running sum per distinct product over the groups, for all genes at once
        # (einsum's inner loop is too short to be efficient here).
        out = np.empty((self.products.shape[1], sums.shape[1]))
        for c, terms in enumerate(self.gram_terms):
            if isinstance(terms, int):  # the same products as an earlier entry
                out[c] = out[terms]
                continue
            acc = out[c]
            for n, (j, weight) in enumerate(terms):
                term = sums[j] if weight == 1.0 else sums[j] * weight
                if n == 0:
                    acc[...] = term
                else:
                    acc += term
        return out

    def gram(self, sums: np.ndarray, /) -> np.ndarray:
        """``sum_k W_gk u_k u_k'`` from group sums ``W`` (genes × p × p)."""
        return self.full(self.gram_upper(sums))

    def full(self, upper: np.ndarray, /) -> np.ndarray:
        """Symmetric matrices (genes × p × p) from upper-triangle entries (entries × genes)."""
        return np.ascontiguousarray(upper[self.position].T).reshape(-1, self.p, self.p)

    def stacked(self, upper: np.ndarray, /) -> np.ndarray:
        """Symmetric matrices (p × p × genes) from upper-triangle entries (entries × genes)."""
        return upper[self.position].reshape(self.p, self.p, -1)

    def row_forms(self, matrices: np.ndarray, /) -> np.ndarray:
        """``u_k' M_g u_k`` (k × genes) for each distinct row ``u_k`` and M given p × p × genes.

        The p² terms ``(u_a M_ab) u_b`` are summed one after the other, ``a`` then ``b``, as
        einsum sums them per sample.
        """
        out = np.zeros((self.n_groups, matrices.shape[-1]))
        for k, u in enumerate(self.rows):
            for a in range(self.p):
                for b in range(self.p):
                    out[k] += u[a] * matrices[a, b] * u[b]
        return out

    def quadratic(self, upper: np.ndarray, /) -> np.ndarray:
        """``u_k' M_g u_k`` (genes × k) for symmetric ``M_g`` given by its upper triangle."""
        return np.einsum("gc,kc->gk", np.ascontiguousarray(upper.T), self.products_symmetric)


def _sum_terms(products: np.ndarray, /) -> list[list[tuple[int, float]] | int]:
    """Per column of ``products`` (groups × entries), the groups whose product is not zero.

    Factor designs have products of 0 and 1: a zero term adds nothing and a unit one needs no
    multiplication, so a Gram entry is the sum of a few groups' weights (the weights are
    finite, so the sums are those over every group, bit for bit). A column equal to an earlier
    one is given by that column's position.
    """
    terms: list[list[tuple[int, float]] | int] = []
    for c in range(products.shape[1]):
        same = [e for e in range(c) if np.array_equal(products[:, e], products[:, c])]
        if same:
            terms.append(same[0])
            continue
        nonzero = [(int(j), float(products[j, c])) for j in np.flatnonzero(products[:, c])]
        terms.append(nonzero or [(0, 0.0)])
    return terms


def sandwich(outer: np.ndarray, inner: np.ndarray, /) -> np.ndarray:
    """``A_g B_g A_g`` (genes × p × p) for matrices ``A`` (``outer``), ``B`` given p × p × genes.

    Each entry sums its p² terms ``(A_iq B_qr) A_rs`` one after the other, ``q`` then ``r``,
    for all genes at once (einsum's three-operand loop runs over tiny inner dimensions here);
    the order is einsum's, so the numbers are too.
    """
    p, n = outer.shape[0], outer.shape[-1]
    out = np.zeros((p, p, n))
    for q in range(p):
        left = outer[:, q, None, :] * inner[q]  # A_iq B_qr for every i and r
        for r in range(p):
            out += left[:, r, None, :] * outer[None, r, :, :]
    return np.ascontiguousarray(out.transpose(2, 0, 1))


def _small_det(upper: np.ndarray, p: int, /) -> np.ndarray:
    """Determinants of symmetric p × p matrices, p ≤ 3, given by their upper triangles."""
    if p == 1:
        return upper[0]
    if p == 2:
        return upper[0] * upper[2] - upper[1] * upper[1]
    a, b, c, _, _, _ = upper
    c00, c01, c02 = _first_row_cofactors(upper)
    return a * c00 + b * c01 + c * c02


def upper_logdet(upper: np.ndarray, p: int, /) -> np.ndarray:
    """Log-determinants of symmetric matrices given by their upper triangles (NaN if ≤ 0).

    ``upper`` is entries × genes.
    """
    if p > 3:
        sign, value = np.linalg.slogdet(_full_from_upper(upper, p))
        return np.where(sign > 0, value, np.nan)
    det = _small_det(upper, p)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(det > 0, np.log(np.where(det > 0, det, 1.0)), np.nan)


def upper_inverse(upper: np.ndarray, p: int, /) -> np.ndarray:
    """Upper triangle of the inverse of symmetric matrices given by theirs (entries × genes)."""
    if p == 1:
        return 1.0 / upper
    if p == 2:
        a, b, d = upper
        det = a * d - b * b
        return np.stack([d / det, -b / det, a / det])
    if p == 3:
        adjugate, det = _upper_adjugate3(upper)
        adjugate /= det
        return adjugate
    iu, ju = np.triu_indices(p)
    return np.ascontiguousarray(inv(_full_from_upper(upper, p))[:, iu, ju].T)


def _first_row_cofactors(upper: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """First-row cofactors of symmetric 3 × 3 matrices (by their upper triangles)."""
    _, b, c, d, e, f = upper
    return d * f - e * e, c * e - b * f, b * e - c * d


def _upper_adjugate3(upper: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Upper triangle of the adjugate, and the determinant, of symmetric 3 × 3 matrices."""
    a, b, c, d, e, f = upper
    adjugate = np.empty_like(upper)
    c00, c01, c02 = _first_row_cofactors(upper)
    adjugate[0], adjugate[1], adjugate[2] = c00, c01, c02
    adjugate[3], adjugate[4], adjugate[5] = a * f - c * c, b * c - a * e, a * d - b * b
    det = a * c00 + b * c01 + c * c02
    return adjugate, det


def _full_from_upper(upper: np.ndarray, p: int) -> np.ndarray:
    iu, ju = np.triu_indices(p)
    out = np.empty((upper.shape[1], p, p))
    out[:, iu, ju] = upper.T
    out[:, ju, iu] = upper.T
    return out


def design_structure(design: np.ndarray, /) -> DesignStructure:
    """The cached :class:`DesignStructure` of ``design``."""
    design = np.ascontiguousarray(design, dtype=float)
    return _structure(design.tobytes(), design.shape)


@functools.lru_cache(maxsize=32)
def _structure(buffer: bytes, shape: tuple[int, int]) -> DesignStructure:
    return DesignStructure(np.frombuffer(buffer, dtype=float).reshape(shape))


def row_sums(values: np.ndarray, /) -> np.ndarray:
    """Sum of each row.

    einsum is several times faster than ``sum(axis=1)`` on short rows, and adds each row in a
    fixed order.
    """
    return np.einsum("gs->g", values)


def linear_predictor(beta: np.ndarray, design: np.ndarray, /) -> np.ndarray:
    """``beta_g' x_s`` for every gene and sample (genes × samples).

    Summed coefficient by coefficient in a fixed order rather than by a BLAS product, whose
    rounding can depend on the number of genes in the block.
    """
    out = beta[:, :1] * design[:, 0]
    for k in range(1, design.shape[1]):
        out += beta[:, k : k + 1] * design[:, k]
    return out


def linear_predictor_exp(beta: np.ndarray, design: np.ndarray, /) -> tuple[np.ndarray, np.ndarray]:
    """:func:`linear_predictor` and its exponential, one exponential per distinct design row.

    Samples sharing a design row share the predictor (a factor design has far fewer distinct
    rows than samples), so the exponential runs on genes × distinct rows and is then spread.
    """
    structure = design_structure(design)
    per_row = linear_predictor(beta, structure.rows)
    return per_row[:, structure.group], np.exp(per_row)[:, structure.group]


def _cholesky(matrices: np.ndarray) -> np.ndarray:
    """Lower Cholesky factor of each matrix (NaN where not positive definite)."""
    p = matrices.shape[1]
    low = np.zeros_like(matrices)
    with np.errstate(invalid="ignore", divide="ignore"):
        for j in range(p):
            diag = matrices[:, j, j] - np.sum(low[:, j, :j] ** 2, axis=1)
            low[:, j, j] = np.sqrt(np.where(diag > 0, diag, np.nan))
            for i in range(j + 1, p):
                low[:, i, j] = (
                    matrices[:, i, j] - np.sum(low[:, i, :j] * low[:, j, :j], axis=1)
                ) / low[:, j, j]
    return low


def _cholesky_solve(low: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    """Solve ``L L' x = b`` for stacks; ``rhs`` is genes × p × k."""
    p = low.shape[1]
    z = np.empty_like(rhs)
    for i in range(p):
        z[:, i] = (rhs[:, i] - np.einsum("gj,gjk->gk", low[:, i, :i], z[:, :i])) / low[
            :, i, i, None
        ]
    x = np.empty_like(rhs)
    for i in range(p - 1, -1, -1):
        x[:, i] = (z[:, i] - np.einsum("gj,gjk->gk", low[:, i + 1 :, i], x[:, i + 1 :])) / low[
            :, i, i, None
        ]
    return x


def _adjugate3(m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Adjugate and determinant of symmetric 3 × 3 matrices."""
    a, b, c = m[:, 0, 0], m[:, 0, 1], m[:, 0, 2]
    d, e, f = m[:, 1, 1], m[:, 1, 2], m[:, 2, 2]
    c00, c01, c02 = d * f - e * e, c * e - b * f, b * e - c * d
    c11, c12, c22 = a * f - c * c, b * c - a * e, a * d - b * b
    det = a * c00 + b * c01 + c * c02
    adjugate = np.empty_like(m)
    adjugate[:, 0, 0], adjugate[:, 0, 1], adjugate[:, 0, 2] = c00, c01, c02
    adjugate[:, 1, 0], adjugate[:, 1, 1], adjugate[:, 1, 2] = c01, c11, c12
    adjugate[:, 2, 0], adjugate[:, 2, 1], adjugate[:, 2, 2] = c02, c12, c22
    return adjugate, det


def inv(matrices: np.ndarray, /) -> np.ndarray:
    """Inverse of each symmetric positive-definite p × p matrix of a stack."""
    p = matrices.shape[-1]
    if p == 1:
        return 1.0 / matrices
    if p == 2:
        a, b = matrices[:, 0, 0], matrices[:, 0, 1]
        c, d = matrices[:, 1, 0], matrices[:, 1, 1]
        det = a * d - b * c
        out = np.empty_like(matrices)
        out[:, 0, 0] = d / det
        out[:, 0, 1] = -b / det
        out[:, 1, 0] = -c / det
        out[:, 1, 1] = a / det
        return out
    if p == 3:
        adjugate, det = _adjugate3(matrices)
        return adjugate / det[:, None, None]
    identity = np.broadcast_to(np.eye(p), matrices.shape).copy()
    with np.errstate(invalid="ignore", divide="ignore"):
        return _cholesky_solve(_cholesky(matrices), identity)


def logdet(matrices: np.ndarray, /) -> np.ndarray:
    """Log-determinant of each positive-definite p × p matrix (NaN where not positive)."""
    p = matrices.shape[-1]
    if p > 3:
        with np.errstate(invalid="ignore", divide="ignore"):
            diag = np.diagonal(_cholesky(matrices), axis1=1, axis2=2)
            return 2.0 * np.sum(np.log(diag), axis=1)
    if p == 1:
        det = matrices[:, 0, 0]
    elif p == 2:
        det = matrices[:, 0, 0] * matrices[:, 1, 1] - matrices[:, 0, 1] * matrices[:, 1, 0]
    else:
        det = _adjugate3(matrices)[1]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(det > 0, np.log(np.where(det > 0, det, 1.0)), np.nan)


def solve(matrices: np.ndarray, vectors: np.ndarray, /) -> np.ndarray:
    """Solve ``A_g x_g = b_g`` for every gene (``vectors`` is genes × p)."""
    p = matrices.shape[-1]
    if p <= 3:
        return np.einsum("gpq,gq->gp", inv(matrices), vectors)
    with np.errstate(invalid="ignore", divide="ignore"):
        return _cholesky_solve(_cholesky(matrices), vectors[..., None])[..., 0]


def upper_solve(upper: np.ndarray, vectors: np.ndarray, /) -> np.ndarray:
    """:func:`solve` for symmetric matrices given by their upper triangles (entries × genes)."""
    p = vectors.shape[1]
    if p <= 3:
        return np.einsum("gpq,gq->gp", _full_from_upper(upper_inverse(upper, p), p), vectors)
    return solve(_full_from_upper(upper, p), vectors)


def trimmed_mean(values: np.ndarray, /, *, trim: float) -> np.ndarray:
    """Row means after dropping ``trim`` of the values at each end, as R's ``mean(x, trim)``.

    R keeps the sorted values ``lo..hi`` with ``lo = floor(n * trim) + 1`` and
    ``hi = n + 1 - lo``, and returns the median when ``trim >= 0.5``.
    """
    n = values.shape[1]
    if trim >= 0.5:
        return np.median(values, axis=1)
    lo = int(np.floor(n * trim))
    ordered = np.sort(values, axis=1)
    return ordered[:, lo : n - lo].mean(axis=1)
