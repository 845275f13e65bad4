#!/usr/bin/env python3
"""Cross-check wgconv's zoo networks against PyTorch / torchvision.

Loads the weights wgconv exported (seeded, BatchNorm calibrated, PyTorch state_dict names)
into the torchvision model with strict=True -- so every key and shape must match -- runs it
in eval mode in float64 on the exported input, and compares with wgconv's CPU reference and
GPU outputs.

    WGCONV_EXPORT_DIR=/tmp/zoo cargo test --release --test suite zoo::export -- --ignored
    python3 tests/tools/check_against_torch.py /tmp/zoo
    for f in /tmp/zoo/*.torch.f32; do n=$(basename $f .torch.f32); cp $f tests/data/torch/$n.f32; done

The last line records PyTorch's outputs (float32, raw little-endian) for the zoo tests, which
then check the device against PyTorch as well as against the CPU reference.
"""
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torchvision.models as tvm
from safetensors.torch import load_file


class Cifar10Net(nn.Module):
    """Seed 003's CIFAR-10 network (ERA Session 9), module names as in the seed."""

    def __init__(self):
        super().__init__()

        def block(conv):
            return nn.Sequential(conv, nn.ReLU(), nn.BatchNorm2d(conv_out(conv)), nn.Dropout(0.1))

        def conv_out(m):
            return m[-1].out_channels if isinstance(m, nn.Sequential) else m.out_channels

        def std(i, o):
            return nn.Conv2d(i, o, 3, padding=1, bias=False)

        def dil(i, o):
            return nn.Sequential(nn.Conv2d(i, o, 3, stride=2, padding=1, dilation=2, bias=False))

        def dws(i, o):
            return nn.Sequential(
                nn.Conv2d(i, i, 3, padding=1, groups=i, bias=False),
                nn.Conv2d(i, o, 1, padding=1, bias=False),
            )

        self.conv_block1 = block(std(3, 32))
        self.conv_block2 = block(dws(32, 32))
        self.conv_block3 = block(dil(32, 32))
        self.conv_block4 = block(std(32, 40))
        self.conv_block5 = block(std(40, 40))
        self.conv_block6 = block(dil(40, 40))
        self.conv_block7 = block(std(40, 40))
        self.conv_block8 = block(std(40, 40))
        self.conv_block9 = block(dil(40, 40))
        self.conv_block10 = block(std(40, 64))
        self.conv_block11 = block(std(64, 64))
        self.conv_block12 = block(std(64, 64))
        self.gap = nn.Sequential(nn.AdaptiveAvgPool2d(1))
        self.conv_block14 = nn.Sequential(nn.Conv2d(64, 10, 1, bias=False))

    def forward(self, x):
        x = self.conv_block3(self.conv_block2(self.conv_block1(x)))
        x = self.conv_block4(x)
        x = x + self.conv_block5(x)
        x = self.conv_block7(self.conv_block6(x))
        x = x + self.conv_block8(x)
        x = self.conv_block10(self.conv_block9(x))
        x = x + self.conv_block11(x)
        x = self.conv_block14(self.gap(self.conv_block12(x)))
        return x.view(-1, 10)


MODELS = {
    "resnet18": lambda: tvm.resnet18(),
    "resnet34": lambda: tvm.resnet34(),
    "resnet50": lambda: tvm.resnet50(),
    "mobilenet_v2": lambda: tvm.mobilenet_v2(),
    "efficientnet_b0": lambda: tvm.efficientnet_b0(),
    "squeezenet1_1": lambda: tvm.squeezenet1_1(),
    "googlenet": lambda: tvm.googlenet(aux_logits=False, init_weights=False, transform_input=False),
    "shufflenet_v2_x1_0": lambda: tvm.shufflenet_v2_x1_0(),
    "cifar10_net": Cifar10Net,
}


def main(d: Path) -> int:
    failed = 0
    for name, make in MODELS.items():
        model = make().eval().double()
        sd = {k: v.double() for k, v in load_file(str(d / f"{name}.safetensors")).items()}
        missing, unexpected = model.load_state_dict(sd, strict=False)
        missing = [k for k in missing if not k.endswith("num_batches_tracked")]
        nparams = sum(p.numel() for p in model.parameters())
        in_shape = [int(v) for v in (d / f"{name}.shape").read_text().split()[0].split(",")]
        x = np.fromfile(d / f"{name}.input.f32", dtype=np.float32).reshape(in_shape)
        with torch.no_grad():
            y = model(torch.from_numpy(x).double()).numpy()
        cpu = np.fromfile(d / f"{name}.cpu.f32", dtype=np.float32).reshape(y.shape)
        gpu = np.fromfile(d / f"{name}.gpu.f32", dtype=np.float32).reshape(y.shape)
        rms = float(np.sqrt((y ** 2).mean()))
        e_cpu = float(np.abs(cpu - y).max())
        e_gpu = float(np.abs(gpu - y).max())
        y.astype(np.float32).tofile(d / f"{name}.torch.f32")
        ok = not missing and not unexpected and e_cpu < 1e-4 * max(rms, 1) and e_gpu < 1e-2 * max(rms, 1)
        failed += not ok
        print(f"{name:>20}: params {nparams:>10,}  missing {len(missing)} unexpected {len(unexpected)}  "
              f"rms {rms:.3f}  max|wgconv CPU - torch| {e_cpu:.2e}  max|wgconv GPU - torch| {e_gpu:.2e}  "
              f"{'ok' if ok else 'FAIL'}")
        if missing or unexpected:
            print("   missing:", missing[:5], "unexpected:", unexpected[:5])
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
