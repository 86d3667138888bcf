//! `switchboard sim`: the command-line face of the simulator. Flags override the file given by
//! `--config`; with neither it serves the demo account and prints its credentials.

use std::net::SocketAddr;
use std::path::PathBuf;

use crate::config::SimConfig;
use crate::server::{SimError, Simulator};

#[derive(Debug, Clone, clap::Args)]
pub struct SimArgs {
    /// Address to listen on.
    #[arg(long)]
    pub bind: Option<SocketAddr>,
    /// A TOML or JSON file with the full configuration (see docs/simulator.md).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Seed for ids, the demo credentials, outcomes and faults.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Default segments per second per From number.
    #[arg(long)]
    pub mps: Option<f64>,
    /// Concurrent API requests per account before 429/20429.
    #[arg(long)]
    pub max_concurrent: Option<usize>,
    /// Turn status callbacks off (messages still progress for GET).
    #[arg(long)]
    pub no_callbacks: bool,
    /// Delay from leaving the queue to the "sent" callback.
    #[arg(long)]
    pub callback_delay_ms: Option<u64>,
    /// Delay from "sent" to the final status.
    #[arg(long)]
    pub delivery_delay_ms: Option<u64>,
    /// Status callback POSTs in flight at once, over all messages (Twilio's own is far higher
    /// than the default 32: a load test of the webhook wants hundreds).
    #[arg(long)]
    pub callback_max_in_flight: Option<usize>,
    /// Probability that one of a message's callbacks is posted twice.
    #[arg(long)]
    pub duplicate_rate: Option<f64>,
    /// Probability that the final callback arrives before "sent".
    #[arg(long)]
    pub reorder_rate: Option<f64>,
    /// Ending rates, e.g. `--error-rate 30003=0.01 --error-rate 30007=0.005`.
    #[arg(long, value_parser = parse_error_rate)]
    pub error_rate: Vec<(u16, f64)>,
    /// Where replies from simulated recipients are POSTed.
    #[arg(long)]
    pub inbound_url: Option<String>,
    /// Share of delivered messages whose recipient replies STOP.
    #[arg(long)]
    pub stop_rate: Option<f64>,
    /// ... replies START.
    #[arg(long)]
    pub start_rate: Option<f64>,
    /// ... replies HELP.
    #[arg(long)]
    pub help_rate: Option<f64>,
    /// ... replies with free text.
    #[arg(long)]
    pub text_rate: Option<f64>,
    /// Probability that an inbound webhook is posted twice (Twilio retrying it).
    #[arg(long)]
    pub reply_duplicate_rate: Option<f64>,
}

fn parse_error_rate(s: &str) -> Result<(u16, f64), String> {
    let (code, rate) = s.split_once('=').ok_or("use CODE=RATE, e.g. 30003=0.01")?;
    Ok((code.parse().map_err(|_| "CODE is a Twilio error code")?, rate.parse().map_err(|_| "RATE is a number")?))
}

impl SimArgs {
    /// The configuration these flags describe (the file first, flags over it).
    pub fn to_config(&self) -> Result<SimConfig, SimError> {
        let mut c = match &self.config {
            Some(path) => SimConfig::from_file(path)?,
            None => SimConfig::default(),
        };
        let cb = &mut c.behaviour.callbacks;
        let replies = &mut c.behaviour.replies;
        macro_rules! set {
            ($target:expr, $value:expr) => {
                if let Some(v) = $value.clone() {
                    $target = v;
                }
            };
        }
        set!(c.bind, self.bind);
        set!(c.seed, self.seed);
        set!(c.default_mps, self.mps);
        set!(c.max_concurrent_requests, self.max_concurrent);
        set!(cb.sent_delay_ms, self.callback_delay_ms);
        set!(cb.delivery_delay_ms, self.delivery_delay_ms);
        set!(cb.max_in_flight, self.callback_max_in_flight);
        set!(cb.duplicate_rate, self.duplicate_rate);
        set!(cb.reorder_rate, self.reorder_rate);
        if self.no_callbacks {
            cb.enabled = false;
        }
        cb.error_rates.extend(self.error_rate.iter().copied());
        if self.inbound_url.is_some() {
            replies.inbound_url = self.inbound_url.clone();
        }
        set!(replies.stop_rate, self.stop_rate);
        set!(replies.start_rate, self.start_rate);
        set!(replies.help_rate, self.help_rate);
        set!(replies.text_rate, self.text_rate);
        set!(replies.duplicate_rate, self.reply_duplicate_rate);
        Ok(c)
    }
}

/// Runs the simulator until `shutdown` resolves, after printing how to reach it.
pub async fn run(args: SimArgs, shutdown: impl std::future::Future<Output = ()>) -> Result<(), SimError> {
    let config = args.to_config()?;
    let seed = config.seed;
    let handle = Simulator::start(config).await?;
    println!("Twilio simulator listening on {} (seed {seed})", handle.base_url);
    for account in &handle.accounts {
        println!("  Account SID: {}", account.sid);
        println!("  Auth token:  {}", account.auth_token);
        for key in &account.api_keys {
            println!("  API key:     {} (secret {})", key.sid, key.secret);
        }
        let numbers: Vec<&str> = account.numbers.iter().map(|n| n.number.as_str()).collect();
        println!("  Numbers:     {}", numbers.join(", "));
        for service in &account.messaging_services {
            println!("  Messaging service: {}", service.sid);
        }
        println!("  Base URL:    {}", handle.base_url);
        println!("  Create:      POST {}/2010-04-01/Accounts/{}/Messages.json", handle.base_url, account.sid);
    }
    println!("Record: GET {0}/sim/record · stats: GET {0}/sim/stats · Ctrl-C stops", handle.base_url);
    shutdown.await;
    handle.stop().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        sim: SimArgs,
    }

    #[test]
    fn flags_override_the_defaults() {
        let cli = Cli::parse_from([
            "sim",
            "--bind",
            "127.0.0.1:0",
            "--seed",
            "9",
            "--mps",
            "3",
            "--no-callbacks",
            "--callback-max-in-flight",
            "512",
            "--error-rate",
            "30003=0.25",
            "--stop-rate",
            "0.1",
            "--inbound-url",
            "http://127.0.0.1:9/in",
        ]);
        let c = cli.sim.to_config().unwrap();
        assert_eq!((c.seed, c.default_mps, c.bind.port()), (9, 3.0, 0));
        assert!(!c.behaviour.callbacks.enabled);
        assert_eq!(c.behaviour.callbacks.max_in_flight, 512);
        assert_eq!(c.behaviour.callbacks.error_rates.get(&30003), Some(&0.25));
        assert_eq!(c.behaviour.replies.stop_rate, 0.1);
        assert_eq!(c.behaviour.replies.inbound_url.as_deref(), Some("http://127.0.0.1:9/in"));
        assert!(Cli::try_parse_from(["sim", "--error-rate", "oops"]).is_err());
    }
}
