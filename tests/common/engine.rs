//! The app with the sender engine on, as the engine tests start it against the Twilio simulator
//! (`switchboard_loadtests::Simulator`): the simulator's configuration and an app its webhooks
//! reach.

use switchboard_loadtests::SimConfig;
use switchboard_server::Config;

use super::TestApp;

/// A port free on the loopback interface now (for an app that must know its address up front).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// The simulator on an ephemeral port, its numbers at `default_mps`, with room for every
/// concurrent request a test makes; the rest as `SimConfig::default`.
pub fn sim_config(default_mps: f64) -> SimConfig {
    SimConfig {
        bind: "127.0.0.1:0".parse().unwrap(),
        default_mps,
        max_concurrent_requests: 10_000,
        ..Default::default()
    }
}

impl TestApp {
    /// One instance with the engine on, bound to a port picked before it starts and announcing
    /// that address (its [`TestApp::base`]) as its public URL: the simulator's webhooks, signed
    /// for the public URL, reach it and check out. `tweak` changes the rest of the config.
    pub async fn spawn_engine(tweak: impl Fn(&mut Config)) -> Self {
        let port = free_port();
        Self::spawn_with(1, false, |c| {
            c.bind = format!("127.0.0.1:{port}").parse().unwrap();
            c.public_url = format!("http://127.0.0.1:{port}").parse().unwrap();
            c.engine.enabled = true;
            tweak(c);
        })
        .await
    }
}
