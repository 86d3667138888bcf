//! A second app instance as a real process (the `switchboard` binary), so a test can SIGKILL it
//! and watch what a crash leaves behind.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub struct Process {
    pub base: String,
    child: Child,
}

impl Process {
    /// Starts `switchboard serve` on a free port against `database_url` and the test Redis.
    pub async fn start(database_url: &str, redis_prefix: &str, env: &[(&str, &str)]) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_switchboard"));
        cmd.arg("serve")
            .env("DATABASE_URL", database_url)
            .env("REDIS_URL", crate::common::redis_url())
            .env("REDIS_PREFIX", redis_prefix)
            .env("BIND", format!("127.0.0.1:{port}"))
            .env("PUBLIC_URL", "http://localhost:8080")
            .env("SECRET_KEY", "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd.spawn().expect("start the switchboard binary");
        let mut process = Self { base: format!("http://127.0.0.1:{port}"), child };
        let http = reqwest::Client::new();
        for _ in 0..600 {
            if http.get(format!("{}/healthz", process.base)).send().await.is_ok_and(|r| r.status().is_success()) {
                return process;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        process.kill();
        panic!("switchboard process did not become healthy");
    }

    /// SIGKILL: the process gets no chance to clean up.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill();
    }
}
