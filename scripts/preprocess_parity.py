#!/usr/bin/env python3
"""Write the reference outputs that tests/shared/preprocess_parity_test.ts
compares the TypeScript preprocessing against.

For each case the script runs torchvision's evaluation transform,
Resize(256) + CenterCrop(224) + ToTensor() + Normalize(ImageNet), on a PIL
image, and stores:

- outputMean: mean of the 224x224x3 crop in 0..255 units, per channel;
- outputSample: every STRIDE-th value of the crop in HWC order, as uint8
  (ToTensor divides uint8 by 255, so these are exact), base64;
- normalizedSample: the Normalize output at the first 64 sampled positions;
- for JPEG inputs, decodedMean and decodedSample (every DECODED_STRIDE-th
  value): Pillow's decoded pixels,
  so the test can report the JPEG decoder difference apart from the resize.

Cases: synthetic images computed from a formula that the test evaluates
identically (no decoder involved), a PNG of Pillow's decode of a TrashNet
photo (lossless, so again no decoder difference), and TrashNet JPEGs (decode
plus resize).

Usage: /usr/bin/python3 scripts/preprocess_parity.py [--trashnet ../shared/data/trashnet]
Needs torch, torchvision and Pillow (Debian: python3-torch python3-torchvision python3-pil).
"""

import argparse
import base64
import json
import pathlib
import shutil

import numpy as np
import PIL
import torch
import torchvision
from PIL import Image
from torchvision import transforms

RESIZE = 256
CROP = 224
STRIDE = 29
DECODED_STRIDE = 53
NORMALIZED_SAMPLES = 64
MEAN = [0.485, 0.456, 0.406]
STD = [0.229, 0.224, 0.225]

SYNTHETIC_SIZES = [(512, 384), (1000, 750), (300, 500), (200, 150)]
JPEG_PHOTOS = ["glass/glass1.jpg", "metal/metal5.jpg", "trash/trash2.jpg"]
PNG_PHOTO = "glass/glass1.jpg"

OUT_DIR = pathlib.Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "preprocess_parity"


def synthetic_pixels(width: int, height: int) -> np.ndarray:
    """32-pixel checkerboard of pseudo-noise and a smooth ramp; mirrored in the test."""
    y, x, c = np.meshgrid(np.arange(height), np.arange(width), np.arange(3), indexing="ij")
    noise = ((x * x * 31 + y * y * 17 + x * y * 7 + c * 101) >> 3) & 255
    ramp = (255 * (x + y) // (width + height - 2) + c * 40) & 255
    use_noise = ((x >> 5) + (y >> 5)) % 2 == 0
    return np.where(use_noise, noise, ramp).astype(np.uint8)


def reference(image: Image.Image) -> dict:
    crop = transforms.Compose([transforms.Resize(RESIZE), transforms.CenterCrop(CROP)])(image)
    tensor = transforms.ToTensor()(crop)
    normalized = transforms.Normalize(MEAN, STD)(tensor)
    hwc = np.asarray(crop, dtype=np.uint8)
    # ToTensor's float values times 255 are exactly the uint8 crop.
    assert np.array_equal(np.rint(tensor.permute(1, 2, 0).numpy() * 255).astype(np.uint8), hwc)
    flat = hwc.reshape(-1)
    sample = flat[::STRIDE]
    normalized_flat = normalized.permute(1, 2, 0).contiguous().numpy().reshape(-1)
    return {
        "outputMean": hwc.reshape(-1, 3).mean(axis=0).tolist(),
        "outputSample": base64.b64encode(sample.tobytes()).decode("ascii"),
        "normalizedSample": normalized_flat[::STRIDE][:NORMALIZED_SAMPLES].astype(float).tolist(),
    }


def decoded_summary(image: Image.Image) -> dict:
    pixels = np.asarray(image, dtype=np.uint8)
    return {
        "decodedMean": pixels.reshape(-1, 3).mean(axis=0).tolist(),
        "decodedSample": base64.b64encode(pixels.reshape(-1)[::DECODED_STRIDE].tobytes()).decode("ascii"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trashnet", default="../shared/data/trashnet", type=pathlib.Path)
    args = parser.parse_args()
    OUT_DIR.mkdir(parents=True, exist_ok=True)

    cases = []
    for width, height in SYNTHETIC_SIZES:
        image = Image.fromarray(synthetic_pixels(width, height), "RGB")
        cases.append({"name": f"synthetic_{width}x{height}", "kind": "synthetic",
                      "width": width, "height": height, **reference(image)})

    png_name = pathlib.Path(PNG_PHOTO).stem + "_pillow.png"
    decoded = Image.open(args.trashnet / PNG_PHOTO).convert("RGB")
    decoded.save(OUT_DIR / png_name, optimize=True)
    cases.append({"name": png_name, "kind": "png", "file": png_name,
                  "width": decoded.width, "height": decoded.height, **reference(decoded)})

    for photo in JPEG_PHOTOS:
        name = pathlib.Path(photo).name
        shutil.copyfile(args.trashnet / photo, OUT_DIR / name)
        image = Image.open(OUT_DIR / name).convert("RGB")
        cases.append({"name": name, "kind": "jpeg", "file": name, "width": image.width,
                      "height": image.height, **decoded_summary(image), **reference(image)})

    shutil.copyfile(args.trashnet / "LICENSE", OUT_DIR / "LICENSE")
    expected = {
        "generator": "scripts/preprocess_parity.py",
        "versions": {"torch": torch.__version__, "torchvision": torchvision.__version__,
                     "pillow": PIL.__version__},
        "resize": RESIZE, "crop": CROP, "mean": MEAN, "std": STD, "stride": STRIDE,
        "decodedStride": DECODED_STRIDE,
        "cases": cases,
    }
    (OUT_DIR / "expected.json").write_text(json.dumps(expected, indent=1) + "\n")
    print(f"Wrote {len(cases)} cases to {OUT_DIR / 'expected.json'}")


if __name__ == "__main__":
    main()
