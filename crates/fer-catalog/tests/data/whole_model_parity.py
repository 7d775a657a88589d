"""Expected values of `tests/whole_model_parity.rs`: whole multi-task models (hps, csn, ps-mcnn,
cmcnn, mtan) written again in PyTorch, functionally, from the papers' descriptions, with every
trainable parameter set by a formula, on a 3 x 1 x 16 x 16 input, in float64.

Run: `python3 -m pip install torch numpy` then
`python3 crates/fer-catalog/tests/data/whole_model_parity.py > crates/fer-catalog/tests/data/whole_model_parity.json`
(PyTorch 2.15, CPU).

What is written out, per model:
- `params`: the sorted trainable parameter names with their shapes (the Rust side must build
  exactly these, or its formula fill would differ);
- `train_logits` (3 x 7) and `train_landmarks` sum / sum of squares / first row: a forward in
  training mode (batch statistics);
- `grads`: per parameter, sum(g * cos(0.11 i)) and sum(g^2) of the gradient of
  L = sum(logits * cos(0.7 i)) + sum(landmarks * sin(0.3 i + 0.5)) (i the flat index);
- `eval_logits`, `eval_landmarks_sum`: a forward in evaluation mode after that one training
  forward, so the running statistics (momentum 0.1, unbiased variance) are checked too; in MTAN
  the shared f blocks run once per task, so their statistics move twice.

The architectures, as the Rust doc comments and the papers state them:
- BaseDCNN (Yu & Xu, Table 1): six 3x3 conv (padding 1, bias) + BN (eps 1e-3) + ReLU, channels
  64, 96, 128, 128, 256, 256, 2x2 max pool after components 0, 1 and 3;
- FER head (3.1): fc1 -> BN(1e-3) -> ReLU -> fc2 -> BN(1e-3) -> ReLU -> out;
- FLD head (3.1): fc1 -> ReLU -> out, reshaped to (B, 68, 2);
- HPS: one BaseDCNN, both heads on its flattened output;
- CSN (Misra et al. 2016): two BaseDCNN columns, a cross-stitch unit after every component and
  one after the heads' first layers: e' = s0 e + o0 l, l' = s1 l + o1 e;
- PS-MCNN (Cao et al. 2018): TSNets for FER and FLD and an SNet of five stages; stage i > 0 of a
  TSNet reads [own; shared], of the SNet [fer; fld; shared];
- CMCNN (Yu & Xu 3.1-3.3, eqs. 1-13): two columns, a Co-ATT unit after each component
  (after its pooling): CCAM with D = floor(0.5 HW), SCAM with the paper's 7x7 kernel on
  [max; mean] of [L; E], no bias, then E = b1 L_c + b2 E_s, L = a1 E_c + a2 L_s;
- MTAN (Liu et al. 2019, eq. 2) on BaseDCNN: per task and stage j a mask
  sigmoid(BN(1x1 conv(ReLU(BN(1x1 conv(input)))))) with input u_0, then [u_j; f_{j-1}], the
  attended feature a * u_j, f_j = 3x3 conv-BN-ReLU to the next stage's width (the last keeps
  256) then the stage's pooling, f shared by the tasks; heads on each task's last f output.
"""
import json
import math

import torch
import torch.nn.functional as F

torch.set_default_dtype(torch.float64)

B, SIZE, CLASSES, LANDMARKS = 3, 16, 7, 68
FER_HIDDEN, FER_EMBEDDING, FLD_HIDDEN = 12, 6, 10
CHANNELS = [64, 96, 128, 128, 256, 256]
POOL = [True, True, False, True, False, False]
EPS = 1e-3


def sizes():
    s, out = SIZE, []
    for p in POOL:
        if p:
            s //= 2
        out.append(s)
    return out


FLAT = CHANNELS[5] * sizes()[5] ** 2


class Model:
    """Parameters by name (filled by formula in sorted-name order) and BN running buffers."""

    def __init__(self):
        self.shapes = {}
        self.p = {}
        self.running = {}

    def conv(self, name, cin, cout, k):
        self.shapes[name + ".weight"] = (cout, cin, k, k)
        self.shapes[name + ".bias"] = (cout,)

    def linear(self, name, fin, fout):
        self.shapes[name + ".weight"] = (fout, fin)
        self.shapes[name + ".bias"] = (fout,)

    def bn(self, name, c):
        self.shapes[name + ".weight"] = (c,)
        self.shapes[name + ".bias"] = (c,)
        self.running[name] = [torch.zeros(c), torch.ones(c)]

    def vector(self, name, n):
        self.shapes[name] = (n,)

    def fill(self):
        for k, name in enumerate(sorted(self.shapes)):
            shape = self.shapes[name]
            n = math.prod(shape)
            fan = n // shape[0]
            i = torch.arange(n, dtype=torch.float64)
            v = 0.5 * torch.sin(0.37 * i + 0.91 * k) / math.sqrt(fan)
            self.p[name] = v.reshape(shape).requires_grad_(True)

    # functional layers
    def apply_conv(self, name, x, padding):
        return F.conv2d(x, self.p[name + ".weight"], self.p[name + ".bias"], padding=padding)

    def apply_linear(self, name, x):
        return F.linear(x, self.p[name + ".weight"], self.p[name + ".bias"])

    def apply_bn(self, name, x, train):
        mean, var = self.running[name]
        return F.batch_norm(x, mean, var, self.p[name + ".weight"], self.p[name + ".bias"],
                            training=train, momentum=0.1, eps=EPS)


# --- shared pieces -----------------------------------------------------------------------------

def add_component(m, prefix, i, cin):
    m.conv(f"{prefix}.layer{i}.conv{i}", cin, CHANNELS[i], 3)
    m.bn(f"{prefix}.layer{i}.norm{i}", CHANNELS[i])


def component(m, prefix, i, x, train, pool=True):
    y = m.apply_conv(f"{prefix}.layer{i}.conv{i}", x, 1)
    y = torch.relu(m.apply_bn(f"{prefix}.layer{i}.norm{i}", y, train))
    return F.max_pool2d(y, 2) if (pool and POOL[i]) else y


def add_base_dcnn(m, prefix):
    cin = 1
    for i in range(6):
        add_component(m, prefix, i, cin)
        cin = CHANNELS[i]


def add_fer_head(m, prefix, fin):
    p = prefix + "." if prefix else ""
    m.linear(p + "fer_feature.fer_fc1", fin, FER_HIDDEN)
    m.bn(p + "fer_feature.fer_bn1", FER_HIDDEN)
    m.linear(p + "fer_feature.fer_fc2", FER_HIDDEN, FER_EMBEDDING)
    m.bn(p + "fer_feature.fer_bn2", FER_EMBEDDING)
    m.linear(p + "fer_out.fer_out", FER_EMBEDDING, CLASSES)


def fer_hidden(m, prefix, x, train):
    p = prefix + "." if prefix else ""
    return torch.relu(m.apply_bn(p + "fer_feature.fer_bn1",
                                 m.apply_linear(p + "fer_feature.fer_fc1", x), train))


def fer_from_hidden(m, prefix, h, train):
    p = prefix + "." if prefix else ""
    e = torch.relu(m.apply_bn(p + "fer_feature.fer_bn2",
                              m.apply_linear(p + "fer_feature.fer_fc2", h), train))
    return m.apply_linear(p + "fer_out.fer_out", e)


def add_fld_head(m, prefix, fin, hidden):
    p = prefix + "." if prefix else ""
    m.linear(p + "lm_feature.lm_fc1", fin, hidden)
    m.linear(p + "lm_out.lm_out", hidden, 2 * LANDMARKS)


def fld_hidden(m, prefix, x):
    p = prefix + "." if prefix else ""
    return torch.relu(m.apply_linear(p + "lm_feature.lm_fc1", x))


def fld_from_hidden(m, prefix, h):
    p = prefix + "." if prefix else ""
    return m.apply_linear(p + "lm_out.lm_out", h).reshape(h.shape[0], LANDMARKS, 2)


def flat(x):
    return x.reshape(x.shape[0], -1)


def heads(m, fer_in, fld_in, train):
    """The root-level FER head on `fer_in` and FLD head on `fld_in`, both flattened."""
    return fer_from_hidden(m, "", fer_hidden(m, "", flat(fer_in), train), train), \
        fld_from_hidden(m, "", fld_hidden(m, "", flat(fld_in)))


# --- the models ----------------------------------------------------------------------------------

def hps():
    m = Model()
    add_base_dcnn(m, "baseDCNN")
    add_fer_head(m, "", FLAT)
    add_fld_head(m, "", FLAT, FLD_HIDDEN)

    def forward(x, train):
        for i in range(6):
            x = component(m, "baseDCNN", i, x, train)
        return heads(m, x, x, train)
    return m, forward


def csn():
    m = Model()
    add_base_dcnn(m, "fer_net.baseDCNN")
    add_base_dcnn(m, "fld_net.baseDCNN")
    for i in range(6):
        m.vector(f"cross_stitch.conv{i}.self_weight", 2)
        m.vector(f"cross_stitch.conv{i}.other_weight", 2)
    m.vector("cross_stitch.fc1.self_weight", 2)
    m.vector("cross_stitch.fc1.other_weight", 2)
    add_fer_head(m, "fer_net", FLAT)
    # CSN's FLD column mirrors the FER column: its first FC layer has the FER head's width.
    add_fld_head(m, "fld_net", FLAT, FER_HIDDEN)

    def stitch(name, e, l):
        s, o = m.p[name + ".self_weight"], m.p[name + ".other_weight"]
        return s[0] * e + o[0] * l, s[1] * l + o[1] * e

    def forward(x, train):
        e, l = x, x
        for i in range(6):
            e, l = stitch(f"cross_stitch.conv{i}",
                          component(m, "fer_net.baseDCNN", i, e, train),
                          component(m, "fld_net.baseDCNN", i, l, train))
        h_e, h_l = stitch("cross_stitch.fc1", fer_hidden(m, "fer_net", flat(e), train),
                          fld_hidden(m, "fld_net", flat(l)))
        return fer_from_hidden(m, "fer_net", h_e, train), fld_from_hidden(m, "fld_net", h_l)
    return m, forward


def ps_mcnn():
    m = Model()
    for i in range(6):
        task_in = 1 if i == 0 else 2 * CHANNELS[i - 1]
        shared_in = 1 if i == 0 else 3 * CHANNELS[i - 1]
        add_component(m, "fer_net", i, task_in)
        add_component(m, "fld_net", i, task_in)
        if i < 5:
            add_component(m, "shared_net", i, shared_in)
    add_fer_head(m, "", FLAT)
    add_fld_head(m, "", FLAT, FLD_HIDDEN)

    def forward(x, train):
        e = component(m, "fer_net", 0, x, train)
        l = component(m, "fld_net", 0, x, train)
        s = component(m, "shared_net", 0, x, train)
        for i in range(1, 6):
            e_next = component(m, "fer_net", i, torch.cat([e, s], 1), train)
            l_next = component(m, "fld_net", i, torch.cat([l, s], 1), train)
            if i < 5:
                s = component(m, "shared_net", i, torch.cat([e, l, s], 1), train)
            e, l = e_next, l_next
        return heads(m, e, l, train)
    return m, forward


def cmcnn():
    m = Model()
    add_base_dcnn(m, "fer_net")
    add_base_dcnn(m, "fld_net")
    dims = []
    for i, s in enumerate(sizes()):
        hw = s * s
        d = max(1, int(math.floor(hw * 0.5)))
        dims.append(d)
        for task in ("fer_map", "fld_map"):
            m.linear(f"co_att.{i}.ccam.{task}.0", hw, d)
            m.linear(f"co_att.{i}.ccam.{task}.2", d, d)
        m.shapes[f"co_att.{i}.scam.conv.weight"] = (1, 2, 7, 7)
        m.vector(f"co_att.{i}.alpha", 2)
        m.vector(f"co_att.{i}.beta", 2)
    add_fer_head(m, "", FLAT)
    add_fld_head(m, "", FLAT, FLD_HIDDEN)

    def embed(name, x, d):
        b, c, h, w = x.shape
        y = m.apply_linear(name + ".2", torch.relu(m.apply_linear(name + ".0", x.reshape(b * c, h * w))))
        return y.reshape(b, c, d)

    def co_att(i, e, l):
        d = dims[i]
        # CCAM, eqs. 2-8
        fe, fl = embed(f"co_att.{i}.ccam.fer_map", e, d), embed(f"co_att.{i}.ccam.fld_map", l, d)
        s = torch.bmm(fe, fl.transpose(1, 2)) / math.sqrt(d)
        a_e = torch.softmax(s, dim=1).sum(dim=2)
        a_l = torch.softmax(s, dim=2).sum(dim=1)
        e_c, l_c = a_e[:, :, None, None] * e, a_l[:, :, None, None] * l
        # SCAM, eqs. 9-13, on [L; E]
        cat = torch.cat([l, e], 1)
        pooled = torch.cat([cat.max(dim=1, keepdim=True)[0], cat.mean(dim=1, keepdim=True)], 1)
        a = torch.sigmoid(F.conv2d(pooled, m.p[f"co_att.{i}.scam.conv.weight"], padding=3))
        e_s, l_s = a * e, a * l
        al, be = m.p[f"co_att.{i}.alpha"], m.p[f"co_att.{i}.beta"]
        return be[0] * l_c + be[1] * e_s, al[0] * e_c + al[1] * l_s

    def forward(x, train):
        e, l = x, x
        for i in range(6):
            e, l = co_att(i, component(m, "fer_net", i, e, train),
                          component(m, "fld_net", i, l, train))
        return heads(m, e, l, train)
    return m, forward


def mtan():
    m = Model()
    add_base_dcnn(m, "baseDCNN")
    for task in ("fer", "fld"):
        for j, c in enumerate(CHANNELS):
            pre = f"encoder_att.{task}.{j}"
            m.conv(pre + ".g_conv", c if j == 0 else 2 * c, c, 1)
            m.bn(pre + ".g_norm", c)
            m.conv(pre + ".h_conv", c, c, 1)
            m.bn(pre + ".h_norm", c)
    for j, c in enumerate(CHANNELS):
        out = CHANNELS[min(j + 1, 5)]
        m.conv(f"encoder_block_att.{j}.conv", c, out, 3)
        m.bn(f"encoder_block_att.{j}.norm", out)
    add_fer_head(m, "", FLAT)
    add_fld_head(m, "", FLAT, FLD_HIDDEN)

    def mask(pre, x, train):
        h = torch.relu(m.apply_bn(pre + ".g_norm", m.apply_conv(pre + ".g_conv", x, 0), train))
        return torch.sigmoid(m.apply_bn(pre + ".h_norm", m.apply_conv(pre + ".h_conv", h, 0), train))

    def f_block(j, x, train):
        y = torch.relu(m.apply_bn(f"encoder_block_att.{j}.norm",
                                  m.apply_conv(f"encoder_block_att.{j}.conv", x, 1), train))
        return F.max_pool2d(y, 2) if POOL[j] else y

    def forward(x, train):
        shared = x
        previous = {"fer": None, "fld": None}
        for j in range(6):
            u = component(m, "baseDCNN", j, shared, train, pool=False)
            for task in ("fer", "fld"):
                inp = u if previous[task] is None else torch.cat([u, previous[task]], 1)
                a = mask(f"encoder_att.{task}.{j}", inp, train)
                previous[task] = f_block(j, a * u, train)
            shared = F.max_pool2d(u, 2) if POOL[j] else u
        return heads(m, previous["fer"], previous["fld"], train)
    return m, forward


def weights(n, f):
    return f(torch.arange(n, dtype=torch.float64))


def run(build):
    m, forward = build()
    m.fill()
    idx = torch.arange(B * SIZE * SIZE, dtype=torch.float64)
    x = (torch.sin(0.13 * idx) + 0.2).reshape(B, 1, SIZE, SIZE)
    logits, landmarks = forward(x, True)
    loss = (logits.flatten() * weights(logits.numel(), lambda i: torch.cos(0.7 * i))).sum() + \
        (landmarks.flatten() * weights(landmarks.numel(), lambda i: torch.sin(0.3 * i + 0.5))).sum()
    loss.backward()
    grads = {}
    for name in sorted(m.shapes):
        g = m.p[name].grad.flatten()
        grads[name] = [(g * torch.cos(0.11 * torch.arange(g.numel(), dtype=torch.float64))).sum().item(),
                       (g * g).sum().item()]
    with torch.no_grad():
        eval_logits, eval_landmarks = forward(x, False)
    return {
        "params": {name: list(m.shapes[name]) for name in sorted(m.shapes)},
        "train_logits": logits.flatten().tolist(),
        "train_landmarks_sum": landmarks.sum().item(),
        "train_landmarks_sumsq": (landmarks ** 2).sum().item(),
        "train_landmarks_first": landmarks[0, 0].tolist(),
        "loss": loss.item(),
        "grads": grads,
        "eval_logits": eval_logits.flatten().tolist(),
        "eval_landmarks_sum": eval_landmarks.sum().item(),
    }


out = {
    "torch": torch.__version__,
    "batch": B, "size": SIZE, "classes": CLASSES, "landmarks": LANDMARKS,
    "fer_hidden": FER_HIDDEN, "fer_embedding": FER_EMBEDDING, "fld_hidden": FLD_HIDDEN,
    "models": {name: run(build) for name, build in
               [("hps", hps), ("csn", csn), ("ps-mcnn", ps_mcnn), ("cmcnn", cmcnn), ("mtan", mtan)]},
}
print(json.dumps(out, indent=1))
