//! Building a suite layer into GPU dispatches, with its napkin math (FLOPs and bytes moved).

use crate::device::{Dispatch, Gpu, GpuTensor};
use crate::error::{Error, Result};
use crate::graph::Op;
use crate::kernels::algorithm::{self, ConvAlgorithm};
use crate::kernels::{ConvBindings, conv_transpose, eltwise, matmul, pool, rearrange, softmax};
use crate::ops::{
    Activation, BinaryOp, ChannelOrder, ConvSpec, ConvTransposeSpec, Epilogue, PixelShuffle,
    PoolKind, PoolSpec, SpaceToDepth,
};
use crate::problem::ConvProblem;
use crate::tensor::{Tensor, numel};
use crate::tune::GpuTuner;

use super::suite::LayerItem;

/// A layer ready to time: its dispatches (recorded in order) and the buffers they use.
pub struct PreparedLayer {
    /// Dispatches in execution order.
    pub dispatches: Vec<Dispatch>,
    /// Floating-point operations of one run (2 per multiply-accumulate).
    pub flops: f64,
    /// Minimum bytes one run must move: every input, weight and output read or written once.
    pub bytes: f64,
    /// Which kernel ran.
    pub kernel: &'static str,
    /// A convolution's configuration (`Debug` of its [`ConvAlgorithm`]).
    pub algorithm: Option<String>,
    _buffers: Vec<GpuTensor>,
}

fn spec_from(item: &LayerItem) -> ConvSpec {
    let r = item.kernel.len();
    let or = |v: &[usize], d: usize| if v.len() == r { v.to_vec() } else { vec![d; r] };
    ConvSpec::new(&item.kernel)
        .strides(&or(&item.stride, 1))
        .pads(&or(&item.pad, 0), &or(&item.pad, 0))
        .dilations(&or(&item.dilation, 1))
        .groups(item.groups)
}

fn upload_random(gpu: &Gpu, shape: Vec<usize>, seed: u64) -> Result<GpuTensor> {
    gpu.upload(&Tensor::random(shape, seed))
}

/// A conv2d/conv3d layer: its [`ConvProblem`] (bias, no epilogue) through the heuristic's or
/// the autotuner's algorithm.
fn prepare_conv(
    gpu: &Gpu,
    item: &LayerItem,
    input_shape: &[usize],
    autotune: bool,
) -> Result<PreparedLayer> {
    // Data seeds 1 (input), 2 (weight), 3 (bias), as the other layer kinds use.
    let p = ConvProblem::new(spec_from(item), input_shape, item.cout).seed(1);
    // Invalid geometry fails here, before any tuning or upload.
    let (flops, bytes) = (p.flops()?, p.bytes(gpu.precision().elem_bytes())?);
    let wshape = p.weight_shape();
    let d = p.data()?;
    let a = if autotune {
        let op = Op::Conv {
            spec: p.spec.clone(),
            weight: d.w.clone().into(),
            bias: d.bias.clone().map(Into::into),
            epilogue: p.epilogue(),
        };
        let a = gpu.tuner().conv_algorithm(gpu, &op, input_shape);
        gpu.tuner().save();
        a
    } else {
        None
    }
    .unwrap_or_else(|| algorithm::heuristic_for(gpu.target(), &p.spec, input_shape, &wshape));
    let kernel = match a {
        ConvAlgorithm::Implicit(_) => "conv",
        ConvAlgorithm::Gemm(_) => "pointwise",
        ConvAlgorithm::Depthwise => "depthwise",
        ConvAlgorithm::SplitK { .. } => "conv_splitk",
        ConvAlgorithm::GemmSplitK { .. } => "pointwise_splitk",
        ConvAlgorithm::Winograd { .. } => "winograd",
        ConvAlgorithm::WinogradFused => "winograd_fused",
        ConvAlgorithm::Coop(_) => "coop_conv",
    };
    let (dispatches, buffers) = p.launch(gpu, &d, &a)?.into_parts();
    Ok(PreparedLayer {
        dispatches,
        flops,
        bytes,
        kernel,
        algorithm: Some(format!("{a:?}")),
        _buffers: buffers,
    })
}

/// Builds `item` on `gpu` with random data, convolutions with the heuristic's algorithm.
pub fn prepare(gpu: &Gpu, item: &LayerItem) -> Result<PreparedLayer> {
    prepare_with(gpu, item, false)
}

/// [`prepare`], convolutions with the autotuner's choice when `autotune` ([`crate::tune`]).
pub fn prepare_with(gpu: &Gpu, item: &LayerItem, autotune: bool) -> Result<PreparedLayer> {
    let mut input_shape = vec![item.n, item.cin];
    input_shape.extend(&item.spatial);
    if matches!(item.op.as_str(), "conv2d" | "conv3d") {
        return prepare_conv(gpu, item, &input_shape, autotune);
    }
    let input = upload_random(gpu, input_shape.clone(), 1)?;
    // Bytes per element in the handle's precision (2 for f16 storage).
    let f32b = gpu.precision().elem_bytes() as f64;
    match item.op.as_str() {
        "conv_transpose2d" | "conv_transpose3d" => {
            let spec = ConvTransposeSpec::new(spec_from(item));
            let mut wshape = vec![item.cin, item.cout / item.groups.max(1)];
            wshape.extend(&item.kernel);
            let out_shape = spec.output_shape(&input_shape, &wshape)?;
            let weight = upload_random(gpu, wshape.clone(), 2)?;
            let bias = upload_random(gpu, vec![item.cout], 3)?;
            let output = gpu.zeros(&out_shape)?;
            let b = ConvBindings {
                input: input.binding(),
                weight: weight.binding(),
                bias: Some(bias.binding()),
                residual: None,
                input_scale: None,
                output: output.binding(),
            };
            let d = gpu.encode(conv_transpose::conv_transpose(
                gpu.target(),
                &spec,
                &input_shape,
                &wshape,
                Epilogue::default(),
                b,
            ))?;
            // Suite definition: MACs = n * cin * prod(in_spatial) * (cout / groups) * prod(kernel).
            let macs =
                (numel(&input_shape) * wshape[1] * item.kernel.iter().product::<usize>()) as f64;
            let bytes = f32b
                * (numel(&input_shape) + numel(&wshape) + item.cout + numel(&out_shape)) as f64;
            Ok(PreparedLayer {
                dispatches: vec![d],
                flops: 2.0 * macs,
                bytes,
                algorithm: None,
                kernel: "conv_transpose",
                _buffers: vec![input, weight, bias, output],
            })
        }
        "pixel_shuffle" | "space_to_depth" => {
            let (out_shape, d, kernel) = if item.op == "pixel_shuffle" {
                let op = PixelShuffle {
                    factor: item.factor,
                    order: ChannelOrder::Crd,
                };
                let out_shape = op.output_shape(&input_shape)?;
                let output = gpu.zeros(&out_shape)?;
                let d = gpu.encode(rearrange::pixel_shuffle(
                    gpu.target(),
                    &op,
                    &input_shape,
                    input.binding(),
                    output.binding(),
                ))?;
                (output, d, "pixel_shuffle")
            } else {
                let op = SpaceToDepth {
                    block: item.factor,
                    order: ChannelOrder::Crd,
                };
                let out_shape = op.output_shape(&input_shape)?;
                let output = gpu.zeros(&out_shape)?;
                let d = gpu.encode(rearrange::space_to_depth(
                    gpu.target(),
                    &op,
                    &input_shape,
                    input.binding(),
                    output.binding(),
                ))?;
                (output, d, "space_to_depth")
            };
            let bytes = f32b * 2.0 * numel(&input_shape) as f64;
            Ok(PreparedLayer {
                dispatches: vec![d],
                flops: 0.0,
                bytes,
                kernel,
                algorithm: None,
                _buffers: vec![input, out_shape],
            })
        }
        "squeeze_excite" => {
            // x * sigmoid(W2 silu(W1 gap(x) + b1) + b2): global pool, two small GEMMs, channel scale.
            let (n, c, s) = (item.n, item.cin, item.squeeze);
            if s == 0 {
                return Err(Error::invalid_op(
                    &item.name,
                    "squeeze_excite needs squeeze > 0",
                ));
            }
            let pooled = gpu.zeros(&[n, c])?;
            let w1 = upload_random(gpu, vec![s, c], 4)?;
            let b1 = upload_random(gpu, vec![s], 5)?;
            let hidden = gpu.zeros(&[n, s])?;
            let w2 = upload_random(gpu, vec![c, s], 6)?;
            let b2 = upload_random(gpu, vec![c], 7)?;
            let gate = gpu.zeros(&[n, c])?;
            let output = gpu.zeros(&input_shape)?;
            let mut gate_shape = vec![n, c];
            gate_shape.extend(std::iter::repeat_n(1, item.spatial.len()));
            let dispatches = vec![
                gpu.encode(pool::global_pool(
                    gpu.target(),
                    PoolKind::Avg,
                    &input_shape,
                    input.binding(),
                    pooled.binding(),
                ))?,
                gpu.encode(matmul::linear(
                    gpu.target(),
                    &[n, c],
                    &[s, c],
                    Activation::Silu,
                    pooled.binding(),
                    w1.binding(),
                    Some(b1.binding()),
                    hidden.binding(),
                ))?,
                gpu.encode(matmul::linear(
                    gpu.target(),
                    &[n, s],
                    &[c, s],
                    Activation::Sigmoid,
                    hidden.binding(),
                    w2.binding(),
                    Some(b2.binding()),
                    gate.binding(),
                ))?,
                gpu.encode(eltwise::binary(
                    gpu.target(),
                    BinaryOp::Mul,
                    Activation::Identity,
                    (input.binding(), &input_shape),
                    (gate.binding(), &gate_shape),
                    output.binding(),
                ))?,
            ];
            let hw = numel(&item.spatial) as f64;
            let flops = (n * c) as f64 * hw * 2.0 + 4.0 * (n * c * s) as f64;
            let bytes = f32b * (3 * numel(&input_shape) + 2 * c * s) as f64;
            Ok(PreparedLayer {
                dispatches,
                flops,
                bytes,
                algorithm: None,
                kernel: "squeeze_excite",
                _buffers: vec![input, pooled, w1, b1, hidden, w2, b2, gate, output],
            })
        }
        "max_pool2d" | "avg_pool2d" => {
            let kind = if item.op == "max_pool2d" {
                PoolKind::Max
            } else {
                PoolKind::Avg
            };
            let first = |v: &[usize], d: usize| v.first().copied().unwrap_or(d);
            let spec = PoolSpec::new(
                kind,
                first(&item.kernel, 1),
                first(&item.stride, 1),
                first(&item.pad, 0),
            );
            let out_shape = spec.output_shape(&input_shape)?;
            let output = gpu.zeros(&out_shape)?;
            let d = gpu.encode(pool::pool(
                gpu.target(),
                &spec,
                &input_shape,
                input.binding(),
                output.binding(),
            ))?;
            // One compare or add per window element and output; traffic: input once, output once.
            let window = spec.window() as f64;
            Ok(PreparedLayer {
                dispatches: vec![d],
                flops: window * numel(&out_shape) as f64,
                bytes: f32b * (numel(&input_shape) + numel(&out_shape)) as f64,
                algorithm: None,
                kernel: "pool",
                _buffers: vec![input, output],
            })
        }
        "global_avg_pool" | "global_max_pool" => {
            let kind = if item.op == "global_max_pool" {
                PoolKind::Max
            } else {
                PoolKind::Avg
            };
            let output = gpu.zeros(&[item.n, item.cin])?;
            let d = gpu.encode(pool::global_pool(
                gpu.target(),
                kind,
                &input_shape,
                input.binding(),
                output.binding(),
            ))?;
            // One add (or compare) per input element; bandwidth bound.
            Ok(PreparedLayer {
                dispatches: vec![d],
                flops: numel(&input_shape) as f64,
                bytes: f32b * (numel(&input_shape) + item.n * item.cin) as f64,
                algorithm: None,
                kernel: "global_pool",
                _buffers: vec![input, output],
            })
        }
        "softmax" => {
            // Over the channel axis (1): classifier logits [N, C], or per-pixel class scores.
            let output = gpu.zeros(&input_shape)?;
            let d = gpu.encode(softmax::softmax(
                gpu.target(),
                1,
                &input_shape,
                input.binding(),
                output.binding(),
            ))?;
            // Per element: max, subtract, exp, sum, divide (exp counted as one op).
            let len = numel(&input_shape) as f64;
            Ok(PreparedLayer {
                dispatches: vec![d],
                flops: 5.0 * len,
                bytes: f32b * 2.0 * len,
                algorithm: None,
                kernel: "softmax",
                _buffers: vec![input, output],
            })
        }
        "add" => {
            // A residual join: relu(a + b), both of the input shape.
            let other = upload_random(gpu, input_shape.clone(), 2)?;
            let output = gpu.zeros(&input_shape)?;
            let d = gpu.encode(eltwise::binary(
                gpu.target(),
                BinaryOp::Add,
                Activation::Relu,
                (input.binding(), &input_shape),
                (other.binding(), &input_shape),
                output.binding(),
            ))?;
            // One add per element (the relu is a select); two reads and one write.
            let len = numel(&input_shape) as f64;
            Ok(PreparedLayer {
                dispatches: vec![d],
                flops: len,
                bytes: f32b * 3.0 * len,
                algorithm: None,
                kernel: "eltwise",
                _buffers: vec![input, other, output],
            })
        }
        other => Err(Error::invalid_op(
            &item.name,
            format!(
                "unknown suite op {other:?} (expected conv2d, conv3d, conv_transpose2d, pixel_shuffle, space_to_depth, squeeze_excite, max_pool2d, avg_pool2d, global_avg_pool, global_max_pool, softmax, add)"
            ),
        )),
    }
}
