//! Request extractors whose rejections are `ApiError`s: a malformed body, path or query string
//! gets a 4xx JSON answer naming the field, never a plain-text or 500 response.

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header::CONTENT_TYPE;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::error::ApiError;

/// JSON request body (and response). Requires `Content-Type: application/json`.
pub struct Json<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Json<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let is_json = req
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|mime| {
                let mime = mime.trim();
                mime.eq_ignore_ascii_case("application/json") || mime.ends_with("+json")
            });
        if !is_json {
            return Err(ApiError::UnsupportedMediaType);
        }
        let bytes = Bytes::from_request(req, state).await.map_err(bytes_rejection)?;
        parse_json(&bytes).map(Json)
    }
}

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

/// A CSV request body. Requires `Content-Type: text/csv`.
pub struct Csv(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for Csv {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let is_csv = req
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("text/csv"));
        if !is_csv {
            return Err(ApiError::ExpectedMediaType("text/csv"));
        }
        Bytes::from_request(req, state).await.map(Csv).map_err(bytes_rejection)
    }
}

/// Parses JSON, reporting the path of the offending field.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let inner = e.inner();
        let message = inner.to_string();
        if inner.is_syntax() || inner.is_eof() {
            return ApiError::BadRequest {
                code: "invalid_json",
                message: format!("Malformed JSON: {message}"),
                field: None,
            };
        }
        let mut field = e.path().to_string();
        // serde reports a missing field at its parent (an unknown one already at itself).
        if let Some(name) = backticked(&message, "missing field `") {
            field = if field == "." { name.to_owned() } else { format!("{field}.{name}") };
        }
        let field = (field != ".").then_some(field);
        ApiError::BadRequest { code: "validation_failed", message, field }
    })
}

fn backticked<'a>(message: &'a str, prefix: &str) -> Option<&'a str> {
    let rest = message.strip_prefix(prefix)?;
    rest.split('`').next()
}

fn bytes_rejection(rejection: BytesRejection) -> ApiError {
    if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::PayloadTooLarge
    } else {
        ApiError::BadRequest { code: "bad_body", message: rejection.body_text(), field: None }
    }
}

/// Path parameters, e.g. a workspace id; a malformed id is a 404 (no such resource), not a 500.
pub struct Path<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for Path<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Path::<T>::from_request_parts(parts, state).await.map(|p| Path(p.0)).map_err(
            |e: PathRejection| match e {
                PathRejection::FailedToDeserializePathParams(_) => ApiError::NotFound,
                other => ApiError::Internal(anyhow::anyhow!("path extraction: {}", other.body_text())),
            },
        )
    }
}

/// For PATCH bodies: tells "absent" (`None`, via `#[serde(default)]`) from "null" (`Some(None)`).
pub fn nullable<'de, T, D>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    T: serde::Deserialize<'de>,
    D: serde::Deserializer<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// Query-string parameters.
pub struct Query<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Query::<T>::from_request_parts(parts, state).await.map(|q| Query(q.0)).map_err(
            |e: QueryRejection| ApiError::BadRequest { code: "validation_failed", message: e.body_text(), field: None },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Login {
        email: String,
        tries: u32,
    }

    fn field_of(body: &str) -> (String, Option<String>) {
        match parse_json::<Login>(body.as_bytes()) {
            Err(ApiError::BadRequest { code, field, .. }) => (code.to_string(), field),
            other => panic!("expected a bad request, got {other:?}"),
        }
    }

    #[test]
    fn names_the_offending_field() {
        assert_eq!(field_of(r#"{"email":"a@b.c","tries":"x"}"#), ("validation_failed".into(), Some("tries".into())));
        assert_eq!(field_of(r#"{"email":"a@b.c","tries":1,"admin":true}"#).1, Some("admin".into()));
        assert_eq!(field_of(r#"{"tries":1}"#).1, Some("email".into()));
        assert_eq!(field_of(r#"{"email":"#).0, "invalid_json");
    }
}
