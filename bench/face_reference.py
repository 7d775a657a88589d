"""The established tools timed on the same inputs as `cargo xtask bench face`, on the same
machine, so the CSV holds side-by-side ratios rather than numbers from another day.

- dlib's shape predictor (if `import dlib` works): the 60 faces and boxes of
  reference/dlib68_native_ckplus48_sample.csv, one thread, faces/s (median of passes).
- facenet-pytorch's MTCNN (if `import facenet_pytorch` works): 64 FER2013 test faces at 48x48,
  one image per call as its users call it, and one batched call of 256, images/s.

Prints one JSON object; missing tools are left out. Usage: face_reference.py SHARED_DIR PASSES
"""
import json
import os
import sys
import time


def median(v):
    v = sorted(v)
    return v[len(v) // 2]


def fer2013_faces(shared, n):
    from PIL import Image

    root = os.path.join(shared, "datasets/fer2013/test")
    files = sorted(
        os.path.relpath(os.path.join(d, f), root)
        for d, _, fs in os.walk(root)
        for f in fs
        if f.lower().endswith((".png", ".jpg", ".jpeg"))
    )
    step = max(len(files) // n, 1)
    return [Image.open(os.path.join(root, f)).convert("RGB") for f in files[::step][:n]]


def time_dlib(shared, passes):
    import dlib
    import numpy as np
    from PIL import Image
    import csv

    sp = dlib.shape_predictor(os.path.join(shared, "models/dlib/shape_predictor_68_face_landmarks.dat"))
    faces = []
    with open(os.path.join(shared, "reference/dlib68_native_ckplus48_sample.csv")) as f:
        for r in csv.DictReader(f):
            if r["success"] != "1":
                continue
            img = np.array(Image.open(os.path.join(shared, "datasets/ckplus48", r["image"])).convert("L"))
            box = dlib.rectangle(int(r["box_left"]), int(r["box_top"]), int(r["box_right"]), int(r["box_bottom"]))
            faces.append((img, box))
    for img, b in faces:
        sp(img, b)
    reps, rates = 20, []
    for _ in range(passes):
        t = time.perf_counter()
        for _ in range(reps):
            for img, b in faces:
                sp(img, b)
        rates.append(reps * len(faces) / (time.perf_counter() - t))
    return {"dlib_version": dlib.__version__, "dlib_faces_per_s": median(rates)}


def time_facenet(shared, passes):
    import torch
    from facenet_pytorch import MTCNN

    torch.set_num_threads(os.cpu_count() or 1)
    mtcnn = MTCNN(keep_all=True, device="cpu")
    images = fer2013_faces(shared, 256)
    mtcnn.detect(images[:8])
    single = []
    for _ in range(min(passes, 3)):
        t = time.perf_counter()
        for img in images[:64]:
            mtcnn.detect(img)
        single.append(64 / (time.perf_counter() - t))
    batched = []
    for _ in range(min(passes, 3)):
        t = time.perf_counter()
        mtcnn.detect(images)
        batched.append(len(images) / (time.perf_counter() - t))
    return {
        "torch_version": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "facenet_single_images_per_s": median(single),
        "facenet_batch256_images_per_s": median(batched),
    }


def main():
    shared, passes = sys.argv[1], int(sys.argv[2])
    out = {}
    for timer in (time_dlib, time_facenet):
        try:
            out.update(timer(shared, passes))
        except ImportError as e:
            out.setdefault("missing", []).append(str(e))
    print(json.dumps(out))


if __name__ == "__main__":
    main()
