# Writes dlib5_ckplus48_sample.csv: dlib's 5-point shape predictor on the 60 native 48x48 CK+48
# faces of ../shared/reference/dlib68_native_ckplus48_sample.csv, from the same face boxes. The
# Rust parity test (ert_parity.rs) predicts from the same boxes on the same PNGs.
# Run from the repository root, with ../shared beside it:
#   pip install dlib-bin==20.0.1.post1 pillow numpy
#   python3 crates/fer-face/tests/data/dlib5_ckplus48_sample.py > crates/fer-face/tests/data/dlib5_ckplus48_sample.csv
# dlib 20.0.1, Pillow 13.0.
import csv, os, sys
import numpy as np
import dlib
from PIL import Image

shared = os.environ.get("FER_SHARED", "../shared")
root = os.path.join(shared, "datasets/ckplus48")
sp = dlib.shape_predictor(os.path.join(shared, "models/dlib/shape_predictor_5_face_landmarks.dat"))
rows = list(csv.DictReader(open(os.path.join(shared, "reference/dlib68_native_ckplus48_sample.csv"))))
header = ["image", "success", "box_left", "box_top", "box_right", "box_bottom"]
header += [f"x_{i}" for i in range(5)] + [f"y_{i}" for i in range(5)]
print(",".join(header))
for r in rows:
    if r["success"] != "1":
        continue
    pixels = np.array(Image.open(os.path.join(root, r["image"])).convert("L"))
    box = [int(r[k]) for k in ("box_left", "box_top", "box_right", "box_bottom")]
    shape = sp(pixels, dlib.rectangle(*box))
    xs = [shape.part(i).x for i in range(5)]
    ys = [shape.part(i).y for i in range(5)]
    print(",".join([r["image"], "1"] + [str(v) for v in box + xs + ys]))
