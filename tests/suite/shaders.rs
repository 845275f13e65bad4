//! Static checks of every WGSL kernel through naga (no GPU needed).

use wgconv::Precision;
use wgconv::kernels::params_layout;
use wgconv::shader_check::{Target, translate_in};
use wgconv::shaders::Shader;

/// Every shader in every precision (f32, f16, f16 with f32 accumulation) on every target.
#[test]
fn every_shader_translates_to_every_target() {
    let mut failures = Vec::new();
    for &shader in Shader::ALL {
        for precision in Precision::ALL {
            for target in Target::ALL {
                let result = translate_in(shader, precision, &[], target);
                // Convert works on u32 words and uses no f16 type, so it reaches every target.
                if !target.accepts(shader, precision) && shader != Shader::Convert {
                    // If naga learns f16 GLSL (or cooperative matrices beyond SPIR-V),
                    // Target::accepts should say so.
                    assert!(
                        result.is_err(),
                        "{shader:?} {precision} now reaches {target:?}"
                    );
                    continue;
                }
                if let Err(e) = result {
                    failures.push(format!(
                        "{} ({precision}) -> {target:?}: {e}",
                        shader.file_name()
                    ));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The GEMM with its B-row scale (SE's channel gate, `HAS_B_SCALE`), checked and aligned, with
/// and without split-K's partial sums, in every precision on every target that takes it.
#[test]
fn matmul_b_scale_translates_everywhere() {
    for aligned in [0.0, 1.0] {
        for partial in [0.0, 1.0] {
            let c = [
                ("HAS_B_SCALE", 1.0),
                ("ALIGNED", aligned),
                ("PARTIAL", partial),
                ("HAS_BIAS", 1.0 - partial),
                ("HAS_RESIDUAL", 1.0 - partial),
            ];
            for precision in Precision::ALL {
                for target in Target::ALL {
                    if target.accepts(Shader::Matmul, precision) {
                        translate_in(Shader::Matmul, precision, &c, target)
                            .unwrap_or_else(|e| panic!("{c:?} {precision} {target:?}: {e}"));
                    }
                }
            }
        }
    }
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
        // Params is all 4-byte scalars in every precision; the f32 source is checked.
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

/// GLSL leaves `/` and `%` of negative integers undefined (naga copies WGSL's truncating ops
/// through unchanged), and llvmpipe's GL computed them as unsigned: conv_transpose gave wrong
/// results on GL only. No shader may divide signed integers.
#[test]
fn no_signed_integer_division_in_any_shader() {
    for (&shader, precision) in Shader::ALL
        .iter()
        .flat_map(|s| Precision::ALL.map(|p| (s, p)))
    {
        use naga::{BinaryOperator, Expression, ScalarKind};
        let (module, info) =
            wgconv::shader_check::parse_and_validate_in(shader, precision).unwrap();
        let mut found = Vec::new();
        let functions = module.functions.iter().map(|(h, f)| (f, &info[h])).chain(
            module
                .entry_points
                .iter()
                .enumerate()
                .map(|(i, ep)| (&ep.function, info.get_entry_point(i))),
        );
        for (f, fi) in functions {
            for (h, e) in f.expressions.iter() {
                if let Expression::Binary {
                    op: op @ (BinaryOperator::Divide | BinaryOperator::Modulo),
                    ..
                } = e
                {
                    let kind = fi[h].ty.inner_with(&module.types).scalar_kind();
                    if kind == Some(ScalarKind::Sint) {
                        found.push(format!("{op:?} in {:?} of {}", f.name, shader.file_name()));
                    }
                }
            }
        }
        assert!(found.is_empty(), "signed integer division: {found:?}");
    }
}

/// Every storage buffer holds `Elem` (f16 in the f16 precisions): a kernel that declared
/// `array<f32>` would still compile with the f16 prelude but read f16 tensors as f32. The one
/// exception is resize's coordinate table, which stays f32 on purpose (exact indices).
#[test]
fn storage_buffers_use_elem() {
    let mut wrong = Vec::new();
    for &shader in Shader::ALL {
        let (module, _) =
            wgconv::shader_check::parse_and_validate_in(shader, Precision::F16).unwrap();
        let mut storage = 0;
        for (_, var) in module.global_variables.iter() {
            if !matches!(var.space, naga::AddressSpace::Storage { .. }) {
                continue;
            }
            storage += 1;
            let name = var.name.clone().unwrap_or_default();
            if shader == Shader::Resize && name == "table" {
                continue;
            }
            // Convert moves between storage types: both sides are u32 words.
            if shader == Shader::Convert {
                continue;
            }
            let inner = &module.types[var.ty].inner;
            let scalar = match inner {
                naga::TypeInner::Array { base, .. } => module.types[*base].inner.scalar(),
                other => other.scalar(),
            };
            if scalar != Some(naga::Scalar::F16) {
                wrong.push(format!("{}: {name} is {scalar:?}", shader.file_name()));
            }
        }
        // Every kernel reads and writes tensors: none found means the scan looked elsewhere.
        assert!(
            storage >= 2,
            "{}: {storage} storage buffers",
            shader.file_name()
        );
    }
    assert!(wrong.is_empty(), "storage not declared as Elem: {wrong:?}");
}
