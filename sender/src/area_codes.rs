//! North American area codes and the state (or province) each serves, from the table in
//! `data/area_codes.txt`. Used to derive a number's area code and state, which area-code routing
//! and state rules (quiet hours, Florida and Oklahoma limits) read.

use std::collections::HashMap;
use std::sync::LazyLock;

use crate::E164;

static TABLE: LazyLock<HashMap<&'static str, &'static str>> = LazyLock::new(|| {
    let mut map = HashMap::new();
    for line in include_str!("data/area_codes.txt").lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (state, codes) = line.split_once(':').expect("area code table lines are `ST: ...`");
        for code in codes.split_whitespace() {
            let previous = map.insert(code, state.trim());
            assert!(previous.is_none(), "area code {code} is listed twice");
        }
    }
    map
});

/// The NANP area code of a `+1` number (`+14155550100` → `415`); None elsewhere.
pub fn area_code(number: &E164) -> Option<&str> {
    let digits = number.as_str().strip_prefix("+1")?;
    (digits.len() == 10).then(|| &digits[..3])
}

/// The two-letter US state, territory or Canadian province served by `area_code`.
pub fn state_of(area_code: &str) -> Option<&'static str> {
    TABLE.get(area_code).copied()
}

/// The area codes serving `state`, sorted (empty for an unknown state).
pub fn codes_of(state: &str) -> Vec<&'static str> {
    let mut codes: Vec<&'static str> = TABLE.iter().filter(|(_, s)| **s == state).map(|(c, _)| *c).collect();
    codes.sort_unstable();
    codes
}

/// Every state code the table knows (for validating a state given by hand).
pub fn is_known_state(code: &str) -> bool {
    TABLE.values().any(|s| *s == code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_covers_the_us_and_canada() {
        assert!(TABLE.len() >= 400, "{} area codes", TABLE.len());
        for (code, state) in [("415", "CA"), ("212", "NY"), ("305", "FL"), ("405", "OK"), ("907", "AK"), ("808", "HI")]
        {
            assert_eq!(state_of(code), Some(state), "{code}");
        }
        assert_eq!(state_of("416"), Some("ON"));
        assert_eq!(state_of("202"), Some("DC"));
        assert_eq!(state_of("800"), None, "toll-free is not geographic");
        assert!(codes_of("FL").contains(&"305"));
        assert!(codes_of("ZZ").is_empty());
        // Every one of the 50 states and DC has at least one area code.
        let states = "AL AK AZ AR CA CO CT DE FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH NJ \
                      NM NY NC ND OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY DC";
        for s in states.split_whitespace() {
            assert!(is_known_state(s), "{s} has no area code");
        }
    }

    #[test]
    fn area_code_only_for_nanp_numbers() {
        assert_eq!(area_code(&E164::parse("+1 415 555 2671").unwrap()), Some("415"));
        assert_eq!(area_code(&E164::parse("+442079460958").unwrap()), None);
    }
}
