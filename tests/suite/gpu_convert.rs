//! Conversions on the device: f32 <-> f16 casts (rounded as the host rounds), f32 tensors
//! feeding f16 sessions and f32 outputs out of them (equal to the host path, no host bytes),
//! and the RGBA8 normalising prologue (against the CPU reference over random sizes, and
//! straight into a session's input with no host bytes and no intermediate tensor); u8 and f16
//! host inputs.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use wgpu::util::DeviceExt;

use wgconv::compare::{Tolerance, compare};
use wgconv::graph::{Conv2d, Graph, cpu};
use wgconv::ops::{PixelOrder, Rgba8Normalize};
use wgconv::reference::pixels::normalize_rgba8;
use wgconv::session::HostData;
use wgconv::{Error, Gpu, GpuInput, GpuTensor, Precision, Rgba8Frames, Tensor, weights};

use crate::common::gpu;
use crate::gpu_io::{SHAPES, body, inputs, session};
use crate::graph::network_tolerance;

fn f16_precisions(gpu: &Gpu) -> Vec<Precision> {
    let ps = [Precision::F16, Precision::F16AccF32];
    assert!(
        ps.iter().all(|&p| gpu.supports(p)),
        "the test adapter (lavapipe) offers shader-f16"
    );
    ps.to_vec()
}

/// A storage buffer holding `words` from byte `offset` (the bytes before are junk).
fn buffer_at(gpu: &Gpu, offset: u64, words: &[u32]) -> wgpu::Buffer {
    let mut bytes = vec![0xa5u8; offset as usize];
    bytes.extend_from_slice(bytemuck::cast_slice(words));
    bytes.resize(bytes.len().max(4), 0);
    gpu.device()
        .create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some("test input"),
            contents: &bytes,
            usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC,
        })
}

fn same_bits(got: &[f32], want: &[f32], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}");
    for (i, (a, b)) in got.iter().zip(want).enumerate() {
        assert!(
            a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan()),
            "{what}: element {i}: got {a}, want {b}"
        );
    }
}

/// f32 -> f16 on the device rounds to nearest like the host (overflow to infinity, NaN kept,
/// subnormals), and f16 -> f32 widens exactly; odd lengths and unaligned tensor offsets.
#[test]
fn casts_round_like_the_host() {
    let g = gpu();
    let mut values = vec![
        0.0,
        -0.0,
        1.0,
        1.0 / 3.0,
        65504.0,
        65519.0,
        65520.0,
        -70000.0,
        1e-7,
        -3e-5,
        f32::NAN,
        f32::INFINITY,
        f32::NEG_INFINITY,
    ];
    let mut rng = StdRng::seed_from_u64(3);
    values.extend((0..24).map(|_| rng.random_range(-1000.0f32..1000.0)));
    for (len, offset) in [(values.len(), 4u64), (1, 0), (2, 260), (36, 8)] {
        let data = &values[..len];
        let words: Vec<u32> = data.iter().map(|v| v.to_bits()).collect();
        let buffer = buffer_at(g, offset, &words);
        let t = GpuTensor::from_buffer(buffer, offset, &[len], Precision::F32).unwrap();
        let rounded: Vec<f32> = data
            .iter()
            .map(|&v| half::f16::from_f32(v).to_f32())
            .collect();
        let h = g.convert(&t, Precision::F16).unwrap();
        assert_eq!(h.precision(), Precision::F16);
        same_bits(g.download(&h).unwrap().data(), &rounded, "to f16");
        let back = g.convert(&h, Precision::F32).unwrap();
        same_bits(g.download(&back).unwrap().data(), &rounded, "to f32");
    }
}

/// An f16 session runs on f32 tensors and writes f32 outputs, equal to its host path, with
/// no host bytes; an f32 session runs on f16 tensors as on their values.
#[test]
fn f32_tensors_run_f16_sessions() {
    let g = gpu();
    for p in f16_precisions(g) {
        for (i, shape) in SHAPES.into_iter().enumerate() {
            let graph = body(shape, 70 + i as u64);
            let s = session(g, &graph, p);
            let (x, z) = inputs(shape, 80 + i as u64);
            let host = s.run_named(&[("x", &x), ("z", &z)]).unwrap();
            let (gx, gz) = (g.upload(&x).unwrap(), g.upload(&z).unwrap());
            let before = s.counters();
            let out = s.run_gpu_named(&[("x", &gx), ("z", &gz)]).unwrap();
            for ((_, h), (name, t)) in host.iter().zip(&out) {
                assert_eq!(t.precision(), p);
                assert_eq!(&g.download(t).unwrap(), h, "{p} {shape:?} {name}");
            }
            let f32_out: Vec<GpuTensor> = host
                .iter()
                .map(|(_, h)| g.zeros(h.shape()).unwrap())
                .collect();
            s.run_gpu_into(&[&gx, &gz], &[&f32_out[0], &f32_out[1]])
                .unwrap();
            for ((_, h), t) in host.iter().zip(&f32_out) {
                assert_eq!(&g.download(t).unwrap(), h, "{p} {shape:?} f32 output");
            }
            let after = s.counters();
            assert_eq!(after.bytes_uploaded, before.bytes_uploaded);
            assert_eq!(after.bytes_read_back, before.bytes_read_back);
            assert_eq!(after.submits, before.submits + 2);
        }
    }
    let shape = SHAPES[0];
    let graph = body(shape, 90);
    let s = session(g, &graph, Precision::F32);
    let dev16 = g.with_precision(Precision::F16).unwrap();
    let (x, z) = inputs(shape, 91);
    let (hx, hz) = (dev16.upload(&x).unwrap(), dev16.upload(&z).unwrap());
    let host = s
        .run(&[g.download(&hx).unwrap(), g.download(&hz).unwrap()])
        .unwrap();
    let out = s.run_gpu(&[&hx, &hz]).unwrap();
    for (h, t) in host.iter().zip(&out) {
        assert_eq!(&g.download(t).unwrap(), h);
    }
}

/// Random RGBA8 frames with a random normalisation.
fn frames(rng: &mut StdRng, dims: [usize; 3]) -> (Vec<u32>, Rgba8Normalize) {
    let pixels = (0..dims.iter().product::<usize>())
        .map(|_| rng.random())
        .collect();
    let mean = [(); 3].map(|_| rng.random_range(0.0f32..1.0));
    let std = [(); 3].map(|_| rng.random_range(0.05f32..1.0));
    (pixels, Rgba8Normalize::new(mean, std).unwrap())
}

/// The prologue kernel against the CPU reference: random sizes (odd widths, batch > 1, a
/// single pixel), both channel orders, f32 and f16 output, frames at unaligned offsets.
#[test]
fn rgba8_prologue_matches_the_reference() {
    let g = gpu();
    let mut rng = StdRng::seed_from_u64(11);
    let mut cases = vec![[1, 1, 1], [2, 3, 5], [3, 7, 1]];
    cases.extend((0..8).map(|_| {
        [
            rng.random_range(1..4),
            rng.random_range(1..12),
            rng.random_range(1..17),
        ]
    }));
    for (i, dims) in cases.into_iter().enumerate() {
        let (pixels, norm) = frames(&mut rng, dims);
        let order = [PixelOrder::Rgb, PixelOrder::Bgr][i % 2];
        let norm = norm.with_order(order);
        let offset = [0u64, 4, 260][i % 3];
        let buffer = buffer_at(g, offset, &pixels);
        let f = Rgba8Frames::from_buffer(buffer, offset, dims[0], dims[1], dims[2]).unwrap();
        let want = normalize_rgba8(&pixels, dims, &norm).unwrap();
        let got = g.download(&g.normalize_rgba8(&f, &norm).unwrap()).unwrap();
        // A few f32 roundings (1/255, the product, the difference, the quotient) of values
        // below 1 / 0.05 = 20 in magnitude.
        let tol = Tolerance {
            atol: 1e-6,
            rtol: 1e-6,
        };
        let c = compare(got.data(), want.data(), tol);
        assert!(c.passed(), "{dims:?} {order:?} f32: {c}");
        assert_eq!(got.shape(), want.shape());
        let dev16 = g.with_precision(Precision::F16).unwrap();
        let got16 = g
            .download(&dev16.normalize_rgba8(&f, &norm).unwrap())
            .unwrap();
        // Plus one rounding to f16 (unit roundoff 2^-11).
        let tol16 = Tolerance {
            atol: 1e-6,
            rtol: 1e-6 + 2f64.powi(-11),
        };
        let c = compare(got16.data(), want.data(), tol16);
        assert!(c.passed(), "{dims:?} {order:?} f16: {c}");
    }
    let buffer = buffer_at(g, 0, &[0; 6]);
    assert!(Rgba8Frames::from_buffer(buffer.clone(), 0, 1, 2, 4).is_err());
    assert!(Rgba8Frames::from_buffer(buffer, 2, 1, 1, 1).is_err());
    assert!(Rgba8Normalize::new([0.5; 3], [1.0, 0.0, 1.0]).is_err());
}

/// A small network on `[2, 3, 5, 7]` images.
fn net() -> Graph {
    let mut g = Graph::new();
    let x = g.input("image", &[2, 3, 5, 7]);
    let c = g.conv2d(x, "c1", Conv2d::new(4, 3).pad(1)).unwrap();
    let r = g.relu(c).unwrap();
    let y = g.conv2d(r, "c2", Conv2d::new(2, 1)).unwrap();
    g.output_named(y, "y");
    weights::init_seeded(&mut g, 12);
    g
}

/// The prologue writes straight into the session's input: no host bytes, no tensor besides
/// the output, and the same bits as normalising on the device, reading back and running
/// from the host; within the network tolerance of the CPU path.
#[test]
fn prologue_feeds_a_session_on_the_gpu() {
    let g = gpu();
    let graph = net();
    let mut rng = StdRng::seed_from_u64(13);
    let (pixels, _) = frames(&mut rng, [2, 5, 7]);
    let norm = Rgba8Normalize::imagenet().with_order(PixelOrder::Bgr);
    let f = Rgba8Frames::from_buffer(buffer_at(g, 8, &pixels), 8, 2, 5, 7).unwrap();
    let mut ps = vec![Precision::F32];
    ps.extend(f16_precisions(g));
    for p in ps {
        let s = session(g, &graph, p);
        let before = s.counters();
        let out = s.run_gpu_inputs(&[GpuInput::Rgba8(&f, &norm)]).unwrap();
        let after = s.counters();
        assert_eq!(after.bytes_uploaded, before.bytes_uploaded, "{p}");
        assert_eq!(after.bytes_read_back, before.bytes_read_back, "{p}");
        // The output tensor and the conversion's uniform.
        assert_eq!(after.buffers_created, before.buffers_created + 2, "{p}");
        let direct = g.download(&out[0]).unwrap();
        let dev = g.with_precision(p).unwrap();
        let normalized = g
            .download(&dev.normalize_rgba8(&f, &norm).unwrap())
            .unwrap();
        assert_eq!(s.run(&[normalized]).unwrap()[0], direct, "{p}");
        if p == Precision::F32 {
            let reference = normalize_rgba8(&pixels, [2, 5, 7], &norm).unwrap();
            let want = cpu::run(&graph, std::slice::from_ref(&reference)).unwrap();
            let c = compare(
                direct.data(),
                want[0].data(),
                network_tolerance(&graph, &[reference]),
            );
            assert!(c.passed(), "{c}");
        }
    }
    // Frames of the wrong size name the input.
    let small = Rgba8Frames::from_buffer(buffer_at(g, 0, &pixels), 0, 1, 5, 7).unwrap();
    let s = session(g, &graph, Precision::F32);
    let e = s
        .run_gpu_inputs(&[GpuInput::Rgba8(&small, &norm)])
        .unwrap_err()
        .to_string();
    assert!(e.contains("\"image\"") && e.contains("[1, 3, 5, 7]"), "{e}");
}

/// u8 and f16 host inputs give what f32 tensors of their values give, in every precision,
/// moving one byte per u8 element and two per f16 one (padded to whole words).
#[test]
fn u8_and_f16_host_inputs_equal_f32_ones() {
    let g = gpu();
    let mut ps = vec![Precision::F32];
    ps.extend(f16_precisions(g));
    let mut rng = StdRng::seed_from_u64(17);
    for p in ps {
        for (i, shape) in SHAPES.into_iter().enumerate() {
            let s = session(g, &body(shape, 100 + i as u64), p);
            let n: usize = shape.iter().product();
            let bytes: Vec<u8> = (0..n).map(|_| rng.random()).collect();
            let halves: Vec<half::f16> = (0..n)
                .map(|_| half::f16::from_f32(rng.random_range(-4.0f32..4.0)))
                .collect();
            let x = Tensor::new(shape.to_vec(), bytes.iter().map(|&b| b as f32).collect());
            let z = Tensor::new(shape.to_vec(), halves.iter().map(|h| h.to_f32()).collect());
            let want = s
                .run_named(&[("x", &x.unwrap()), ("z", &z.unwrap())])
                .unwrap();
            let before = s.counters().bytes_uploaded;
            let got = s
                .run_host_data(&[
                    ("z", HostData::F16(&halves), &shape),
                    ("x", HostData::U8(&bytes), &shape),
                ])
                .unwrap();
            assert_eq!(got, want, "{p} {shape:?}");
            let moved = (n.div_ceil(4) + (2 * n).div_ceil(4)) as u64 * 4;
            assert_eq!(s.counters().bytes_uploaded, before + moved, "{p} {shape:?}");
        }
    }
    let shape = SHAPES[0];
    let s = session(g, &body(shape, 110), Precision::F32);
    let bytes = vec![0u8; shape.iter().product::<usize>() - 1];
    let e = s
        .run_host_data(&[
            ("x", HostData::U8(&bytes), &shape),
            ("z", HostData::U8(&bytes), &shape),
        ])
        .unwrap_err();
    assert!(matches!(e, Error::ShapeDataMismatch { .. }), "{e}");
}
