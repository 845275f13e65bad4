// Prelude shared by every kernel (prepended by src/shaders.rs).
//
// Dispatches are one-dimensional in intent but folded into a 3-D grid, since a single
// dimension holds at most 65,535 workgroups. This recovers the flat workgroup index.
fn flat_workgroup_id(wid: vec3<u32>, nwg: vec3<u32>) -> u32 {
    return wid.x + nwg.x * (wid.y + nwg.y * wid.z);
}
