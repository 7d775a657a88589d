#!/usr/bin/env python3
"""Reference numbers for 2-task loss-weighting methods (crates/fer-train/tests/weighting_reference.rs;
its stdout is weighting_reference.txt). Run: LIBMTL_ROOT=... FAMO_DIR=... python3 weighting_reference.py

Reference numbers for 2-task loss-weighting methods, produced by running
LibMTL's own weighting classes (GitHub HEAD snapshot of median-research-group/LibMTL,
commit 4336804847eaa5e0b924b743d76beec7ac3fdc97, 2025-05-14, unpacked into
./libmtl_git) plus the original FAMO code (Cranial-XIX/FAMO famo.py, ./famo_orig.py),
each cross-checked against an independent float64 numpy reimplementation.

Why the GitHub snapshot and not `pip install LibMTL`: the package-index release (1.1.5)
has no FAMO and no Aligned_MTL, and `import LibMTL` fails there (torchvision.models.utils).
We import only LibMTL.weighting.<Method> and LibMTL.architecture.abstract_arch by
registering empty parent packages, so LibMTL/__init__.py (torchvision, cvxpy,
torch_geometric imports) is never executed.  The weighting modules themselves are
unmodified; the only shim is torch.symeig (removed from modern torch), which
Aligned_MTL calls; it is mapped to torch.linalg.eigh (same ascending eigenvalue order).

Everything runs in float64: torch.set_default_dtype(torch.float64) is set BEFORE the
LibMTL classes are used because LibMTL allocates its gradient buffers with
torch.zeros(...) / torch.Tensor(...) (default dtype) and Aligned_MTL's rank tolerance
uses torch.finfo().eps (default dtype).  A float32-default rerun is printed at the end.

Gradients are injected exactly: shared parameter theta (5,) = 0, task-specific scalar
phi_i = 0, and loss_i = g_i . theta + c_i + h_i * phi_i, so d loss_i / d theta = g_i,
d loss_i / d phi_i = h_i (h = [0.7, -1.3]) and loss_i value = c_i.  LibMTL's own
_compute_grad / _reset_grad / _backward_new_grads are used unchanged; the new shared
gradient is read from theta.grad, the task-specific gradients from phi_i.grad.
"""
import os, sys, types, importlib, math, random
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import scipy
from scipy.optimize import minimize

HERE = os.path.dirname(os.path.abspath(__file__))
# Neither LibMTL nor FAMO is vendored here: point these at a checkout of LibMTL at the commit
# above and at a folder holding the authors' famo.py saved as famo_orig.py.
LIBMTL_ROOT = os.environ.get('LIBMTL_ROOT', os.path.join(HERE, 'libmtl_git'))
FAMO_DIR = os.environ.get('FAMO_DIR', HERE)

torch.set_default_dtype(torch.float64)
np.set_printoptions(precision=17, floatmode='unique')

# ---- import LibMTL weighting modules without running LibMTL/__init__.py -------------
for pkg, sub in [('LibMTL', 'LibMTL'), ('LibMTL.weighting', 'LibMTL/weighting'),
                 ('LibMTL.architecture', 'LibMTL/architecture')]:
    m = types.ModuleType(pkg)
    m.__path__ = [os.path.join(LIBMTL_ROOT, sub)]
    sys.modules[pkg] = m
if True:  # torch.symeig exists in torch 2.x only as a stub that raises
    def _symeig(M, eigenvectors=True):
        L, V = torch.linalg.eigh(M)
        return L, V
    torch.symeig = _symeig

AbsArchitecture = importlib.import_module('LibMTL.architecture.abstract_arch').AbsArchitecture
W = {n: getattr(importlib.import_module('LibMTL.weighting.' + n), n)
     for n in ['PCGrad', 'CAGrad', 'Aligned_MTL', 'GradNorm', 'UW', 'DWA', 'FAMO', 'RLW', 'EW']}
PCGrad_mod = sys.modules['LibMTL.weighting.PCGrad']
sys.path.insert(0, FAMO_DIR)
import famo_orig  # original FAMO code, Cranial-XIX/FAMO famo.py (HEAD 0a6ad06)


def r(x):
    """full-precision repr of a scalar / vector"""
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 0:
        return repr(float(x))
    return '[' + ', '.join(repr(float(v)) for v in x.ravel()) + ']'


def P(name, x):
    print(f'  {name} = {r(x)}')


def chk(name, a, b, tol=1e-12):
    a = np.asarray(a.detach().numpy() if isinstance(a, torch.Tensor) else a, dtype=np.float64)
    b = np.asarray(b.detach().numpy() if isinstance(b, torch.Tensor) else b, dtype=np.float64)
    d = float(np.max(np.abs(a - b)))
    print(f'  check {name}: max|LibMTL - numpy| = {d:.3e} {"OK" if d <= tol else "MISMATCH"}')


G1 = np.array([1.0, -2.0, 0.5, 3.0, 0.25])
G2 = np.array([-1.5, 0.5, 2.0, -1.0, 0.75])
G2B = np.array([0.5, -1.0, 1.0, 2.0, -0.5])
CASES = [('conflicting', np.stack([G1, G2])), ('aligned', np.stack([G1, G2B]))]
H = np.array([0.7, -1.3])          # task-specific gradients d L_i / d phi_i
LOSS_DEFAULT = np.array([1.2, 0.7])


# ---- toy "model" = LibMTL architecture + weighting mixin ---------------------------
class Enc(nn.Module):
    def __init__(self):
        super().__init__()
        self.theta = nn.Parameter(torch.zeros(5))


class Dec(nn.Module):
    def __init__(self):
        super().__init__()
        self.phi = nn.Parameter(torch.zeros(()))


def make_model(wname):
    Wc = W[wname]

    class Toy(AbsArchitecture, Wc):
        def __init__(self):
            super().__init__(['fer', 'lmk'], None, nn.ModuleDict({'fer': Dec(), 'lmk': Dec()}),
                             False, False, torch.device('cpu'))
            self.encoder = Enc()
            self.init_param()
    m = Toy()
    m.epoch = 0
    m.train_loss_buffer = np.zeros([2, 10])
    return m


def losses_for(m, grads, c=LOSS_DEFAULT):
    g = torch.tensor(grads, dtype=torch.get_default_dtype())
    th = m.encoder.theta
    out = [g[i] @ th + float(c[i]) + float(H[i]) * m.decoders[n].phi
           for i, n in enumerate(['fer', 'lmk'])]
    return torch.stack(out)


def zero_all(m):
    for p in m.parameters():
        p.grad = None
    m.encoder.theta.grad = torch.zeros(5)           # like optimizer.zero_grad(set_to_none=False)
    for n in ['fer', 'lmk']:
        m.decoders[n].phi.grad = torch.zeros(())


def task_specific(m):
    return [float(m.decoders[n].phi.grad) for n in ['fer', 'lmk']]


class record_backward:
    """records the tensor(s) on which .backward() is called inside LibMTL"""
    def __enter__(self):
        self.orig = torch.Tensor.backward
        self.calls = []
        rec = self

        def bw(t, *a, **k):
            rec.calls.append(t.detach().clone())
            return rec.orig(t, *a, **k)
        torch.Tensor.backward = bw
        return self

    def __exit__(self, *a):
        torch.Tensor.backward = self.orig


print('python', sys.version.split()[0], '| torch', torch.__version__, '| numpy', np.__version__,
      '| scipy', scipy.__version__)
print('LibMTL source: GitHub median-research-group/LibMTL @ 4336804847eaa5e0b924b743d76beec7ac3fdc97')
print('default dtype:', torch.get_default_dtype())
print('task-specific gradients injected (unweighted) h =', r(H))

# =====================================================================================
print('\n=== A. PCGrad (LibMTL PCGrad.backward) ===')


def pcgrad_np(G, orders):
    pc = G.copy()
    bw = np.ones(2)
    for i in range(2):
        for j in orders[i]:
            gij = pc[i] @ G[j]
            if gij < 0:
                pc[i] = pc[i] - gij * G[j] / (G[j] @ G[j] + 1e-8)
                bw[j] -= gij / (G[j] @ G[j] + 1e-8)
    return pc.sum(0), bw


for cname, G in CASES:
    print(f'-- {cname}: g1.g2 = {r(G[0] @ G[1])}')
    results = []
    for order in ([0, 1], [1, 0]):
        class FakeRandom:
            @staticmethod
            def shuffle(lst):
                lst[:] = order
        PCGrad_mod.random = FakeRandom
        m = make_model('PCGrad')
        zero_all(m)
        bw = m.backward(losses_for(m, G))
        results.append(m.encoder.theta.grad.clone())
        print(f'  inner order {order}:')
        P('  new shared grad', m.encoder.theta.grad)
        P('  returned batch_weight (effective weights of g1,g2)', bw)
        P('  task-specific grads (phi_fer, phi_lmk)', task_specific(m))
        ref, bref = pcgrad_np(G, [order, order])
        chk('  shared grad', m.encoder.theta.grad, ref)
    PCGrad_mod.random = random
    print(f'  both orders identical: {bool(torch.equal(results[0], results[1]))}')

# =====================================================================================
print('\n=== B. CAGrad, calpha=0.5, rescale=1 (LibMTL CAGrad.backward, scipy SLSQP) ===')


def cagrad_parts(G, calpha):
    A = G @ G.T
    g0_norm = math.sqrt(A.mean() + 1e-8)
    c = calpha * g0_norm + 1e-8
    b = np.ones(2) / 2
    return A, b, c


def cagrad_obj(t, A, b, c):
    x = np.array([t, 1 - t])
    return x @ A @ b + c * math.sqrt(x @ A @ x + 1e-8)


def cagrad_dobj(t, A, b, c):
    x = np.array([t, 1 - t])
    dx = np.array([1.0, -1.0])
    q = x @ A @ x + 1e-8
    return dx @ A @ b + c * (dx @ A @ x) / math.sqrt(q)


def cagrad_newgrad(G, w, c, calpha, rescale):
    gw = w @ G
    lmbda = c / (np.linalg.norm(gw) + 1e-8)
    g = G.mean(0) + lmbda * gw
    return g / {0: 1.0, 1: 1 + calpha ** 2, 2: 1 + calpha}[rescale]


for cname, G in CASES:
    calpha, rescale = 0.5, 1
    print(f'-- {cname}')
    m = make_model('CAGrad')
    zero_all(m)
    w = m.backward(losses_for(m, G), calpha=calpha, rescale=rescale)
    A, b, c = cagrad_parts(G, calpha)
    print(f'  GG = {r(A)}, c = calpha*sqrt(mean(GG)+1e-8)+1e-8 = {r(c)}')
    P('w (SLSQP, as LibMTL)', w)
    P('new shared grad (LibMTL)', m.encoder.theta.grad)
    P('task-specific grads', task_specific(m))
    chk('new grad vs numpy formula with same w', m.encoder.theta.grad, cagrad_newgrad(G, w, c, calpha, rescale))
    # exact minimiser of LibMTL's objective over w=(t,1-t)
    # (1) dense grid
    ts = np.linspace(0, 1, 1_000_001)
    x = np.stack([ts, 1 - ts], 1)
    vals = (x @ A @ b) + c * np.sqrt(np.einsum('ni,ij,nj->n', x, A, x) + 1e-8)
    t_grid = ts[np.argmin(vals)]
    # (2) golden-section on the objective (value-based: limited to ~sqrt(eps) ~ 1e-8 in t)
    lo, hi = 0.0, 1.0
    gr = (math.sqrt(5) - 1) / 2
    for _ in range(200):
        a1, a2 = hi - gr * (hi - lo), lo + gr * (hi - lo)
        if cagrad_obj(a1, A, b, c) < cagrad_obj(a2, A, b, c):
            hi = a2
        else:
            lo = a1
    t_gold = (lo + hi) / 2
    # (3) bisection on the analytic derivative (objective convex) -> ~1e-16 in t
    if cagrad_dobj(0.0, A, b, c) >= 0:
        t_star = 0.0
    elif cagrad_dobj(1.0, A, b, c) <= 0:
        t_star = 1.0
    else:
        lo, hi = 0.0, 1.0
        for _ in range(200):
            mid = (lo + hi) / 2
            if cagrad_dobj(mid, A, b, c) > 0:
                hi = mid
            else:
                lo = mid
        t_star = (lo + hi) / 2
    w_star = np.array([t_star, 1 - t_star])
    print(f'  dense grid (1e6 steps) t = {r(t_grid)}')
    print(f'  golden section on f     t = {r(t_gold)}  (value-based, ~1e-8 resolution)')
    P("exact w* (bisection on f'(t))", w_star)
    print(f"  f'(t*) = {r(cagrad_dobj(t_star, A, b, c))}; f(w_SLSQP) - f(w*) = {r(cagrad_obj(w[0], A, b, c) - cagrad_obj(t_star, A, b, c))}")
    print(f'  |w_SLSQP - w*|_inf = {r(np.max(np.abs(w - w_star)))}')
    P('new shared grad with exact w*', cagrad_newgrad(G, w_star, c, calpha, rescale))
    for rs in (0, 2):
        P(f'  (info) new grad with exact w*, rescale={rs}', cagrad_newgrad(G, w_star, c, calpha, rs))

# =====================================================================================
print('\n=== C. Aligned-MTL (LibMTL Aligned_MTL.backward) ===')


def aligned_np(G, eps=np.finfo(np.float64).eps):
    M = G @ G.T
    lam, V = np.linalg.eigh(M)
    tol = lam.max() * max(M.shape) * eps
    rank = int((lam > tol).sum())
    order = np.argsort(-lam)
    lam, V = lam[order][:rank], V[:, order][:, :rank]
    B = math.sqrt(lam[-1]) * (V @ np.diag(1 / np.sqrt(lam)) @ V.T)
    alpha = B.sum(0)
    return alpha, alpha @ G, lam, rank


for cname, G in CASES:
    print(f'-- {cname}')
    m = make_model('Aligned_MTL')
    zero_all(m)
    alpha = m.backward(losses_for(m, G))
    a_ref, g_ref, lam, rank = aligned_np(G)
    print(f'  eigenvalues of GG^T (desc) = {r(lam)}, rank = {rank}')
    P('alpha', alpha)
    P('new shared grad', m.encoder.theta.grad)
    P('task-specific grads', task_specific(m))
    chk('alpha', alpha, a_ref)
    chk('new grad', m.encoder.theta.grad, g_ref)

# =====================================================================================
print('\n=== D. GradNorm, alpha=1.5, theta=[0.3,-0.2], L=[1.2,0.7], L0=[2.0,0.9] (epoch>=1) ===')


def gradnorm_np(G, theta, L, L0, alpha):
    z = np.exp(theta - theta.max()); z /= z.sum()
    w = 2 * z
    gn = np.linalg.norm(G, axis=1)
    Gp = w * gn                      # ||w_i g_i||
    Gbar = Gp.mean()
    Li = L / L0
    ri = Li / Li.mean()
    target = Gbar * ri ** alpha
    Lgrad = np.abs(Gp - target).sum()
    s = np.sign(Gp - target)
    # dL/dw_i = s_i*||g_i||, dw_i/dtheta_j = 2 z_i (delta_ij - z_j)
    J = 2 * (np.diag(z) - np.outer(z, z))
    dtheta = J.T @ (s * gn)
    return w, w @ G, Lgrad, dtheta, Gp, target


for cname, G in CASES:
    print(f'-- {cname}')
    theta = np.array([0.3, -0.2]); L = np.array([1.2, 0.7]); L0 = np.array([2.0, 0.9])
    m = make_model('GradNorm')
    m.loss_scale.data = torch.tensor(theta)
    m.epoch = 1
    m.train_loss_buffer[:, 0] = L0
    zero_all(m)
    with record_backward() as rb:
        lw = m.backward(losses_for(m, G, L), alpha=1.5)
    w, g_ref, Lgrad, dth, Gp, target = gradnorm_np(G, theta, L, L0, 1.5)
    P('loss_weight = 2*softmax(theta)', lw)
    P('new shared grad', m.encoder.theta.grad)
    P('task-specific grads (NOT weighted)', task_specific(m))
    print(f'  L_grad value (recorded) = {r(rb.calls[-1])}')
    P('G_per_loss = ||w_i g_i||', Gp)
    P('target G_bar * r_i^alpha (detached)', target)
    P('theta.grad (dL_grad/dtheta)', m.loss_scale.grad)
    chk('loss_weight', lw, w); chk('new grad', m.encoder.theta.grad, g_ref)
    chk('L_grad', rb.calls[-1], Lgrad); chk('theta.grad', m.loss_scale.grad, dth)

# =====================================================================================
print('\n=== E. UW (LibMTL UW.backward), s=[0.1,-0.3], L=[1.2,0.7] ===')
m = make_model('UW')
m.loss_scale.data = torch.tensor([0.1, -0.3])
Lleaf = torch.tensor([1.2, 0.7], requires_grad=True)
with record_backward() as rb:
    ret = m.backward(Lleaf)
s = np.array([0.1, -0.3]); L = np.array([1.2, 0.7])
P('total loss', rb.calls[-1])
P('d loss / d s', m.loss_scale.grad)
P('d loss / d L_i (effective weights)', Lleaf.grad)
P('returned weights 1/(2 exp(s))', ret)
chk('total', rb.calls[-1], (L / (2 * np.exp(s)) + s / 2).sum())
chk('ds', m.loss_scale.grad, -L / (2 * np.exp(s)) + 0.5)
chk('dL', Lleaf.grad, 1 / (2 * np.exp(s)))

# =====================================================================================
print('\n=== F. DWA, T=2 (LibMTL DWA.backward), history epoch t-2=[2.0,1.0], t-1=[1.5,0.9] ===')
m = make_model('DWA')
m.train_loss_buffer[:, 0] = [2.0, 1.0]
m.train_loss_buffer[:, 1] = [1.5, 0.9]
for ep in (0, 1, 2):
    m.epoch = ep
    Lleaf = torch.tensor([1.2, 0.7], requires_grad=True)
    bw = m.backward(Lleaf, T=2.0)
    P(f'epoch index {ep}: weights', bw)
wr = np.array([1.5 / 2.0, 0.9 / 1.0]) / 2.0
wr = 2 * np.exp(wr) / np.exp(wr).sum()
chk('epoch 2 weights', bw, wr)
P('ratios L(t-1)/L(t-2)', [0.75, 0.9])

# =====================================================================================
print('\n=== G. FAMO (LibMTL FAMO + original Cranial-XIX famo.py), w=[0.2,-0.1], L=[1.2,0.7], L\'=[1.0,0.72] ===')
L = np.array([1.2, 0.7]); Lp = np.array([1.0, 0.72]); w0 = np.array([0.2, -0.1])
lr, wd = 0.025, 0.001
# numpy reference
z = np.exp(w0 - w0.max()); z /= z.sum()
D = L - 0 + 1e-8
cc = (z / D).sum()
loss_ref = (np.log(D) * z / cc).sum()
dL_ref = z / (cc * D)
delta_ref = np.log(L + 1e-8) - np.log(Lp + 1e-8)
d_ref = z * (delta_ref - (z * delta_ref).sum())       # J_softmax^T delta
gprime = d_ref + wd * w0
m1 = (1 - 0.9) * gprime; v1 = (1 - 0.999) * gprime ** 2
w1_ref = w0 - (lr / (1 - 0.9)) * m1 / (np.sqrt(v1) / math.sqrt(1 - 0.999) + 1e-8)

m = make_model('FAMO')
m.w.data = torch.tensor(w0)
Lleaf = torch.tensor(L, requires_grad=True)
with record_backward() as rb:
    m.backward(Lleaf, FAMO_w_lr=lr, FAMO_w_gamma=wd)
P('z = softmax(w)', F.softmax(m.w, -1))
P('backpropagated loss sum_i z_i log(L_i - m_i + 1e-8) / c', rb.calls[-1])
P('c = sum_i z_i/(L_i - m_i + 1e-8) (detached)', cc)
P('d loss / d L_i (effective weights z_i/(c D_i), sum to 1)', Lleaf.grad)
P('w.grad left by the main backward (z is not detached; harmless, update_w zeroes & overwrites it)', m.w.grad)
m.update_w(torch.tensor(Lp))
P('delta = log(L+1e-8) - log(L\'+1e-8)', delta_ref)
P('d = J_softmax(w)^T delta (w.grad given to Adam)', m.w.grad)
P('w after one Adam step (lr 0.025, wd 0.001)', m.w)
chk('loss', rb.calls[-1], loss_ref); chk('dL', Lleaf.grad, dL_ref)
chk('d', m.w.grad, d_ref); chk('w1', m.w, w1_ref)

print('-- original famo.py (Cranial-XIX/FAMO) with gamma=0.001, w_lr=0.025:')
fo = famo_orig.FAMO(n_tasks=2, device='cpu', gamma=wd, w_lr=lr)
fo.w.data = torch.tensor(w0)
Lleaf = torch.tensor(L, requires_grad=True)
lo = fo.get_weighted_loss(Lleaf); lo.backward()
fo.update(torch.tensor(Lp))
P('loss', lo); P('d loss / d L_i', Lleaf.grad); P('d', fo.w.grad); P('w after Adam step', fo.w)
chk('orig loss', lo, loss_ref); chk('orig w1', fo.w, w1_ref)

# =====================================================================================
print('\n=== H. RLW (LibMTL RLW.backward) ===')
print('  batch_weight = softmax(torch.randn(task_num)) freshly sampled every batch; loss = sum_i w_i L_i')
torch.manual_seed(0)
m = make_model('RLW')
Lleaf = torch.tensor([1.2, 0.7], requires_grad=True)
bw = m.backward(Lleaf)
torch.manual_seed(0)
P('example (torch.manual_seed(0)) weights', bw)
P('  = softmax(randn(2)) with same seed', F.softmax(torch.randn(2), -1))
print('  (for 2 tasks: w1 = sigmoid(n1 - n2), n1-n2 ~ N(0, 2))')

# =====================================================================================
print('\n=== float32 default dtype (how LibMTL runs out of the box), conflicting case ===')
torch.set_default_dtype(torch.float32)
G = CASES[0][1]
for name, kw in [('PCGrad', {}), ('CAGrad', dict(calpha=0.5, rescale=1)), ('Aligned_MTL', {})]:
    m = make_model(name)          # float32 params, float32 grad buffers
    zero_all(m)
    out = m.backward(losses_for(m, G), **kw)
    print(f'  {name}: all float32 (torch.zeros default); new shared grad = {r(m.encoder.theta.grad)}'
          + (f'; weights = {r(out)}' if name != 'PCGrad' else ''))
print('  (Aligned_MTL rank tol then uses float32 eps 1.1920929e-07 instead of 2.22e-16)')
torch.set_default_dtype(torch.float64)
print('\ndone')
