# Writes dlib68_fer2013_sample.csv: dlib's 68-point shape predictor on 252 FER2013 test
# images, as PIL decodes them, with the whole 48x48 image as the face box. The Rust parity
# test (ert_parity.rs) decodes the same JPEGs with our decoder and predicts from the same box.
# Run from the repository root, with ../shared beside it:
#   pip install dlib-bin==20.0.1.post1 pillow numpy
#   python3 crates/fer-face/tests/data/dlib68_fer2013_sample.py
# dlib 20.0.1, Pillow 13.0.
import os, sys
import numpy as np
import dlib
from PIL import Image

shared = os.environ.get("FER_SHARED", "../shared")
root = os.path.join(shared, "datasets/fer2013/test")
images = sorted(
    os.path.join(c, f)
    for c in os.listdir(root)
    for f in os.listdir(os.path.join(root, c))
    if f.endswith(".jpg")
)
step = len(images) // 252
sample = images[::step][:252]
sp = dlib.shape_predictor(
    os.path.join(shared, "models/dlib/shape_predictor_68_face_landmarks.dat")
)
out = sys.stdout if len(sys.argv) < 2 else open(sys.argv[1], "w")
header = ["image", "success", "box_left", "box_top", "box_right", "box_bottom"]
header += [f"x_{i}" for i in range(68)] + [f"y_{i}" for i in range(68)]
print(",".join(header), file=out)
for name in sample:
    pixels = np.array(Image.open(os.path.join(root, name)).convert("L"))
    h, w = pixels.shape
    box = dlib.rectangle(0, 0, w - 1, h - 1)
    shape = sp(pixels, box)
    xs = [shape.part(i).x for i in range(68)]
    ys = [shape.part(i).y for i in range(68)]
    row = [name, "1", "0", "0", str(w - 1), str(h - 1)] + [str(v) for v in xs + ys]
    print(",".join(row), file=out)
