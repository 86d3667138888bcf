//! `sqlx::migrate!` embeds ../migrations at compile time, but on stable Rust cargo only rebuilds
//! this crate when a file the macro already knew changes: a new migration file is not noticed,
//! and the binary and the test suite keep migrating to the last build's list. This is the build
//! script sqlx recommends (`sqlx migrate build-script`).
fn main() {
    println!("cargo:rerun-if-changed=../migrations");
}
