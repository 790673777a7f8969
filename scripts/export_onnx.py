"""Export ResNet-18 and MobileNetV2 with CBAM from PyTorch to ONNX, for the
ONNX Runtime comparison in ``deno task bench:infer``.

The networks are the ones in ``torch_parity.py`` (torchvision's layouts with
CBAM after every stage, as the TensorFlow.js models build them), with seeded
random weights: latency does not depend on the weight values. Each file
takes an NCHW float32 ``input`` of shape [1, 3, size, size] and returns the
``logits``. BatchNorm is folded into the convolutions by the exporter in
eval mode, as ONNX Runtime expects.

Needs Debian's PyTorch (``apt-get install python3-torch python3-torchvision``);
the ``onnx`` Python package is not needed. Example::

    /usr/bin/python3 scripts/export_onnx.py --out /tmp/onnx --img-size 224
"""

import argparse
import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from torch_parity import MOBILENET_CBAM_FEATURES, MobileNetV2Cbam, build_resnet, randomize  # noqa: E402

NUM_CLASSES = 6
OPSET = 13


def build(name):
    """Build one benchmark network by name, in eval mode."""
    if name == "resnet18_cbam":
        model = build_resnet(18, NUM_CLASSES, 64, "stages")
    elif name == "mobilenet_v2_cbam":
        model = MobileNetV2Cbam(NUM_CLASSES, 1.0, MOBILENET_CBAM_FEATURES)
    else:
        raise ValueError(f"unknown network {name!r}; use resnet18_cbam or mobilenet_v2_cbam")
    randomize(model, seed=1)
    return model.eval()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, help="folder for the .onnx files and index.json")
    parser.add_argument("--img-size", type=int, default=224, help="input height and width in pixels")
    args = parser.parse_args()
    if args.img_size < 32:
        parser.error(f"--img-size must be at least 32 pixels, got {args.img_size}")

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    index = {"torch": torch.__version__, "opset": OPSET, "imgSize": args.img_size, "models": {}}
    for name in ("resnet18_cbam", "mobilenet_v2_cbam"):
        model = build(name)
        example = torch.zeros(1, 3, args.img_size, args.img_size)
        path = out / f"{name}.onnx"
        with torch.no_grad():
            torch.onnx.export(
                model,
                example,
                str(path),
                input_names=["input"],
                output_names=["logits"],
                opset_version=OPSET,
                do_constant_folding=True,
            )
        index["models"][name] = {"file": path.name, "bytes": path.stat().st_size}
        print(f"wrote {path} ({path.stat().st_size} bytes)")
    (out / "index.json").write_text(json.dumps(index, indent=2) + "\n")


if __name__ == "__main__":
    main()
