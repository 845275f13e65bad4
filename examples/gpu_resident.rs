//! wgconv on the application's own wgpu device, with data that stays on the GPU: the
//! application creates the device (keeping its own error handler), shares it with wgconv, and
//! chains two sessions on the GPU (the first one's output is the second one's input) with no
//! host copy in between; only the final result is downloaded.
//!
//!     cargo run --release --example gpu_resident

use wgconv::graph::{Conv2d, Graph};
use wgconv::{Gpu, Session, Tensor, weights};

/// A stem (conv 3->8, ReLU) and a head (conv 8->2): two separately built models.
fn models() -> Result<(Graph, Graph), wgconv::Error> {
    let mut stem = Graph::new();
    let x = stem.input("image", &[1, 3, 32, 32]);
    let y = stem.conv2d(x, "stem", Conv2d::new(8, 3).pad(1))?;
    let y = stem.relu(y)?;
    stem.output_named(y, "features");
    weights::init_seeded(&mut stem, 1);
    let mut head = Graph::new();
    let f = head.input("features", &[1, 8, 32, 32]);
    let y = head.conv2d(f, "head", Conv2d::new(2, 3).pad(1))?;
    head.output_named(y, "mask");
    weights::init_seeded(&mut head, 2);
    Ok((stem, head))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The application's device, as a renderer or video pipeline would create it.
    let instance =
        wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle_from_env());
    let adapter = pollster::block_on(instance.request_adapter(&Default::default()))?;
    let (device, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
        label: Some("application"),
        required_limits: adapter.limits(),
        ..Default::default()
    }))?;
    device.on_uncaptured_error(std::sync::Arc::new(|e| eprintln!("application: {e}")));
    let gpu = Gpu::from_wgpu(adapter, device, queue);
    println!("on {}", gpu.describe());

    let (stem, head) = models()?;
    let (stem, head) = (Session::new(&gpu, &stem)?, Session::new(&gpu, &head)?);
    let image = Tensor::random(vec![1, 3, 32, 32], 7);
    // On the GPU: one upload (the application's frame would already be there), two runs,
    // one download of the result.
    let on_gpu = gpu.upload(&image)?;
    let before = [stem.counters(), head.counters()];
    let features = stem.run_gpu_named(&[("image", &on_gpu)])?;
    let mask = head.run_gpu(&[&features[0].1])?;
    let after = [stem.counters(), head.counters()];
    let host_bytes: u64 = before
        .iter()
        .zip(&after)
        .map(|(b, a)| a.bytes_uploaded - b.bytes_uploaded + a.bytes_read_back - b.bytes_read_back)
        .sum();
    let mask = gpu.download(&mask[0])?;
    // The same through the host, for comparison.
    let host_mask = head.run(&stem.run(&[image])?)?;
    assert_eq!(mask, host_mask[0]);
    println!(
        "{} of shape {:?} equals the host-chained result; host bytes between the sessions: {host_bytes}",
        head.outputs()[0].0,
        mask.shape()
    );
    Ok(())
}
