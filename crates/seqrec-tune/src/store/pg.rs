//! The PostgreSQL store: one study shared by workers on many machines.
//! A claim locks the study's row (`SELECT ... FOR UPDATE`), so claims of
//! one study run one at a time and each trial number is claimed once.
//! Heartbeats and staleness use the database server's clock, so the
//! workers' clocks need not agree. Records are JSON text, readable with
//! any SQL client:
//!
//! ```sql
//! SELECT number, record::json->>'state', record::json->>'value'
//! FROM seqrec_trials WHERE study = 'gru-ml-10m' ORDER BY number;
//! ```

use super::{
    Claim, ClaimDecision, ClaimRequest, Propose, StudyDefinition, StudyStore, decide_claim,
    finished, holds, redact,
};
use crate::TuneError;
use crate::trial::{TrialOutcome, TrialRecord, TrialState};
use postgres::types::ToSql;
use postgres::{Client, NoTls, Transaction};
use std::sync::Mutex;

/// Serialises the creation of the tables between processes.
const SCHEMA_LOCK: i64 = 0x5345_5152_4543; // "SEQREC"

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS seqrec_studies (
    name TEXT PRIMARY KEY,
    definition TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS seqrec_trials (
    study TEXT NOT NULL REFERENCES seqrec_studies (name),
    number BIGINT NOT NULL,
    record TEXT NOT NULL,
    PRIMARY KEY (study, number)
);";

/// A study store in a PostgreSQL database.
pub struct PostgresStore {
    client: Mutex<Client>,
    /// The connection string without its password.
    name: String,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore")
            .field("name", &self.name)
            .finish()
    }
}

impl PostgresStore {
    /// Connects (`postgres://user:password@host:port/database`) and creates
    /// the two tables where they are missing.
    pub fn connect(url: &str) -> Result<PostgresStore, TuneError> {
        let name = redact(url);
        let error = |e: postgres::Error| TuneError::Store {
            store: name.clone(),
            message: e.to_string(),
        };
        let mut client = Client::connect(url, NoTls).map_err(error)?;
        client
            .execute("SELECT pg_advisory_lock($1)", &[&SCHEMA_LOCK])
            .map_err(error)?;
        let created = client.batch_execute(SCHEMA).map_err(error);
        client
            .execute("SELECT pg_advisory_unlock($1)", &[&SCHEMA_LOCK])
            .map_err(error)?;
        created?;
        Ok(PostgresStore {
            client: Mutex::new(client),
            name,
        })
    }

    fn error(&self, e: impl std::fmt::Display) -> TuneError {
        TuneError::Store {
            store: self.name.clone(),
            message: e.to_string(),
        }
    }

    /// Runs `work` in one transaction.
    fn transaction<T>(
        &self,
        work: impl FnOnce(&mut Transaction<'_>) -> Result<T, TuneError>,
    ) -> Result<T, TuneError> {
        let mut client = self.client.lock().unwrap_or_else(|e| e.into_inner());
        let mut txn = client.transaction().map_err(|e| self.error(e))?;
        let value = work(&mut txn)?;
        txn.commit().map_err(|e| self.error(e))?;
        Ok(value)
    }

    fn now_ms(&self, txn: &mut Transaction<'_>) -> Result<u64, TuneError> {
        let row = txn
            .query_one(
                "SELECT (extract(epoch FROM clock_timestamp()) * 1000)::BIGINT",
                &[],
            )
            .map_err(|e| self.error(e))?;
        Ok(row.get::<_, i64>(0).max(0) as u64)
    }

    fn decode(&self, json: &str) -> Result<TrialRecord, TuneError> {
        serde_json::from_str(json)
            .map_err(|e| self.error(format!("a trial record is corrupt: {e}")))
    }

    fn read_trials(
        &self,
        txn: &mut Transaction<'_>,
        study: &str,
    ) -> Result<Vec<TrialRecord>, TuneError> {
        let rows = txn
            .query(
                "SELECT record FROM seqrec_trials WHERE study = $1 ORDER BY number",
                &[&study],
            )
            .map_err(|e| self.error(e))?;
        rows.iter().map(|r| self.decode(r.get(0))).collect()
    }

    fn write(
        &self,
        txn: &mut Transaction<'_>,
        study: &str,
        trial: &TrialRecord,
    ) -> Result<(), TuneError> {
        let json = serde_json::to_string(trial).map_err(|e| self.error(e))?;
        txn.execute(
            "INSERT INTO seqrec_trials (study, number, record) VALUES ($1, $2, $3)
             ON CONFLICT (study, number) DO UPDATE SET record = EXCLUDED.record",
            &[&study as &(dyn ToSql + Sync), &(trial.number as i64), &json],
        )
        .map_err(|e| self.error(e))?;
        Ok(())
    }

    /// Applies `change` to trial `number` when `worker` holds it.
    fn update_held(
        &self,
        study: &str,
        number: u64,
        worker: &str,
        change: impl FnOnce(TrialRecord, u64) -> TrialRecord,
    ) -> Result<Option<TrialRecord>, TuneError> {
        self.transaction(|txn| {
            let row = txn
                .query_opt(
                    "SELECT record FROM seqrec_trials WHERE study = $1 AND number = $2 FOR UPDATE",
                    &[&study as &(dyn ToSql + Sync), &(number as i64)],
                )
                .map_err(|e| self.error(e))?;
            let Some(row) = row else { return Ok(None) };
            let trial = self.decode(row.get(0))?;
            if !holds(&trial, worker) {
                return Ok(None);
            }
            let now = self.now_ms(txn)?;
            let trial = change(trial, now);
            self.write(txn, study, &trial)?;
            Ok(Some(trial))
        })
    }
}

impl StudyStore for PostgresStore {
    fn describe(&self) -> String {
        self.name.clone()
    }

    fn open_study(&self, definition: &StudyDefinition) -> Result<(), TuneError> {
        let json = serde_json::to_string(definition).map_err(|e| self.error(e))?;
        self.transaction(|txn| {
            txn.execute(
                "INSERT INTO seqrec_studies (name, definition) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
                &[&definition.name, &json],
            )
            .map_err(|e| self.error(e))?;
            let row = txn
                .query_one(
                    "SELECT definition FROM seqrec_studies WHERE name = $1",
                    &[&definition.name],
                )
                .map_err(|e| self.error(e))?;
            let stored: StudyDefinition = serde_json::from_str(row.get(0))
                .map_err(|e| self.error(format!("the study record is corrupt: {e}")))?;
            match stored.difference(definition) {
                Some(difference) => Err(TuneError::StudyMismatch {
                    study: definition.name.clone(),
                    store: self.describe(),
                    difference,
                }),
                None => Ok(()),
            }
        })
    }

    fn definition(&self, study: &str) -> Result<Option<StudyDefinition>, TuneError> {
        self.transaction(|txn| {
            let row = txn
                .query_opt(
                    "SELECT definition FROM seqrec_studies WHERE name = $1",
                    &[&study],
                )
                .map_err(|e| self.error(e))?;
            row.map(|r| {
                serde_json::from_str(r.get(0))
                    .map_err(|e| self.error(format!("the study record is corrupt: {e}")))
            })
            .transpose()
        })
    }

    fn claim(
        &self,
        study: &str,
        request: &ClaimRequest,
        propose: &mut Propose<'_>,
    ) -> Result<Claim, TuneError> {
        self.transaction(|txn| {
            // One claim of this study at a time, across every machine.
            txn.query_one(
                "SELECT name FROM seqrec_studies WHERE name = $1 FOR UPDATE",
                &[&study],
            )
            .map_err(|e| self.error(e))?;
            let trials = self.read_trials(txn, study)?;
            let request = ClaimRequest {
                now_ms: self.now_ms(txn)?,
                ..request.clone()
            };
            match decide_claim(&trials, &request, propose)? {
                ClaimDecision::Write(trial) => {
                    self.write(txn, study, &trial)?;
                    Ok(Claim::Trial(trial))
                }
                ClaimDecision::Answer(answer) => Ok(answer),
            }
        })
    }

    fn heartbeat(&self, study: &str, number: u64, worker: &str, _: u64) -> Result<bool, TuneError> {
        Ok(self
            .update_held(study, number, worker, |mut t, now| {
                t.heartbeat_ms = now;
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
        let held = self.update_held(study, number, worker, |mut t, now| {
            t.intermediate.insert(epoch, value);
            t.heartbeat_ms = now;
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
        _: u64,
    ) -> Result<bool, TuneError> {
        Ok(self
            .update_held(study, number, worker, |t, now| finished(t, outcome, now))?
            .is_some())
    }

    fn release(&self, study: &str, number: u64, worker: &str) -> Result<(), TuneError> {
        self.update_held(study, number, worker, |mut t, _| {
            t.state = TrialState::Waiting;
            t
        })?;
        Ok(())
    }

    fn trials(&self, study: &str) -> Result<Vec<TrialRecord>, TuneError> {
        self.transaction(|txn| self.read_trials(txn, study))
    }
}
