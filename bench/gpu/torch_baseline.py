#!/usr/bin/env python3
"""PyTorch eager baseline for wgconv's benchmark suite, on the same GPU.

Times every layer and model of a suite file (wgconv's bench/suite.json format) in FP32 with
TF32 off and cudnn.benchmark on, the settings issue 5 asks the comparison to use (with --half:
f16 weights and inputs in channels_last, issue 14's f16 baseline beside wgconv's f16-acc32), and writes
JSON whose item names match `wgconv bench --json`, so bench/gpu/compare.py can pair them.

Timing: CUDA events around each call after warm-up (cudnn.benchmark picks its algorithm during
warm-up); median and min over --runs calls. Models use torchvision's architectures with random
weights (the timing does not depend on the values).

    python3 bench/gpu/torch_baseline.py bench/suite.json --json torch.json [--device cuda] [--half]
"""
import argparse
import json
import statistics
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F


def layer_module(layer):
    """The PyTorch op a suite layer describes, and its input shapes."""
    op = layer["op"]
    n, cin, cout, spatial = layer["n"], layer["cin"], layer["cout"], layer["spatial"]
    shape = [n, cin, *spatial]
    if op in ("conv2d", "conv3d"):
        cls = nn.Conv2d if op == "conv2d" else nn.Conv3d
        m = cls(cin, cout, layer["kernel"], layer["stride"], layer["pad"], layer["dilation"],
                layer["groups"], bias=True)
        return m, [shape]
    if op == "conv_transpose2d":
        m = nn.ConvTranspose2d(cin, cout, layer["kernel"], layer["stride"], layer["pad"],
                               groups=layer["groups"], dilation=layer["dilation"], bias=True)
        return m, [shape]
    if op == "pixel_shuffle":
        return nn.PixelShuffle(layer["factor"]), [shape]
    if op == "space_to_depth":
        return nn.PixelUnshuffle(layer["factor"]), [shape]
    if op == "squeeze_excite":
        s = layer["squeeze"]

        class SE(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc1 = nn.Conv2d(cin, s, 1)
                self.fc2 = nn.Conv2d(s, cin, 1)

            def forward(self, x):
                g = F.adaptive_avg_pool2d(x, 1)
                return x * torch.sigmoid(self.fc2(F.silu(self.fc1(g))))

        return SE(), [shape]
    if op == "max_pool2d":
        return nn.MaxPool2d(layer["kernel"][0], layer["stride"][0], layer["pad"][0]), [shape]
    if op == "avg_pool2d":
        return nn.AvgPool2d(layer["kernel"][0], layer["stride"][0], layer["pad"][0]), [shape]
    if op == "global_avg_pool":
        return nn.AdaptiveAvgPool2d(1), [shape]
    if op == "softmax":
        return nn.Softmax(dim=1), [shape]
    if op == "add":

        class AddRelu(nn.Module):
            def forward(self, a, b):
                return torch.relu(a + b)

        return AddRelu(), [shape, shape]
    raise ValueError(f"layer {layer['name']}: unknown op {op!r}")


def cifar10_net():
    """The seeds' CIFAR-10 network (193,376 parameters), defined once in the fixture script."""
    import os
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "tests", "fixtures"))
    from generate import cifar10_s9

    return cifar10_s9()


def model_module(entry):
    import torchvision.models as tv

    name = entry.get("model", entry["name"])
    builders = {
        "resnet18": tv.resnet18, "resnet34": tv.resnet34, "resnet50": tv.resnet50,
        "mobilenet_v2": tv.mobilenet_v2, "efficientnet_b0": tv.efficientnet_b0,
        "squeezenet1_1": tv.squeezenet1_1, "googlenet": lambda: tv.googlenet(aux_logits=False,
                                                                           init_weights=True),
        "shufflenet_v2_x1_0": tv.shufflenet_v2_x1_0, "cifar10_net": cifar10_net,
    }
    if name not in builders:
        raise ValueError(f"model {entry['name']}: no PyTorch builder for {name!r}")
    return builders[name](), [entry["input"]]


def half_channels_last(module, xs):
    """f16 module and inputs, 4-D tensors channels_last and 5-D channels_last_3d."""
    five = any(p.dim() == 5 for p in module.parameters())
    module = module.half().to(memory_format=torch.channels_last_3d if five else torch.channels_last)
    formats = {4: torch.channels_last, 5: torch.channels_last_3d}
    xs = [x.half().contiguous(memory_format=formats.get(x.dim(), torch.contiguous_format))
          for x in xs]
    return module, xs


def time_module(module, shapes, device, runs, warmup, half=False):
    module = module.to(device).eval()
    xs = [torch.randn(s, device=device) for s in shapes]
    if half:
        module, xs = half_channels_last(module, xs)
    with torch.inference_mode():
        for _ in range(warmup):
            module(*xs)
        torch.cuda.synchronize()
        times = []
        for _ in range(runs):
            start = torch.cuda.Event(enable_timing=True)
            end = torch.cuda.Event(enable_timing=True)
            start.record()
            module(*xs)
            end.record()
            end.synchronize()
            times.append(start.elapsed_time(end))
    return statistics.median(times), min(times)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("suite", nargs="?", default="bench/suite.json")
    ap.add_argument("--json", help="write results here")
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--runs", type=int, default=50)
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--filter", default="", help="only items whose name contains this")
    ap.add_argument("--half", action="store_true", help="f16 weights and inputs, channels_last")
    args = ap.parse_args()

    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cudnn.benchmark = True
    suite = json.load(open(args.suite))
    out = {"framework": f"torch {torch.__version__} cudnn {torch.backends.cudnn.version()}",
           "device": torch.cuda.get_device_name(0), "settings": "fp16, channels_last, cudnn.benchmark on" if args.half
           else "fp32, tf32 off, cudnn.benchmark on",
           "items": [], "models": []}
    for kind, entries, build in (("items", suite["layers"], layer_module),
                                 ("models", suite["models"], model_module)):
        for e in entries:
            if args.filter not in e["name"]:
                continue
            module, shapes = build(e)
            median, best = time_module(module, shapes, args.device, args.runs, args.warmup, args.half)
            row = {"name": e["name"], "median_ms": median, "min_ms": best, "runs": args.runs}
            if kind == "models":
                row["images_per_s"] = shapes[0][0] * 1000.0 / median
            out[kind].append(row)
            print(f"{e['name']:24} median {median:9.4f} ms  min {best:9.4f} ms", flush=True)
    if args.json:
        json.dump(out, open(args.json, "w"), indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
