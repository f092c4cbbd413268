//! What a window's steps report in their backward passes, in any order,
//! kept until the last step has reported: the rows of a split projection
//! (`rows.rs`) and the inputs and output gradients of a step weight's
//! products (`ledger.rs`) both end in one operation over the whole window.

use std::any::Any;
use std::sync::{Arc, Mutex};

/// One step's report (a backend's primitive tensors: the extension trait
/// that carries the gather is not generic over backends).
type Report = Option<Box<dyn Any + Send>>;

/// The reports of one window's `steps` steps, shared by their backward
/// operations.
#[derive(Clone)]
pub struct WindowGather(Arc<Mutex<Vec<Report>>>);

impl WindowGather {
    /// For a window of `steps` steps, each reporting once.
    pub fn new(steps: usize) -> Self {
        WindowGather(Arc::new(Mutex::new((0..steps).map(|_| None).collect())))
    }

    /// Keeps step `index`'s report; every report in step order once each
    /// step has reported (each step's backward runs once per graph).
    pub(super) fn receive<T: Send + 'static>(&self, index: usize, report: T) -> Option<Vec<T>> {
        let mut reports = self.0.lock().unwrap_or_else(|e| e.into_inner());
        reports[index] = Some(Box::new(report));
        if reports.iter().any(Option::is_none) {
            return None;
        }
        let mut all = Vec::with_capacity(reports.len());
        for report in reports.iter_mut() {
            match report.take().map(|b| b.downcast::<T>()) {
                Some(Ok(report)) => all.push(*report),
                // One gather serves one kind of report of one backend.
                _ => unreachable!("a window's reports of another type"),
            }
        }
        Some(all)
    }
}

impl std::fmt::Debug for WindowGather {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WindowGather")
    }
}
