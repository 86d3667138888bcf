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

/// A [`FieldError`] whose field is a path computed at run time: `steps[1].templates[0]`,
/// `leads[42].phone`. Parsers of nested input return it; the server answers it like a
/// `FieldError`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct InputError {
    pub field: String,
    pub message: String,
}

impl InputError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self { field: field.into(), message: message.into() }
    }
}

impl From<FieldError> for InputError {
    fn from(e: FieldError) -> Self {
        Self { field: e.field.to_owned(), message: e.message }
    }
}
