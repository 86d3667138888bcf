//! Reading an uploaded CSV file (numbers, suppression lists): an optional BOM, a header row
//! naming the columns, then every source row with its line — its parsed value, or why it could
//! not be read — so callers answer each row (invariant 8: nothing lost on ingest).

use crate::field_error::FieldError;

/// The header: each position's known column (None: unknown, reported and ignored).
pub struct Header<C> {
    pub columns: Vec<Option<C>>,
    pub ignored: Vec<String>,
}

/// One source row: its line in the file (the header is line 1) and what `row` made of it.
#[derive(Clone, Debug)]
pub struct Row<R> {
    pub line: u64,
    pub parsed: Result<R, FieldError>,
}

/// Reads `bytes`: header names are trimmed, lower-cased, spaces and dashes made `_`, then
/// mapped by `column`; a known column given twice or an empty header is a file-level error.
/// Each data row goes through `row`; an unreadable one becomes that row's error, and reading
/// stops only where the csv reader cannot go on.
pub fn read<C: Copy + PartialEq, R>(
    bytes: &[u8],
    column: impl Fn(&str) -> Option<C>,
    row: impl Fn(&[Option<C>], &csv::ByteRecord) -> Result<R, FieldError>,
) -> Result<(Header<C>, Vec<Row<R>>), FieldError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let mut reader = csv::ReaderBuilder::new().flexible(true).trim(csv::Trim::All).from_reader(bytes);
    let headers =
        reader.byte_headers().map_err(|e| FieldError::new("file", format!("Unreadable header: {e}.")))?.clone();
    if headers.is_empty() || headers.iter().all(|h| h.is_empty()) {
        return Err(FieldError::new("file", "The file is empty; the first line names the columns."));
    }
    let mut header = Header { columns: Vec::new(), ignored: Vec::new() };
    for raw in headers.iter() {
        let name = String::from_utf8_lossy(raw).trim().to_ascii_lowercase().replace([' ', '-'], "_");
        let col = column(&name);
        if col.is_some() && header.columns.contains(&col) {
            return Err(FieldError::new("file", format!("Column {name} is given twice.")));
        }
        if col.is_none() {
            header.ignored.push(name);
        }
        header.columns.push(col);
    }
    let mut rows = Vec::new();
    let mut record = csv::ByteRecord::new();
    loop {
        let line = reader.position().line();
        match reader.read_byte_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {
                let line = record.position().map_or(line, |p| line_at(bytes, p.byte()));
                rows.push(Row { line, parsed: row(&header.columns, &record) });
            }
            Err(e) => {
                let line = e.position().map_or(line, |p| line_at(bytes, p.byte()));
                rows.push(Row { line, parsed: Err(FieldError::new("row", format!("Unreadable row: {e}."))) });
                if !matches!(e.kind(), csv::ErrorKind::Utf8 { .. } | csv::ErrorKind::UnequalLengths { .. }) {
                    break;
                }
            }
        }
    }
    Ok((header, rows))
}

// The csv crate's own line counter does not count the blank lines it skips, so a record's line
// is derived from its byte offset instead.

/// The 1-based line of the first non-blank byte at or after `byte` in `bytes`.
fn line_at(bytes: &[u8], byte: u64) -> u64 {
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
