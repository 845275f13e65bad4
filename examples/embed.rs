//! Embedding wgconv: load an ONNX model, run it on the GPU, read the outputs by name.
//!
//!     cargo run --release --example embed -- path/to/model.onnx input=1x3x224x224
//!
//! Without arguments it runs the small SqueezeNet fixture of the test suite.

use wgconv::{Session, SessionConfig, Tensor};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let model = args.next().unwrap_or_else(|| {
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/onnx/squeezenet1_1/model.onnx"
        )
        .into()
    });
    let mut config = SessionConfig::default();
    for a in args {
        let (name, shape) = a.split_once('=').ok_or("expected NAME=SHAPE")?;
        let shape: Vec<usize> = shape.split('x').map(str::parse).collect::<Result<_, _>>()?;
        config = config.input_shape(name, &shape);
    }
    let session = Session::from_onnx_path(&model, &config)?;
    println!("{model} on {}", session.gpu().describe());
    let inputs: Vec<(String, Tensor)> = session
        .inputs()
        .into_iter()
        .map(|(name, shape)| (name, Tensor::random(shape, 7)))
        .collect();
    let feed: Vec<(&str, &Tensor)> = inputs.iter().map(|(n, t)| (n.as_str(), t)).collect();
    for (name, y) in session.run_named(&feed)? {
        let head: Vec<f32> = y.data().iter().take(5).copied().collect();
        println!("{name}: shape {:?}, first values {head:?}", y.shape());
    }
    Ok(())
}
