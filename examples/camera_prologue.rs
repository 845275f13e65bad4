//! A camera frame through a network without leaving the GPU: RGBA8 pixels in a `wgpu::Buffer`
//! (where a camera or video decoder would put them) are normalised by the prologue kernel
//! straight into the session's input buffer (u8 RGBA -> f32 NCHW, ImageNet mean and std,
//! alpha dropped), the network runs, and only the result is downloaded. The same frame
//! normalised on the CPU and run from the host gives the same result (within the network's
//! rounding tolerance: the two normalisations round differently in the last bit).
//!
//!     cargo run --release --example camera_prologue

use wgpu::util::DeviceExt;

use wgconv::compare::compare;
use wgconv::graph::{Conv2d, Graph, cpu};
use wgconv::ops::Rgba8Normalize;
use wgconv::reference::pixels::normalize_rgba8;
use wgconv::{Gpu, GpuInput, Rgba8Frames, Session, weights};

const H: usize = 48;
const W: usize = 64;

/// Conv 3->8 (stride 2), ReLU, conv 8->4: a stand-in for a detector's stem.
fn network() -> Result<Graph, wgconv::Error> {
    let mut g = Graph::new();
    let x = g.input("image", &[1, 3, H, W]);
    let y = g.conv2d(x, "stem", Conv2d::new(8, 3).stride(2).pad(1))?;
    let y = g.relu(y)?;
    let y = g.conv2d(y, "head", Conv2d::new(4, 1))?;
    g.output_named(y, "scores");
    weights::init_seeded(&mut g, 5);
    Ok(g)
}

/// A synthetic frame: colour gradients with a moving square, one `u32` per pixel, red in
/// the lowest byte.
fn frame() -> Vec<u32> {
    (0..H * W)
        .map(|i| {
            let (y, x) = (i / W, i % W);
            let square = (20..36).contains(&x) && (10..26).contains(&y);
            let r = (x * 255 / (W - 1)) as u32;
            let g = (y * 255 / (H - 1)) as u32;
            let b = if square { 255 } else { 40 };
            r | g << 8 | b << 16 | 255 << 24
        })
        .collect()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let gpu = Gpu::new()?;
    println!("on {}", gpu.describe());
    let graph = network()?;
    let session = Session::new(&gpu, &graph)?;
    let pixels = frame();
    // The decoder's output buffer: the prologue reads it as storage.
    let buffer = gpu
        .device()
        .create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some("camera frame"),
            contents: bytemuck::cast_slice(&pixels),
            usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST,
        });
    let frames = Rgba8Frames::from_buffer(buffer, 0, 1, H, W)?;
    let norm = Rgba8Normalize::imagenet();

    let before = session.counters();
    let scores = session.run_gpu_inputs(&[GpuInput::Rgba8(&frames, &norm)])?;
    let after = session.counters();
    let host_bytes = after.bytes_uploaded - before.bytes_uploaded + after.bytes_read_back
        - before.bytes_read_back;
    let scores = gpu.download(&scores[0])?;

    // The host path: normalise on the CPU, then run.
    let image = normalize_rgba8(&pixels, [1, H, W], &norm)?;
    let host = session.run(std::slice::from_ref(&image))?;
    let tol = cpu::network_tolerance(&graph, &cpu::run_all(&graph, &[image])?);
    let c = compare(scores.data(), host[0].data(), tol);
    assert!(c.passed(), "prologue path differs from the host path: {c}");
    println!(
        "scores {:?} match the host path ({c}); host bytes between prologue and network: {host_bytes}",
        scores.shape()
    );
    assert_eq!(host_bytes, 0);
    Ok(())
}
