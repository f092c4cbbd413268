//! Where a study lives: one interface, [`StudyStore`], and two
//! implementations: an embedded one (a redb file, the default) for one
//! process, and PostgreSQL for workers on many machines. Every change of a trial is
//! one transaction, so each trial number is claimed exactly once; a trial
//! whose worker stopped sending heartbeats is claimed again under the same
//! number and settings.

mod embedded;
mod pg;

pub use embedded::EmbeddedStore;
pub use pg::PostgresStore;

use crate::TuneError;
use crate::settings::{PrunerKind, SamplerKind};
use crate::space::{Params, Space};
use crate::trial::{TrialOutcome, TrialRecord, TrialState};
use serde::{Deserialize, Serialize};

/// What makes a study the same study when it is resumed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StudyDefinition {
    pub name: String,
    pub method: String,
    pub dataset: String,
    pub metric: String,
    pub sampler: SamplerKind,
    pub pruner: PrunerKind,
    pub seed: u64,
    pub space: Space,
    /// Hash of the starting settings, the data options and the evaluation.
    pub settings_hash: String,
}

impl StudyDefinition {
    /// The first field in which `other` differs, for the error message.
    pub fn difference(&self, other: &StudyDefinition) -> Option<String> {
        let fields = [
            ("method", self.method != other.method),
            ("dataset", self.dataset != other.dataset),
            ("metric", self.metric != other.metric),
            ("sampler", self.sampler != other.sampler),
            ("pruner", self.pruner != other.pruner),
            ("seed", self.seed != other.seed),
            ("search space", self.space != other.space),
            (
                "starting settings",
                self.settings_hash != other.settings_hash,
            ),
        ];
        fields
            .iter()
            .find(|(_, differs)| *differs)
            .map(|(name, _)| (*name).to_owned())
    }
}

/// Who asks for a trial, and the rules of the claim.
#[derive(Clone, Debug)]
pub struct ClaimRequest {
    pub worker: String,
    pub now_ms: u64,
    /// A running trial whose last heartbeat is older than this is orphaned.
    pub stale_after_ms: u64,
    /// The study's number of trials.
    pub target: u64,
}

/// The answer to a claim.
#[derive(Clone, Debug, PartialEq)]
pub enum Claim {
    /// Run this trial.
    Trial(TrialRecord),
    /// Nothing to start now, but trials are running elsewhere (one may be
    /// given back); ask again later.
    Wait,
    /// Every trial is finished (or the grid is exhausted).
    Done,
}

/// Proposes the settings of a new trial number given the finished trials
/// (`None`: the sampler has nothing more).
pub type Propose<'a> = dyn FnMut(u64, &[TrialRecord]) -> Result<Option<Params>, TuneError> + 'a;

/// A study store. Implementations run each method as one transaction.
pub trait StudyStore: Send + Sync {
    /// The store, for messages (`study.db`, `postgres://host/db`).
    fn describe(&self) -> String;
    /// Creates the study, or checks that the stored one has this definition.
    fn open_study(&self, definition: &StudyDefinition) -> Result<(), TuneError>;
    /// The next trial for `request.worker`: a trial given back or orphaned
    /// first (its number and settings kept), else a new number.
    fn claim(
        &self,
        study: &str,
        request: &ClaimRequest,
        propose: &mut Propose<'_>,
    ) -> Result<Claim, TuneError>;
    /// Keeps a claim alive; `false` when the worker no longer holds it.
    fn heartbeat(
        &self,
        study: &str,
        number: u64,
        worker: &str,
        now_ms: u64,
    ) -> Result<bool, TuneError>;
    /// Records a per-epoch value and returns every trial (for the pruner);
    /// `None` when the worker no longer holds the trial.
    fn report(
        &self,
        study: &str,
        number: u64,
        worker: &str,
        epoch: u64,
        value: f64,
    ) -> Result<Option<Vec<TrialRecord>>, TuneError>;
    /// Ends a trial; `false` (and nothing written) when the worker no
    /// longer holds it, so a trial is never finished twice.
    fn finish(
        &self,
        study: &str,
        number: u64,
        worker: &str,
        outcome: &TrialOutcome,
        now_ms: u64,
    ) -> Result<bool, TuneError>;
    /// Gives a running trial back (Ctrl-C): the next claim runs it again.
    fn release(&self, study: &str, number: u64, worker: &str) -> Result<(), TuneError>;
    /// Every trial of the study, by number.
    fn trials(&self, study: &str) -> Result<Vec<TrialRecord>, TuneError>;
    /// The stored definition, if the study exists.
    fn definition(&self, study: &str) -> Result<Option<StudyDefinition>, TuneError>;
}

/// What a claim changes: the trial to write, or nothing.
#[derive(Debug)]
pub(crate) enum ClaimDecision {
    Write(TrialRecord),
    Answer(Claim),
}

/// The claim rule every store applies inside its transaction, on the
/// study's trials (sorted by number): first a trial given back or
/// orphaned (its heartbeat older than `stale_after_ms`), lowest number
/// first, with its settings kept; else a new number, if the study wants
/// more trials and the sampler has any; else wait while trials run.
pub(crate) fn decide_claim(
    trials: &[TrialRecord],
    request: &ClaimRequest,
    propose: &mut Propose<'_>,
) -> Result<ClaimDecision, TuneError> {
    let orphaned = |t: &TrialRecord| {
        t.state == TrialState::Waiting
            || (t.state == TrialState::Running
                && t.heartbeat_ms.saturating_add(request.stale_after_ms) < request.now_ms)
    };
    if let Some(t) = trials.iter().find(|t| orphaned(t)) {
        if t.state == TrialState::Running {
            tracing::warn!(
                trial = t.number,
                worker = t.worker.as_deref().unwrap_or("?"),
                "trial orphaned (no heartbeat); running it again"
            );
        }
        return Ok(ClaimDecision::Write(
            t.reclaimed(&request.worker, request.now_ms),
        ));
    }
    let next = trials.last().map_or(0, |t| t.number + 1);
    let running = trials.iter().any(|t| t.state == TrialState::Running);
    if next < request.target {
        let finished: Vec<TrialRecord> = trials
            .iter()
            .filter(|t| t.state.is_finished())
            .cloned()
            .collect();
        if let Some(params) = propose(next, &finished)? {
            return Ok(ClaimDecision::Write(TrialRecord::claimed(
                next,
                params,
                &request.worker,
                request.now_ms,
            )));
        }
    }
    Ok(ClaimDecision::Answer(if running {
        Claim::Wait
    } else {
        Claim::Done
    }))
}

/// `trial` as `outcome` leaves it.
pub(crate) fn finished(mut trial: TrialRecord, outcome: &TrialOutcome, now_ms: u64) -> TrialRecord {
    trial.finished_ms = Some(now_ms);
    match outcome {
        TrialOutcome::Complete {
            value,
            fit_seconds,
            eval_seconds,
        } => {
            trial.state = TrialState::Complete;
            trial.value = Some(*value);
            trial.fit_seconds = Some(*fit_seconds);
            trial.eval_seconds = Some(*eval_seconds);
        }
        TrialOutcome::Pruned { epoch, fit_seconds } => {
            trial.state = TrialState::Pruned;
            trial.value = trial.intermediate.get(epoch).copied();
            trial.fit_seconds = Some(*fit_seconds);
        }
        TrialOutcome::Failed { error } => {
            trial.state = TrialState::Failed;
            trial.error = Some(error.clone());
        }
    }
    trial
}

/// Whether `worker` holds `trial` now.
pub(crate) fn holds(trial: &TrialRecord, worker: &str) -> bool {
    trial.state == TrialState::Running && trial.worker.as_deref() == Some(worker)
}

/// Opens the store `spec` names: `postgres://…` (or `postgresql://…`) is
/// PostgreSQL, anything else a file path (embedded).
pub fn open_store(spec: &str) -> Result<Box<dyn StudyStore>, TuneError> {
    if spec.starts_with("postgres://") || spec.starts_with("postgresql://") {
        return Ok(Box::new(PostgresStore::connect(spec)?));
    }
    Ok(Box::new(EmbeddedStore::open(std::path::Path::new(spec))?))
}

/// A connection string without its password, for messages.
pub fn redact(spec: &str) -> String {
    match (spec.find("://"), spec.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let credentials = &spec[scheme + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &spec[..scheme + 3], &spec[at..]),
                None => spec.to_owned(),
            }
        }
        _ => spec.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_reach_a_message() {
        assert_eq!(
            redact("postgres://tuner:s3cret@db.example:5432/studies"),
            "postgres://tuner:***@db.example:5432/studies"
        );
        assert_eq!(redact("study.db"), "study.db");
    }
}
