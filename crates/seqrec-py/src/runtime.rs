//! Where seqrec's work runs when called from Python.
//!
//! Long work (training, evaluation, scoring) runs on a worker thread inside
//! seqrec's thread pool while the calling thread waits with the GIL
//! released, waking every [`POLL`] to let Python handle its signals and to
//! draw progress. Ctrl-C raises the run's [`Cancel`] flag, which the
//! training loops and the evaluator check between units of work; the call
//! then returns `KeyboardInterrupt` as soon as the worker has stopped, and
//! nothing is left running.

use crate::errors::{Failure, Kind, Result};
use indicatif::ProgressBar;
use pyo3::prelude::*;
use seqrec_core::Cancel;
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

/// How often the waiting thread looks at Python's signals and the progress.
const POLL: Duration = Duration::from_millis(50);

/// The pool of `set_num_threads`; `None`: rayon's global pool.
static POOL: Mutex<Option<Arc<rayon::ThreadPool>>> = Mutex::new(None);

pub fn set_num_threads(n: usize) -> PyResult<()> {
    if n == 0 {
        return Err(Failure::bad_input("the number of threads must be at least 1").into());
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(n)
        .thread_name(|i| format!("seqrec-{i}"))
        .build()
        .map_err(|e| Failure::new(Kind::Other, e.to_string()))?;
    *POOL.lock().unwrap_or_else(|p| p.into_inner()) = Some(Arc::new(pool));
    Ok(())
}

pub fn num_threads() -> usize {
    match pool() {
        Some(pool) => pool.current_num_threads(),
        None => rayon::current_num_threads(),
    }
}

fn pool() -> Option<Arc<rayon::ThreadPool>> {
    POOL.lock().unwrap_or_else(|p| p.into_inner()).clone()
}

/// Runs `f` in seqrec's pool (its parallel loops use that pool's threads).
pub fn in_pool<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    match pool() {
        Some(pool) => pool.install(f),
        None => f(),
    }
}

/// A panic's message, so it reaches Python as a `RuntimeError`.
fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    let text = payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_else(|| "unknown panic".to_owned());
    format!("internal error (a bug in seqrec; please report it): {text}")
}

/// Runs `job` on a worker thread in seqrec's pool; the calling thread
/// waits without the GIL, handles Python's signals every [`POLL`] and
/// redraws `progress`. A signal handler's exception (`KeyboardInterrupt`)
/// raises `cancel`, waits for the job to stop and is returned.
pub fn run_interruptible<T: Send + 'static>(
    py: Python<'_>,
    cancel: &Cancel,
    mut progress: Option<&mut Progress>,
    job: impl FnOnce() -> Result<T> + Send + 'static,
) -> PyResult<T> {
    let (sender, mut receiver) = mpsc::channel();
    std::thread::Builder::new()
        .name("seqrec-job".into())
        .spawn(move || {
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| in_pool(job)))
                .unwrap_or_else(|panic| Err(Failure::new(Kind::Other, panic_message(panic))));
            // The receiver is gone only if the waiting thread itself failed.
            let _ = sender.send(outcome);
        })
        .map_err(|e| Failure::new(Kind::Other, format!("starting a worker thread: {e}")))?;
    loop {
        // The receiver is not Sync: it travels into the GIL-free closure and back.
        let (back, received) = py.detach(move || {
            let received = receiver.recv_timeout(POLL);
            (receiver, received)
        });
        receiver = back;
        match received {
            Ok(outcome) => {
                if let Some(progress) = progress.as_deref_mut() {
                    progress.finish(py);
                }
                return match outcome {
                    Err(_) if cancel.is_cancelled() => {
                        Err(Failure::new(Kind::Cancelled, "cancelled").into())
                    }
                    other => other.map_err(PyErr::from),
                };
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                return Err(Failure::new(Kind::Other, "the worker thread vanished").into());
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
        }
        if let Err(signal) = py.check_signals() {
            cancel.cancel();
            // The loops stop at their next check (milliseconds); a second
            // Ctrl-C while they wind down returns at once, leaving the
            // worker to finish stopping on its own (it holds no Python
            // object).
            let mut second = None;
            loop {
                let (back, received) = py.detach(move || {
                    let received = receiver.recv_timeout(POLL);
                    (receiver, received)
                });
                receiver = back;
                if !matches!(received, Err(mpsc::RecvTimeoutError::Timeout)) {
                    break;
                }
                if let Err(again) = py.check_signals() {
                    second = Some(again);
                    break;
                }
            }
            if let Some(progress) = progress.as_deref_mut() {
                progress.finish(py);
            }
            return Err(second.unwrap_or(signal));
        }
        if let Some(progress) = progress.as_deref_mut() {
            progress.draw(py);
        }
    }
}

/// Progress of a long call: an indicatif bar the Rust side drives
/// (hidden), mirrored into a `tqdm.auto` bar (a widget in notebooks, a
/// line in terminals) when tqdm is installed; without tqdm the indicatif
/// bar itself draws on stderr (terminals only).
pub struct Progress {
    bar: ProgressBar,
    tqdm: Option<Py<PyAny>>,
    /// The tqdm bar drawn now, its message and the position it shows.
    shown: Option<(Py<PyAny>, String, u64)>,
    unit: &'static str,
}

impl Progress {
    /// `enabled = false`: nothing is drawn. `unit`: what the bar counts.
    pub fn new(py: Python<'_>, enabled: bool, unit: &'static str) -> Progress {
        let tqdm = enabled
            .then(|| {
                py.import("tqdm.auto")
                    .and_then(|m| m.getattr("tqdm"))
                    .ok()
                    .map(Bound::unbind)
            })
            .flatten();
        let bar = if enabled && tqdm.is_none() {
            seqrec_runner::progress::training_bar(false)
        } else {
            ProgressBar::hidden()
        };
        Progress {
            bar,
            tqdm,
            shown: None,
            unit,
        }
    }

    /// The bar the Rust side drives.
    pub fn bar(&self) -> ProgressBar {
        self.bar.clone()
    }

    fn draw(&mut self, py: Python<'_>) {
        let Some(tqdm) = self.tqdm.as_ref().map(|t| t.clone_ref(py)) else {
            return;
        };
        let message = self.bar.message();
        let (position, length) = (self.bar.position(), self.bar.length());
        if message.is_empty() && length.unwrap_or(0) == 0 {
            return; // nothing started yet
        }
        // A new message (the next epoch) starts a new bar.
        if self.shown.as_ref().is_none_or(|(_, m, _)| *m != message) {
            self.close(py);
            let kwargs = pyo3::types::PyDict::new(py);
            let created = (|| -> PyResult<Py<PyAny>> {
                kwargs.set_item("total", length)?;
                kwargs.set_item("desc", &message)?;
                kwargs.set_item("unit", self.unit)?;
                kwargs.set_item("unit_scale", true)?;
                Ok(tqdm.bind(py).call((), Some(&kwargs))?.unbind())
            })();
            match created {
                Ok(bar) => self.shown = Some((bar, message, 0)),
                // A broken tqdm must not fail the training: stop drawing.
                Err(_) => self.tqdm = None,
            }
        }
        // Increments, so tqdm's rate is right.
        if let Some((bar, _, shown)) = &mut self.shown
            && position > *shown
        {
            let _ = bar.bind(py).call_method1("update", (position - *shown,));
            *shown = position;
        }
    }

    fn close(&mut self, py: Python<'_>) {
        if let Some((bar, _, _)) = self.shown.take() {
            let _ = bar.bind(py).call_method0("close");
        }
    }

    fn finish(&mut self, py: Python<'_>) {
        self.draw(py);
        self.close(py);
        self.bar.finish_and_clear();
    }
}
