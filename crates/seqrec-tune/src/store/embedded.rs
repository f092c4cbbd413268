//! The embedded store: one redb file. redb locks the file for one process,
//! so every trial marked running when the file is opened belonged to a
//! process that is gone (killed, crashed): they are given back at once and
//! the next claim runs them again under the same numbers. Within the
//! process, `--jobs` workers share the handle; redb runs one write
//! transaction at a time, which makes each claim atomic.

use super::{
    Claim, ClaimDecision, ClaimRequest, Propose, StudyDefinition, StudyStore, decide_claim,
    finished, holds,
};
use crate::TuneError;
use crate::trial::{TrialOutcome, TrialRecord, TrialState};
use redb::{Database, ReadableTable, TableDefinition};
use std::path::{Path, PathBuf};

/// Study name → definition (JSON).
const STUDIES: TableDefinition<&str, &str> = TableDefinition::new("studies");
/// (study, trial number) → trial (JSON).
const TRIALS: TableDefinition<(&str, u64), &str> = TableDefinition::new("trials");

/// A study store in one redb file.
#[derive(Debug)]
pub struct EmbeddedStore {
    db: Database,
    path: PathBuf,
}

impl EmbeddedStore {
    /// Opens (or creates) the store at `path` and gives back the trials of
    /// processes that died while running them.
    pub fn open(path: &Path) -> Result<EmbeddedStore, TuneError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| TuneError::io(dir, e))?;
        }
        let db = Database::create(path).map_err(|e| match e {
            redb::DatabaseError::DatabaseAlreadyOpen => TuneError::Store {
                store: path.display().to_string(),
                message: "in use by another seqrec tune process (an embedded study belongs to one process, which may run several --jobs; to share a study between processes or machines, use PostgreSQL storage)".into(),
            },
            e => TuneError::Store {
                store: path.display().to_string(),
                message: e.to_string(),
            },
        })?;
        let store = EmbeddedStore {
            db,
            path: path.to_path_buf(),
        };
        let released = store.release_orphans()?;
        if released > 0 {
            tracing::warn!(
                store = %path.display(),
                trials = released,
                "trials left running by a process that stopped are given back and will run again"
            );
        }
        Ok(store)
    }

    fn error(&self, e: impl std::fmt::Display) -> TuneError {
        TuneError::Store {
            store: self.path.display().to_string(),
            message: e.to_string(),
        }
    }

    fn decode(&self, json: &str) -> Result<TrialRecord, TuneError> {
        serde_json::from_str(json)
            .map_err(|e| self.error(format!("a trial record is corrupt: {e}")))
    }

    fn encode(&self, trial: &TrialRecord) -> Result<String, TuneError> {
        serde_json::to_string(trial).map_err(|e| self.error(e))
    }

    /// Every running trial of every study back to waiting (the file lock
    /// says no other process holds any).
    fn release_orphans(&self) -> Result<usize, TuneError> {
        let txn = self.db.begin_write().map_err(|e| self.error(e))?;
        let mut released = 0;
        {
            txn.open_table(STUDIES).map_err(|e| self.error(e))?;
            let mut table = txn.open_table(TRIALS).map_err(|e| self.error(e))?;
            let mut orphans = Vec::new();
            for entry in table.iter().map_err(|e| self.error(e))? {
                let (key, value) = entry.map_err(|e| self.error(e))?;
                let trial = self.decode(value.value())?;
                if trial.state == TrialState::Running {
                    let (study, number) = key.value();
                    orphans.push((study.to_owned(), number, trial));
                }
            }
            for (study, number, mut trial) in orphans {
                trial.state = TrialState::Waiting;
                let json = self.encode(&trial)?;
                table
                    .insert((study.as_str(), number), json.as_str())
                    .map_err(|e| self.error(e))?;
                released += 1;
            }
        }
        txn.commit().map_err(|e| self.error(e))?;
        Ok(released)
    }

    fn read_trials(
        &self,
        table: &impl ReadableTable<(&'static str, u64), &'static str>,
        study: &str,
    ) -> Result<Vec<TrialRecord>, TuneError> {
        let mut trials = Vec::new();
        for entry in table
            .range((study, 0u64)..=(study, u64::MAX))
            .map_err(|e| self.error(e))?
        {
            let (_, value) = entry.map_err(|e| self.error(e))?;
            trials.push(self.decode(value.value())?);
        }
        Ok(trials)
    }

    /// Applies `change` to trial `number` in one transaction when `worker`
    /// holds it; returns the changed trial (`None`: not held).
    fn update_held(
        &self,
        study: &str,
        number: u64,
        worker: &str,
        change: impl FnOnce(TrialRecord) -> TrialRecord,
    ) -> Result<Option<TrialRecord>, TuneError> {
        let txn = self.db.begin_write().map_err(|e| self.error(e))?;
        let updated = {
            let mut table = txn.open_table(TRIALS).map_err(|e| self.error(e))?;
            let current = match table.get((study, number)).map_err(|e| self.error(e))? {
                Some(value) => Some(self.decode(value.value())?),
                None => None,
            };
            match current.filter(|t| holds(t, worker)) {
                Some(trial) => {
                    let trial = change(trial);
                    let json = self.encode(&trial)?;
                    table
                        .insert((study, number), json.as_str())
                        .map_err(|e| self.error(e))?;
                    Some(trial)
                }
                None => None,
            }
        };
        txn.commit().map_err(|e| self.error(e))?;
        Ok(updated)
    }
}

impl StudyStore for EmbeddedStore {
    fn describe(&self) -> String {
        self.path.display().to_string()
    }

    fn open_study(&self, definition: &StudyDefinition) -> Result<(), TuneError> {
        let txn = self.db.begin_write().map_err(|e| self.error(e))?;
        {
            let mut table = txn.open_table(STUDIES).map_err(|e| self.error(e))?;
            let stored = match table
                .get(definition.name.as_str())
                .map_err(|e| self.error(e))?
            {
                Some(value) => Some(
                    serde_json::from_str::<StudyDefinition>(value.value())
                        .map_err(|e| self.error(format!("the study record is corrupt: {e}")))?,
                ),
                None => None,
            };
            match stored {
                Some(stored) => {
                    if let Some(difference) = stored.difference(definition) {
                        return Err(TuneError::StudyMismatch {
                            study: definition.name.clone(),
                            store: self.describe(),
                            difference,
                        });
                    }
                }
                None => {
                    let json = serde_json::to_string(definition).map_err(|e| self.error(e))?;
                    table
                        .insert(definition.name.as_str(), json.as_str())
                        .map_err(|e| self.error(e))?;
                }
            }
        }
        txn.commit().map_err(|e| self.error(e))
    }

    fn definition(&self, study: &str) -> Result<Option<StudyDefinition>, TuneError> {
        let txn = self.db.begin_read().map_err(|e| self.error(e))?;
        let table = txn.open_table(STUDIES).map_err(|e| self.error(e))?;
        match table.get(study).map_err(|e| self.error(e))? {
            Some(value) => serde_json::from_str(value.value())
                .map(Some)
                .map_err(|e| self.error(format!("the study record is corrupt: {e}"))),
            None => Ok(None),
        }
    }

    fn claim(
        &self,
        study: &str,
        request: &ClaimRequest,
        propose: &mut Propose<'_>,
    ) -> Result<Claim, TuneError> {
        let txn = self.db.begin_write().map_err(|e| self.error(e))?;
        let claim = {
            let mut table = txn.open_table(TRIALS).map_err(|e| self.error(e))?;
            let trials = self.read_trials(&table, study)?;
            match decide_claim(&trials, request, propose)? {
                ClaimDecision::Write(trial) => {
                    let json = self.encode(&trial)?;
                    table
                        .insert((study, trial.number), json.as_str())
                        .map_err(|e| self.error(e))?;
                    Claim::Trial(trial)
                }
                ClaimDecision::Answer(answer) => answer,
            }
        };
        txn.commit().map_err(|e| self.error(e))?;
        Ok(claim)
    }

    fn heartbeat(
        &self,
        study: &str,
        number: u64,
        worker: &str,
        now_ms: u64,
    ) -> Result<bool, TuneError> {
        Ok(self
            .update_held(study, number, worker, |mut t| {
                t.heartbeat_ms = now_ms;
                t
            })?
            .is_some())
    }

    fn report(
        &self,
        study: &str,
        number: u64,
        worker: &str,
        epoch: u64,
        value: f64,
    ) -> Result<Option<Vec<TrialRecord>>, TuneError> {
        let held = self.update_held(study, number, worker, |mut t| {
            t.intermediate.insert(epoch, value);
            t
        })?;
        match held {
            Some(_) => self.trials(study).map(Some),
            None => Ok(None),
        }
    }

    fn finish(
        &self,
        study: &str,
        number: u64,
        worker: &str,
        outcome: &TrialOutcome,
        now_ms: u64,
    ) -> Result<bool, TuneError> {
        Ok(self
            .update_held(study, number, worker, |t| finished(t, outcome, now_ms))?
            .is_some())
    }

    fn release(&self, study: &str, number: u64, worker: &str) -> Result<(), TuneError> {
        self.update_held(study, number, worker, |mut t| {
            t.state = TrialState::Waiting;
            t
        })?;
        Ok(())
    }

    fn trials(&self, study: &str) -> Result<Vec<TrialRecord>, TuneError> {
        let txn = self.db.begin_read().map_err(|e| self.error(e))?;
        let table = txn.open_table(TRIALS).map_err(|e| self.error(e))?;
        self.read_trials(&table, study)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::space::Params;

    fn request(worker: &str, now_ms: u64, target: u64) -> ClaimRequest {
        ClaimRequest {
            worker: worker.into(),
            now_ms,
            stale_after_ms: 1000,
            target,
        }
    }

    fn propose_numbered(n: u64, _: &[TrialRecord]) -> Result<Option<Params>, TuneError> {
        Ok(Some(Params::from([("n".to_owned(), n.into())])))
    }

    #[test]
    fn claims_heartbeats_orphans_and_reopening() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("study.db");
        {
            let store = EmbeddedStore::open(&path).expect("open");
            let claim = |w: &str, now: u64| {
                store
                    .claim("s", &request(w, now, 3), &mut propose_numbered)
                    .expect("claim")
            };
            let Claim::Trial(t0) = claim("a", 0) else {
                panic!("no trial")
            };
            let Claim::Trial(t1) = claim("b", 0) else {
                panic!("no trial")
            };
            assert_eq!((t0.number, t1.number), (0, 1));
            // Only the holder may finish.
            let done = TrialOutcome::Complete {
                value: 0.5,
                fit_seconds: 1.0,
                eval_seconds: 1.0,
            };
            assert!(!store.finish("s", 0, "b", &done, 1).expect("finish"));
            assert!(store.finish("s", 0, "a", &done, 1).expect("finish"));
            // b keeps its heartbeat; a new number is claimed.
            assert!(store.heartbeat("s", 1, "b", 900).expect("heartbeat"));
            let Claim::Trial(t2) = claim("a", 1500) else {
                panic!("no trial")
            };
            assert_eq!(t2.number, 2);
            // All three numbers are out and running: wait.
            assert_eq!(claim("c", 1600), Claim::Wait);
            // b goes silent: after the timeout, its trial is claimed again
            // under the same number and settings, and b can no longer finish it.
            let Claim::Trial(again) = claim("c", 2000) else {
                panic!("no trial")
            };
            assert_eq!((again.number, again.attempts), (1, 2));
            assert_eq!(again.params, t1.params);
            assert!(!store.finish("s", 1, "b", &done, 2001).expect("finish"));
            assert!(store.finish("s", 1, "c", &done, 2001).expect("finish"));
        }
        // Reopened (the process that held trial 2 is gone): it waits for a worker.
        let store = EmbeddedStore::open(&path).expect("reopen");
        let trials = store.trials("s").expect("trials");
        assert_eq!(trials.len(), 3);
        assert_eq!(trials[2].state, TrialState::Waiting);
        let Claim::Trial(t) = store
            .claim("s", &request("d", 0, 3), &mut propose_numbered)
            .expect("claim")
        else {
            panic!("no trial")
        };
        assert_eq!(t.number, 2);
        assert!(
            store
                .finish("s", 2, "d", &TrialOutcome::Failed { error: "x".into() }, 5)
                .expect("finish")
        );
        assert_eq!(
            store
                .claim("s", &request("d", 0, 3), &mut propose_numbered)
                .expect("claim"),
            Claim::Done
        );
    }

    #[test]
    fn a_second_process_is_refused_with_a_clear_message() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("study.db");
        let _first = EmbeddedStore::open(&path).expect("open");
        // Within one process redb refuses a second handle the same way.
        let error = EmbeddedStore::open(&path)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            error.contains("in use by another") && error.contains("PostgreSQL"),
            "{error}"
        );
    }
}
