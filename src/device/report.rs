//! What `wgconv info` prints about each adapter.

use super::{adapters_async, coop, default_backends};

/// A multi-line description of every adapter found: backend, type, driver, features, limits.
pub fn adapter_reports(backends: Option<wgpu::Backends>) -> Vec<String> {
    pollster::block_on(adapters_async(backends.unwrap_or_else(default_backends)))
        .into_iter()
        .map(|a| {
            let i = a.get_info();
            let l = a.limits();
            let f = a.features();
            let has = |x: wgpu::Features| if f.contains(x) { "yes" } else { "no" };
            format!(
                "{name}\n    backend {backend:?}, type {ty:?}, vendor 0x{vendor:04x}, device 0x{device:04x}\n    \
                 driver {driver} {driver_info}\n    \
                 shader-f16 {f16}, timestamp queries {ts}, subgroups {sg}\n    {coop}\n    \
                 max_buffer_size {mbs}, max_storage_buffer_binding_size {msb}, \
                 max_compute_workgroups_per_dimension {mwg}, max_compute_invocations_per_workgroup {mi}, \
                 max_compute_workgroup_storage_size {wss}, min_storage_buffer_offset_alignment {align}",
                name = i.name,
                backend = i.backend,
                ty = i.device_type,
                vendor = i.vendor,
                device = i.device,
                driver = i.driver,
                driver_info = i.driver_info,
                f16 = has(wgpu::Features::SHADER_F16),
                ts = has(wgpu::Features::TIMESTAMP_QUERY),
                sg = has(wgpu::Features::SUBGROUP),
                coop = coop::report(&a),
                mbs = l.max_buffer_size,
                msb = l.max_storage_buffer_binding_size,
                mwg = l.max_compute_workgroups_per_dimension,
                mi = l.max_compute_invocations_per_workgroup,
                wss = l.max_compute_workgroup_storage_size,
                align = l.min_storage_buffer_offset_alignment,
            )
        })
        .collect()
}
