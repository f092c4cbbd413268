//! A process-wide allocator setting for training on the CPU.
//!
//! A training window frees and allocates the same large buffers again and
//! again (the output layer's weight copy and gradient, Adam's moments: tens
//! of MB each at hidden 1000). glibc serves blocks over its mmap threshold
//! (at most 32 MB by default) with `mmap` and returns them with `munmap`, so
//! every window pays page faults, page clearing and TLB shootdowns across
//! the worker threads: about a sixth of the run at hidden 1000
//! (`benches/gru_throughput.rs` under `perf`). Keeping freed memory in the
//! heap for reuse removes that. It is a process-wide choice, so the library
//! never makes it by itself: binaries (the `seqrec` command, the benches)
//! call [`retain_freed_memory`] once at start-up.
#![allow(unsafe_code)]

/// Asks the C allocator to serve large blocks from its heap and to keep
/// freed memory for reuse instead of returning it to the system. Returns
/// whether the setting was applied: on glibc (Linux) it is; elsewhere the
/// call does nothing and returns `false`.
pub fn retain_freed_memory() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // Blocks up to 1 GiB come from the heap; freed memory at its top is
        // kept up to 4 GiB. The peak footprint is unchanged (the same buffers
        // are live at once); only its return to the system is deferred.
        const MMAP_THRESHOLD: libc::c_int = 1 << 30;
        const TRIM_THRESHOLD: libc::c_int = libc::c_int::MAX;
        // SAFETY: `mallopt` only changes allocator parameters; it is called
        // with valid option constants and values and is thread-safe.
        let applied = unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1
                && libc::mallopt(libc::M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1
        };
        tracing::debug!(
            applied,
            "allocator: large blocks from the heap, freed memory kept"
        );
        applied
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        false
    }
}

#[cfg(test)]
mod tests {
    /// glibc accepts both settings (the test machines run glibc).
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    #[test]
    fn glibc_accepts_the_settings() {
        assert!(super::retain_freed_memory());
    }
}
