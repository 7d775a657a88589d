# Builds the reference implementation's models (thuiar/cmcnn models/CMCNN.py, FER_DCNN.py,
# LM_DCNN.py, unmodified), saves their state dicts as .pth and their outputs on a fixed input,
# for `cargo run --release -p fer-models --example reference_parity`. Usage:
#   python reference_parity.py DIR   (DIR/models/ holds the reference files; outputs go to DIR)
import sys, types, torch
from safetensors.torch import save_file
REF = sys.argv[1] if len(sys.argv) > 1 else "."  # DIR: holds the reference repo's models/
sys.path.insert(0, REF)
from models.CMCNN import CMCNN
from models.FER_DCNN import FER_DCNN
from models.LM_DCNN import LM_DCNN
torch.manual_seed(0)
args = types.SimpleNamespace(e_ratio=0.5, alphaBetas=[[0.5, 0.5]], fer_embedding=128, lm_embedding=2048,
                             num_landmarks=68, fer_num_classes=7, embedding_size=128)
B = 4
i = torch.arange(B * 100 * 100, dtype=torch.float32)
x = (torch.sin(0.0137 * i) * 0.8 + 0.1 * torch.cos(0.31 * i)).reshape(B, 1, 100, 100)
for name, cls in [("cmcnn", CMCNN), ("fer_dcnn", FER_DCNN), ("lm_dcnn", LM_DCNN)]:
    m = cls(args)
    with torch.no_grad():
        for n, p in m.named_parameters():
            if "cross_stitch" in n:
                p.copy_(torch.tensor([[0.3, 0.8]]) if "_e" in n else torch.tensor([[0.6, 0.45]]))
        for n, b in m.named_buffers():
            if n.endswith("running_mean"):
                b.copy_(torch.randn_like(b) * 0.1)
            if n.endswith("running_var"):
                b.copy_(torch.rand_like(b) + 0.5)
    torch.save(m.state_dict(), f"{REF}/{name}.pth")
    outs = {}
    m.eval()
    with torch.no_grad():
        o = m(x)
        for k in ("fer_output", "lm_output"):
            if k in o:
                outs["eval." + k] = o[k].contiguous()
    m.train()
    with torch.no_grad():
        o = m(x)
        for k in ("fer_output", "lm_output"):
            if k in o:
                outs["train." + k] = o[k].contiguous()
    outs["input"] = x
    save_file(outs, f"{REF}/{name}_outputs.safetensors")
    print(name, {k: tuple(v.shape) for k, v in outs.items()})
