# Reference predictions of the thuiar/cmcnn CMCNN on fixed inputs, for a Rust parity test.
# Usage: python3 reference_predict.py REF_DIR OUT_DIR   (REF_DIR holds the reference repo's models/)
#
# The reference model code (models/CMCNN.py from thuiar/cmcnn) is imported unmodified. Every
# floating-point state_dict entry (parameters and buffers; integer ones such as
# num_batches_tracked are skipped) is overwritten with deterministic splitmix64 values, so the Rust
# side can regenerate the same weights and no binary file is committed. Entries are numbered
# k = 0, 1, ... in state_dict order, skipping the `sharedDCNN.layers.*` aliases of
# `sharedDCNN.layer{i}.*` (same tensors, which take their values); element i (row-major) of entry
# k gets, mod 2^64:
#   x = (k << 32) | i;  z = x + 0x9E3779B97F4A7C15
#   z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9;  z = (z ^ (z >> 27)) * 0x94D049BB133111EB
#   h = z ^ (z >> 31);  u = (h >> 11) / 2**53            (float64 in [0, 1))
# and the value (float64, then cast to float32), first matching rule wins:
#   name ends "running_var": 0.5 + u | name ends "running_mean": 0.2 * (2u - 1)
#   name contains "cross_stitch": 0.2 + 0.6u
#   name contains "em_maps" and ndim >= 2: 0.1 * (2u - 1) * sqrt(6 / fan_in) | ndim >= 2: (2u - 1) * sqrt(6 / fan_in), fan_in = numel / shape[0]
#   ndim == 1 and name ends "weight": 0.5 + u | otherwise: 0.2 * (2u - 1)
# Inputs: 4 grayscale 100x100 uint8 faces, face n, row y, column x:
#   v = ((x*(n+3) + y*(2*n+5) + (x*y)//(7+n)) * 3 + 17*n) % 256, input = v / 127.5 - 1 (float32).
# Writes OUT_DIR/reference_predict_names.txt (k, name, shape of each float entry) and
# OUT_DIR/reference_predict_expected.txt (eval-mode softmax of fer_output and flattened lm_output).
import math, os, subprocess, sys, types
import numpy as np
import torch

REF, OUT = sys.argv[1], sys.argv[2]
sys.path.insert(0, REF)
from models.CMCNN import CMCNN

COMMIT = "a18f09fa63baf74bb083779fa0a8881d55226e1a"  # git -C /work/.mirror/thuiar+cmcnn/repo rev-parse HEAD
M64 = np.uint64(0xFFFFFFFFFFFFFFFF)


def uniform(k, n):
    """u in [0, 1) for elements 0..n-1 of entry k (splitmix64 finalizer; uint64 arithmetic wraps)."""
    with np.errstate(over="ignore"):
        z = (np.uint64(k) << np.uint64(32)) | np.arange(n, dtype=np.uint64)
        z = z + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        h = z ^ (z >> np.uint64(31))
    return (h >> np.uint64(11)).astype(np.float64) / 2.0**53


def value(k, name, shape):
    n = int(np.prod(shape, dtype=np.int64))
    u = uniform(k, n)
    if name.endswith("running_var"):
        v = 0.5 + u
    elif name.endswith("running_mean"):
        v = 0.2 * (2 * u - 1)
    elif "cross_stitch" in name:
        v = 0.2 + 0.6 * u
    elif "em_maps" in name and len(shape) >= 2:
        # The co-attention embeddings at full Kaiming scale make cc = xe xl^T / sqrt(d) grow
        # to ~1e9 by the sixth unit and saturate every softmax; a tenth of it keeps the
        # outputs informative (probabilities 0.02-0.37, landmarks within +-2).
        v = 0.1 * (2 * u - 1) * math.sqrt(6 / (n / shape[0]))
    elif len(shape) >= 2:
        v = (2 * u - 1) * math.sqrt(6 / (n / shape[0]))
    elif len(shape) == 1 and name.endswith("weight"):
        v = 0.5 + u
    else:
        v = 0.2 * (2 * u - 1)
    return torch.from_numpy(v.astype(np.float32).reshape(shape))


args = types.SimpleNamespace(e_ratio=0.5, alphaBetas=[[0.5, 0.5]], fer_embedding=128, lm_embedding=2048,
                             num_landmarks=68, fer_num_classes=7, embedding_size=128)
model = CMCNN(args).float().cpu()
sd = model.state_dict()
# The reference registers its six layer pairs twice (layer{i} and layers.{i}): state_dict holds
# both names for the same tensors. Only the first name of each tensor is numbered; aliases get its values.
floats, first, new = [], {}, {name: t.clone() for name, t in sd.items()}
for name, t in sd.items():
    if not t.is_floating_point():
        continue
    if t.data_ptr() in first:
        assert name.startswith("sharedDCNN.layers."), name
        new[name] = new[first[t.data_ptr()]]
        continue
    first[t.data_ptr()] = name
    new[name] = value(len(floats), name, tuple(t.shape))
    floats.append((name, tuple(t.shape)))
model.load_state_dict(new, strict=True)
back = model.state_dict()
for name, _ in floats:
    assert back[name].dtype == torch.float32 and torch.equal(back[name], new[name]), name

N = 4
yy, xx = np.mgrid[0:100, 0:100].astype(np.int64)
faces = np.stack([((xx * (n + 3) + yy * (2 * n + 5) + (xx * yy) // (7 + n)) * 3 + 17 * n) % 256
                  for n in range(N)]).astype(np.uint8)
x = torch.from_numpy(faces.astype(np.float32) / np.float32(127.5) - np.float32(1)).reshape(N, 1, 100, 100)

model.eval()
with torch.no_grad():
    out = model(x)
logits = out["fer_output"].numpy().astype(np.float64)
probs = np.exp(logits - logits.max(1, keepdims=True))
probs /= probs.sum(1, keepdims=True)
lm = out["lm_output"].numpy().reshape(N, -1)  # (4, 68, 2) -> (4, 136): x0, y0, x1, y1, ...

src = f"xtask/tests/data/reference_predict.py on thuiar/cmcnn {COMMIT} models/ (unmodified)"
with open(os.path.join(OUT, "reference_predict_names.txt"), "w") as f:
    f.write(f"# k<TAB>name<TAB>shape of each floating-point CMCNN state_dict entry (sharedDCNN.layers.* aliases"
            f" of sharedDCNN.layer{{i}}.* not listed), produced by {src}\n")
    for k, (name, shape) in enumerate(floats):
        f.write(f"{k}\t{name}\t{','.join(map(str, shape))}\n")
fmt = lambda a: " ".join("%.9g" % v for v in a)
with open(os.path.join(OUT, "reference_predict_expected.txt"), "w") as f:
    f.write(f"# Eval-mode CMCNN outputs on 4 formula faces, produced by {src}, torch {torch.__version__}\n"
            "# weights: splitmix64 of (k << 32) | i per float state_dict entry k, element i (see script header)\n"
            "# faces: v = ((x*(n+3) + y*(2*n+5) + (x*y)//(7+n)) * 3 + 17*n) % 256, input v/127.5 - 1\n"
            "# probs<TAB>n<TAB>softmax(fer_output) (float64 from float32 logits);"
            " landmarks<TAB>n<TAB>lm_output (68,2) flattened row-major: x0 y0 x1 y1 ...\n")
    for n in range(N):
        f.write(f"probs\t{n}\t{fmt(probs[n])}\n")
        f.write(f"landmarks\t{n}\t{fmt(lm[n])}\n")

print(f"{len(floats)} float entries; lm_output shape {tuple(out['lm_output'].shape)}")
print(f"probs min {probs.min():.6g} max {probs.max():.6g}; max prob per face {fmt(probs.max(1))}")
print(f"argmax per face {probs.argmax(1).tolist()}; logits range [{logits.min():.6g}, {logits.max():.6g}]")
print(f"landmarks finite {np.isfinite(lm).all()} range [{lm.min():.6g}, {lm.max():.6g}] std {lm.std():.6g}")
