#!/usr/bin/env python3
"""Aligned-MTL's alpha where it is not positive (crates/fer-train/tests/weighting_reference.rs,
`aligned_mtl_alpha_may_be_negative`). aligned_np is weighting_reference.py's numpy version of
LibMTL's Aligned_MTL.backward (checked there against LibMTL's class to 1e-12); only numpy is
needed. Printed with numpy 2.x, float64:

near-parallel [0.8101118341911402, -0.047170175444417636] rank 2
anti-parallel [-0.19999999999999996, 0.5999999999999999] rank 1
"""
import math

import numpy as np


def aligned_np(G, eps=np.finfo(np.float64).eps):
    M = G @ G.T
    lam, V = np.linalg.eigh(M)
    tol = lam.max() * max(M.shape) * eps
    rank = int((lam > tol).sum())
    order = np.argsort(-lam)
    lam, V = lam[order][:rank], V[:, order][:, :rank]
    B = math.sqrt(lam[-1]) * (V @ np.diag(1 / np.sqrt(lam)) @ V.T)
    return B.sum(0), rank


g1 = np.array([1.0, 0, 0, 0, 0])
# g2: five times g1's norm at cosine 0.9 (Gram [1, 4.5, 25]); then -3 g1 (Gram [1, -3, 9]).
g2 = 5 * np.array([0.9, math.sqrt(1 - 0.81), 0, 0, 0])
for name, G in [('near-parallel', np.stack([g1, g2])), ('anti-parallel', np.stack([g1, -3 * g1]))]:
    alpha, rank = aligned_np(G)
    print(name, repr(alpha.tolist()), 'rank', rank)
