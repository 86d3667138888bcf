//! Reading a CSV suppression list (opt-outs or DNC): a header row, then one phone or range per
//! row. Every source row comes back with its line — its cells, or why it could not be read — so
//! the caller answers each one (invariant 8: nothing lost on ingest).
//!
//! Columns (case-insensitive; unknown ones are ignored and reported): `phone` (or `e164`,
//! `number`, `phone_number`), `from` and `to` (a DNC range), `reason`, `note`.

use crate::field_error::FieldError;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Column {
    Phone,
    From,
    To,
    Reason,
    Note,
}

fn column(name: &str) -> Option<Column> {
    Some(match name {
        "phone" | "e164" | "number" | "phone_number" => Column::Phone,
        "from" => Column::From,
        "to" => Column::To,
        "reason" => Column::Reason,
        "note" | "notes" => Column::Note,
        _ => return None,
    })
}

/// The trimmed, non-blank cells of one data row.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Cells {
    pub phone: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub reason: Option<String>,
    pub note: Option<String>,
}

/// A source row: its line in the file (the header is line 1) and what it held.
#[derive(Clone, Debug)]
pub struct SourceRow {
    pub line: u64,
    pub cells: Result<Cells, FieldError>,
}

#[derive(Debug)]
pub struct PhoneListFile {
    pub columns: Vec<Column>,
    pub rows: Vec<SourceRow>,
    pub ignored_columns: Vec<String>,
}

impl PhoneListFile {
    pub fn has(&self, column: Column) -> bool {
        self.columns.contains(&column)
    }
}

/// Parses the whole file. A file-level problem (no header, a column given twice) is an error;
/// row-level problems land in the rows.
pub fn parse(bytes: &[u8]) -> Result<PhoneListFile, FieldError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let mut reader = csv::ReaderBuilder::new().flexible(true).trim(csv::Trim::All).from_reader(bytes);
    let headers =
        reader.byte_headers().map_err(|e| FieldError::new("file", format!("Unreadable header: {e}.")))?.clone();
    if headers.is_empty() || headers.iter().all(|h| h.is_empty()) {
        return Err(FieldError::new("file", "The file is empty; the first line names the columns."));
    }
    let mut by_index: Vec<Option<Column>> = Vec::new();
    let mut ignored_columns = Vec::new();
    for raw in headers.iter() {
        let name = String::from_utf8_lossy(raw).trim().to_ascii_lowercase().replace([' ', '-'], "_");
        let col = column(&name);
        if col.is_some() && by_index.contains(&col) {
            return Err(FieldError::new("file", format!("Column {name} is given twice.")));
        }
        if col.is_none() {
            ignored_columns.push(name);
        }
        by_index.push(col);
    }
    let mut rows = Vec::new();
    let mut record = csv::ByteRecord::new();
    loop {
        let line = reader.position().line();
        match reader.read_byte_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {
                let line = record.position().map_or(line, |p| crate::csv_line::line_at(bytes, p.byte()));
                rows.push(SourceRow { line, cells: cells_of(&by_index, &record) });
            }
            Err(e) => {
                let line = e.position().map_or(line, |p| crate::csv_line::line_at(bytes, p.byte()));
                rows.push(SourceRow { line, cells: Err(FieldError::new("row", format!("Unreadable row: {e}."))) });
                if !matches!(e.kind(), csv::ErrorKind::Utf8 { .. } | csv::ErrorKind::UnequalLengths { .. }) {
                    break;
                }
            }
        }
    }
    Ok(PhoneListFile { columns: by_index.into_iter().flatten().collect(), rows, ignored_columns })
}

fn cells_of(columns: &[Option<Column>], record: &csv::ByteRecord) -> Result<Cells, FieldError> {
    let mut cells = Cells::default();
    for (i, col) in columns.iter().enumerate() {
        let Some(col) = col else { continue };
        let raw = record.get(i).unwrap_or_default();
        let text = std::str::from_utf8(raw).map_err(|_| FieldError::new("row", "The row is not valid UTF-8."))?;
        let value = Some(text.trim().to_owned()).filter(|s| !s.is_empty());
        match col {
            Column::Phone => cells.phone = value,
            Column::From => cells.from = value,
            Column::To => cells.to = value,
            Column::Reason => cells.reason = value,
            Column::Note => cells.note = value,
        }
    }
    Ok(cells)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_row_comes_back_with_its_line() {
        let file = parse(b"\xEF\xBB\xBFPhone,Note,extra\n+14155550100,asked,x\n\n(415) 555-0101\n").unwrap();
        assert_eq!(file.columns, [Column::Phone, Column::Note]);
        assert_eq!(file.ignored_columns, ["extra"]);
        let lines: Vec<u64> = file.rows.iter().map(|r| r.line).collect();
        assert_eq!(lines, [2, 4]);
        let first = file.rows[0].cells.as_ref().unwrap();
        assert_eq!((first.phone.as_deref(), first.note.as_deref()), (Some("+14155550100"), Some("asked")));
        assert!(parse(b"phone,phone\n1\n").is_err());
        assert!(parse(b"").is_err());
    }
}
