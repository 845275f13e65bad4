//! Embedding on the application's device: a session on a device the test creates (its error
//! handler kept, sessions sharing it from several threads), runs on tensors that stay on the
//! GPU (equal to the host path, no host bytes, two sessions chained), borrowed host inputs
//! (equal to owned ones), and typed errors for tensors that do not fit.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use wgconv::compare::compare;
use wgconv::graph::{Conv2d, Graph, cpu};
use wgconv::ops::BinaryOp;
use wgconv::{Error, Gpu, GpuTensor, Precision, Session, SessionOptions, Tensor, weights};

use crate::common::gpu;
use crate::graph::network_tolerance;

/// A device the "application" creates on the test adapter, with an uncaptured-error handler
/// that counts; wgconv then runs on it.
fn app_device() -> (Arc<Gpu>, Arc<AtomicUsize>) {
    let adapter = gpu().adapter().clone();
    let desc = wgpu::DeviceDescriptor {
        label: Some("application"),
        required_features: adapter.features() & wgpu::Features::SHADER_F16,
        required_limits: adapter.limits(),
        ..Default::default()
    };
    let (device, queue) = pollster::block_on(adapter.request_device(&desc)).unwrap();
    let errors = Arc::new(AtomicUsize::new(0));
    let seen = errors.clone();
    device.on_uncaptured_error(Arc::new(move |_| {
        seen.fetch_add(1, Ordering::SeqCst);
    }));
    (Arc::new(Gpu::from_wgpu(adapter, device, queue)), errors)
}

/// Two inputs, two named outputs: `feat` = relu(conv(x)), `sum` = x + z.
pub fn body(shape: [usize; 4], seed: u64) -> Graph {
    let mut g = Graph::new();
    let x = g.input("x", &shape);
    let z = g.input("z", &shape);
    let c = g.conv2d(x, "conv", Conv2d::new(4, 3).pad(1)).unwrap();
    let feat = g.relu(c).unwrap();
    let sum = g.binary(BinaryOp::Add, x, z).unwrap();
    g.output_named(feat, "feat");
    g.output_named(sum, "sum");
    weights::init_seeded(&mut g, seed);
    g
}

/// A head reading the body's `feat`: one output channel.
fn head(shape: [usize; 4], seed: u64) -> Graph {
    let mut g = Graph::new();
    let f = g.input("feat", &[shape[0], 4, shape[2], shape[3]]);
    let y = g.conv2d(f, "head", Conv2d::new(1, 3).pad(1)).unwrap();
    g.output_named(y, "y");
    weights::init_seeded(&mut g, seed);
    g
}

/// Odd sizes, batch > 1, one channel, a 1x1 image.
pub const SHAPES: [[usize; 4]; 3] = [[2, 3, 7, 5], [1, 1, 1, 1], [3, 1, 4, 9]];

pub fn precisions(gpu: &Gpu) -> Vec<Precision> {
    [Precision::F32, Precision::F16]
        .into_iter()
        .filter(|&p| gpu.supports(p))
        .collect()
}

pub fn session<'g>(gpu: &'g Gpu, g: &Graph, precision: Precision) -> Session<'g> {
    let options = SessionOptions {
        precision: Some(precision),
        ..Default::default()
    };
    Session::with_options(gpu, g, options).unwrap()
}

pub fn inputs(shape: [usize; 4], seed: u64) -> (Tensor, Tensor) {
    (
        Tensor::random(shape.to_vec(), seed),
        Tensor::random(shape.to_vec(), seed + 1),
    )
}

/// A session on the application's device is right (against the CPU reference), leaves the
/// application's error handler in place, and shares the device with another session run
/// from other threads.
#[test]
fn session_on_an_application_device() {
    let (app, errors) = app_device();
    let shape = SHAPES[0];
    let g = body(shape, 1);
    let (x, z) = inputs(shape, 10);
    let s = Arc::new(Session::with_shared_gpu(app.clone(), &g, Default::default()).unwrap());
    let got = s.run_named(&[("x", &x), ("z", &z)]).unwrap();
    let want = cpu::run(&g, &[x.clone(), z.clone()]).unwrap();
    let tol = network_tolerance(&g, &[x.clone(), z.clone()]);
    for ((name, a), b) in got.iter().zip(&want) {
        let c = compare(a.data(), b.data(), tol);
        assert!(c.passed(), "{name}: {c}");
    }
    assert_eq!(errors.load(Ordering::SeqCst), 0);
    // Another session on the same device, both run from four threads at once.
    let h = head(shape, 2);
    let s2 = Arc::new(Session::with_shared_gpu(app.clone(), &h, Default::default()).unwrap());
    let want2 = s2.run(std::slice::from_ref(&got[0].1)).unwrap();
    let threads: Vec<_> = (0..4)
        .map(|i| {
            let (s, s2) = (s.clone(), s2.clone());
            let (x, z, f) = (x.clone(), z.clone(), got[0].1.clone());
            std::thread::spawn(move || {
                if i % 2 == 0 {
                    s.run(&[x, z]).unwrap().remove(0)
                } else {
                    s2.run(&[f]).unwrap().remove(0)
                }
            })
        })
        .collect();
    for (i, t) in threads.into_iter().enumerate() {
        let want = if i % 2 == 0 { &got[0].1 } else { &want2[0] };
        assert_eq!(&t.join().unwrap(), want, "thread {i}");
    }
    // A validation error outside wgconv's scopes reaches the application's handler, not
    // one wgconv installed (MAP_READ with MAP_WRITE is invalid).
    let _ = app.device().create_buffer(&wgpu::BufferDescriptor {
        label: None,
        size: 16,
        usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::MAP_WRITE,
        mapped_at_creation: false,
    });
    assert_eq!(errors.load(Ordering::SeqCst), 1);
}

/// GPU in, GPU out equals the host path bit for bit, in f32 and f16, with no host bytes;
/// outputs can land in a range of an application buffer.
#[test]
fn gpu_resident_run_equals_host_run() {
    let (app, _) = app_device();
    for p in precisions(&app) {
        let dev = app.with_precision(p).unwrap();
        for (i, shape) in SHAPES.into_iter().enumerate() {
            let g = body(shape, 3 + i as u64);
            let s = session(&app, &g, p);
            let (x, z) = inputs(shape, 20 + i as u64);
            let host = s.run_named(&[("x", &x), ("z", &z)]).unwrap();
            let (gx, gz) = (dev.upload(&x).unwrap(), dev.upload(&z).unwrap());
            let before = s.counters();
            // Named and in the other order.
            let out = s.run_gpu_named(&[("z", &gz), ("x", &gx)]).unwrap();
            let after = s.counters();
            assert_eq!(after.bytes_uploaded, before.bytes_uploaded, "{p} {shape:?}");
            assert_eq!(
                after.bytes_read_back, before.bytes_read_back,
                "{p} {shape:?}"
            );
            assert_eq!(after.submits, before.submits + 1);
            assert_eq!(after.runs, before.runs + 1);
            for ((hn, h), (gn, t)) in host.iter().zip(&out) {
                assert_eq!(hn, gn);
                assert_eq!(&app.download(t).unwrap(), h, "{p} {shape:?} {gn}");
            }
            // Into a range of one application buffer: `sum` at a 256-byte offset.
            let sum_bytes = out[1].1.byte_size();
            let buffer = app.device().create_buffer(&wgpu::BufferDescriptor {
                label: Some("application outputs"),
                size: 256 + sum_bytes,
                usage: wgpu::BufferUsages::COPY_DST | wgpu::BufferUsages::COPY_SRC,
                mapped_at_creation: false,
            });
            let feat = dev.zeros(out[0].1.shape()).unwrap();
            let sum = GpuTensor::from_buffer(buffer, 256, out[1].1.shape(), p).unwrap();
            s.run_gpu_into(&[&gx, &gz], &[&feat, &sum]).unwrap();
            assert_eq!(app.download(&feat).unwrap(), host[0].1);
            assert_eq!(app.download(&sum).unwrap(), host[1].1);
            assert_eq!(s.counters().bytes_read_back, before.bytes_read_back);
        }
    }
}

/// The body's output fed to the head on the GPU equals the host-chained result, with no
/// host bytes in either session.
#[test]
fn two_sessions_chained_on_the_gpu() {
    let (app, _) = app_device();
    for p in precisions(&app) {
        let dev = app.with_precision(p).unwrap();
        for (i, shape) in SHAPES.into_iter().enumerate() {
            let (b, h) = (body(shape, 5 + i as u64), head(shape, 6 + i as u64));
            let (sb, sh) = (session(&app, &b, p), session(&app, &h, p));
            let (x, z) = inputs(shape, 30 + i as u64);
            let feat = sb.run(&[x.clone(), z.clone()]).unwrap().remove(0);
            let want = sh.run(&[feat]).unwrap().remove(0);
            let (gx, gz) = (dev.upload(&x).unwrap(), dev.upload(&z).unwrap());
            let (cb, ch) = (sb.counters(), sh.counters());
            let mid = sb.run_gpu(&[&gx, &gz]).unwrap();
            let y = sh.run_gpu(&[&mid[0]]).unwrap();
            for (s, c) in [(&sb, cb), (&sh, ch)] {
                assert_eq!(s.counters().bytes_uploaded, c.bytes_uploaded);
                assert_eq!(s.counters().bytes_read_back, c.bytes_read_back);
            }
            assert_eq!(app.download(&y[0]).unwrap(), want, "{p} {shape:?}");
        }
    }
}

/// Borrowed host inputs give what owned ones give, upload exactly their bytes, and take the
/// same checks.
#[test]
fn borrowed_run_equals_owned_run() {
    let g = gpu();
    for p in precisions(g) {
        for (i, shape) in SHAPES.into_iter().enumerate() {
            let graph = body(shape, 7 + i as u64);
            let s = session(g, &graph, p);
            let (x, z) = inputs(shape, 40 + i as u64);
            let owned = s.run_named(&[("x", &x), ("z", &z)]).unwrap();
            let before = s.counters().bytes_uploaded;
            let borrowed = s
                .run_borrowed(&[("z", z.data(), &shape), ("x", x.data(), &shape)])
                .unwrap();
            assert_eq!(borrowed, owned, "{p} {shape:?}");
            let bytes = 2 * p.buffer_bytes(x.numel());
            assert_eq!(s.counters().bytes_uploaded, before + bytes);
        }
    }
    let shape = SHAPES[0];
    let s = Session::new(g, &body(shape, 9)).unwrap();
    let x = Tensor::random(shape.to_vec(), 50);
    let short = &x.data()[1..];
    let e = s
        .run_borrowed(&[("x", short, &shape), ("z", x.data(), &shape)])
        .unwrap_err();
    assert!(matches!(e, Error::ShapeDataMismatch { .. }), "{e}");
    let e = s
        .run_borrowed(&[("x", x.data(), &shape), ("w", x.data(), &shape)])
        .unwrap_err()
        .to_string();
    assert!(e.contains("\"w\"") && e.contains("\"z\""), "{e}");
}

/// GPU tensors of the wrong shape or count, and buffer ranges that do not fit,
/// are typed errors naming the input.
#[test]
fn gpu_tensors_that_do_not_fit_are_errors() {
    let g = gpu();
    let shape = SHAPES[0];
    let graph = body(shape, 11);
    let x = g.upload(&Tensor::random(shape.to_vec(), 60)).unwrap();
    let s = Session::new(g, &graph).unwrap();
    let small = g.zeros(&[1, 3, 7, 5]).unwrap();
    let e = s.run_gpu(&[&x, &small]).unwrap_err().to_string();
    assert!(e.contains("\"z\"") && e.contains("[1, 3, 7, 5]"), "{e}");
    assert!(s.run_gpu(&[&x]).is_err());
    let e = s.run_gpu_into(&[&x, &x], &[&x]).unwrap_err().to_string();
    assert!(e.contains("2 output(s)"), "{e}");
    let e = s
        .run_gpu_into(&[&x, &x], &[&x, &x])
        .unwrap_err()
        .to_string();
    assert!(e.contains("\"feat\""), "{e}");
    let buffer = x.buffer().clone();
    let bytes = x.byte_size();
    assert!(GpuTensor::from_buffer(buffer.clone(), 2, &[1], Precision::F32).is_err());
    assert!(GpuTensor::from_buffer(buffer.clone(), 4, &[2, 3, 7, 5], Precision::F32).is_err());
    assert!(GpuTensor::from_buffer(buffer.clone(), u64::MAX - 3, &[1], Precision::F32).is_err());
    let whole = GpuTensor::from_buffer(buffer, 0, &[2, 3, 7, 5], Precision::F32).unwrap();
    assert_eq!(whole.byte_size(), bytes);
    let c = s.counters();
    assert_eq!((c.runs, c.submits), (0, 0));
    // Rejected runs allocated no output tensors.
    assert_eq!(
        c.buffers_created,
        Session::new(g, &graph).unwrap().counters().buffers_created
    );
}
