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

/// A source row: its line in the file (the header is line 1) and its cells, or why not.
pub type SourceRow = crate::csv_file::Row<Cells>;

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
    let (header, rows) = crate::csv_file::read(bytes, column, cells_of)?;
    Ok(PhoneListFile { columns: header.columns.into_iter().flatten().collect(), rows, ignored_columns: header.ignored })
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
        let first = file.rows[0].parsed.as_ref().unwrap();
        assert_eq!((first.phone.as_deref(), first.note.as_deref()), (Some("+14155550100"), Some("asked")));
        assert!(parse(b"phone,phone\n1\n").is_err());
        assert!(parse(b"").is_err());
    }
}
