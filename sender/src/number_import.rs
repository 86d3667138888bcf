//! Reading a CSV file of numbers: a header row, then one number per row. Every source row comes
//! back — parsed, or with the column at fault and why — so the caller can account for each
//! (invariant 8: nothing lost on ingest).
//!
//! Columns (header names are case-insensitive; unknown columns are ignored and reported):
//! `e164` (or `phone`, `number`, `phone_number`) and `account_sid` are required; `sms`, `mms`
//! (true/false, yes/no, 1/0; default true and false), `campaign_10dlc`, `mps` (default 1),
//! `daily_cap` (blank: none) and `state` (blank: derived from the area code) are optional.

use crate::E164;
use crate::accounts::{AccountSid, parse_cap, parse_mps};
use crate::field_error::FieldError;
use crate::numbers::{parse_campaign, resolve_state};

/// One data row of the file, parsed.
#[derive(Clone, Debug)]
pub struct NumberRow {
    pub e164: E164,
    pub account_sid: AccountSid,
    pub sms: bool,
    pub mms: bool,
    pub campaign_10dlc: Option<String>,
    pub mps: f64,
    pub daily_cap: Option<i32>,
    pub state: Option<String>,
}

/// A source row: its line in the file (the header is line 1) and the number it held, or why not.
pub type SourceRow = crate::csv_file::Row<NumberRow>;

#[derive(Debug)]
pub struct ParsedFile {
    pub rows: Vec<SourceRow>,
    pub ignored_columns: Vec<String>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Column {
    E164,
    AccountSid,
    Sms,
    Mms,
    Campaign,
    Mps,
    DailyCap,
    State,
}

fn column(name: &str) -> Option<Column> {
    Some(match name {
        "e164" | "phone" | "number" | "phone_number" => Column::E164,
        "account_sid" | "account" => Column::AccountSid,
        "sms" => Column::Sms,
        "mms" => Column::Mms,
        "campaign_10dlc" | "campaign" | "campaign_id" => Column::Campaign,
        "mps" => Column::Mps,
        "daily_cap" => Column::DailyCap,
        "state" => Column::State,
        _ => return None,
    })
}

/// Parses the whole file. A file-level problem (no header, a required column missing, a column
/// given twice) is an error naming the column; row-level problems land in the rows.
pub fn parse(bytes: &[u8]) -> Result<ParsedFile, FieldError> {
    let (header, rows) = crate::csv_file::read(bytes, column, parse_row)?;
    for (required, name) in [(Column::E164, "e164"), (Column::AccountSid, "account_sid")] {
        if !header.columns.contains(&Some(required)) {
            return Err(FieldError::new(name, format!("The header has no {name} column.")));
        }
    }
    Ok(ParsedFile { rows, ignored_columns: header.ignored })
}

fn parse_row(columns: &[Option<Column>], record: &csv::ByteRecord) -> Result<NumberRow, FieldError> {
    let get = |want: Column| -> Result<Option<&str>, FieldError> {
        let Some(i) = columns.iter().position(|c| *c == Some(want)) else { return Ok(None) };
        let raw = record.get(i).unwrap_or_default();
        let text = std::str::from_utf8(raw).map_err(|_| FieldError::new("row", "The row is not valid UTF-8."))?;
        Ok(Some(text.trim()).filter(|s| !s.is_empty()))
    };
    let e164 = match get(Column::E164)? {
        None => return Err(FieldError::new("e164", "The phone number is missing.")),
        Some(raw) => E164::parse(raw).map_err(|e| FieldError::new("e164", format!("{raw:?} is {e}.")))?,
    };
    let account_sid = match get(Column::AccountSid)? {
        None => return Err(FieldError::new("account_sid", "The account SID is missing.")),
        Some(raw) => AccountSid::parse(raw).map_err(|e| FieldError::new("account_sid", e))?,
    };
    let sms = boolean("sms", get(Column::Sms)?, true)?;
    let mms = boolean("mms", get(Column::Mms)?, false)?;
    let campaign_10dlc = parse_campaign(get(Column::Campaign)?)?;
    let mps = match get(Column::Mps)? {
        None => 1.0,
        Some(raw) => {
            let v = raw.parse::<f64>().map_err(|_| FieldError::new("mps", format!("{raw:?} is not a number.")))?;
            parse_mps("mps", Some(v))?.unwrap_or(1.0)
        }
    };
    let daily_cap = match get(Column::DailyCap)? {
        None => None,
        Some(raw) => {
            let v = raw
                .parse::<i64>()
                .map_err(|_| FieldError::new("daily_cap", format!("{raw:?} is not a whole number.")))?;
            parse_cap("daily_cap", Some(v))?
        }
    };
    let state = resolve_state(&e164, get(Column::State)?)?;
    Ok(NumberRow { e164, account_sid, sms, mms, campaign_10dlc, mps, daily_cap, state })
}

fn boolean(field: &'static str, raw: Option<&str>, default: bool) -> Result<bool, FieldError> {
    let Some(raw) = raw else { return Ok(default) };
    match raw.to_ascii_lowercase().as_str() {
        "true" | "yes" | "y" | "1" => Ok(true),
        "false" | "no" | "n" | "0" => Ok(false),
        _ => Err(FieldError::new(field, format!("{raw:?} is not true/false."))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SID: &str = "AC0123456789abcdef0123456789abcdef";

    #[test]
    fn every_row_comes_back_parsed_or_with_its_column() {
        let csv = format!(
            "Phone,Account SID,sms,mms,mps,daily_cap,notes\n\
             (415) 555-2671,{SID},yes,no,2,300,first\n\
             not a phone,{SID},,,,,bad\n\
             +12125550123,AC12,,,,,bad sid\n\
             +12125550124,{SID},maybe,,,,bad sms\n\
             +12125550125,{SID},,,fast,,bad mps\n\
             +12125550126,{SID},,,,,\n"
        );
        let file = parse(csv.as_bytes()).unwrap();
        assert_eq!(file.ignored_columns, vec!["notes"]);
        let lines: Vec<u64> = file.rows.iter().map(|r| r.line).collect();
        assert_eq!(lines, vec![2, 3, 4, 5, 6, 7]);
        let first = file.rows[0].parsed.as_ref().unwrap();
        assert_eq!(first.e164.as_str(), "+14155552671");
        assert_eq!((first.sms, first.mms, first.mps, first.daily_cap), (true, false, 2.0, Some(300)));
        assert_eq!(first.state.as_deref(), Some("CA"));
        let fields: Vec<&str> = file.rows[1..5].iter().map(|r| r.parsed.as_ref().unwrap_err().field).collect();
        assert_eq!(fields, vec!["e164", "account_sid", "sms", "mps"]);
        let last = file.rows[5].parsed.as_ref().unwrap();
        assert_eq!((last.sms, last.mms, last.mps, last.daily_cap), (true, false, 1.0, None));
    }

    #[test]
    fn file_level_problems_name_the_column() {
        assert_eq!(parse(b"account_sid\nAC1\n").unwrap_err().field, "e164");
        assert_eq!(parse(b"e164\n+14155552671\n").unwrap_err().field, "account_sid");
        assert_eq!(parse(b"").unwrap_err().field, "file");
        assert_eq!(parse(b"phone,e164,account_sid\n").unwrap_err().field, "file");
    }

    #[test]
    fn short_rows_and_bad_bytes_are_rows_too() {
        let mut csv = format!("e164,account_sid\n+14155552671\n+14155552672,{SID}\n").into_bytes();
        csv.extend_from_slice(b"+1415555\xff2673,");
        csv.extend_from_slice(SID.as_bytes());
        csv.push(b'\n');
        let file = parse(&csv).unwrap();
        assert_eq!(file.rows.len(), 3);
        assert_eq!(file.rows[0].parsed.as_ref().unwrap_err().field, "account_sid");
        assert!(file.rows[1].parsed.is_ok());
        assert_eq!(file.rows[2].parsed.as_ref().unwrap_err().field, "row");
    }
}
