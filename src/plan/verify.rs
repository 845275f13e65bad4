//! Checking a plan's memory invariants (tests and the fuzzer run it on every plan they make).

use super::launches::is_view;
use super::{ALIGN, Plan};
use crate::graph::Graph;

impl Plan {
    /// Checks the plan's invariants, returning the first violation: every region aligned and
    /// inside its buffer, no two values with overlapping lifetimes sharing bytes unless one is
    /// a view of the other, no dispatch writing a buffer it reads, and no more memory than one
    /// buffer per tensor. Scratch regions count as values alive at their step, in buffers
    /// apart from their node's inputs, output and other scratch.
    pub fn verify(&self, g: &Graph) -> std::result::Result<(), String> {
        let n = self.regions.len();
        for (i, step) in self.steps.iter().enumerate() {
            let node = g.node(step.node);
            let t = i + 1;
            for (j, s) in step.scratch.iter().enumerate() {
                if !s.offset.is_multiple_of(ALIGN) || s.end() > self.buffers[s.buffer] {
                    return Err(format!(
                        "node {:?} scratch {j}: region {s:?} misaligned or outside its buffer",
                        node.name
                    ));
                }
                let bound = node.inputs.iter().chain([&node.output]);
                if let Some(v) = bound.clone().find(|v| self.regions[v.0].buffer == s.buffer) {
                    return Err(format!(
                        "node {:?} scratch {j} shares buffer {} with its operand {v:?}",
                        node.name, s.buffer
                    ));
                }
                if step.scratch[..j].iter().any(|o| o.buffer == s.buffer) {
                    return Err(format!(
                        "node {:?} scratch {j} shares buffer {} with another scratch",
                        node.name, s.buffer
                    ));
                }
                for v in 0..n {
                    let (a, b) = self.lifetimes[v];
                    if a != usize::MAX && a <= t && t <= b && self.regions[v].overlaps(s) {
                        return Err(format!(
                            "node {:?} scratch {j} {s:?} overlaps value {v} {:?}, live at step {i}",
                            node.name, self.regions[v]
                        ));
                    }
                }
            }
        }
        for step in &self.steps {
            let node = g.node(step.node);
            if is_view(&node.op) {
                continue;
            }
            let out = self.regions[node.output.0].buffer;
            if let Some(v) = node.inputs.iter().find(|v| self.regions[v.0].buffer == out) {
                return Err(format!(
                    "node {:?} writes buffer {out}, which holds its input {v:?}",
                    node.name
                ));
            }
        }
        for v in 0..n {
            let r = self.regions[v];
            if !r.offset.is_multiple_of(ALIGN) {
                return Err(format!("value {v}: offset {} not aligned", r.offset));
            }
            if self.lifetimes[v].0 != usize::MAX && r.end() > self.buffers[r.buffer] {
                return Err(format!(
                    "value {v}: region {r:?} outside its buffer ({} bytes)",
                    self.buffers[r.buffer]
                ));
            }
        }
        for a in 0..n {
            for b in a + 1..n {
                if self.storage_of[a] == self.storage_of[b] {
                    continue;
                }
                let (la, lb) = (self.lifetimes[a], self.lifetimes[b]);
                if la.0 == usize::MAX || lb.0 == usize::MAX {
                    continue;
                }
                let live_together = la.0 <= lb.1 && lb.0 <= la.1;
                if live_together && self.regions[a].overlaps(&self.regions[b]) {
                    return Err(format!(
                        "values {a} {la:?} and {b} {lb:?} are live together and overlap: {:?} / {:?}",
                        self.regions[a], self.regions[b]
                    ));
                }
            }
        }
        if self.arena_bytes > self.naive_bytes {
            return Err(format!(
                "arena {} exceeds one-buffer-per-tensor {}",
                self.arena_bytes, self.naive_bytes
            ));
        }
        Ok(())
    }
}
