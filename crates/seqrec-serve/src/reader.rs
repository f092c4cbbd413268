//! The reader thread: recommendation reads scored together. It takes
//! every read waiting when it wakes and scores them in one pass; while
//! reads arrive concurrently it waits up to [`READ_WINDOW`] for more.

use crate::error::ServeError;
use crate::metrics::Metrics;
use crate::online::OnlineModel;
use crate::recommend::{RecommendRequest, UserRecommendations};
use crate::sync::{catch, lock};
use std::sync::Mutex;
use std::sync::mpsc;
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

/// The longest a read waits for others to share its scoring pass.
pub const READ_WINDOW: Duration = Duration::from_micros(200);

/// The most reads scored in one pass.
const MAX_READ_BATCH: usize = 256;

/// Where the answer to a read goes.
pub(crate) type ReadReply = oneshot::Sender<Result<UserRecommendations, ServeError>>;

/// The reader thread: takes the waiting reads, scores them in one pass,
/// answers each. Ends when the service drops its sender.
pub(crate) fn read_loop(
    model: &Mutex<OnlineModel>,
    metrics: &Metrics,
    rx: mpsc::Receiver<(RecommendRequest, ReadReply)>,
) {
    let mut concurrent = false;
    while let Ok(first) = rx.recv() {
        let taken = Instant::now();
        let mut batch = vec![first];
        batch.extend(rx.try_iter().take(MAX_READ_BATCH - 1));
        if concurrent || batch.len() > 1 {
            let deadline = taken + READ_WINDOW;
            while batch.len() < MAX_READ_BATCH {
                let left = deadline.saturating_duration_since(Instant::now());
                match rx.recv_timeout(left) {
                    Ok(read) => batch.push(read),
                    Err(_) => break,
                }
            }
        }
        concurrent = batch.len() > 1;
        metrics.queue_read(-(batch.len() as i64));
        metrics.observe_read_batch(batch.len());
        let (requests, replies): (Vec<_>, Vec<_>) = batch.into_iter().unzip();
        for (reply, answer) in replies.into_iter().zip(score(model, &requests)) {
            let _ = reply.send(answer);
        }
    }
}

/// One scoring pass for `requests`, one answer each; a panic fails this
/// pass only. (Scoring changes no state a panic could leave half-done: a
/// user's state is created whole, the hidden state set only once computed.)
pub(crate) fn score(
    model: &Mutex<OnlineModel>,
    requests: &[RecommendRequest],
) -> Vec<Result<UserRecommendations, ServeError>> {
    catch(|| lock(model).recommend_many(requests)).unwrap_or_else(|panic| {
        tracing::error!(reads = requests.len(), %panic, "scoring panicked");
        requests
            .iter()
            .map(|_| {
                Err(ServeError::Scoring(format!(
                    "internal error while scoring: {panic}"
                )))
            })
            .collect()
    })
}
