//! The one error type handlers return. Every error leaves as JSON `{code, message, field?}` with
//! a 4xx/5xx status; internal details go to the log, never to the client.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

/// The JSON body of every error response.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// Stable machine-readable code, e.g. `validation_failed`, `forbidden`, `not_found`.
    pub code: &'static str,
    /// A sentence for people.
    pub message: String,
    /// The request field at fault, when there is one (dotted path).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

#[derive(Debug)]
pub enum ApiError {
    /// 400 with a field name.
    Validation {
        field: String,
        message: String,
    },
    /// 400 for a body that is not valid JSON of the expected shape.
    BadRequest {
        code: &'static str,
        message: String,
        field: Option<String>,
    },
    Unauthenticated,
    InvalidCredentials,
    Forbidden,
    CsrfFailed,
    /// A webhook whose X-Twilio-Signature is missing or wrong.
    BadSignature,
    NotFound,
    Conflict {
        code: &'static str,
        message: String,
    },
    /// 409: the record's state does not allow this; `field` names what is in the way (e.g.
    /// `status` for a lifecycle move that does not exist, `crusade_id` for a campaign its
    /// crusade drives).
    ConflictOn {
        code: &'static str,
        field: String,
        message: String,
    },
    /// 409: the value of `field` is already taken (e.g. a SID or phone number the workspace has).
    Duplicate {
        field: String,
        message: String,
    },
    PayloadTooLarge,
    UnsupportedMediaType,
    /// 415 for an endpoint that takes another body type than JSON (e.g. `text/csv`).
    ExpectedMediaType(&'static str),
    RateLimited {
        retry_after_secs: u64,
    },
    Internal(anyhow::Error),
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn validation(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Validation { field: field.into(), message: message.into() }
    }

    fn parts(&self) -> (StatusCode, &'static str, String, Option<String>) {
        use ApiError::*;
        match self {
            Validation { field, message } => {
                (StatusCode::BAD_REQUEST, "validation_failed", message.clone(), Some(field.clone()))
            }
            BadRequest { code, message, field } => (StatusCode::BAD_REQUEST, code, message.clone(), field.clone()),
            Unauthenticated => (StatusCode::UNAUTHORIZED, "unauthenticated", "Sign in first.".into(), None),
            InvalidCredentials => {
                (StatusCode::UNAUTHORIZED, "invalid_credentials", "Wrong email or password.".into(), None)
            }
            Forbidden => (StatusCode::FORBIDDEN, "forbidden", "Your role does not allow this.".into(), None),
            CsrfFailed => (
                StatusCode::FORBIDDEN,
                "csrf_failed",
                "Missing or wrong X-CSRF-Token header for a cookie-authenticated request.".into(),
                None,
            ),
            BadSignature => (
                StatusCode::FORBIDDEN,
                "bad_signature",
                "The X-Twilio-Signature header is missing or does not match.".into(),
                None,
            ),
            NotFound => (StatusCode::NOT_FOUND, "not_found", "No such resource.".into(), None),
            Conflict { code, message } => (StatusCode::CONFLICT, code, message.clone(), None),
            ConflictOn { code, field, message } => (StatusCode::CONFLICT, code, message.clone(), Some(field.clone())),
            Duplicate { field, message } => (StatusCode::CONFLICT, "duplicate", message.clone(), Some(field.clone())),
            PayloadTooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                "The request body is larger than this server accepts.".into(),
                None,
            ),
            UnsupportedMediaType => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "Send the body as application/json.".into(),
                None,
            ),
            ExpectedMediaType(mime) => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                format!("Send the body as {mime}."),
                None,
            ),
            RateLimited { retry_after_secs } => (
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                format!("Too many attempts; try again in {retry_after_secs} s."),
                None,
            ),
            Internal(_) => {
                (StatusCode::INTERNAL_SERVER_ERROR, "internal", "Something went wrong on our side.".into(), None)
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let ApiError::Internal(e) = &self {
            tracing::error!(error = format!("{e:#}"), "internal error");
        }
        let (status, code, message, field) = self.parts();
        let mut response = (status, axum::Json(ErrorBody { code, message, field })).into_response();
        if let ApiError::RateLimited { retry_after_secs } = self {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
        }
        response
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        Self::Internal(e.into())
    }
}

impl From<anyhow::Error> for ApiError {
    fn from(e: anyhow::Error) -> Self {
        Self::Internal(e)
    }
}

impl From<switchboard_sender::FieldError> for ApiError {
    fn from(e: switchboard_sender::FieldError) -> Self {
        Self::Validation { field: e.field.to_owned(), message: e.message }
    }
}

impl From<switchboard_sender::InputError> for ApiError {
    fn from(e: switchboard_sender::InputError) -> Self {
        Self::Validation { field: e.field, message: e.message }
    }
}

impl From<switchboard_sender::WriteError> for ApiError {
    fn from(e: switchboard_sender::WriteError) -> Self {
        match e {
            switchboard_sender::WriteError::Duplicate(f) => {
                Self::Duplicate { field: f.field.to_owned(), message: f.message }
            }
            switchboard_sender::WriteError::Invalid(f) => f.into(),
            switchboard_sender::WriteError::Db(e) => e.into(),
        }
    }
}

/// Fallback for unknown routes under /api.
pub async fn not_found() -> ApiError {
    ApiError::NotFound
}
