//! The network zoo: torchvision's classifiers and seed 003's CIFAR-10 network, built with the
//! graph builder under PyTorch `state_dict` names, parameters zeroed (fill them with
//! [`crate::weights`]). Parameter counts equal torchvision's (tested).

mod cifar;
mod efficientnet;
mod googlenet;
mod mobilenet;
mod resnet;
mod shufflenet;
mod squeezenet;

pub use cifar::cifar10_net;
pub use efficientnet::efficientnet_b0;
pub use googlenet::googlenet;
pub use mobilenet::mobilenet_v2;
pub use resnet::{resnet18, resnet34, resnet50};
pub use shufflenet::shufflenet_v2_x1_0;
pub use squeezenet::squeezenet1_1;

use crate::error::{Error, Result};
use crate::graph::Graph;

/// Builds a network for an input shape `[N, C, H, W]`.
pub type Builder = fn(&[usize]) -> Result<Graph>;

/// Every network: (name, builder, torchvision parameter count, natural input `[C, H, W]`).
pub const NETWORKS: &[(&str, Builder, usize, [usize; 3])] = &[
    ("resnet18", resnet18, 11_689_512, [3, 224, 224]),
    ("resnet34", resnet34, 21_797_672, [3, 224, 224]),
    ("resnet50", resnet50, 25_557_032, [3, 224, 224]),
    ("mobilenet_v2", mobilenet_v2, 3_504_872, [3, 224, 224]),
    ("efficientnet_b0", efficientnet_b0, 5_288_548, [3, 224, 224]),
    ("squeezenet1_1", squeezenet1_1, 1_235_496, [3, 224, 224]),
    ("googlenet", googlenet, 6_624_904, [3, 224, 224]),
    (
        "shufflenet_v2_x1_0",
        shufflenet_v2_x1_0,
        2_278_604,
        [3, 224, 224],
    ),
    ("cifar10_net", cifar10_net, 193_376, [3, 32, 32]),
];

/// Builds a zoo network by name for `input` `[N, C, H, W]`.
///
/// ```
/// let mut g = wgconv::zoo::build("resnet18", &[1, 3, 64, 64])?;
/// assert_eq!(g.shape(g.outputs()[0]), &[1, 1000]);
/// assert_eq!(g.parameter_count(), 11_689_512); // torchvision's count
/// wgconv::weights::init_seeded(&mut g, 0);
/// assert!(wgconv::zoo::build("resnet19", &[1, 3, 64, 64]).is_err());
/// # Ok::<(), wgconv::Error>(())
/// ```
pub fn build(name: &str, input: &[usize]) -> Result<Graph> {
    let Some((_, f, _, _)) = NETWORKS.iter().find(|(n, ..)| *n == name) else {
        let names: Vec<&str> = NETWORKS.iter().map(|(n, ..)| *n).collect();
        return Err(Error::invalid_op(
            "zoo",
            format!("unknown network {name:?}; known: {}", names.join(", ")),
        ));
    };
    f(input)
}
