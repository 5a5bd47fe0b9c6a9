"""Writes the joblib fixtures of //mdm/data:joblib_test with real joblib.

Run once per joblib version, each installed outside the repository
(`pip install --no-deps --target DIR joblib==V`), from this folder:
  PYTHONPATH=DIR python3 make_fixtures.py
joblib 1.2.0 (Debian 12's) and 1.4.2 pad the array to 16 bytes, 0.14.1
does not. Each image is the same (6, 4, 3) uint8 array, pixel value
(row * 4 + column) * 3 + channel, so the test knows every byte.
"""
import numpy as np
import joblib

image = np.arange(6 * 4 * 3, dtype=np.uint8).reshape(6, 4, 3)
v = joblib.__version__
joblib.dump(image, f"image_{v}.npy")
if v == "1.2.0":
    joblib.dump(image, "image_protocol2.npy", protocol=2)
    joblib.dump(image, "image_gzip.npy", compress=("gzip", 3))
    joblib.dump(image.astype(np.float32), "float_image.npy")
    joblib.dump(image[:, :, 0].copy(), "gray_image.npy")
    with open(f"image_{v}.npy", "rb") as f:
        data = f.read()
    with open("truncated.npy", "wb") as f:
        f.write(data[:-20])
