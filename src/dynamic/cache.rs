//! A bounded, least-recently-used map from shape signatures to built sessions.

use std::sync::Arc;

use crate::session::Session;

/// Everything that changes planning: every input's shape, and the values of the inputs read
/// on the host (shape-like integers).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Signature {
    /// One shape per input, in input order.
    pub shapes: Vec<Vec<usize>>,
    /// Per input: its values (f32 bits) when it is read on the host, else empty.
    pub values: Vec<Vec<u32>>,
}

/// At most `capacity` sessions, the least recently used evicted first. Evicting drops the
/// cache's reference; a session still running on another thread lives until that run ends.
pub struct PlanCache {
    capacity: usize,
    /// Most recently used last.
    entries: Vec<(Signature, Arc<Session<'static>>)>,
}

impl PlanCache {
    /// An empty cache of `capacity` (at least 1) sessions.
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            entries: Vec::new(),
        }
    }

    /// The session for `key`, now the most recently used.
    pub fn get(&mut self, key: &Signature) -> Option<Arc<Session<'static>>> {
        let at = self.entries.iter().position(|(k, _)| k == key)?;
        let entry = self.entries.remove(at);
        let session = entry.1.clone();
        self.entries.push(entry);
        Some(session)
    }

    /// Adds `session` for `key`; returns how many sessions were evicted to make room.
    pub fn insert(&mut self, key: Signature, session: Arc<Session<'static>>) -> usize {
        self.entries.push((key, session));
        let evicted = self.entries.len().saturating_sub(self.capacity);
        self.entries.drain(..evicted);
        evicted
    }

    /// The cached sessions, least recently used first.
    pub fn sessions(&self) -> impl Iterator<Item = &Arc<Session<'static>>> {
        self.entries.iter().map(|(_, s)| s)
    }

    /// Sessions held.
    pub fn count(&self) -> usize {
        self.entries.len()
    }
}
