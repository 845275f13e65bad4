//! An ONNX model whose image input is `uint8` (Cast to float, then a convolution) fed u8
//! bytes: equal to feeding their values as f32, moving one byte per element.

use wgconv::session::HostData;
use wgconv::{Session, SessionConfig, Tensor};

use super::{attr_i, model, node, value_info, weight};

#[test]
fn uint8_image_input_takes_bytes() {
    let mut x = value_info("x", &[1, 3, 4, 5]);
    if let Some(wgconv::onnx::proto::type_proto::Value::TensorType(t)) =
        x.r#type.as_mut().and_then(|t| t.value.as_mut())
    {
        t.elem_type = Some(2); // UINT8
    }
    let mut cast = node("Cast", "cast", &["x"], &["xf"]);
    cast.attribute.push(attr_i("to", 1));
    let bytes = model(
        vec![cast, node("Conv", "conv", &["xf", "w"], &["y"])],
        vec![x],
        vec![weight("w", &[2, 3, 1, 1], 3)],
        "y",
    );
    let s = Session::from_onnx_bytes(&bytes, &SessionConfig::default()).unwrap();
    let pixels: Vec<u8> = (0..60u32).map(|i| (i * 37 % 256) as u8).collect();
    let as_f32 = Tensor::new(vec![1, 3, 4, 5], pixels.iter().map(|&b| b as f32).collect());
    let want = s.run(&[as_f32.unwrap()]).unwrap();
    let before = s.counters().bytes_uploaded;
    let got = s
        .run_host_data(&[("x", HostData::U8(&pixels), &[1, 3, 4, 5])])
        .unwrap();
    assert_eq!(got[0].1, want[0]);
    assert_eq!(s.counters().bytes_uploaded, before + 60);
}
