//! `wgconv bench --memory`: the device bytes a session holds, by purpose.

use serde::Serialize;

use crate::session::Session;

/// Device bytes of one session. Every buffer lives as long as the session, so the peak is
/// their sum (the small uniform buffers of the launches aside).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Memory {
    /// The activation arenas: every intermediate tensor and every step's scratch, placed by
    /// liveness ([`Session::arena_bytes`]).
    pub activation_arena_bytes: u64,
    /// The largest scratch one step uses inside the arena (split-K partial sums, Winograd's
    /// transformed tensors); already counted in the arena.
    pub scratch_bytes: u64,
    /// Parameters the session binds ([`Session::param_bytes`]).
    pub parameter_bytes: u64,
    /// Staging buffers of nodes split to fit the binding limit ([`Session::staging_bytes`]).
    pub staging_bytes: u64,
    /// The readback buffer the outputs are copied into.
    pub readback_bytes: u64,
    /// Everything at once: [`Session::device_bytes`] + [`Session::param_bytes`].
    pub peak_device_bytes: u64,
}

impl Memory {
    /// The figures of `session`.
    pub fn of(session: &Session<'_>) -> Self {
        let (arena, staging) = (session.arena_bytes(), session.staging_bytes());
        let scratch = session
            .plan()
            .steps
            .iter()
            .map(|s| s.scratch.iter().map(|r| r.bytes).sum::<u64>())
            .max()
            .unwrap_or(0);
        Self {
            activation_arena_bytes: arena,
            scratch_bytes: scratch,
            parameter_bytes: session.param_bytes(),
            staging_bytes: staging,
            readback_bytes: session.device_bytes() - arena - staging,
            peak_device_bytes: session.device_bytes() + session.param_bytes(),
        }
    }

    /// One line: `memory: arena A, scratch S (in the arena), parameters P, ...`.
    pub fn line(&self) -> String {
        // KiB below a MiB: small scratch and readback buffers would read 0.00 MiB.
        let mib = |b: u64| match b {
            0..1048576 => format!("{:.1} KiB", b as f64 / 1024.0),
            _ => format!("{:.2} MiB", b as f64 / 1048576.0),
        };
        format!(
            "memory: activation arena {}, scratch {} (inside the arena), parameters {}, staging {}, readback {}; peak device {} ({} bytes)",
            mib(self.activation_arena_bytes),
            mib(self.scratch_bytes),
            mib(self.parameter_bytes),
            mib(self.staging_bytes),
            mib(self.readback_bytes),
            mib(self.peak_device_bytes),
            self.peak_device_bytes
        )
    }
}
