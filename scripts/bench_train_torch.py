"""Measure PyTorch's CPU training throughput for the training benchmark.

Trains torchvision's ResNet-18 with CBAM after each stage (the model of
``torch_parity.py``, which the import parity tests check against the
TensorFlow.js model) on random images for a few warm-up steps and then for a
timed number of steps. It prints one JSON object with the images per second.

``--mode frozen`` trains only the CBAM modules and the classifier, and keeps
every other BatchNorm in eval mode, as ``--freeze-layers`` does in the
TensorFlow.js trainer.

``deno task bench:train`` runs this script. To run it alone, with Debian's
PyTorch (``apt-get install python3-torch python3-torchvision``)::

    /usr/bin/python3 scripts/bench_train_torch.py --img-size 128 --batch-size 16 --mode full
"""

import argparse
import json
import time

import torch
from torch import nn

from torch_parity import build_resnet


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--img-size", type=int, default=224, help="input height and width in pixels")
    parser.add_argument("--batch-size", type=int, default=16, help="images per step")
    parser.add_argument("--classes", type=int, default=6, help="number of output classes")
    parser.add_argument("--mode", choices=["full", "frozen"], default="full", help="full: every layer trains; frozen: only CBAM and fc")
    parser.add_argument("--optim", choices=["sgd", "adamw"], default="sgd", help="optimizer: SGD with momentum 0.9, or AdamW")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps before timing")
    parser.add_argument("--steps", type=int, default=5, help="timed steps")
    parser.add_argument("--threads", type=int, default=2, help="torch.set_num_threads value")
    parser.add_argument("--seed", type=int, default=0, help="seed of the weights and the images")
    args = parser.parse_args()
    for name in ["img_size", "batch_size", "classes", "steps", "threads"]:
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1, got {getattr(args, name)}")
    if args.warmup < 0:
        parser.error(f"--warmup must be 0 or more, got {args.warmup}")
    return args


def freeze_backbone(model):
    """Freeze every parameter outside CBAM and ``fc`` and return the ones that train."""
    trainable = []
    for name, module in model.named_modules():
        inside_trainable = name == "fc" or "cbam" in name.split(".")
        for parameter in module.parameters(recurse=False):
            parameter.requires_grad_(inside_trainable)
            if inside_trainable:
                trainable.append(parameter)
    return trainable


def set_frozen_batch_norm_eval(model):
    """Put BatchNorm layers without trainable parameters in eval mode (running statistics)."""
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d) and not module.weight.requires_grad:
            module.eval()


def main():
    args = parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    model = build_resnet(18, args.classes, 64, "stages")
    model.train()
    if args.mode == "frozen":
        parameters = freeze_backbone(model)
        set_frozen_batch_norm_eval(model)
    else:
        parameters = list(model.parameters())
    if args.optim == "sgd":
        optimizer = torch.optim.SGD(parameters, lr=1e-3, momentum=0.9)
    else:
        optimizer = torch.optim.AdamW(parameters, lr=1e-3, weight_decay=0.01)
    loss_function = nn.CrossEntropyLoss()
    images = torch.randn(args.batch_size, 3, args.img_size, args.img_size)
    labels = torch.randint(0, args.classes, (args.batch_size,))

    def step():
        optimizer.zero_grad(set_to_none=True)
        loss = loss_function(model(images), labels)
        loss.backward()
        optimizer.step()
        return loss.item()

    for _ in range(args.warmup):
        step()
    started = time.perf_counter()
    for _ in range(args.steps):
        step()
    seconds = time.perf_counter() - started
    print(json.dumps({
        "framework": f"pytorch {torch.__version__}",
        "threads": torch.get_num_threads(),
        "imgSize": args.img_size,
        "batchSize": args.batch_size,
        "mode": args.mode,
        "optim": args.optim,
        "steps": args.steps,
        "seconds": seconds,
        "imagesPerSecond": args.batch_size * args.steps / seconds,
    }))


if __name__ == "__main__":
    main()
