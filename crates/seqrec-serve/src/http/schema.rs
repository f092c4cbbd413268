//! The API's bodies as types: what the handlers take and answer, and what
//! the OpenAPI document at `/v1/openapi.json` is generated from (utoipa),
//! so the document cannot drift from the code.

use super::default_k;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// One event: `user` consumed `item` (original ids).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EventIn {
    pub user: String,
    pub item: String,
    /// Seconds; absent: the user's previous event's time, or 0.
    #[serde(default)]
    pub timestamp: Option<i64>,
    /// The sender's id of the event: a repeat of a user's id is answered
    /// (counted in `duplicates`) but never stored or applied twice.
    #[serde(default)]
    pub event_id: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EventsIn {
    pub events: Vec<EventIn>,
}

/// Answered once the events are durable.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventsOut {
    /// Events taken (repeats excluded).
    pub accepted: usize,
    /// Repeats of an event id the user sent before.
    pub duplicates: usize,
    /// Events whose item the model does not know (stored, no state change).
    pub unknown_items: usize,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeletedOut {
    pub user: String,
    pub deleted: bool,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReloadIn {
    /// Another model directory (default: the one being served).
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub model: Option<std::path::PathBuf>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReloadOut {
    /// The model directory now served.
    pub model: String,
    /// Stored events below it are in the model's data.
    pub log_position: u64,
    /// Users warm from the model's snapshot.
    pub resident_users: usize,
    /// Stored events applied to them before the swap.
    pub replayed: usize,
    pub skipped_unknown_items: usize,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RecommendQuery {
    /// How many items (1 to 1,000).
    #[serde(default = "default_k")]
    #[param(default = 20, minimum = 1, maximum = 1000)]
    pub k: usize,
    /// Leave out the items the user has consumed.
    #[serde(default)]
    pub exclude_seen: bool,
    /// Item ids to leave out, comma-separated (up to 1,000).
    #[serde(default)]
    pub exclude: Option<String>,
}

/// One recommended item.
#[derive(Debug, Serialize, ToSchema)]
pub struct ItemOut {
    pub item: String,
    pub score: f32,
    pub title: Option<String>,
}

/// A user's top items.
#[derive(Debug, Serialize, ToSchema)]
pub struct RecommendationsOut {
    pub user: String,
    pub items: Vec<ItemOut>,
    /// The version of the model that ranked them.
    pub model_version: String,
    /// Present (true) for a user the service does not know: the
    /// recommendations of an empty state.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cold_start: Option<bool>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchIn {
    /// 1 to 1,000 users, scored in one pass.
    pub users: Vec<String>,
    #[serde(default = "default_k")]
    #[schema(default = 20, minimum = 1, maximum = 1000)]
    pub k: usize,
    #[serde(default)]
    pub exclude_seen: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BatchOut {
    pub results: Vec<RecommendationsOut>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AnonymousIn {
    /// At most 1,000 items (original ids; unknown ones are skipped).
    pub items: Vec<String>,
    #[serde(default = "default_k")]
    #[schema(default = 20, minimum = 1, maximum = 1000)]
    pub k: usize,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AnonymousOut {
    pub items: Vec<ItemOut>,
    pub model_version: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HealthOut {
    /// `ok`, or `unavailable` when a worker thread has stopped.
    pub status: String,
    pub method: String,
    pub dataset: String,
    pub users: usize,
    pub items: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProbeOut {
    /// `ok` / `ready`, or why not (`unavailable`, `draining`).
    pub status: String,
}

/// An error: an RFC 9457 problem document.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// `urn:seqrec:problem:<kind>`, stable across versions.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// The same message as `detail` (as earlier versions answered).
    pub error: String,
    /// 421 only: the partition that owns the user.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner: Option<u32>,
}
