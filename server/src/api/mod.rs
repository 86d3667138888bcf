//! The HTTP API under /api and its OpenAPI document (utoipa). Handlers are thin: they go through
//! the guard (`auth::guard`), do one thing, and return `ApiResult`.

pub mod accounts;
pub mod audit;
pub mod auth;
pub mod members;
pub mod number_import;
pub mod numbers;
pub mod passkeys;
pub mod tokens;
pub mod workspaces;

use axum::Router;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::ErrorBody;
use crate::state::AppState;

#[derive(OpenApi)]
#[openapi(
    info(title = "Switchboard API", description = "Realtime SMS operations. Authenticate with the \
        session cookie (send X-CSRF-Token on unsafe methods) or `Authorization: Bearer <API token>`. \
        Errors are JSON {code, message, field?}."),
    components(schemas(ErrorBody)),
    modifiers(&Security),
    security(("session" = []), ("token" = [])),
    tags((name = "auth"), (name = "passkeys"), (name = "workspaces"), (name = "members"), (name = "audit"), (name = "tokens"), (name = "carrier"))
)]
struct ApiDoc;

struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components
            .add_security_scheme("session", SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new("sb_session"))));
        components.add_security_scheme(
            "token",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// Every API route, and the OpenAPI document describing them.
pub fn router() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(auth::login))
        .routes(routes!(auth::current_session))
        .routes(routes!(auth::logout))
        .routes(routes!(auth::logout_all))
        .routes(routes!(auth::request_recovery))
        .routes(routes!(auth::complete_recovery))
        .routes(routes!(passkeys::list))
        .routes(routes!(passkeys::delete))
        .routes(routes!(passkeys::register_start))
        .routes(routes!(passkeys::register_finish))
        .routes(routes!(passkeys::login_start))
        .routes(routes!(passkeys::login_finish))
        .routes(routes!(workspaces::list, workspaces::create))
        .routes(routes!(members::list, members::add))
        .routes(routes!(members::change_role, members::remove))
        .routes(routes!(audit::list))
        .routes(routes!(tokens::list, tokens::create))
        .routes(routes!(tokens::revoke))
        .routes(routes!(accounts::list, accounts::create))
        .routes(routes!(accounts::get, accounts::update, accounts::delete))
        .routes(routes!(numbers::list, numbers::create))
        .routes(routes!(number_import::import))
        .routes(routes!(numbers::get, numbers::update, numbers::delete))
        .split_for_parts()
}
