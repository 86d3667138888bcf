//! Serves the console (web/dist) with SPA routing: files when they exist, index.html otherwise.
//! The directory is found from SWITCHBOARD_WEB_DIR, next to the binary, or the source tree, so
//! the binary works from any working directory.

use std::path::{Path, PathBuf};

use axum::Router;
use axum::response::Html;
use tower_http::services::{ServeDir, ServeFile};

use crate::state::AppState;

pub fn locate(configured: Option<&Path>) -> Option<PathBuf> {
    let mut candidates: Vec<PathBuf> = configured.map(Path::to_path_buf).into_iter().collect();
    if let Some(dir) = std::env::current_exe().ok().as_deref().and_then(Path::parent) {
        candidates.push(dir.join("web/dist"));
        candidates.push(dir.join("../share/switchboard/web"));
    }
    candidates.push(Path::new(env!("CARGO_MANIFEST_DIR")).join("../web/dist"));
    candidates.into_iter().find(|dir| dir.join("index.html").is_file())
}

/// The router's fallback: the console, or a page saying how to build it.
pub fn console(dir: Option<PathBuf>) -> Router<AppState> {
    match dir {
        Some(dir) => {
            let index = dir.join("index.html");
            Router::new().fallback_service(ServeDir::new(dir).fallback(ServeFile::new(index)))
        }
        None => Router::new().fallback(|| async {
            Html(
                "<h1>Switchboard</h1><p>The console is not built. Run <code>make web</code> \
                  (or <code>cd web && npm ci && npm run build</code>) and restart, or set SWITCHBOARD_WEB_DIR.</p>",
            )
        }),
    }
}
