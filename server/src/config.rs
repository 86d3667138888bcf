//! Configuration: environment variables over an optional `switchboard.toml`, over defaults that
//! work on a machine with a local PostgreSQL.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde::Deserialize;
use url::Url;

/// Everything the server needs to start. Built once by [`Config::load`].
#[derive(Clone, Debug)]
pub struct Config {
    pub database_url: String,
    pub redis_url: Option<String>,
    /// Prefix for every Redis key, so several deployments (or tests) can share one Redis.
    pub redis_prefix: String,
    pub bind: SocketAddr,
    /// The URL users and Twilio reach us at; used for links, cookie security and webhook
    /// signature checks behind proxies.
    pub public_url: Url,
    pub secret_key: SecretKey,
    pub web_dir: Option<PathBuf>,
    pub session_ttl_hours: i64,
    /// Largest request body accepted, in bytes.
    pub body_limit: usize,
    pub log_format: LogFormat,
    /// Apply pending migrations at start (default). Off when the app runs as a database role
    /// that does not own the schema and `switchboard migrate` runs separately.
    pub auto_migrate: bool,
    /// How many reverse proxies in front of us append to X-Forwarded-For (0: use the peer
    /// address). The client address is the entry that many places from the right.
    pub trusted_proxy_hops: usize,
    /// After SIGTERM, how long in-flight requests may take before the process exits anyway.
    pub shutdown_grace_secs: u64,
    /// The realtime hub's knobs (HUB_* variables).
    pub hub: crate::hub::HubConfig,
    /// The sender engine's knobs (ENGINE_* variables).
    pub engine: EngineSettings,
}

/// Whether this instance sends, and how.
#[derive(Clone, Debug)]
pub struct EngineSettings {
    /// `ENGINE=false` runs the API and hub without sending (e.g. a web-only instance).
    pub enabled: bool,
    /// `ENGINE_STATUS_CALLBACKS=false` asks Twilio for no status callbacks (load tests of the
    /// engine alone); by default every message names our status webhook.
    pub status_callbacks: bool,
    /// `ENGINE_MAX_IN_FLIGHT`: carrier calls in flight at once on this instance.
    pub max_in_flight: usize,
    /// `ENGINE_DB_POOL`: the engine's own PostgreSQL connections (claims, attempts, results),
    /// apart from the web pool so its load never queues the API and webhooks.
    pub db_pool: u32,
    /// `ENGINE_THREADS`: the engine's own runtime threads (default: one per core), apart from
    /// the threads that serve requests.
    pub threads: usize,
}

impl EngineSettings {
    fn from_env(env: &impl Fn(&str) -> Option<String>) -> anyhow::Result<Self> {
        let flag = |name: &str| -> anyhow::Result<bool> {
            match env(name).as_deref() {
                None | Some("true" | "1") => Ok(true),
                Some("false" | "0") => Ok(false),
                Some(other) => bail!("{name} must be true or false, not {other:?}"),
            }
        };
        let max_in_flight = match env("ENGINE_MAX_IN_FLIGHT") {
            Some(v) => v.parse().ok().filter(|n| *n > 0).context("ENGINE_MAX_IN_FLIGHT must be a positive number")?,
            None => 1024,
        };
        let db_pool = match env("ENGINE_DB_POOL") {
            Some(v) => v.parse().ok().filter(|n| *n > 0).context("ENGINE_DB_POOL must be a positive number")?,
            None => 16,
        };
        let threads = match env("ENGINE_THREADS") {
            Some(v) => v.parse().ok().filter(|n| *n > 0).context("ENGINE_THREADS must be a positive number")?,
            None => std::thread::available_parallelism().map_or(2, usize::from),
        };
        Ok(Self {
            enabled: flag("ENGINE")?,
            status_callbacks: flag("ENGINE_STATUS_CALLBACKS")?,
            max_in_flight,
            db_pool,
            threads,
        })
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Json,
    Pretty,
}

/// 32 bytes from `SECRET_KEY` (64 hex characters). Used to encrypt secrets at rest.
#[derive(Clone)]
pub struct SecretKey(pub [u8; 32]);

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey(..)")
    }
}

impl SecretKey {
    pub fn from_hex(hex_str: &str) -> anyhow::Result<Self> {
        let bytes = hex::decode(hex_str.trim()).context("SECRET_KEY must be 64 hex characters")?;
        let arr: [u8; 32] =
            bytes.try_into().map_err(|_| anyhow::anyhow!("SECRET_KEY must be 64 hex characters (32 bytes)"))?;
        Ok(Self(arr))
    }

    pub fn random() -> Self {
        Self(rand::random())
    }
}

/// The optional file; every field may also come from the environment, which wins.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    database_url: Option<String>,
    redis_url: Option<String>,
    redis_prefix: Option<String>,
    bind: Option<String>,
    public_url: Option<String>,
    secret_key: Option<String>,
    web_dir: Option<PathBuf>,
    session_ttl_hours: Option<i64>,
    body_limit: Option<usize>,
    log_format: Option<LogFormat>,
    auto_migrate: Option<bool>,
    trusted_proxy_hops: Option<usize>,
    shutdown_grace_secs: Option<u64>,
}

pub const DEFAULT_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/switchboard";

impl Config {
    /// Reads `SWITCHBOARD_CONFIG` (or `./switchboard.toml` when present) and the environment.
    pub fn load() -> anyhow::Result<Self> {
        let file = match std::env::var_os("SWITCHBOARD_CONFIG") {
            Some(path) => Some(PathBuf::from(path)),
            None => Some(PathBuf::from("switchboard.toml")).filter(|p| p.exists()),
        };
        let file = match file {
            Some(path) => read_file(&path)?,
            None => FileConfig::default(),
        };
        Self::from_sources(file, |name| std::env::var(name).ok().filter(|v| !v.is_empty()))
    }

    fn from_sources(file: FileConfig, env: impl Fn(&str) -> Option<String>) -> anyhow::Result<Self> {
        let database_url = env("DATABASE_URL").or(file.database_url).unwrap_or_else(|| DEFAULT_DATABASE_URL.to_owned());
        let bind: SocketAddr = env("BIND")
            .or(file.bind)
            .unwrap_or_else(|| "127.0.0.1:8080".to_owned())
            .parse()
            .context("BIND must be an address like 127.0.0.1:8080")?;
        let public_url =
            env("PUBLIC_URL").or(file.public_url).unwrap_or_else(|| format!("http://localhost:{}", bind.port()));
        let public_url = Url::parse(&public_url).context("PUBLIC_URL must be an absolute URL")?;
        let secret_key = match env("SECRET_KEY").or(file.secret_key) {
            Some(hex) => SecretKey::from_hex(&hex)?,
            None => local_secret_key()?,
        };
        let session_ttl_hours = match env("SESSION_TTL_HOURS") {
            Some(v) => v.parse().context("SESSION_TTL_HOURS must be a number of hours")?,
            None => file.session_ttl_hours.unwrap_or(24 * 14),
        };
        let body_limit = match env("BODY_LIMIT") {
            Some(v) => v.parse().context("BODY_LIMIT must be a number of bytes")?,
            None => file.body_limit.unwrap_or(1024 * 1024),
        };
        let log_format = match env("LOG_FORMAT").as_deref() {
            Some("json") => LogFormat::Json,
            Some("pretty") => LogFormat::Pretty,
            Some(other) => bail!("LOG_FORMAT must be json or pretty, not {other:?}"),
            None => file.log_format.unwrap_or(LogFormat::Json),
        };
        let auto_migrate = match env("AUTO_MIGRATE").as_deref() {
            Some("true" | "1") => true,
            Some("false" | "0") => false,
            Some(other) => bail!("AUTO_MIGRATE must be true or false, not {other:?}"),
            None => file.auto_migrate.unwrap_or(true),
        };
        let trusted_proxy_hops = match env("TRUSTED_PROXY_HOPS") {
            Some(v) => v.parse().context("TRUSTED_PROXY_HOPS must be a small whole number")?,
            None => file.trusted_proxy_hops.unwrap_or(0),
        };
        let shutdown_grace_secs = match env("SHUTDOWN_GRACE_SECS") {
            Some(v) => v.parse().context("SHUTDOWN_GRACE_SECS must be a number of seconds")?,
            None => file.shutdown_grace_secs.unwrap_or(20),
        };
        Ok(Self {
            auto_migrate,
            trusted_proxy_hops,
            shutdown_grace_secs,
            database_url,
            redis_url: env("REDIS_URL").or(file.redis_url),
            redis_prefix: env("REDIS_PREFIX").or(file.redis_prefix).unwrap_or_else(|| "sb".into()),
            bind,
            public_url,
            secret_key,
            web_dir: env("SWITCHBOARD_WEB_DIR").map(PathBuf::from).or(file.web_dir),
            session_ttl_hours,
            body_limit,
            log_format,
            hub: crate::hub::HubConfig::from_env(&env)?,
            engine: EngineSettings::from_env(&env)?,
        })
    }

    /// Whether cookies must carry the `Secure` attribute.
    pub fn secure_cookies(&self) -> bool {
        self.public_url.scheme() == "https"
    }
}

fn read_file(path: &Path) -> anyhow::Result<FileConfig> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read config file {}", path.display()))?;
    toml::from_str(&text).with_context(|| format!("invalid config file {}", path.display()))
}

/// Without SECRET_KEY, a development key is generated once and kept in the user's data directory,
/// so secrets encrypted at rest stay readable across restarts. Production sets SECRET_KEY.
fn local_secret_key() -> anyhow::Result<SecretKey> {
    let dir = std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))
        .unwrap_or_else(|| PathBuf::from("."))
        .join("switchboard");
    let path = dir.join("secret_key");
    if let Ok(hex) = std::fs::read_to_string(&path) {
        return SecretKey::from_hex(&hex)
            .with_context(|| format!("{} is corrupt; delete it or set SECRET_KEY", path.display()));
    }
    let key = SecretKey::random();
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    write_private(&path, &hex::encode(key.0))?;
    tracing::warn!(path = %path.display(), "SECRET_KEY not set; generated a development key");
    Ok(key)
}

fn write_private(path: &Path, contents: &str) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    file.write_all(contents.as_bytes())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name| pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string())
    }

    const KEY: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

    #[test]
    fn environment_overrides_file() {
        let file = FileConfig { bind: Some("0.0.0.0:9000".into()), ..Default::default() };
        let cfg = Config::from_sources(file, env_of(&[("BIND", "127.0.0.1:7000"), ("SECRET_KEY", KEY)])).unwrap();
        assert_eq!(cfg.bind.port(), 7000);
        assert_eq!(cfg.public_url.as_str(), "http://localhost:7000/");
        assert!(!cfg.secure_cookies());
    }

    #[test]
    fn bad_values_name_the_variable() {
        let err =
            Config::from_sources(FileConfig::default(), env_of(&[("BIND", "nope"), ("SECRET_KEY", KEY)])).unwrap_err();
        assert!(err.to_string().contains("BIND"), "{err}");
        let err = Config::from_sources(FileConfig::default(), env_of(&[("SECRET_KEY", "abc")])).unwrap_err();
        assert!(err.to_string().contains("SECRET_KEY"), "{err}");
    }

    #[test]
    fn engine_pool_and_threads_are_positive_numbers() {
        for (name, bad) in [("ENGINE_DB_POOL", "0"), ("ENGINE_DB_POOL", "many"), ("ENGINE_THREADS", "-1")] {
            let env = move |var: &str| match var {
                "SECRET_KEY" => Some(KEY.to_owned()),
                _ => (var == name).then(|| bad.to_owned()),
            };
            let err = Config::from_sources(FileConfig::default(), env).unwrap_err();
            assert!(format!("{err:#}").contains(name), "{name}={bad}: {err:#}");
        }
        let cfg = Config::from_sources(
            FileConfig::default(),
            env_of(&[("ENGINE_DB_POOL", "4"), ("ENGINE_THREADS", "3"), ("SECRET_KEY", KEY)]),
        )
        .unwrap();
        assert_eq!((cfg.engine.db_pool, cfg.engine.threads), (4, 3));
        let defaults = Config::from_sources(FileConfig::default(), env_of(&[("SECRET_KEY", KEY)])).unwrap();
        assert_eq!(defaults.engine.db_pool, 16);
        assert!(defaults.engine.threads >= 1);
    }

    #[test]
    fn https_public_url_means_secure_cookies() {
        let cfg = Config::from_sources(
            FileConfig::default(),
            env_of(&[("PUBLIC_URL", "https://sb.example.com"), ("SECRET_KEY", KEY)]),
        )
        .unwrap();
        assert!(cfg.secure_cookies());
    }
}
