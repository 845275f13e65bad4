//! Device limits, device loss and degenerate shapes: typed errors, never panics or hangs.

use wgconv::graph::{Conv2d, Graph};
use wgconv::{Error, Gpu, GpuOptions, Session, Tensor};

fn conv_graph(input: &[usize]) -> Graph {
    let mut g = Graph::new();
    let x = g.input("input", input);
    let y = g.conv2d(x, "conv", Conv2d::new(8, 3).pad(1)).unwrap();
    g.output(y);
    g
}

fn small_limits_gpu() -> Gpu {
    let limits = wgpu::Limits {
        max_storage_buffer_binding_size: 1 << 20,
        max_buffer_size: 4 << 20,
        ..wgpu::Limits::default()
    };
    Gpu::with_options(&GpuOptions {
        backends: Some(wgpu::Backends::VULKAN),
        limits: Some(limits),
        ..Default::default()
    })
    .expect("a device with small limits")
}

/// A tensor beyond the device's `max_buffer_size` is refused with a clear error before anything
/// is submitted; one beyond only the binding limit is split (tests/suite/big_tensors.rs checks
/// the results); within the limits the same device works.
#[test]
fn tensors_beyond_device_limits_are_refused_up_front() {
    let gpu = small_limits_gpu();
    let err = Session::new(&gpu, &conv_graph(&[1, 32, 256, 256])).unwrap_err();
    assert!(matches!(err, Error::DeviceLimit { .. }), "{err:?}");
    assert!(err.to_string().contains("max_buffer_size"), "{err}");
    let split = Session::new(&gpu, &conv_graph(&[1, 32, 128, 128])).unwrap();
    assert_eq!(
        split
            .run(&[Tensor::random(vec![1, 32, 128, 128], 1)])
            .unwrap()[0]
            .shape(),
        &[1, 8, 128, 128]
    );
    let ok = Session::new(&gpu, &conv_graph(&[1, 3, 16, 16])).unwrap();
    assert_eq!(
        ok.run(&[Tensor::random(vec![1, 3, 16, 16], 1)]).unwrap()[0].shape(),
        &[1, 8, 16, 16]
    );
    let too_big = Tensor::zeros(vec![1, 1, 1024, 1024]);
    assert!(matches!(
        gpu.upload(&too_big),
        Err(Error::DeviceLimit { .. })
    ));
}

/// After the device is lost the next run is an error, and a new device and session work.
#[test]
fn device_loss_is_an_error_and_recoverable() {
    let gpu = Gpu::with_options(&GpuOptions {
        backends: Some(wgpu::Backends::VULKAN),
        ..Default::default()
    })
    .unwrap();
    let g = conv_graph(&[1, 3, 8, 8]);
    let session = Session::new(&gpu, &g).unwrap();
    let x = Tensor::random(vec![1, 3, 8, 8], 2);
    let before = session.run(std::slice::from_ref(&x)).unwrap();
    gpu.device().destroy();
    let err = session.run(std::slice::from_ref(&x)).unwrap_err();
    assert!(matches!(err, Error::DeviceLost { .. }), "{err:?}");
    let gpu2 = Gpu::with_options(&GpuOptions {
        backends: Some(wgpu::Backends::VULKAN),
        ..Default::default()
    })
    .unwrap();
    let again = Session::new(&gpu2, &g).unwrap().run(&[x]).unwrap();
    assert_eq!(again, before);
}

/// Zero-sized dimensions and wrong inputs get errors naming what is wrong.
#[test]
fn degenerate_shapes_are_errors_not_panics() {
    let mut g = Graph::new();
    let x = g.input("input", &[1, 3, 2, 2]);
    // Kernel larger than the padded input.
    assert!(g.conv2d(x, "big", Conv2d::new(4, 5)).is_err());
    // Groups that do not divide the channels.
    assert!(g.conv2d(x, "groups", Conv2d::new(4, 1).groups(2)).is_err());
    let gpu = crate::common::gpu();
    // A zero batch runs and returns an empty output; a zero height is an error at graph build.
    let mut g0 = Graph::new();
    let x0 = g0.input("input", &[1, 3, 0, 8]);
    let err = g0.conv2d(x0, "conv", Conv2d::new(8, 3).pad(1)).unwrap_err();
    assert!(err.to_string().contains("\"conv\""), "{err}");
    for shape in [[0usize, 3, 8, 8]] {
        match Session::new(gpu, &conv_graph(&shape)) {
            Ok(s) => {
                let out = s.run(&[Tensor::zeros(shape.to_vec())]).unwrap();
                assert_eq!(out[0].numel(), 0, "{shape:?}");
            }
            Err(e) => assert!(!e.to_string().is_empty()),
        }
    }
    let s = Session::new(gpu, &conv_graph(&[1, 3, 8, 8])).unwrap();
    assert!(s.run(&[]).is_err());
    assert!(s.run(&[Tensor::zeros(vec![1, 3, 8, 9])]).is_err());
}
