//! Shared by the worker threads: locking that survives a panicked holder,
//! and running a piece of work so that a panic in it is an error.

use std::sync::{Mutex, MutexGuard};

/// Runs `f`, turning a panic into an error message (the service must
/// outlive a bug in one request's processing).
pub(crate) fn catch<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).map_err(|payload| {
        payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a panic".to_owned())
    })
}

/// Locks a mutex, recovering from a panic of another holder (the state a
/// panicking scorer leaves is still a consistent model: it mutates only
/// after scoring succeeded).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A gate the tests close to hold work at one point (a reload's build),
/// to show what goes on meanwhile. Open unless a test closed it.
#[derive(Debug, Default)]
pub(crate) struct Gate {
    closed: Mutex<bool>,
    opened: std::sync::Condvar,
    /// Threads that have reached the gate so far.
    arrived: std::sync::atomic::AtomicUsize,
}

impl Gate {
    pub(crate) fn close(&self) {
        *lock(&self.closed) = true;
    }

    pub(crate) fn open(&self) {
        *lock(&self.closed) = false;
        self.opened.notify_all();
    }

    pub(crate) fn arrived(&self) -> usize {
        self.arrived.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Returns once the gate is open.
    pub(crate) fn wait_open(&self) {
        self.arrived
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let mut closed = lock(&self.closed);
        while *closed {
            closed = self
                .opened
                .wait(closed)
                .unwrap_or_else(|poisoned| poisoned.into_inner());
        }
    }
}
