use thiserror::Error;

/// Errors of the core types.
#[derive(Debug, Error)]
pub enum CoreError {
    /// A CSR table whose parts do not fit together.
    #[error("invalid user sequences: {0}")]
    InvalidSequences(String),
    /// A split configuration outside its domain.
    #[error("invalid split configuration: {0}")]
    InvalidSplitConfig(String),
    /// An item id at or beyond the number of items.
    #[error("item id {item} is outside the {items} known items")]
    ItemOutOfRange { item: u32, items: usize },
}
