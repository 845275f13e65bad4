//! Broken safetensors weight files.

use wgconv::graph::{Conv2d, Graph};
use wgconv::{Error, weights};

use super::assert_names;

fn conv_net() -> Graph {
    let mut g = Graph::new();
    let x = g.input("x", &[1, 3, 8, 8]);
    let y = g.conv2d(x, "conv", Conv2d::new(4, 3)).unwrap();
    g.output(y);
    g
}

fn safetensors_file(entries: &[(&str, safetensors::Dtype, Vec<usize>, Vec<u8>)]) -> Vec<u8> {
    let views: Vec<_> = entries
        .iter()
        .map(|(k, dt, s, b)| {
            (
                k.to_string(),
                safetensors::tensor::TensorView::new(*dt, s.clone(), b).unwrap(),
            )
        })
        .collect();
    safetensors::serialize(views, None).unwrap()
}

/// Wrong dtype, truncated, corrupt header, mis-sized data: errors naming the tensor or file.
#[test]
fn safetensors_bad_files() {
    use safetensors::Dtype;
    let mut g = conv_net();
    let w = (Dtype::F32, vec![4, 3, 3, 3], vec![0u8; 108 * 4]);
    let b = (Dtype::F32, vec![4], vec![0u8; 16]);
    let good = safetensors_file(&[
        ("conv.weight", w.0, w.1.clone(), w.2.clone()),
        ("conv.bias", b.0, b.1.clone(), b.2.clone()),
    ]);
    weights::load_safetensors(&mut g, &good).unwrap();

    // Wrong dtype: integers where floats are needed.
    let ints = safetensors_file(&[
        ("conv.weight", Dtype::I32, w.1.clone(), w.2.clone()),
        ("conv.bias", b.0, b.1.clone(), b.2.clone()),
    ]);
    let err = weights::load_safetensors(&mut g, &ints).unwrap_err();
    assert!(matches!(err, Error::Weights { .. }), "{err:?}");
    assert_names(&err.to_string(), &["conv.weight", "I32", "not supported"]);

    // Truncated anywhere: an error, never a panic.
    for cut in [0, 4, 8, 20, good.len() / 2, good.len() - 1] {
        let err = weights::load_safetensors(&mut g, &good[..cut])
            .unwrap_err()
            .to_string();
        assert!(err.contains("safetensors"), "cut at {cut}: {err}");
    }
    // A header length far beyond the file.
    let mut huge = good.clone();
    huge[..8].copy_from_slice(&u64::MAX.to_le_bytes());
    assert!(weights::load_safetensors(&mut g, &huge).is_err());
    // A header whose offsets do not match the shape (hand-written JSON).
    let header = br#"{"conv.weight":{"dtype":"F32","shape":[4,3,3,3],"data_offsets":[0,8]},"conv.bias":{"dtype":"F32","shape":[4],"data_offsets":[8,24]}}"#;
    let mut bad = (header.len() as u64).to_le_bytes().to_vec();
    bad.extend(header);
    bad.extend([0u8; 24]);
    let err = weights::load_safetensors(&mut g, &bad)
        .unwrap_err()
        .to_string();
    assert!(err.contains("safetensors"), "{err}");
    // Missing and mis-shaped (zoo.rs covers a whole network; here the one-layer case).
    let missing = safetensors_file(&[("conv.weight", w.0, w.1.clone(), w.2.clone())]);
    let err = weights::load_safetensors(&mut g, &missing)
        .unwrap_err()
        .to_string();
    assert_names(&err, &["conv.bias", "missing", "[4]"]);
    let reshaped = safetensors_file(&[
        ("conv.weight", w.0, vec![4, 27], w.2.clone()),
        ("conv.bias", b.0, b.1.clone(), b.2.clone()),
    ]);
    let err = weights::load_safetensors(&mut g, &reshaped)
        .unwrap_err()
        .to_string();
    assert_names(&err, &["conv.weight", "[4, 27]", "[4, 3, 3, 3]"]);
}
