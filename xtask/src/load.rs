//! A small HTTP/1.1 load generator for `cargo xtask bench serve`: keep-alive
//! connections, one thread per client, latencies per request. Standard
//! library only, so the xtask stays light.

use anyhow::{Context, Result, bail};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// One keep-alive connection.
pub struct Connection {
    stream: TcpStream,
    host: String,
    /// Bytes read past the previous response.
    buffer: Vec<u8>,
}

/// A response's status and body.
pub struct Response {
    pub status: u16,
    pub body: Vec<u8>,
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

impl Connection {
    pub fn open(addr: SocketAddr) -> Result<Connection> {
        let stream = TcpStream::connect(addr).with_context(|| format!("connecting to {addr}"))?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(Duration::from_secs(30)))?;
        Ok(Connection {
            stream,
            host: addr.to_string(),
            buffer: Vec::with_capacity(16 * 1024),
        })
    }

    /// Sends one request and reads its response (`Content-Length` framed,
    /// as the service answers).
    pub fn request(&mut self, method: &str, path: &str, body: Option<&[u8]>) -> Result<Response> {
        let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {}\r\n", self.host);
        if let Some(b) = body {
            head.push_str(&format!(
                "Content-Type: application/json\r\nContent-Length: {}\r\n",
                b.len()
            ));
        }
        head.push_str("\r\n");
        let mut message = head.into_bytes();
        if let Some(b) = body {
            message.extend_from_slice(b);
        }
        self.stream.write_all(&message)?;
        let header_end = loop {
            if let Some(i) = find(&self.buffer, b"\r\n\r\n") {
                break i + 4;
            }
            self.fill()?;
        };
        let header = String::from_utf8_lossy(&self.buffer[..header_end]).into_owned();
        let status: u16 = header
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .with_context(|| format!("no status line in {header:?}"))?;
        let length: usize = header
            .lines()
            .find_map(|l| {
                let (name, value) = l.split_once(':')?;
                name.eq_ignore_ascii_case("content-length")
                    .then(|| value.trim().parse().ok())
                    .flatten()
            })
            .with_context(|| format!("no Content-Length in {header:?}"))?;
        while self.buffer.len() < header_end + length {
            self.fill()?;
        }
        let body = self.buffer[header_end..header_end + length].to_vec();
        self.buffer.drain(..header_end + length);
        Ok(Response { status, body })
    }

    fn fill(&mut self) -> Result<()> {
        let mut chunk = [0u8; 16 * 1024];
        let n = self.stream.read(&mut chunk)?;
        if n == 0 {
            bail!("the server closed the connection");
        }
        self.buffer.extend_from_slice(&chunk[..n]);
        Ok(())
    }
}

/// A deterministic generator per client (xorshift), for user and item picks.
pub struct Pick(u64);

impl Pick {
    pub fn new(seed: u64) -> Pick {
        Pick(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn below(&mut self, n: usize) -> usize {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        (x % n.max(1) as u64) as usize
    }
}

/// What one load run measured.
#[derive(Clone, Debug, serde::Serialize)]
pub struct LoadFigures {
    pub clients: usize,
    pub requests: usize,
    pub seconds: f64,
    pub requests_per_second: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub errors: usize,
}

/// How long and how much to load.
#[derive(Clone, Copy, Debug)]
pub struct Budget {
    /// Not measured: connections and caches warm up.
    pub warmup: Duration,
    pub measure: Duration,
    /// At most this many measured requests over all clients.
    pub max_requests: usize,
}

/// Runs `clients` threads, each on its own connection, each sending
/// `next(client, &mut pick)` (method, path, body) in a loop, and measures
/// the requests sent after the warm-up.
pub fn run<F>(addr: SocketAddr, clients: usize, budget: Budget, next: F) -> Result<LoadFigures>
where
    F: Fn(&mut Pick) -> (&'static str, String, Option<Vec<u8>>) + Sync,
{
    let started = Instant::now();
    let measure_from = started + budget.warmup;
    let end = measure_from + budget.measure;
    let counted = Arc::new(AtomicUsize::new(0));
    let results: Vec<Result<(Vec<u32>, usize, Instant)>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..clients)
            .map(|client| {
                let (next, counted) = (&next, Arc::clone(&counted));
                scope.spawn(move || -> Result<(Vec<u32>, usize, Instant)> {
                    let mut connection = Connection::open(addr)?;
                    let mut pick = Pick::new(client as u64 + 1);
                    let mut latencies = Vec::new();
                    let mut errors = 0usize;
                    let mut last = Instant::now();
                    loop {
                        let sent = Instant::now();
                        if sent >= end || counted.load(Ordering::Relaxed) >= budget.max_requests {
                            return Ok((latencies, errors, last));
                        }
                        let (method, path, body) = next(&mut pick);
                        let response = connection.request(method, &path, body.as_deref())?;
                        let done = Instant::now();
                        if sent >= measure_from {
                            counted.fetch_add(1, Ordering::Relaxed);
                            latencies.push((done - sent).as_micros().min(u32::MAX as u128) as u32);
                            last = done;
                            if !(200..300).contains(&response.status) {
                                errors += 1;
                            }
                        }
                    }
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("a client thread panicked")))
            })
            .collect()
    });
    let mut all = Vec::new();
    let mut errors = 0;
    let mut finished = measure_from;
    for r in results {
        let (latencies, e, last) = r?;
        all.extend(latencies);
        errors += e;
        finished = finished.max(last);
    }
    if all.is_empty() {
        bail!("no request finished inside the measured window");
    }
    all.sort_unstable();
    let quantile = |q: f64| {
        let i = ((all.len() as f64 * q).ceil() as usize).clamp(1, all.len()) - 1;
        f64::from(all[i]) / 1000.0
    };
    let seconds = (finished - measure_from).as_secs_f64().max(1e-9);
    Ok(LoadFigures {
        clients,
        requests: all.len(),
        seconds,
        requests_per_second: all.len() as f64 / seconds,
        p50_ms: quantile(0.50),
        p99_ms: quantile(0.99),
        errors,
    })
}

/// A free port on 127.0.0.1.
pub fn free_port() -> Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0").context("finding a free port")?;
    Ok(listener.local_addr()?)
}

/// Item ids the model knows: the top 1000 of an empty anonymous sequence.
pub fn known_items(addr: SocketAddr) -> Result<Vec<String>> {
    let mut c = Connection::open(addr)?;
    let r = c.request(
        "POST",
        "/v1/recommendations",
        Some(br#"{"items":[],"k":1000}"#),
    )?;
    if r.status != 200 {
        bail!("anonymous recommendations answered {}", r.status);
    }
    let v: serde_json::Value = serde_json::from_slice(&r.body)?;
    let items: Vec<String> = v["items"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|i| i["item"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    if items.is_empty() {
        bail!("the model returned no items");
    }
    Ok(items)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    /// A tiny keep-alive server answering every request with `ok`: the
    /// client frames responses and counts them.
    #[test]
    fn the_client_keeps_one_connection_and_counts_requests() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
        let addr = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
        let server = std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap_or_else(|e| panic!("{e}"));
            let mut buffer = Vec::new();
            let mut chunk = [0u8; 4096];
            let mut answered = 0;
            while answered < 3 {
                let n = stream.read(&mut chunk).unwrap_or(0);
                if n == 0 {
                    break;
                }
                buffer.extend_from_slice(&chunk[..n]);
                while let Some(i) = find(&buffer, b"\r\n\r\n") {
                    buffer.drain(..i + 4);
                    let _ = stream.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok");
                    answered += 1;
                }
            }
            answered
        });
        let mut connection = Connection::open(addr).unwrap_or_else(|e| panic!("{e}"));
        for _ in 0..3 {
            let r = connection
                .request("GET", "/", None)
                .unwrap_or_else(|e| panic!("{e}"));
            assert_eq!((r.status, r.body.as_slice()), (200, b"ok".as_slice()));
        }
        assert_eq!(server.join().unwrap_or(0), 3);
    }

    #[test]
    fn picks_are_deterministic_and_in_range() {
        let (mut a, mut b) = (Pick::new(4), Pick::new(4));
        for _ in 0..100 {
            let x = a.below(7);
            assert_eq!(x, b.below(7));
            assert!(x < 7);
        }
    }
}
