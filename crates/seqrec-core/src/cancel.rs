//! A cancellation flag the long training loops check (the Python package
//! sets it on Ctrl-C; any embedding program may).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// A shared flag: [`Cancel::cancel`] from any thread asks the loops that
/// hold a clone to stop at their next check. Loops check it between units
/// of work (a GRU training window, a few thousand SGD steps), so a stop
/// arrives within milliseconds and leaves no half-updated state behind:
/// the interrupted fit returns an error, never a model.
#[derive(Clone, Debug, Default)]
pub struct Cancel(Arc<AtomicBool>);

/// Two values are equal when they are clones of one flag.
impl PartialEq for Cancel {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Cancel {
    /// A flag not yet raised.
    pub fn new() -> Self {
        Cancel::default()
    }

    /// Raises the flag (idempotent).
    pub fn cancel(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    /// Whether the flag was raised.
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::Cancel;

    #[test]
    fn a_clone_sees_the_flag_raised_on_another_thread() {
        let cancel = Cancel::new();
        let seen_by = cancel.clone();
        assert!(!seen_by.is_cancelled());
        std::thread::spawn(move || cancel.cancel())
            .join()
            .expect("thread");
        assert!(seen_by.is_cancelled());
    }
}
