"""PyTorch side of `cargo xtask bench train`: the same three networks as fer-models
(BaseDCNN-FER, CMCNN and the 1-channel ResNet-18), the same batch, input size, losses and
optimiser, timed the same way (median of the timed passes after warm-up). Prints one JSON
object on stdout; the Rust side writes the ratios into results/bench/train.csv.

Usage: python3 bench/torch_reference.py --device cpu --batch 32 --size 100 --passes 10 [--models a,b]
       [--variants default,fused,fused_cl,bf16,bf16_cl]

Every model is timed under each setting of VARIANTS (PyTorch's default, fused Adam, channels_last,
bf16 autocast), each with its peak resident memory, so the Rust side can compare against
PyTorch at its best and still show the default.

The networks are written here from the paper (Table 1, sections 3.1-3.3, 5.2) and from
fer-models' documented choices (batch-norm eps 1e-3 in BaseDCNN, SCAM 7x7 without bias,
CCAM embedding ratio 0.5, trainable alpha/beta, FER head 2000-128 with ReLU after the
embedding, FLD head 2048); the parameter counts are printed so the Rust side can check that
both sides time the same network.
"""

import argparse
import json
import math
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

CHANNELS = [64, 96, 128, 128, 256, 256]
POOL_AFTER = [True, True, False, True, False, False]


class Component(nn.Module):
    def __init__(self, cin, cout, pool):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 3, padding=1)
        self.norm = nn.BatchNorm2d(cout, eps=1e-3)
        self.pool = pool

    def forward(self, x):
        x = F.relu(self.norm(self.conv(x)))
        return F.max_pool2d(x, 2) if self.pool else x


def base_dcnn():
    cin, out = 1, []
    for c, p in zip(CHANNELS, POOL_AFTER):
        out.append(Component(cin, c, p))
        cin = c
    return nn.ModuleList(out)


def feature_sizes(size):
    s, out = size, []
    for p in POOL_AFTER:
        if p:
            s //= 2
        out.append(s)
    return out


class FerHead(nn.Module):
    def __init__(self, flat, classes=7):
        super().__init__()
        self.fc1 = nn.Linear(flat, 2000)
        self.bn1 = nn.BatchNorm1d(2000, eps=1e-3)
        self.fc2 = nn.Linear(2000, 128)
        self.bn2 = nn.BatchNorm1d(128, eps=1e-3)
        self.out = nn.Linear(128, classes)

    def forward(self, x):
        h = F.relu(self.bn1(self.fc1(x)))
        e = F.relu(self.bn2(self.fc2(h)))
        return self.out(e)


class BaseDcnnFer(nn.Module):
    def __init__(self, size):
        super().__init__()
        self.net = base_dcnn()
        s = feature_sizes(size)[-1]
        self.head = FerHead(256 * s * s)

    def forward(self, x):
        for c in self.net:
            x = c(x)
        return self.head(torch.flatten(x, 1)), None


class EmbeddingMap(nn.Module):
    def __init__(self, hw, d):
        super().__init__()
        self.fc1 = nn.Linear(hw, d)
        self.fc2 = nn.Linear(d, d)

    def forward(self, x):
        b, c, h, w = x.shape
        return self.fc2(F.relu(self.fc1(x.reshape(b, c, h * w))))


class CoAttentionUnit(nn.Module):
    """CCAM (eqs. 2-8), SCAM (eqs. 9-13, 7x7, no bias) and the mixing of eq. 1."""

    def __init__(self, size):
        super().__init__()
        hw = size * size
        self.d = max(1, int(math.floor(hw * 0.5)))
        self.fer_map = EmbeddingMap(hw, self.d)
        self.fld_map = EmbeddingMap(hw, self.d)
        self.scam = nn.Conv2d(2, 1, 7, padding=3, bias=False)
        self.alpha = nn.Parameter(torch.tensor([0.5, 0.5]))
        self.beta = nn.Parameter(torch.tensor([0.5, 0.5]))

    def forward(self, e, l):
        fe, fl = self.fer_map(e), self.fld_map(l)
        s = fe @ fl.transpose(1, 2) / math.sqrt(self.d)
        a_e = F.softmax(s, 1).sum(2)[:, :, None, None]
        a_l = F.softmax(s, 2).sum(1)[:, :, None, None]
        e_c, l_c = e * a_e, l * a_l
        x = torch.cat([l, e], 1)
        pooled = torch.cat([x.amax(1, keepdim=True), x.mean(1, keepdim=True)], 1)
        a_s = torch.sigmoid(self.scam(pooled))
        e_s, l_s = e * a_s, l * a_s
        return self.beta[0] * l_c + self.beta[1] * e_s, self.alpha[0] * e_c + self.alpha[1] * l_s


class Cmcnn(nn.Module):
    def __init__(self, size):
        super().__init__()
        self.fer_net = base_dcnn()
        self.fld_net = base_dcnn()
        self.units = nn.ModuleList(CoAttentionUnit(s) for s in feature_sizes(size))
        s = feature_sizes(size)[-1]
        self.fer_head = FerHead(256 * s * s)
        self.lm_fc1 = nn.Linear(256 * s * s, 2048)
        self.lm_out = nn.Linear(2048, 136)

    def forward(self, x):
        e, l = x, x
        for fe, fl, u in zip(self.fer_net, self.fld_net, self.units):
            e, l = u(fe(e), fl(l))
        logits = self.fer_head(torch.flatten(e, 1))
        lm = self.lm_out(F.relu(self.lm_fc1(torch.flatten(l, 1))))
        return logits, lm.reshape(-1, 68, 2)


def resnet18():
    import torchvision

    m = torchvision.models.resnet18(num_classes=7)
    m.conv1 = nn.Conv2d(1, 64, 7, stride=2, padding=3, bias=False)

    def forward(x):
        return m._forward_impl(x), None

    m.forward_pair = forward
    return m


def build(name, size):
    if name == "base-dcnn-fer":
        return BaseDcnnFer(size)
    if name == "cmcnn":
        return Cmcnn(size)
    if name == "resnet18":
        return resnet18()
    raise SystemExit(f"unknown model {name}")


def run(model, x):
    f = getattr(model, "forward_pair", None)
    return f(x) if f else model(x)


def wing_loss(pred, target, omega=10.0, epsilon=2.0):
    x = (pred - target).abs()
    c = omega - omega * math.log(1.0 + omega / epsilon)
    return torch.where(x < omega, omega * torch.log1p(x / epsilon), x - c).mean()


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


# The settings PyTorch is timed with. `default` is what a user gets without asking (Adam's
# per-parameter loop on the CPU, channels-first, fp32); the others are what a user who cares
# about speed turns on. The best fp32 setting of a model is the faster of `fused` and
# `fused_cl`; its bf16 setting the faster of `bf16` and `bf16_cl`.
VARIANTS = {
    "default": dict(fused=False, channels_last=False, bf16=False),
    "fused": dict(fused=True, channels_last=False, bf16=False),
    "fused_cl": dict(fused=True, channels_last=True, bf16=False),
    "bf16": dict(fused=True, channels_last=False, bf16=True),
    "bf16_cl": dict(fused=True, channels_last=True, bf16=True),
}


def reset_peak_rss():
    """Linux: writing 5 to clear_refs resets VmHWM (the peak resident set) to the current RSS."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


def peak_rss_mb():
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return None


def bench_model(name, device, batch, size, passes, warmup, fused, channels_last, bf16):
    reset_peak_rss()
    torch.manual_seed(0)
    model = build(name, size).to(device)
    params = sum(p.numel() for p in model.parameters())
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    model = model.to(memory_format=fmt)
    opt = torch.optim.Adam(model.parameters(), lr=0.01, weight_decay=0.005, fused=fused)
    x = torch.randn(batch, 1, size, size, device=device).to(memory_format=fmt)
    labels = torch.arange(batch, device=device) % 7
    lms = 20 + 5 * torch.randn(batch, 68, 2, device=device)
    # bf16 autocast: convolutions and linear layers multiply in bf16; weights, optimiser state
    # and losses stay fp32 (torch.autocast's CPU policy).
    autocast = lambda: torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16)

    model.eval()
    infer = []
    with torch.no_grad():
        for i in range(warmup + passes):
            sync(device)
            t = time.perf_counter()
            with autocast():
                run(model, x)
            sync(device)
            if i >= warmup:
                infer.append(time.perf_counter() - t)

    model.train()
    fwd, bwd, optim, total = [], [], [], []
    for i in range(warmup + passes):
        sync(device)
        t0 = time.perf_counter()
        with autocast():
            logits, lm = run(model, x)
            loss = F.cross_entropy(logits.float(), labels)
            if lm is not None:
                loss = loss + wing_loss(lm.float(), lms)
        loss.item()
        t1 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        sync(device)
        t2 = time.perf_counter()
        opt.step()
        sync(device)
        t3 = time.perf_counter()
        if i >= warmup:
            fwd.append(t1 - t0)
            bwd.append(t2 - t1)
            optim.append(t3 - t2)
            total.append(t3 - t0)
    med = statistics.median
    return {
        "parameters": params,
        "inference_s": med(infer),
        "inference_images_per_s": batch / med(infer),
        "train_images_per_s": batch / med(total),
        "forward_s": med(fwd),
        "backward_s": med(bwd),
        "optimiser_s": med(optim),
        "step_s": med(total),
        "peak_rss_mb": peak_rss_mb(),
    }


def bf16_supported(device):
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    try:
        with open("/proc/cpuinfo") as f:
            flags = f.read()
        return "avx512_bf16" in flags or "amx_bf16" in flags
    except OSError:
        return False


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--device", default="cpu")
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--size", type=int, default=100)
    p.add_argument("--passes", type=int, default=10)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--models", default="base-dcnn-fer,cmcnn,resnet18")
    p.add_argument("--variants", default=",".join(VARIANTS))
    a = p.parse_args()
    device = torch.device(a.device)
    variants = [v for v in a.variants.split(",") if v]
    for v in variants:
        if v not in VARIANTS:
            raise SystemExit(f"--variants: unknown '{v}' (known: {', '.join(VARIANTS)})")
    if not bf16_supported(device):
        print("torch: no bf16 support on this device; bf16 settings are skipped", file=sys.stderr)
        variants = [v for v in variants if not VARIANTS[v]["bf16"]]
    out = {
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "device": str(device),
        "batch": a.batch,
        "size": a.size,
        "models": {},
    }
    for name in a.models.split(","):
        timed = {}
        for v in variants:
            print(f"torch: timing {name} at {a.size} px, {v}", file=sys.stderr)
            timed[v] = bench_model(name, device, a.batch, a.size, a.passes, a.warmup, **VARIANTS[v])
        # The default setting's numbers at the top level, as before; every setting under
        # `variants`.
        entry = dict(timed.get("default", next(iter(timed.values()))))
        entry["variants"] = timed
        out["models"][name] = entry
    print(json.dumps(out))


if __name__ == "__main__":
    main()
