//! `X-Twilio-Signature`: how Twilio signs the webhooks it sends, and how we check them.
//!
//! The signature is `base64(HMAC-SHA1(auth_token, url + name1 + value1 + name2 + value2 ...))`
//! over the POST parameters sorted by name. Like the official helper libraries (`twilio` on PyPI
//! and npm), repeated names contribute each distinct value once, values sorted; and a URL is
//! accepted with its port written or not: a URL without a port is also tried with the scheme's
//! default port (https 443, http 80), a URL with one also without it.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;

type HmacSha1 = Hmac<Sha1>;

/// The signature Twilio would put on a POST of `params` to `url`, signed with `auth_token`.
pub fn sign<K: AsRef<str>, V: AsRef<str>>(auth_token: &str, url: &str, params: &[(K, V)]) -> String {
    STANDARD.encode(mac(auth_token, url, params).finalize().into_bytes())
}

/// Whether `signature` (the `X-Twilio-Signature` header) is Twilio's signature of this request.
/// The comparison is constant-time; `url` is also tried in its other port form.
pub fn validate<K: AsRef<str>, V: AsRef<str>>(auth_token: &str, url: &str, params: &[(K, V)], signature: &str) -> bool {
    let Ok(expected) = STANDARD.decode(signature.trim()) else {
        return false;
    };
    // The other port form only when the URL as given fails: which form matched tells nothing
    // of the token, and most webhooks match the first (one MAC instead of two a request).
    mac(auth_token, url, params).verify_slice(&expected).is_ok()
        || port_variant(url).is_some_and(|other| mac(auth_token, &other, params).verify_slice(&expected).is_ok())
}

fn mac<K: AsRef<str>, V: AsRef<str>>(auth_token: &str, url: &str, params: &[(K, V)]) -> HmacSha1 {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = <HmacSha1 as KeyInit>::new_from_slice(auth_token.as_bytes()).unwrap_or_else(|_| unreachable!());
    mac.update(url.as_bytes());
    let mut pairs: Vec<(&str, &str)> = params.iter().map(|(k, v)| (k.as_ref(), v.as_ref())).collect();
    pairs.sort_unstable();
    pairs.dedup();
    for (name, value) in pairs {
        mac.update(name.as_bytes());
        mac.update(value.as_bytes());
    }
    mac
}

/// The same URL with its port toggled: removed when written, the scheme's default added when
/// not. `None` when the URL has no `scheme://host` to work on.
fn port_variant(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let host_start = authority.rfind('@').map_or(0, |at| at + 1);
    let (userinfo, host_port) = authority.split_at(host_start);
    if host_port.is_empty() {
        return None;
    }
    // A port is the digits after the last ':' that is not inside an IPv6 literal.
    let port_colon = host_port.rfind(':').filter(|&i| !host_port[i..].contains(']'));
    let host_and_port = match port_colon {
        Some(i) if host_port[i + 1..].bytes().all(|b| b.is_ascii_digit()) => host_port[..i].to_owned(),
        _ => {
            let default = if scheme.eq_ignore_ascii_case("https") { 443 } else { 80 };
            format!("{host_port}:{default}")
        }
    };
    Some(format!("{scheme}://{userinfo}{host_and_port}{tail}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const URL: &str = "https://mycompany.com/myapp.php?foo=1&bar=2";
    const PARAMS: [(&str, &str); 5] = [
        ("CallSid", "CA1234567890ABCDE"),
        ("Caller", "+14158675309"),
        ("Digits", "1234"),
        ("From", "+14158675309"),
        ("To", "+18005551212"),
    ];
    const OFFICIAL: &str = "RSOYDt4T1cUTdK1PDd93/VVr8B8=";

    #[test]
    fn official_test_vector() {
        assert_eq!(sign("12345", URL, &PARAMS), OFFICIAL);
        assert!(validate("12345", URL, &PARAMS, OFFICIAL));
    }

    #[test]
    fn parameter_order_does_not_matter() {
        let mut reversed = PARAMS;
        reversed.reverse();
        assert_eq!(sign("12345", URL, &reversed), OFFICIAL);
    }

    #[test]
    fn default_port_written_or_not_both_pass() {
        assert!(validate("12345", "https://mycompany.com:443/myapp.php?foo=1&bar=2", &PARAMS, OFFICIAL));
        let with_port = sign("12345", "https://mycompany.com:443/myapp.php?foo=1&bar=2", &PARAMS);
        assert!(validate("12345", URL, &PARAMS, &with_port));
    }

    #[test]
    fn tampering_fails() {
        assert!(!validate("12345", "http://mycompany.com/myapp.php?foo=1&bar=2", &PARAMS, OFFICIAL));
        assert!(!validate("54321", URL, &PARAMS, OFFICIAL));
        let mut changed = PARAMS;
        changed[2] = ("Digits", "1235");
        assert!(!validate("12345", URL, &changed, OFFICIAL));
        assert!(!validate("12345", URL, &PARAMS, "not base64 at all!"));
        assert!(!validate("12345", URL, &PARAMS, ""));
    }

    #[test]
    fn repeated_names_sign_each_distinct_value_once_sorted() {
        let token = "secret";
        let url = "https://example.com/hook";
        let a = sign(token, url, &[("MediaUrl", "b"), ("MediaUrl", "a"), ("Body", "x")]);
        let b = sign(token, url, &[("Body", "x"), ("MediaUrl", "a"), ("MediaUrl", "b"), ("MediaUrl", "a")]);
        assert_eq!(a, b);
        // Equal to the concatenation the official libraries build by hand.
        let mut mac = <HmacSha1 as KeyInit>::new_from_slice(token.as_bytes()).unwrap();
        mac.update(b"https://example.com/hookBodyxMediaUrlaMediaUrlb");
        assert_eq!(a, STANDARD.encode(mac.finalize().into_bytes()));
    }

    #[test]
    fn port_variants() {
        assert_eq!(port_variant("https://a.com/x").as_deref(), Some("https://a.com:443/x"));
        assert_eq!(port_variant("http://a.com?q=1").as_deref(), Some("http://a.com:80?q=1"));
        assert_eq!(port_variant("http://u:p@a.com:8080/x").as_deref(), Some("http://u:p@a.com/x"));
        assert_eq!(port_variant("http://[::1]/x").as_deref(), Some("http://[::1]:80/x"));
        assert_eq!(port_variant("http://[::1]:4010/x").as_deref(), Some("http://[::1]/x"));
        assert_eq!(port_variant("not a url"), None);
    }
}
