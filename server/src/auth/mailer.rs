//! Outgoing mail (recovery and invitation links). Pluggable: the server takes any `Mailer`.
//! The built-in `LogMailer` writes the message to the log, which is how the demo and
//! development deliver links; a deployment plugs in an SMTP or API mailer.

pub struct Mail {
    pub to: String,
    pub subject: String,
    pub body: String,
}

pub trait Mailer: Send + Sync + 'static {
    fn send(&self, mail: Mail);
}

/// Development mailer: logs the mail (including its one-time link) at INFO.
pub struct LogMailer;

impl Mailer for LogMailer {
    fn send(&self, mail: Mail) {
        tracing::info!(target: "switchboard::mailer", to = %mail.to, subject = %mail.subject, body = %mail.body, "mail (log mailer)");
    }
}
