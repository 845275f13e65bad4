//! How a readback's future makes progress without blocking its caller's thread.
//!
//! On native wgpu a `map_async` callback fires only inside `device.poll`. Two designs were
//! possible: the future polls the device (`PollType::Poll`) each time it is polled and wakes
//! itself while pending, which needs no thread but spins the executor (and a blocking caller's
//! core, stolen from a software driver's own workers) until the GPU finishes; or one thread
//! per device that sleeps until a mapping is pending, then waits in the driver
//! (`PollType::wait_indefinitely`) and lets the callback complete the future. wgconv takes the
//! second: a waiting caller costs no CPU, and the thread is started on the device's first
//! readback, not per call, and ends when the last handle on the device is dropped. While it
//! waits, submissions from other threads to the same device may queue behind the wait (wgpu
//! holds the device's fence), as they did behind the blocking poll it replaces.

use std::future::Future;
use std::sync::{Arc, Condvar, Mutex, PoisonError};

use crate::error::{Error, Result};

#[derive(Default)]
struct State {
    /// Mappings asked for whose callbacks have not run yet.
    pending: usize,
    /// No handle on the device is left: the thread ends once nothing is pending.
    closed: bool,
    started: bool,
}

#[derive(Default)]
struct Shared {
    state: Mutex<State>,
    wake: Condvar,
}

impl Shared {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // The state is a counter and flags: a panic elsewhere cannot leave it half-written.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The device's polling thread, shared by every handle on the device.
pub(crate) struct Poller {
    device: wgpu::Device,
    shared: Arc<Shared>,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl Drop for Poller {
    fn drop(&mut self) {
        self.shared.state().closed = true;
        self.shared.wake.notify_all();
        // Joined, not detached: a thread still inside the driver while the process exits (the
        // CLI returning from main) can crash the driver's teardown.
        let thread = self
            .thread
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(t) = thread.take()
            && t.thread().id() != std::thread::current().id()
        {
            let _ = t.join();
        }
    }
}

impl Poller {
    pub(crate) fn new(device: wgpu::Device) -> Self {
        Self {
            device,
            shared: Arc::default(),
            thread: Mutex::new(None),
        }
    }

    /// Maps the first `bytes` bytes of `buffer` for reading; the future resolves once the
    /// mapping is usable (after the work submitted before it has finished).
    pub(crate) fn map_read(
        &self,
        buffer: &wgpu::Buffer,
        bytes: u64,
    ) -> Result<impl Future<Output = Result<()>> + Send + use<>> {
        {
            let mut state = self.shared.state();
            if !state.started {
                let (device, shared) = (self.device.clone(), self.shared.clone());
                let thread = std::thread::Builder::new()
                    .name("wgconv-poll".into())
                    .spawn(move || poll_while_pending(&device, &shared))
                    .map_err(|e| Error::Readback(format!("starting the polling thread: {e}")))?;
                *self.thread.lock().unwrap_or_else(PoisonError::into_inner) = Some(thread);
                state.started = true;
            }
            state.pending += 1;
        }
        let (tx, rx) = futures_intrusive::channel::shared::oneshot_channel();
        let shared = self.shared.clone();
        buffer.map_async(wgpu::MapMode::Read, 0..bytes, move |r| {
            let _ = tx.send(r);
            shared.state().pending -= 1;
        });
        self.shared.wake.notify_all();
        Ok(async move {
            match rx.receive().await {
                Some(r) => r.map_err(|e| Error::Readback(e.to_string())),
                None => Err(Error::Readback("the mapping was dropped".into())),
            }
        })
    }
}

fn poll_while_pending(device: &wgpu::Device, shared: &Shared) {
    loop {
        {
            let mut state = shared.state();
            while state.pending == 0 && !state.closed {
                state = shared
                    .wake
                    .wait(state)
                    .unwrap_or_else(PoisonError::into_inner);
            }
            if state.pending == 0 {
                return;
            }
        }
        // A lost device fails its mappings through their callbacks; the pause only keeps a
        // failing poll from spinning until they have run.
        if device.poll(wgpu::PollType::wait_indefinitely()).is_err() {
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
    }
}
