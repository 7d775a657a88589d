# Writes tiny_state_dict.pth, the fuzzer's seed for PyTorch's zip checkpoint format (the
# `pth` target; the MTCNN seeds are the legacy format). Made-up values, no model's weights.
# Run from the repository root: python3 xtask/src/fuzzing/tiny_state_dict.py (PyTorch 2.15).
import collections
import torch

state = collections.OrderedDict()
state["conv.weight"] = torch.arange(12, dtype=torch.float32).reshape(2, 1, 2, 3) / 8
state["conv.bias"] = torch.tensor([0.5, -0.25])
state["bn.num_batches_tracked"] = torch.tensor(7, dtype=torch.int64)
# A view with an offset into a shared storage, as slices of one tensor saved together are.
base = torch.linspace(-1, 1, 10)
state["fc.weight"] = base[2:8].reshape(2, 3)
state["fc.bias"] = base[8:]
torch.save(state, "xtask/src/fuzzing/tiny_state_dict.pth")
