//! How many SMS segments a body costs, as carriers count them (and Twilio bills them).
//!
//! A body that fits the GSM-7 alphabet (GSM 03.38 basic table, plus the extension table whose
//! characters take an escape and so count 2) is GSM-7: 160 septets in one segment, 153 per part
//! when concatenated. Anything else is UCS-2, counted in UTF-16 code units: 70 in one segment,
//! 67 per part. A part never splits an escape pair or a surrogate pair. Pacing (messages per
//! second) is charged in segments.

/// The alphabet a body travels in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    Gsm7,
    Ucs2,
}

/// The segment count of one body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SegmentCount {
    pub encoding: Encoding,
    /// Septets for GSM-7, UTF-16 code units for UCS-2.
    pub units: usize,
    /// At least 1: even an empty body is one message.
    pub segments: usize,
}

const GSM7_BASIC: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?\
¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
const GSM7_EXTENSION: &str = "\u{c}^{}\\[~]|€";

/// Septets a character costs in GSM-7, or `None` when it is not in the alphabet.
fn gsm7_cost(c: char) -> Option<usize> {
    // ASCII letters, digits and space are the common case; skip the table scan for them.
    if c.is_ascii_alphanumeric() || c == ' ' || GSM7_BASIC.contains(c) {
        Some(1)
    } else if GSM7_EXTENSION.contains(c) {
        Some(2)
    } else {
        None
    }
}

/// GSM-7 when every character is in its alphabet, else UCS-2.
pub fn encoding(body: &str) -> Encoding {
    if body.chars().all(|c| gsm7_cost(c).is_some()) { Encoding::Gsm7 } else { Encoding::Ucs2 }
}

/// The encoding, length in units and number of segments of `body`.
pub fn count(body: &str) -> SegmentCount {
    let encoding = encoding(body);
    let (single, per_part) = match encoding {
        Encoding::Gsm7 => (160, 153),
        Encoding::Ucs2 => (70, 67),
    };
    let cost = |c: char| match encoding {
        Encoding::Gsm7 => gsm7_cost(c).unwrap_or(1),
        Encoding::Ucs2 => c.len_utf16(),
    };
    let units: usize = body.chars().map(cost).sum();
    if units <= single {
        return SegmentCount { encoding, units, segments: 1 };
    }
    // Pack characters into parts without splitting one across two parts.
    let (mut segments, mut used) = (1, 0);
    for c in body.chars() {
        let n = cost(c);
        if used + n > per_part {
            segments += 1;
            used = 0;
        }
        used += n;
    }
    SegmentCount { encoding, units, segments }
}

/// Just the number of segments of `body`.
pub fn segments(body: &str) -> usize {
    count(body).segments
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_is_gsm7() {
        let c = count("Hello, world! Reply STOP to opt out.");
        assert_eq!((c.encoding, c.units, c.segments), (Encoding::Gsm7, 36, 1));
        assert_eq!(count("").segments, 1);
        assert_eq!(encoding("Ça coûte 5£ @ Zürich"), Encoding::Ucs2); // û is not GSM-7
        assert_eq!(encoding("Ça coute 5£ @ Zürich ¿¡ Δ"), Encoding::Gsm7);
    }

    #[test]
    fn gsm7_boundaries_160_single_153_per_part() {
        assert_eq!(segments(&"a".repeat(160)), 1);
        assert_eq!(segments(&"a".repeat(161)), 2);
        assert_eq!(segments(&"a".repeat(306)), 2);
        assert_eq!(segments(&"a".repeat(307)), 3);
        assert_eq!(segments(&"a".repeat(1530)), 10);
    }

    #[test]
    fn extension_characters_count_two() {
        let c = count("€");
        assert_eq!((c.encoding, c.units), (Encoding::Gsm7, 2));
        assert_eq!(count("{}[]").units, 8);
        // 159 + one 2-septet char = 161 septets: two parts.
        assert_eq!(segments(&format!("{}{{", "a".repeat(158))), 1);
        assert_eq!(segments(&format!("{}{{", "a".repeat(159))), 2);
        // An escape pair is not split: 152 + € does not fit the first 153-septet part.
        let body = format!("{}€{}", "a".repeat(152), "a".repeat(10));
        assert_eq!(count(&body).units, 164);
        assert_eq!(segments(&body), 2);
    }

    #[test]
    fn ucs2_boundaries_70_single_67_per_part() {
        assert_eq!(segments(&"é".repeat(70)), 1); // é is GSM-7, but ê is not
        assert_eq!(encoding(&"ê".repeat(70)), Encoding::Ucs2);
        assert_eq!(segments(&"ê".repeat(70)), 1);
        assert_eq!(segments(&"ê".repeat(71)), 2);
        assert_eq!(segments(&"ê".repeat(134)), 2);
        assert_eq!(segments(&"ê".repeat(135)), 3);
    }

    #[test]
    fn emoji_count_two_code_units_and_make_the_body_ucs2() {
        let c = count("hi 👋");
        assert_eq!((c.encoding, c.units, c.segments), (Encoding::Ucs2, 5, 1));
        assert_eq!(segments(&"👋".repeat(35)), 1);
        assert_eq!(segments(&"👋".repeat(36)), 2);
        // A surrogate pair is not split: 66 units + 👋 moves to the next part.
        let body = format!("{}👋{}", "ê".repeat(66), "ê".repeat(5));
        assert_eq!(segments(&body), 2);
        let body = format!("{}👋{}", "ê".repeat(66), "ê".repeat(66));
        assert_eq!(count(&body).units, 134);
        assert_eq!(segments(&body), 3);
    }
}
