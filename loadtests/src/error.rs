//! Twilio-shaped API errors: an HTTP status and Twilio's JSON error body
//! (`{"code":21211,"message":"...","more_info":"...","status":400}`).

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use switchboard_sender::twilio::resource::ErrorBody;

/// An answer the Messages API gives instead of a resource.
#[derive(Clone, Debug, PartialEq)]
pub struct ApiError(pub ErrorBody);

impl ApiError {
    pub fn new(status: StatusCode, code: i64, message: impl Into<String>) -> Self {
        Self(ErrorBody::new(status.as_u16(), code, message))
    }

    pub fn bad_request(code: i64, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn unauthenticated() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, 20003, "Authenticate")
    }

    pub fn too_many_requests() -> Self {
        Self::new(StatusCode::TOO_MANY_REQUESTS, 20429, "Too Many Requests")
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, 20404, format!("The requested resource {what} was not found"))
    }

    pub fn code(&self) -> i64 {
        self.0.code
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.0.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = (status, Json(self.0)).into_response();
        if status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert("www-authenticate", axum::http::HeaderValue::from_static("Basic realm=\"Twilio API\""));
        }
        response
    }
}
