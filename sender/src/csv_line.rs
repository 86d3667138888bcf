//! The line a CSV record starts on, for per-row answers on import. The csv crate's own line
//! counter does not count the blank lines it skips, so the line is derived from the record's
//! byte offset instead.

/// The 1-based line of the first non-blank byte at or after `byte` in `bytes`.
pub fn line_at(bytes: &[u8], byte: u64) -> u64 {
    let mut i = usize::try_from(byte).unwrap_or(usize::MAX).min(bytes.len());
    while i < bytes.len() && matches!(bytes[i], b'\n' | b'\r') {
        i += 1;
    }
    1 + bytes[..i].iter().filter(|&&b| b == b'\n').count() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blank_lines_count() {
        let text = b"a\nb\n\n\r\nc\n";
        assert_eq!(line_at(text, 0), 1);
        assert_eq!(line_at(text, 2), 2);
        assert_eq!(line_at(text, 4), 5);
        assert_eq!(line_at(text, 99), 6);
    }
}
