//! What an inbound reply means for consent.
//!
//! Carrier keywords are matched on the whole message, trimmed and case-insensitive (PRODUCT.md):
//! STOP, STOPALL, STOP ALL, UNSUBSCRIBE, CANCEL, END, QUIT, OPTOUT, REVOKE opt out; START, YES,
//! UNSTOP opt back in; HELP, INFO ask for help. The FCC lets people revoke consent "by any
//! reasonable means", so phrases such as "stop texting me" or "remove me from your list" also opt
//! out — flagged for a person to review, since a phrase can be misread where a keyword cannot.

/// What a reply asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplyIntent {
    /// An exact opt-out keyword.
    OptOut,
    /// Natural-language revocation: treated as an opt-out and flagged for review.
    OptOutByPhrase,
    OptIn,
    Help,
    /// Anything else: a conversation message.
    Message,
}

impl ReplyIntent {
    pub fn is_opt_out(self) -> bool {
        matches!(self, Self::OptOut | Self::OptOutByPhrase)
    }
}

const OPT_OUT: &[&str] =
    &["STOP", "STOPALL", "STOP ALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "OPTOUT", "OPT OUT", "REVOKE"];
const OPT_IN: &[&str] = &["START", "YES", "UNSTOP"];
const HELP: &[&str] = &["HELP", "INFO"];

/// Phrases that revoke consent. Matched on word boundaries in the normalized text.
const REVOCATION_PHRASES: &[&str] = &[
    "stop texting",
    "stop messaging",
    "stop sending",
    "stop contacting",
    "stop calling",
    "dont text",
    "do not text",
    "dont message",
    "do not message",
    "dont contact",
    "do not contact",
    "no more texts",
    "no more messages",
    "remove me",
    "remove my number",
    "take me off",
    "unsubscribe me",
    "opt me out",
    "lose my number",
    "wrong number",
    "leave me alone",
];

/// Classifies one inbound message body.
pub fn classify_reply(body: &str) -> ReplyIntent {
    let keyword = normalize_keyword(body);
    if OPT_OUT.contains(&keyword.as_str()) {
        return ReplyIntent::OptOut;
    }
    if OPT_IN.contains(&keyword.as_str()) {
        return ReplyIntent::OptIn;
    }
    if HELP.contains(&keyword.as_str()) {
        return ReplyIntent::Help;
    }
    let words = normalize_words(body);
    let padded = format!(" {words} ");
    if REVOCATION_PHRASES.iter().any(|p| padded.contains(&format!(" {p} "))) {
        return ReplyIntent::OptOutByPhrase;
    }
    ReplyIntent::Message
}

/// Upper-cased, trimmed, inner whitespace collapsed, trailing punctuation dropped ("Stop." is STOP).
fn normalize_keyword(body: &str) -> String {
    let trimmed = body.trim().trim_end_matches(['.', '!', '?']).trim();
    trimmed.split_whitespace().collect::<Vec<_>>().join(" ").to_uppercase()
}

/// Lower-cased words with apostrophes removed and other punctuation as spaces.
fn normalize_words(body: &str) -> String {
    let cleaned: String = body
        .chars()
        .filter(|c| *c != '\'' && *c != '’')
        .map(|c| if c.is_alphanumeric() { c.to_ascii_lowercase() } else { ' ' })
        .collect();
    cleaned.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keywords_match_the_whole_message_in_any_case() {
        for body in
            ["STOP", "stop", "  Stop  ", "Stop.", "stop all", "STOPALL", "unsubscribe", "Quit", "opt out", "REVOKE"]
        {
            assert_eq!(classify_reply(body), ReplyIntent::OptOut, "{body:?}");
        }
        for body in ["START", "yes", "Unstop"] {
            assert_eq!(classify_reply(body), ReplyIntent::OptIn, "{body:?}");
        }
        for body in ["help", "INFO "] {
            assert_eq!(classify_reply(body), ReplyIntent::Help, "{body:?}");
        }
    }

    #[test]
    fn keywords_inside_a_sentence_are_not_keywords() {
        assert_eq!(classify_reply("I can't stop smiling, yes let's talk"), ReplyIntent::Message);
        assert_eq!(classify_reply("When does the open house end?"), ReplyIntent::Message);
        assert_eq!(classify_reply("Yes please, call me tomorrow"), ReplyIntent::Message);
    }

    #[test]
    fn plain_language_revocations_opt_out_for_review() {
        for body in [
            "Please stop texting me",
            "STOP TEXTING ME!!",
            "Don't text this number again",
            "remove me from your list",
            "Wrong number.",
            "Take me off your list please",
        ] {
            assert_eq!(classify_reply(body), ReplyIntent::OptOutByPhrase, "{body:?}");
            assert!(classify_reply(body).is_opt_out());
        }
        assert_eq!(classify_reply("Can you remove mold from the basement?"), ReplyIntent::Message);
    }
}
