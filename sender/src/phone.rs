//! Phone numbers in E.164, parsed once at the edge.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A valid phone number in E.164 form (`+14155550100`). Constructed only by parsing, so code
/// holding an `E164` never re-validates it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct E164(String);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PhoneError {
    #[error("not a phone number")]
    Unparseable,
    #[error("not a valid number for its region")]
    Invalid,
}

impl E164 {
    /// Parses a number written in any common form; numbers without a country code are read as
    /// North American (+1), the product's home market.
    pub fn parse(raw: &str) -> Result<Self, PhoneError> {
        let parsed =
            phonenumber::parse(Some(phonenumber::country::Id::US), raw.trim()).map_err(|_| PhoneError::Unparseable)?;
        if !phonenumber::is_valid(&parsed) {
            return Err(PhoneError::Invalid);
        }
        Ok(Self(parsed.format().mode(phonenumber::Mode::E164).to_string()))
    }

    /// Reads back a number this system stored after parsing it (outbox and send-log rows, whose
    /// columns also CHECK the form). Checks only the E.164 form: `parse` costs tens of
    /// microseconds (the phone-number library's regular expressions), too much for every
    /// message the engine sends.
    pub fn from_stored(stored: &str) -> Result<Self, PhoneError> {
        let digits = stored.strip_prefix('+').ok_or(PhoneError::Unparseable)?;
        let well_formed =
            (7..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()) && !digits.starts_with('0');
        if well_formed { Ok(Self(stored.to_owned())) } else { Err(PhoneError::Unparseable) }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The country calling code (1 for North America, 44 for the UK ...).
    pub fn country_code(&self) -> u16 {
        phonenumber::parse(None, &self.0).map(|p| p.code().value()).expect("an E164 always parses")
    }
}

/// The digits of a phone as an integer, 0 when there are none: how the outbox (`to_key`) and the
/// pair history (`their_key`, the lead of its primary key) key a phone. One-to-one on E.164,
/// which has no leading zero.
pub fn key_of(phone: &str) -> i64 {
    phone.trim_start_matches('+').parse().unwrap_or(0)
}

impl fmt::Display for E164 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for E164 {
    type Err = PhoneError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl Serialize for E164 {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for E164 {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        Self::parse(&raw).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_numbers_are_checked_for_form_only() {
        assert_eq!(E164::from_stored("+14155552671").unwrap().as_str(), "+14155552671");
        for bad in ["14155552671", "+0415555267", "+141555", "+1415555267a", "+1234567890123456", ""] {
            assert_eq!(E164::from_stored(bad), Err(PhoneError::Unparseable), "{bad}");
        }
    }

    #[test]
    fn national_and_international_forms_agree() {
        let a = E164::parse("(415) 555-2671").unwrap();
        let b = E164::parse("+1 415 555 2671").unwrap();
        assert_eq!(a, b);
        assert_eq!(a.as_str(), "+14155552671");
    }

    #[test]
    fn garbage_and_impossible_numbers_are_refused() {
        assert_eq!(E164::parse("hello"), Err(PhoneError::Unparseable));
        assert_eq!(E164::parse("+1 123 456 7890"), Err(PhoneError::Invalid));
    }

    #[test]
    fn serde_round_trip_refuses_invalid() {
        let ok: E164 = serde_json::from_str("\"+442079460958\"").unwrap();
        assert_eq!(ok.as_str(), "+442079460958");
        assert!(serde_json::from_str::<E164>("\"12\"").is_err());
    }
}
