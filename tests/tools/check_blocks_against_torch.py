#!/usr/bin/env python3
"""Cross-check wgconv's blocks against the seeds' own PyTorch modules.

The classes below are the seeds' modules (shared/seeds/000-003), transcribed as the notebooks
define them. wgconv exports each block's seeded weights under PyTorch state_dict names; this
script loads them into the seed module with strict=True (every key and shape must match), runs
it in eval mode in float64, and compares with wgconv's CPU reference and GPU outputs.

    WGCONV_EXPORT_DIR=/tmp/blocks cargo test --release --test suite blocks::export -- --ignored
    python3 tests/tools/check_blocks_against_torch.py /tmp/blocks
    mkdir -p tests/data/torch/blocks && cp /tmp/blocks/*.torch.f32 tests/data/torch/blocks/ \
        && for f in tests/data/torch/blocks/*.torch.f32; do mv $f ${f%.torch.f32}.f32; done
"""
import sys
from functools import partial
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors.torch import load_file


# ---- seed 000 ----------------------------------------------------------------------------
class SqueezeExcite(nn.Module):
    def __init__(self, in_planes, squeeze_planes, expand_planes):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, squeeze_planes, kernel_size=(1, 1), stride=(1, 1))
        self.bn1 = nn.BatchNorm2d(squeeze_planes)
        self.conv2 = nn.Conv2d(squeeze_planes, expand_planes, kernel_size=(1, 1), stride=(1, 1))
        self.bn2 = nn.BatchNorm2d(expand_planes)
        self.conv3 = nn.Conv2d(squeeze_planes, expand_planes, kernel_size=(3, 3), stride=(1, 1), padding=1)
        self.bn3 = nn.BatchNorm2d(expand_planes)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x):
        x = self.relu(self.bn1(self.conv1(x)))
        out1 = self.bn2(self.conv2(x))
        out2 = self.bn3(self.conv3(x))
        return self.relu(torch.cat([out1, out2], dim=1))


def depthwiseSeparableConv(in_ch, out_ch):
    return nn.Sequential(
        nn.Conv2d(in_channels=in_ch, out_channels=in_ch, kernel_size=(3, 3), groups=10),
        nn.Conv2d(in_channels=in_ch, out_channels=out_ch, kernel_size=(1, 1)),
    )


# ---- seed 001 ----------------------------------------------------------------------------
class ResidualBlock(nn.Module):
    def __init__(self, in_channels, out_channels, kernel_size=3, stride=1, padding=1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding, bias=False)
        self.conv2 = nn.Conv2d(out_channels, out_channels, kernel_size, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.shortcut = nn.Sequential()
        if stride != 1 or in_channels != out_channels:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, kernel_size=1, stride=stride, padding=0, bias=False),
                nn.BatchNorm2d(out_channels))

    def forward(self, X):
        out = F.relu(self.bn1(self.conv1(X)))
        out = self.bn2(self.conv2(out))
        out += self.shortcut(X)
        return F.relu(out)


class PreActBlock(nn.Module):
    def __init__(self, in_ch, out_ch, stride=1):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(in_ch)
        self.conv1 = nn.Conv2d(in_ch, out_ch, kernel_size=3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_ch)
        self.conv2 = nn.Conv2d(out_ch, out_ch, kernel_size=3, stride=1, padding=1, bias=False)
        self.shortcut = nn.Sequential()
        if stride != 1 or in_ch != out_ch:
            self.shortcut = nn.Sequential(nn.Conv2d(in_ch, out_ch, kernel_size=1, stride=stride, bias=False))

    def forward(self, X):
        out = self.conv1(F.relu(self.bn1(X)))
        out = self.conv2(F.relu(self.bn2(out)))
        out += self.shortcut(X)
        return out


class Bottleneck(nn.Module):
    def __init__(self, in_ch, out_ch, stride=1):
        super().__init__()
        self.expansion_factor = 4
        self.conv1 = nn.Conv2d(in_ch, out_ch, kernel_size=1, stride=1, padding=0, bias=False)
        self.bn1 = nn.BatchNorm2d(out_ch)
        self.conv2 = nn.Conv2d(out_ch, out_ch, kernel_size=3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_ch)
        self.conv3 = nn.Conv2d(out_ch, out_ch * self.expansion_factor, kernel_size=1, stride=1, padding=0, bias=False)
        self.bn3 = nn.BatchNorm2d(out_ch * self.expansion_factor)
        self.shortcut = nn.Sequential()
        if stride != 1 or in_ch != out_ch * self.expansion_factor:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_ch, out_ch * self.expansion_factor, kernel_size=1, stride=stride),
                nn.BatchNorm2d(out_ch * self.expansion_factor))

    def forward(self, X):
        out = F.relu(self.bn1(self.conv1(X)))
        out = F.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        out += self.shortcut(X)
        return F.relu(out)


class Inception(nn.Module):
    def __init__(self, in_ch, out_ch1, out_ch2, out_ch3, out_ch_pool):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(in_ch)
        self.conv1 = nn.Conv2d(in_ch, out_ch1, kernel_size=1, stride=1)
        self.bn2 = nn.BatchNorm2d(in_ch)
        self.conv2 = nn.Conv2d(in_ch, out_ch2, kernel_size=1, stride=1, padding=0, bias=False)
        self.bn3 = nn.BatchNorm2d(out_ch2)
        self.conv3 = nn.Conv2d(out_ch2, out_ch2, kernel_size=3, stride=1, padding=1)
        self.bn4 = nn.BatchNorm2d(in_ch)
        self.conv4 = nn.Conv2d(in_ch, out_ch3, kernel_size=1, stride=1, padding=0, bias=False)
        self.bn5 = nn.BatchNorm2d(out_ch3)
        self.conv5 = nn.Conv2d(out_ch3, out_ch3, kernel_size=5, stride=1, padding=2)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=1, padding=1)
        self.bn6 = nn.BatchNorm2d(in_ch)
        self.conv6 = nn.Conv2d(in_ch, out_ch_pool, kernel_size=1, stride=1, padding=0, bias=False)

    def forward(self, X):
        out1 = self.conv1(F.relu(self.bn1(X)))
        out2 = self.conv2(F.relu(self.bn2(X)))
        out2 = self.conv3(F.relu(self.bn3(out2)))
        out3 = self.conv4(F.relu(self.bn4(X)))
        out3 = self.conv5(F.relu(self.bn5(out3)))
        out4 = self.maxpool(X)
        out4 = self.conv6(F.relu(self.bn6(out4)))
        return torch.cat([out1, out2, out3, out4], dim=1)


class InceptionModule(nn.Module):
    def __init__(self, in_ch, out_ch1, out_ch3, out_ch5, out_ch_pool):
        super().__init__()
        self.branch1 = nn.Sequential(nn.Conv2d(in_ch, out_ch1, kernel_size=1), nn.BatchNorm2d(out_ch1), nn.ReLU())
        self.branch2 = nn.Sequential(
            nn.Conv2d(in_ch, out_ch3, kernel_size=1), nn.BatchNorm2d(out_ch3), nn.ReLU(),
            nn.Conv2d(out_ch3, out_ch3, kernel_size=3, padding=1), nn.BatchNorm2d(out_ch3), nn.ReLU())
        self.branch3 = nn.Sequential(
            nn.Conv2d(in_ch, out_ch5, kernel_size=1), nn.BatchNorm2d(out_ch5), nn.ReLU(),
            nn.Conv2d(out_ch5, out_ch5, kernel_size=5, padding=2), nn.BatchNorm2d(out_ch5), nn.ReLU())
        self.branch4 = nn.Sequential(
            nn.MaxPool2d(kernel_size=3, stride=1, padding=1),
            nn.Conv2d(in_ch, out_ch_pool, kernel_size=1), nn.BatchNorm2d(out_ch_pool), nn.ReLU())

    def forward(self, X):
        return torch.cat([self.branch1(X), self.branch2(X), self.branch3(X), self.branch4(X)], dim=1)


# ---- seed 002 ----------------------------------------------------------------------------
class ConvBnAct(nn.Module):
    def __init__(self, in_channels, out_channels, kernel_size=3, conv_kwargs={}, Bn=nn.BatchNorm2d,
                 actvtion=nn.SiLU, actvtion_kwargs={}):
        super().__init__()
        self.Conv_BN_Act = nn.Sequential(
            nn.Conv2d(in_channels, out_channels, bias=False, kernel_size=kernel_size, **conv_kwargs),
            Bn(out_channels),
            actvtion(**actvtion_kwargs))

    def forward(self, x):
        return self.Conv_BN_Act(x)


Conv1X1BnAct = partial(ConvBnAct, kernel_size=1)
Conv3X3BnAct = partial(ConvBnAct, kernel_size=3)


class ResBlock(nn.Module):
    def __init__(self, block, shortcutblock=None):
        super().__init__()
        self.block = block
        self.shortcut = shortcutblock

    def forward(self, x):
        xres = x
        x = self.block(x)
        if x.shape == xres.shape:
            x = x + xres
        else:
            x = self.shortcut(xres) + x
        return x


C_kwargs = {'stride': 1, 'padding': 'same'}
A_kwargs = {'inplace': True}


class BottleneckBlock(nn.Module):
    def __init__(self, in_channels, out_channels, compersion_ratio=4):
        super().__init__()
        r = out_channels // compersion_ratio
        block = nn.Sequential(
            Conv1X1BnAct(in_channels, r, conv_kwargs=C_kwargs, actvtion_kwargs=A_kwargs),
            Conv3X3BnAct(r, r, conv_kwargs=C_kwargs, actvtion_kwargs=A_kwargs),
            Conv1X1BnAct(r, out_channels, conv_kwargs=C_kwargs, actvtion_kwargs=A_kwargs))
        shortcut = Conv1X1BnAct(in_channels, out_channels, conv_kwargs=C_kwargs,
                                actvtion_kwargs=A_kwargs) if in_channels != out_channels else None
        self.BottleNeck = ResBlock(block, shortcut)

    def forward(self, x):
        return self.BottleNeck(x)


class LinearBottleneckBlock(nn.Module):
    def __init__(self, in_channels, out_channels, compersion_ratio=4):
        super().__init__()
        r = out_channels // compersion_ratio
        block = nn.Sequential(
            Conv1X1BnAct(in_channels, r, conv_kwargs=C_kwargs, actvtion_kwargs=A_kwargs),
            Conv3X3BnAct(r, r, conv_kwargs=C_kwargs, actvtion_kwargs=A_kwargs),
            Conv1X1BnAct(r, out_channels, actvtion=nn.Identity, conv_kwargs=C_kwargs, actvtion_kwargs=A_kwargs))
        shortcut = Conv1X1BnAct(in_channels, out_channels, conv_kwargs=C_kwargs,
                                actvtion_kwargs=A_kwargs) if in_channels != out_channels else None
        self.BottleNeck = ResBlock(block, shortcut)

    def forward(self, x):
        return self.BottleNeck(x)


class InvertedResidualBlock(nn.Module):
    def __init__(self, in_channels, out_channels, expansion_ratio=4):
        super().__init__()
        e = int(in_channels * expansion_ratio)
        block = nn.Sequential(
            Conv1X1BnAct(in_channels, e, conv_kwargs=C_kwargs, actvtion_kwargs=A_kwargs),
            Conv3X3BnAct(e, e, conv_kwargs=C_kwargs, actvtion_kwargs=A_kwargs),
            Conv1X1BnAct(e, out_channels, conv_kwargs=C_kwargs, actvtion_kwargs=A_kwargs))
        shortcut = Conv1X1BnAct(in_channels, out_channels, conv_kwargs=C_kwargs,
                                actvtion_kwargs=A_kwargs) if in_channels != out_channels else None
        self.Block = ResBlock(block, shortcut)

    def forward(self, x):
        return self.Block(x)


class DWSConv(nn.Module):
    def __init__(self, in_channels, out_channels):
        super().__init__()
        C1 = {'stride': 1, 'padding': 'same', 'groups': in_channels}
        self.Block = nn.Sequential(
            Conv3X3BnAct(in_channels, in_channels, conv_kwargs=C1, actvtion_kwargs=A_kwargs),
            Conv1X1BnAct(in_channels, out_channels, conv_kwargs=C_kwargs, actvtion_kwargs=A_kwargs))

    def forward(self, x):
        return self.Block(x)


class SE(nn.Module):
    def __init__(self, channels, squeeze_ratio=8):
        super().__init__()
        s = channels // squeeze_ratio
        self.SEBlock = nn.Sequential(
            nn.AdaptiveAvgPool2d(1), nn.Conv2d(channels, s, kernel_size=1), nn.SiLU(inplace=True),
            nn.Conv2d(s, channels, kernel_size=1), nn.Sigmoid())

    def forward(self, x):
        return x * self.SEBlock(x)


class MBConv(nn.Module):
    def __init__(self, in_channels, out_channels, expansion_ratio=4, squeeze_ratio=4):
        super().__init__()
        e = int(in_channels * expansion_ratio)
        C1 = {'stride': 1, 'padding': 'same', 'groups': e}
        block = nn.Sequential(
            Conv1X1BnAct(in_channels, e, conv_kwargs=C_kwargs, actvtion_kwargs=A_kwargs),
            Conv3X3BnAct(e, e, conv_kwargs=C1, actvtion_kwargs=A_kwargs),
            SE(e, squeeze_ratio),
            Conv1X1BnAct(e, out_channels, actvtion=nn.Identity, conv_kwargs=C_kwargs, actvtion_kwargs=A_kwargs))
        self.Block = nn.Sequential(ResBlock(block), nn.SiLU(inplace=True))

    def forward(self, x):
        return self.Block(x)


class FusedMBConv(nn.Module):
    def __init__(self, in_channels, out_channels, expansion_ratio=4, squeeze_ratio=4):
        super().__init__()
        e = int(in_channels * expansion_ratio)
        block = nn.Sequential(
            Conv3X3BnAct(in_channels, e, conv_kwargs=C_kwargs, actvtion_kwargs=A_kwargs),
            SE(e, squeeze_ratio),
            Conv1X1BnAct(e, out_channels, actvtion=nn.Identity, conv_kwargs=C_kwargs, actvtion_kwargs=A_kwargs))
        self.Block = nn.Sequential(ResBlock(block), nn.SiLU(inplace=True))

    def forward(self, x):
        return self.Block(x)


# ---- seed 003 ----------------------------------------------------------------------------
def spatial_separable(i, mid, o):
    return nn.Sequential(
        nn.Conv2d(in_channels=i, out_channels=mid, stride=1, kernel_size=(3, 1), bias=False, padding=0),
        nn.Conv2d(in_channels=mid, out_channels=o, stride=1, kernel_size=(1, 3), bias=False, padding=0))


def main(d: Path) -> int:
    failed = 0
    for line in (d / "index.tsv").read_text().splitlines():
        name, file, in_shape, out_shape = line.split("\t")
        if name.startswith("ShuffleUnit"):
            continue  # no seed module
        model = eval(name).eval().double()
        sd = {k: v.double() for k, v in load_file(str(d / f"{file}.safetensors")).items()}
        missing, unexpected = model.load_state_dict(sd, strict=False)
        missing = [k for k in missing if not k.endswith("num_batches_tracked")]
        x = np.fromfile(d / f"{file}.input.f32", dtype=np.float32).reshape([int(v) for v in in_shape.split(",")])
        with torch.no_grad():
            y = model(torch.from_numpy(x).double()).numpy()
        y.astype(np.float32).tofile(d / f"{file}.torch.f32")
        cpu = np.fromfile(d / f"{file}.cpu.f32", dtype=np.float32).reshape(y.shape)
        gpu = np.fromfile(d / f"{file}.gpu.f32", dtype=np.float32).reshape(y.shape)
        rms = float(np.sqrt((y ** 2).mean()))
        e_cpu, e_gpu = float(np.abs(cpu - y).max()), float(np.abs(gpu - y).max())
        ok = not missing and not unexpected and e_cpu < 1e-5 * max(rms, 1) and e_gpu < 1e-3 * max(rms, 1)
        failed += not ok
        print(f"{name:>40}: missing {len(missing)} unexpected {len(unexpected)} rms {rms:.3f} "
              f"max|CPU - torch| {e_cpu:.2e} max|GPU - torch| {e_gpu:.2e} {'ok' if ok else 'FAIL'}")
        if missing or unexpected:
            print("   missing:", missing[:6], "unexpected:", unexpected[:6])
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
