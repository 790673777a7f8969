"""Generate PyTorch checkpoints and reference logits for the import parity tests.

Builds torchvision ResNet-18, ResNet-50 and MobileNetV2, optionally with CBAM
written from the project's description, fills every parameter and BatchNorm
running statistic with seeded random values, and writes for each case:

- the state_dict, as a torch.save zip file (``.pth``) or as ``.safetensors``
  (written by hand, because Debian 12 has no Python safetensors package);
- ``<case>.expected.safetensors`` with the NHWC float32 ``input`` and the
  eval-mode ``logits`` that PyTorch computes for it;
- ``cases.json``, which lists every case with the arguments that rebuild the
  model in TensorFlow.js.

The default ``fixtures`` set uses narrow widths and 64-pixel inputs so that
the committed files stay small; ``full`` uses torchvision's widths. The
``readers`` set adds small files for the checkpoint reader tests.

Run it with Debian's PyTorch (``apt-get install python3-torch
python3-torchvision``), for example::

    /usr/bin/python3 scripts/torch_parity.py --set fixtures --out tests/fixtures/torch
    /usr/bin/python3 scripts/torch_parity.py --set full --out /tmp/parity
"""

import argparse
import json
import struct
import types
from pathlib import Path

import torch
import torch.nn.functional as F
import torchvision
from torch import nn
from torchvision.models.mobilenetv2 import MobileNetV2
from torchvision.models.resnet import BasicBlock, Bottleneck, ResNet

SAFETENSORS_DTYPES = {torch.float32: "F32", torch.float16: "F16", torch.int64: "I64"}


class ChannelAttention(nn.Module):
    """CBAM channel attention: a shared MLP of two bias-free 1x1 convolutions
    over the average- and max-pooled descriptors, summed, then a sigmoid."""

    def __init__(self, channels, reduction=16):
        super().__init__()
        hidden = max(1, channels // reduction)
        self.fc1 = nn.Conv2d(channels, hidden, 1, bias=False)
        self.fc2 = nn.Conv2d(hidden, channels, 1, bias=False)

    def forward(self, x):
        avg = self.fc2(F.relu(self.fc1(F.adaptive_avg_pool2d(x, 1))))
        peak = self.fc2(F.relu(self.fc1(F.adaptive_max_pool2d(x, 1))))
        return x * torch.sigmoid(avg + peak)


class SpatialAttention(nn.Module):
    """CBAM spatial attention: a bias-free k x k convolution over the
    channel-wise [mean, max] maps, then a sigmoid."""

    def __init__(self, kernel_size=7):
        super().__init__()
        self.conv1 = nn.Conv2d(2, 1, kernel_size, padding=kernel_size // 2, bias=False)

    def forward(self, x):
        maps = torch.cat([x.mean(dim=1, keepdim=True), x.amax(dim=1, keepdim=True)], dim=1)
        return x * torch.sigmoid(self.conv1(maps))


class CBAM(nn.Module):
    """Channel attention followed by spatial attention."""

    def __init__(self, channels, reduction=16, kernel_size=7):
        super().__init__()
        self.ca = ChannelAttention(channels, reduction)
        self.sa = SpatialAttention(kernel_size)

    def forward(self, x):
        return self.sa(self.ca(x))


class NarrowResNet(ResNet):
    """torchvision's ResNet with stage widths base_width x 1, 2, 4, 8 instead of
    64 x 1, 2, 4, 8. Module names, and so state_dict keys, are torchvision's."""

    def __init__(self, block, layers, num_classes, base_width):
        nn.Module.__init__(self)
        self._norm_layer = nn.BatchNorm2d
        self.inplanes = base_width
        self.dilation = 1
        self.groups = 1
        # torchvision's per-group width factor: Bottleneck width = planes * base_width / 64.
        self.base_width = 64
        self.conv1 = nn.Conv2d(3, base_width, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(base_width)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(block, base_width, layers[0])
        self.layer2 = self._make_layer(block, base_width * 2, layers[1], stride=2)
        self.layer3 = self._make_layer(block, base_width * 4, layers[2], stride=2)
        self.layer4 = self._make_layer(block, base_width * 8, layers[3], stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(base_width * 8 * block.expansion, num_classes)


RESNET_LAYOUTS = {18: (BasicBlock, [2, 2, 2, 2]), 50: (Bottleneck, [3, 4, 6, 3])}


def block_forward_with_cbam(self, x):
    """BasicBlock or Bottleneck forward with CBAM on the residual branch,
    after the last BatchNorm and before the addition."""
    identity = x
    out = self.relu(self.bn1(self.conv1(x)))
    if hasattr(self, "conv3"):
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
    else:
        out = self.bn2(self.conv2(out))
    out = self.cbam(out)
    if self.downsample is not None:
        identity = self.downsample(x)
    return self.relu(out + identity)


def build_resnet(depth, num_classes, base_width, cbam):
    """Build a ResNet with CBAM ``none``, after ``stages`` (``layerN.cbam``) or in
    every block (``layerN.M.cbam``)."""
    if base_width == 64:
        model = getattr(torchvision.models, f"resnet{depth}")(num_classes=num_classes)
    else:
        block, layers = RESNET_LAYOUTS[depth]
        model = NarrowResNet(block, layers, num_classes, base_width)
    stages = [model.layer1, model.layer2, model.layer3, model.layer4]
    if cbam == "stages":
        for stage in stages:
            stage.add_module("cbam", CBAM(block_out_channels(stage[-1])))
    elif cbam == "blocks":
        for stage in stages:
            for module in stage:
                module.cbam = CBAM(block_out_channels(module))
                module.forward = types.MethodType(block_forward_with_cbam, module)
    return model


def block_out_channels(module):
    return module.bn3.num_features if hasattr(module, "bn3") else module.bn2.num_features


class MobileNetV2Cbam(MobileNetV2):
    """torchvision's MobileNetV2 with CBAM modules after chosen feature blocks.
    They live in ``cbam`` (keys ``cbam.<index>.*``) so that torchvision's
    ``features`` numbering stays unchanged."""

    def __init__(self, num_classes, width_mult, cbam_after):
        super().__init__(num_classes=num_classes, width_mult=width_mult)
        channels = {i: feature_out_channels(f) for i, f in enumerate(self.features)}
        self.cbam = nn.ModuleDict({str(i): CBAM(channels[i]) for i in cbam_after})

    def forward(self, x):
        for index, feature in enumerate(self.features):
            x = feature(x)
            if str(index) in self.cbam:
                x = self.cbam[str(index)](x)
        x = torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)
        return self.classifier(x)


def feature_out_channels(feature):
    convs = [m for m in feature.modules() if isinstance(m, nn.Conv2d)]
    return convs[-1].out_channels


MOBILENET_CBAM_FEATURES = [3, 6, 13, 17, 18]


def randomize(model, seed):
    """Fill every parameter and BatchNorm buffer with seeded random values, so
    that eval mode (running statistics) is exercised with non-trivial numbers."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.BatchNorm2d):
                n = module.num_features
                module.weight.copy_(0.5 + torch.rand(n, generator=generator))
                module.bias.copy_(0.2 * torch.randn(n, generator=generator))
                module.running_mean.copy_(0.2 * torch.randn(n, generator=generator))
                module.running_var.copy_(0.5 + torch.rand(n, generator=generator))
                module.num_batches_tracked.fill_(int(torch.randint(1, 1000, (1,), generator=generator)))
            elif isinstance(module, (nn.Conv2d, nn.Linear)):
                fan_in = module.weight[0].numel()
                bound = (3.0 / fan_in) ** 0.5
                module.weight.copy_((torch.rand(module.weight.shape, generator=generator) * 2 - 1) * bound)
                if module.bias is not None:
                    module.bias.copy_(0.1 * torch.randn(module.bias.shape, generator=generator))


def write_safetensors(path, tensors, metadata=None):
    """Write a safetensors file: an 8-byte little-endian header length, the
    JSON header (padded with spaces to a multiple of 8), then the raw data."""
    header = {}
    chunks = []
    offset = 0
    for name, tensor in tensors.items():
        data = tensor.detach().contiguous().cpu().numpy().tobytes()
        header[name] = {
            "dtype": SAFETENSORS_DTYPES[tensor.dtype],
            "shape": list(tensor.shape),
            "data_offsets": [offset, offset + len(data)],
        }
        chunks.append(data)
        offset += len(data)
    if metadata:
        header["__metadata__"] = metadata
    encoded = json.dumps(header, separators=(",", ":")).encode("utf-8")
    encoded += b" " * (-len(encoded) % 8)
    with open(path, "wb") as file:
        file.write(struct.pack("<Q", len(encoded)))
        file.write(encoded)
        for chunk in chunks:
            file.write(chunk)


def round_to_half(model):
    """Round every floating-point parameter and buffer to float16 precision, in
    place, so that a float16 checkpoint holds exactly the values that computed
    the reference logits (in float32)."""
    with torch.no_grad():
        for tensor in list(model.parameters()) + list(model.buffers()):
            if tensor.is_floating_point():
                tensor.copy_(tensor.half().float())


def save_checkpoint(path, state_dict):
    if path.suffix == ".safetensors":
        write_safetensors(path, state_dict)
    else:
        torch.save(state_dict, path)


def build_case_model(case):
    if case["model"] == "mobilenet_v2":
        positions = case["cbam"]["stages"] if case["cbam"]["kind"] == "stages" else []
        after = [MOBILENET_CBAM_FEATURES[p - 1] for p in positions]
        return MobileNetV2Cbam(case["numClasses"], case["widthMultiplier"], after)
    depth = int(case["model"].removeprefix("resnet"))
    kind = case["cbam"]["kind"]
    if kind == "stages" and case["cbam"]["stages"] != [1, 2, 3, 4]:
        raise ValueError(f"case {case['name']}: only all four stages are supported here")
    return build_resnet(depth, case["numClasses"], case["baseWidth"], kind)


def run_case(case, out_dir, seed):
    """Build, randomize and save one case; return its manifest entry."""
    model = build_case_model(case)
    randomize(model, seed)
    half = case["weightsDtype"] == "float16"
    if half:
        round_to_half(model)
    model.eval()
    generator = torch.Generator().manual_seed(seed + 1)
    size = case["imgSize"]
    # Inputs are rounded to float16 and stored so, which halves their size.
    inputs = torch.randn(case["batch"], 3, size, size, generator=generator).half().float()
    with torch.no_grad():
        logits = model(inputs)
    state_dict = model.state_dict()
    if half:
        state_dict = {k: v.half() if v.is_floating_point() else v for k, v in state_dict.items()}
    save_checkpoint(out_dir / case["checkpoint"], state_dict)
    write_safetensors(
        out_dir / case["expected"],
        {"input": inputs.permute(0, 2, 3, 1).half(), "logits": logits},
        {"torch": torch.__version__, "torchvision": torchvision.__version__},
    )
    entry = {key: value for key, value in case.items() if key != "batch"}
    entry["maxAbsLogit"] = float(logits.abs().max())
    return entry


def resnet_case(depth, cbam, width, checkpoint_ext, img_size=48, weights_dtype="float32", batch=2):
    name = f"resnet{depth}_w{width}_{cbam}"
    stages = {"kind": "stages", "stages": [1, 2, 3, 4]} if cbam == "stages" else {"kind": cbam}
    return {
        "name": name,
        "model": f"resnet{depth}",
        "baseWidth": width,
        "cbam": stages,
        "numClasses": 5,
        "imgSize": img_size,
        "weightsDtype": weights_dtype,
        "batch": batch,
        "checkpoint": f"{name}{checkpoint_ext}",
        "expected": f"{name}.expected.safetensors",
    }


def mobilenet_case(width_mult, stages, checkpoint_ext, img_size=48, weights_dtype="float32", batch=2):
    cbam_name = "cbam" + "".join(map(str, stages)) if stages else "none"
    name = f"mobilenet_v2_x{width_mult}_{cbam_name}".replace(".", "_")
    cbam = {"kind": "stages", "stages": stages} if stages else {"kind": "none"}
    return {
        "name": name,
        "model": "mobilenet_v2",
        "widthMultiplier": width_mult,
        "cbam": cbam,
        "numClasses": 5,
        "imgSize": img_size,
        "weightsDtype": weights_dtype,
        "batch": batch,
        "checkpoint": f"{name}{checkpoint_ext}",
        "expected": f"{name}.expected.safetensors",
    }


def fixture_cases():
    """Small cases for the committed fixtures, both formats, with and without
    CBAM. Some store float16 weights to keep the files small."""
    return [
        resnet_case(18, "none", 4, ".pth"),
        resnet_case(18, "stages", 4, ".safetensors"),
        resnet_case(18, "blocks", 4, ".pth", weights_dtype="float16"),
        resnet_case(50, "none", 4, ".safetensors", weights_dtype="float16"),
        resnet_case(50, "stages", 4, ".pth", weights_dtype="float16"),
        # CBAM after features 18 alone has 1280 x 80 x 2 weights, so it is left to --set full.
        mobilenet_case(0.25, [1, 2, 3, 4], ".pth", weights_dtype="float16"),
    ]


def full_cases(img_size):
    """Full-width torchvision networks, too large to commit."""
    cases = []
    for depth in (18, 50):
        for cbam, ext in (("none", ".pth"), ("stages", ".safetensors"), ("blocks", ".pth")):
            cases.append(resnet_case(depth, cbam, 64, ext, img_size=img_size))
    cases.append(mobilenet_case(1.0, [1, 2, 3, 4, 5], ".pth", img_size=img_size))
    cases.append(mobilenet_case(1.0, [], ".safetensors", img_size=img_size))
    return cases


def write_reader_fixtures(out_dir):
    """Small files for the reader tests, with the values they must decode to."""
    generator = torch.Generator().manual_seed(7)
    base = torch.randn(4, 6, generator=generator)
    # Views of one storage (transposed, sliced) test strides, offsets and shared storages.
    tensors = {
        "plain": torch.randn(2, 3, generator=generator),
        "transposed": base.t(),
        "sliced": base[1:3, 2:5],
        "half": torch.randn(3, 2, generator=generator).half(),
        "half_transposed": torch.randn(2, 3, generator=generator).half().t(),
        "scalar": torch.tensor(2.5),
        "empty": torch.zeros(0, 3),
        "bn.num_batches_tracked": torch.tensor(12, dtype=torch.int64),
    }
    expected = {
        name: {"shape": list(t.shape), "values": t.float().flatten().tolist()}
        for name, t in tensors.items()
        if t.dtype != torch.int64
    }

    torch.save(tensors, out_dir / "reader_plain.pth")
    wrapped = {
        "epoch": 3,
        "best_accuracy": 0.875,
        "tags": ["pretrained", None, True],
        "state_dict": {f"module.{name}": t for name, t in tensors.items()},
    }
    torch.save(wrapped, out_dir / "reader_nested.pth")
    torch.save(tensors, out_dir / "reader_legacy.pth", _use_new_zipfile_serialization=False)
    torch.save(nn.Linear(2, 2), out_dir / "reader_whole_module.pth")

    contiguous = {name: t.contiguous() for name, t in tensors.items()}
    write_safetensors(out_dir / "reader_plain.safetensors", contiguous, {"source": "torch_parity.py"})
    (out_dir / "reader_expected.json").write_text(json.dumps(expected, indent=1) + "\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="output folder, created if missing")
    parser.add_argument(
        "--set",
        choices=["fixtures", "full", "readers"],
        default="fixtures",
        help="fixtures: narrow committed cases; full: torchvision widths; readers: reader test files",
    )
    parser.add_argument("--img-size", type=int, default=64, help="input size in pixels for --set full")
    parser.add_argument("--only", help="comma-separated case names to generate; default: all of the set")
    parser.add_argument("--seed", type=int, default=2024, help="base seed of weights and inputs")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)

    if args.set == "readers":
        write_reader_fixtures(args.out)
        return
    cases = fixture_cases() if args.set == "fixtures" else full_cases(args.img_size)
    if args.only:
        wanted = args.only.split(",")
        unknown = sorted(set(wanted) - {case["name"] for case in cases})
        if unknown:
            parser.error(f"--only names unknown cases {unknown}; see cases.json of a full run")
        cases = [case for case in cases if case["name"] in wanted]
    entries = [run_case(case, args.out, args.seed + 10 * i) for i, case in enumerate(cases)]
    manifest = {
        "generatedBy": "scripts/torch_parity.py",
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "cases": entries,
    }
    (args.out / "cases.json").write_text(json.dumps(manifest, indent=1) + "\n")
    for entry in entries:
        print(f"{entry['name']}: max |logit| {entry['maxAbsLogit']:.4g}")


if __name__ == "__main__":
    main()
