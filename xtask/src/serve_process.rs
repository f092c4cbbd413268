//! `seqrec serve` as a process of its own, started and waited for the way
//! both serve benchmarks need it.

use crate::load::Connection;
use anyhow::{Context, Result, bail};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running `seqrec serve` (its output discarded).
pub(crate) struct ServeProcess {
    pub(crate) child: Child,
    pub(crate) addr: SocketAddr,
}

impl ServeProcess {
    /// Starts `seqrec serve --model MODEL --store STORE --addr ADDR`, then
    /// `extra` arguments.
    pub(crate) fn start(
        seqrec: &Path,
        model: &Path,
        store: &Path,
        addr: SocketAddr,
        extra: &[String],
    ) -> Result<ServeProcess> {
        let child = Command::new(seqrec)
            .arg("serve")
            .arg("--model")
            .arg(model)
            .arg("--store")
            .arg(store)
            .arg("--addr")
            .arg(addr.to_string())
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("starting seqrec serve")?;
        Ok(ServeProcess { child, addr })
    }

    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits until `probe` (a health route) answers 200, at most 120 s;
    /// the time it took. An exit before that is an error.
    pub(crate) fn wait_until(&mut self, probe: &str) -> Result<Duration> {
        let started = Instant::now();
        loop {
            if let Ok(mut c) = Connection::open(self.addr)
                && let Ok(r) = c.request("GET", probe, None)
                && r.status == 200
            {
                return Ok(started.elapsed());
            }
            if let Some(status) = self.child.try_wait()? {
                bail!("seqrec serve exited with {status} before {probe} answered");
            }
            if started.elapsed() > Duration::from_secs(120) {
                bail!("seqrec serve did not answer {probe} within 120 s");
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Asks for a graceful stop (SIGTERM: the store is flushed).
    pub(crate) fn terminate(&self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status();
    }

    /// SIGTERM, then SIGKILL after 10 s.
    pub(crate) fn stop(&mut self) {
        self.terminate();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
