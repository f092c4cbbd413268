//! One event as the service receives, stores and applies it (a leaf:
//! the store and the online model both use it).

/// One event: `user` consumed `item` (original ids), at `timestamp` (seconds;
/// absent: the time of the user's previous event, or 0).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    pub user: String,
    pub item: String,
    pub timestamp: Option<i64>,
    /// The sender's id of the event: a second event of the same user with
    /// the same id is a repeat (a retry), stored and applied once only.
    pub event_id: Option<String>,
}

impl Event {
    pub fn new(user: impl Into<String>, item: impl Into<String>, timestamp: Option<i64>) -> Self {
        Event {
            user: user.into(),
            item: item.into(),
            timestamp,
            event_id: None,
        }
    }

    /// This event with the sender's id `id`.
    pub fn with_id(mut self, id: impl Into<String>) -> Self {
        self.event_id = Some(id.into());
        self
    }
}
