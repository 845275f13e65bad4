//! The buffers a run's outputs are copied into and mapped from: one per run in flight.
//!
//! A run holds the session's lock only while it writes its inputs, records its pass and
//! submits (the queue then orders its GPU work before the next run's input writes). Waiting
//! for the GPU and mapping happen after the lock is released, so the next run's host work
//! overlaps this run's GPU work; each run therefore copies its outputs into a readback buffer
//! of its own, taken from this pool and given back once read. Sequential runs reuse one
//! buffer; `k` threads running at once make at most `k`.

use std::sync::atomic::Ordering;
use std::sync::{Mutex, PoisonError};

use super::AtomicCounters;
use crate::device::Gpu;
use crate::error::Result;

/// Idle readback buffers of one session, all `bytes` long.
#[derive(Debug)]
pub(super) struct ReadbackPool {
    bytes: u64,
    idle: Mutex<Vec<wgpu::Buffer>>,
    /// Buffers made and not discarded, idle or lent.
    made: std::sync::atomic::AtomicUsize,
}

impl ReadbackPool {
    /// A pool holding one buffer already: the one every sequential run uses.
    pub(super) fn new(gpu: &Gpu, bytes: u64) -> Result<Self> {
        let first = make(gpu, bytes)?;
        Ok(Self {
            bytes,
            idle: Mutex::new(vec![first]),
            made: 1.into(),
        })
    }

    /// An idle buffer, or a new one (counted in `counters`) when every one is lent.
    pub(super) fn take(&self, gpu: &Gpu, counters: &AtomicCounters) -> Result<wgpu::Buffer> {
        if let Some(b) = self
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop()
        {
            return Ok(b);
        }
        let b = make(gpu, self.bytes)?;
        self.made.fetch_add(1, Ordering::Relaxed);
        counters.buffers_created.fetch_add(1, Ordering::Relaxed);
        Ok(b)
    }

    /// Returns an unmapped buffer for the next run.
    pub(super) fn give_back(&self, buffer: wgpu::Buffer) {
        self.idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(buffer);
    }

    /// Drops a buffer whose mapping failed (its state is unknown, so it is not reused).
    pub(super) fn discard(&self, buffer: wgpu::Buffer) {
        drop(buffer);
        self.made.fetch_sub(1, Ordering::Relaxed);
    }

    /// Bytes of the buffers made and not discarded, idle or lent.
    pub(super) fn device_bytes(&self) -> u64 {
        self.made.load(Ordering::Relaxed) as u64 * self.buffer_size()
    }

    /// Bytes one run reads back.
    pub(super) fn bytes(&self) -> u64 {
        self.bytes
    }

    fn buffer_size(&self) -> u64 {
        self.bytes.max(8)
    }
}

fn make(gpu: &Gpu, bytes: u64) -> Result<wgpu::Buffer> {
    gpu.scoped("allocating a readback buffer", || {
        gpu.device().create_buffer(&wgpu::BufferDescriptor {
            label: Some("wgconv readback"),
            size: bytes.max(8),
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        })
    })
}
