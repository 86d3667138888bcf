//! The error every edge parser returns: which input field is wrong and why, in a sentence.

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct FieldError {
    pub field: &'static str,
    pub message: String,
}

impl FieldError {
    pub fn new(field: &'static str, message: impl Into<String>) -> Self {
        Self { field, message: message.into() }
    }
}

/// Why a repository write was refused: an input the database rejects (a duplicate, a reference
/// to something that is not there), or the database itself.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// The value of the field is already taken.
    #[error("{0}")]
    Duplicate(FieldError),
    #[error("{0}")]
    Invalid(FieldError),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}
