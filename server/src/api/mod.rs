//! The HTTP API under /api and its OpenAPI document (utoipa). Handlers are thin: they go through
//! the guard (`auth::guard`), do one thing, and return `ApiResult`.

pub mod accounts;
pub mod audit;
pub mod auth;
pub mod campaigns;
pub mod crusades;
pub mod dnc;
pub mod leads;
pub mod members;
pub mod number_import;
pub mod numbers;
pub mod opt_out_import;
pub mod opt_outs;
pub mod passkeys;
pub mod tokens;
pub mod workspaces;

use axum::Router;
use axum::extract::DefaultBodyLimit;
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
    tags((name = "auth"), (name = "passkeys"), (name = "workspaces"), (name = "members"), (name = "audit"), (name = "tokens"), (name = "carrier"), (name = "campaigns"), (name = "compliance"))
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
        .routes(routes!(leads::list, leads::create))
        .merge(OpenApiRouter::new().routes(routes!(leads::bulk)).layer(DefaultBodyLimit::max(leads::BULK_BODY_LIMIT)))
        .routes(routes!(leads::delete))
        .routes(routes!(campaigns::list, campaigns::create))
        .routes(routes!(campaigns::get, campaigns::update, campaigns::delete))
        .routes(routes!(campaigns::start))
        .routes(routes!(campaigns::pause))
        .routes(routes!(campaigns::resume))
        .routes(routes!(campaigns::cancel))
        .routes(routes!(campaigns::preview))
        .routes(routes!(crusades::list, crusades::create))
        .routes(routes!(crusades::get, crusades::update, crusades::delete))
        .routes(routes!(crusades::start))
        .routes(routes!(crusades::pause))
        .routes(routes!(crusades::resume))
        .routes(routes!(crusades::cancel))
        .routes(routes!(opt_outs::list, opt_outs::create))
        .routes(routes!(opt_out_import::import_opt_outs))
        .routes(routes!(opt_outs::get, opt_outs::remove))
        .routes(routes!(opt_outs::review))
        .routes(routes!(dnc::list, dnc::create))
        .routes(routes!(opt_out_import::import_dnc))
        .routes(routes!(dnc::delete))
        .routes(routes!(dnc::undeliverable))
        .split_for_parts()
}
