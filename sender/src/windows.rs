//! Sending windows in the recipient's local time (invariant 4).
//!
//! A crusade allows certain weekdays and hours; the law allows 08:00–21:00 (federal), and
//! 08:00–20:00 in Florida and Oklahoma. The effective window is their intersection, evaluated
//! in the recipient's time zone, DST included. The engine asks `is_open` right before claiming
//! and `next_open` to set a row's not-before time when the window is closed.

use chrono::{DateTime, Datelike, Duration, NaiveTime, TimeZone, Utc, Weekday};
use chrono_tz::Tz;

/// Allowed weekdays and local hours [start, end).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LocalWindow {
    /// Bit 0 = Monday ... bit 6 = Sunday.
    pub days: u8,
    pub start: NaiveTime,
    pub end: NaiveTime,
}

const ALL_DAYS: u8 = 0b111_1111;

fn hm(h: u32, m: u32) -> NaiveTime {
    NaiveTime::from_hms_opt(h, m, 0).expect("valid wall-clock time")
}

impl LocalWindow {
    pub fn every_day(start: NaiveTime, end: NaiveTime) -> Self {
        Self { days: ALL_DAYS, start, end }
    }

    /// The legal window for a recipient in `state` (two-letter code, if known).
    pub fn legal(state: Option<&str>) -> Self {
        match state {
            Some("FL" | "OK") => Self::every_day(hm(8, 0), hm(20, 0)),
            _ => Self::every_day(hm(8, 0), hm(21, 0)),
        }
    }

    /// The window allowed by both `self` and `other`.
    pub fn intersect(self, other: Self) -> Self {
        Self { days: self.days & other.days, start: self.start.max(other.start), end: self.end.min(other.end) }
    }

    fn allows_day(self, day: Weekday) -> bool {
        self.days & (1 << day.num_days_from_monday()) != 0
    }

    /// Whether `now` falls inside the window in `tz`.
    pub fn is_open(self, now: DateTime<Utc>, tz: Tz) -> bool {
        let local = now.with_timezone(&tz);
        self.allows_day(local.weekday()) && local.time() >= self.start && local.time() < self.end
    }

    /// `now` if open, else the next instant the window opens (within two weeks), else None
    /// (an empty window: no days, or start ≥ end).
    pub fn next_open(self, now: DateTime<Utc>, tz: Tz) -> Option<DateTime<Utc>> {
        if self.start >= self.end || self.days & ALL_DAYS == 0 {
            return None;
        }
        if self.is_open(now, tz) {
            return Some(now);
        }
        let today = now.with_timezone(&tz).date_naive();
        (0..14).find_map(|offset| {
            let date = today + Duration::days(offset);
            if !self.allows_day(date.weekday()) {
                return None;
            }
            // `earliest` resolves a DST fold; a start inside a DST gap moves to the gap's end.
            let opening = tz
                .from_local_datetime(&date.and_time(self.start))
                .earliest()
                .or_else(|| tz.from_local_datetime(&(date.and_time(self.start) + Duration::hours(1))).earliest())?
                .with_timezone(&Utc);
            (opening > now).then_some(opening)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn federal_and_florida_windows() {
        let ny: Tz = "America/New_York".parse().unwrap();
        let at = utc("2026-07-01T00:30:00Z"); // 20:30 in New York (EDT)
        assert!(LocalWindow::legal(Some("NY")).is_open(at, ny));
        assert!(!LocalWindow::legal(Some("FL")).is_open(at, ny));
        assert!(!LocalWindow::legal(None).is_open(utc("2026-07-01T11:59:00Z"), ny), "07:59 local");
        assert!(LocalWindow::legal(None).is_open(utc("2026-07-01T12:00:00Z"), ny), "08:00 local");
    }

    #[test]
    fn the_same_instant_differs_by_recipient_zone() {
        let at = utc("2026-03-10T14:30:00Z");
        let ny: Tz = "America/New_York".parse().unwrap();
        let la: Tz = "America/Los_Angeles".parse().unwrap();
        let w = LocalWindow::legal(None);
        assert!(w.is_open(at, ny), "10:30 in New York");
        assert!(!w.is_open(at, la), "07:30 in Los Angeles");
        assert_eq!(w.next_open(at, la), Some(utc("2026-03-10T15:00:00Z")));
    }

    #[test]
    fn next_open_skips_disallowed_days_and_clips_to_the_law() {
        let chicago: Tz = "America/Chicago".parse().unwrap();
        // Crusade: weekdays 07:00–22:00, clipped by law to 08:00–21:00.
        let crusade = LocalWindow { days: 0b001_1111, start: hm(7, 0), end: hm(22, 0) };
        let w = crusade.intersect(LocalWindow::legal(Some("IL")));
        assert_eq!((w.start, w.end), (hm(8, 0), hm(21, 0)));
        // Friday 2026-11-20 21:30 CST → Monday 08:00 CST (14:00 UTC).
        let friday_night = utc("2026-11-21T03:30:00Z");
        assert_eq!(w.next_open(friday_night, chicago), Some(utc("2026-11-23T14:00:00Z")));
    }

    #[test]
    fn dst_changes_move_the_utc_opening() {
        let ny: Tz = "America/New_York".parse().unwrap();
        let w = LocalWindow::legal(None);
        // Night before DST starts (2026-03-08): 08:00 EDT is 12:00 UTC.
        assert_eq!(w.next_open(utc("2026-03-08T03:00:00Z"), ny), Some(utc("2026-03-08T12:00:00Z")));
        // Night before DST ends (2026-11-01): 08:00 EST is 13:00 UTC.
        assert_eq!(w.next_open(utc("2026-11-01T03:00:00Z"), ny), Some(utc("2026-11-01T13:00:00Z")));
    }

    #[test]
    fn empty_windows_never_open() {
        let ny: Tz = "America/New_York".parse().unwrap();
        let none = LocalWindow { days: 0, start: hm(8, 0), end: hm(21, 0) };
        assert_eq!(none.next_open(utc("2026-07-01T12:00:00Z"), ny), None);
        let inverted = LocalWindow::every_day(hm(21, 0), hm(8, 0));
        assert_eq!(inverted.next_open(utc("2026-07-01T12:00:00Z"), ny), None);
    }
}
