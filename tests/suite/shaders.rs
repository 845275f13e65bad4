//! Static checks of every WGSL kernel through naga (no GPU needed).

use wgconv::kernels::params_layout;
use wgconv::shader_check::{Target, translate};
use wgconv::shaders::Shader;

#[test]
fn every_shader_translates_to_every_target() {
    let mut failures = Vec::new();
    for &shader in Shader::ALL {
        for target in Target::ALL {
            if let Err(e) = translate(shader, &[], target) {
                failures.push(format!("{} -> {target:?}: {e}", shader.file_name()));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn shader_directory_matches_enum() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/shaders");
    let mut on_disk: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".wgsl"))
        .collect();
    on_disk.sort();
    let mut listed: Vec<String> = Shader::ALL
        .iter()
        .map(|s| s.file_name().to_string())
        .collect();
    listed.sort();
    assert_eq!(on_disk, listed);
}

#[test]
fn params_structs_match_naga_layout() {
    for &shader in Shader::ALL {
        let (wgsl_fields, wgsl_size) = wgconv::shader_check::params_layout(shader).unwrap();
        let (rust_fields, rust_size) = params_layout(shader);
        let rust: Vec<(String, u32)> = rust_fields
            .iter()
            .map(|&(n, o)| (n.to_string(), o as u32))
            .collect();
        assert_eq!(
            wgsl_fields,
            rust,
            "{}: Params fields/offsets",
            shader.file_name()
        );
        assert_eq!(
            wgsl_size as usize,
            rust_size,
            "{}: Params size",
            shader.file_name()
        );
    }
}
