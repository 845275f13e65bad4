//! Checking a plan's memory invariants (tests and the fuzzer run it on every plan they make).

use super::{ALIGN, Plan};
use crate::graph::{Graph, Node, Op};
use crate::tensor::numel;

impl Plan {
    /// Checks the plan's invariants, returning the first violation: every region aligned and
    /// inside its buffer, no two values with overlapping lifetimes sharing bytes unless one is
    /// a view of the other or both chunks of one Concat's output written in place (each at its
    /// chunk), no dispatch writing a buffer it reads, and no more memory than one
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
            if self.is_view_node(g, node) {
                self.verify_view(g, node)?;
                continue;
            }
            self.verify_in_place(g, node)?;
            let out = self.regions[node.output.0].buffer;
            let root = self.storage_of[node.output.0];
            let bound = node.inputs.iter().filter(|v| self.storage_of[v.0] != root);
            if let Some(v) = bound.clone().find(|v| self.regions[v.0].buffer == out) {
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

    /// Checks that a Concat's inputs written in place lie at their chunk of its output.
    fn verify_in_place(&self, g: &Graph, node: &Node) -> std::result::Result<(), String> {
        let Op::Concat { .. } = node.op else {
            return Ok(());
        };
        let out = self.regions[node.output.0];
        let elem = self.target.precision.elem_bytes() as u64;
        let mut at = out.offset;
        for v in &node.inputs {
            let r = self.regions[v.0];
            if self.storage_of[v.0] == self.storage_of[node.output.0]
                && (r.buffer != out.buffer || r.offset != at)
            {
                return Err(format!(
                    "node {:?}: input {v:?} written in place at {r:?}, not at byte {at} of {out:?}",
                    node.name
                ));
            }
            at += numel(g.shape(*v)) as u64 * elem;
        }
        Ok(())
    }
}
