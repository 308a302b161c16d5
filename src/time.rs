//! Timestamps in the original's formats (docs/ORIGINAL.md, "Value encodings").
//!
//! Stored timestamps are text, kept exactly as written. We write
//! `datetime.now(timezone.utc).isoformat()`'s shape
//! (`2026-01-05T10:00:00.123456+00:00`) and read every observed shape:
//! `YYYY-MM-DD HH:MM:SS` (SQLite `CURRENT_TIMESTAMP`, UTC), naive ISO (local
//! time of the writer, unknown to us, read as UTC), ISO with an offset, and
//! REAL or INTEGER Unix epochs.
//!
//! Stores read the time only from the [`Clock`] their [`Config`](crate::config::Config)
//! carries (through [`Database::now`](crate::db::Database::now) and its
//! siblings): the system clock in use, a manual one in tests, so that a
//! test sets the time instead of every operation having a twin that takes
//! it as an argument.

use chrono::{DateTime, Local, NaiveDate, NaiveDateTime, TimeZone, Timelike, Utc};
use parking_lot::Mutex;
use std::sync::Arc;

/// Where stores read the time: the system clock, or a manual clock a test
/// holds (clones share it). A manual clock follows the system clock until
/// it is set, and while it is set every reading is that instant in each
/// shape the stores write: the UTC instant, Unix epoch seconds, the
/// local wall-clock time (taken as UTC on a manual clock unless set
/// separately) and the ISO text.
#[derive(Clone, Default)]
pub struct Clock {
    manual: Option<Arc<Mutex<Option<Frozen>>>>,
}

/// The instant a manual clock is set to, in every shape, each exactly as
/// given where it was given (an epoch set as `f64` reads back as that `f64`).
#[derive(Debug, Clone, PartialEq)]
pub struct Frozen {
    utc: DateTime<Utc>,
    epoch: f64,
    local: NaiveDateTime,
    iso: String,
}

impl Frozen {
    fn of_utc(utc: DateTime<Utc>) -> Frozen {
        Frozen {
            utc,
            epoch: utc.timestamp() as f64 + f64::from(utc.timestamp_subsec_nanos()) / 1e9,
            local: utc.naive_utc(),
            iso: format_iso(utc),
        }
    }
}

impl From<DateTime<Utc>> for Frozen {
    fn from(t: DateTime<Utc>) -> Frozen {
        Frozen::of_utc(t)
    }
}

impl From<f64> for Frozen {
    /// Unix epoch seconds (must be a representable instant).
    fn from(secs: f64) -> Frozen {
        let utc = from_epoch(secs).expect("a manual clock's epoch is a representable instant");
        Frozen {
            epoch: secs,
            ..Frozen::of_utc(utc)
        }
    }
}

impl From<NaiveDateTime> for Frozen {
    /// A local wall-clock time; the UTC instant is the same digits.
    fn from(local: NaiveDateTime) -> Frozen {
        Frozen {
            local,
            ..Frozen::of_utc(local.and_utc())
        }
    }
}

impl From<(NaiveDateTime, DateTime<Utc>)> for Frozen {
    /// A local wall-clock time and the UTC instant, each as given.
    fn from((local, utc): (NaiveDateTime, DateTime<Utc>)) -> Frozen {
        Frozen {
            local,
            ..Frozen::of_utc(utc)
        }
    }
}

impl From<&str> for Frozen {
    /// ISO text in any shape [`parse`] reads; reads back as given.
    fn from(iso: &str) -> Frozen {
        let utc = parse(iso).expect("a manual clock's text is a timestamp");
        Frozen {
            iso: iso.to_string(),
            ..Frozen::of_utc(utc)
        }
    }
}

impl From<&String> for Frozen {
    /// ISO text, as for `&str`.
    fn from(iso: &String) -> Frozen {
        Frozen::from(iso.as_str())
    }
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.manual {
            None => f.write_str("Clock::system"),
            Some(m) => write!(f, "Clock::manual({:?})", m.lock().as_ref().map(|t| &t.iso)),
        }
    }
}

impl Clock {
    /// The system clock.
    pub fn system() -> Clock {
        Clock::default()
    }

    /// A manual clock, following the system clock until it is set.
    pub fn manual() -> Clock {
        Clock {
            manual: Some(Arc::default()),
        }
    }

    /// A manual clock set to `t`.
    pub fn fixed(t: impl Into<Frozen>) -> Clock {
        let c = Clock::manual();
        c.set(t);
        c
    }

    /// Sets a manual clock to `t` (every clone sees it).
    ///
    /// # Panics
    ///
    /// On the system clock, which cannot be set.
    pub fn set(&self, t: impl Into<Frozen>) {
        *self.cell().lock() = Some(t.into());
    }

    /// Lets a manual clock follow the system clock again.
    pub fn unset(&self) {
        *self.cell().lock() = None;
    }

    /// Runs `f` with the manual clock set to `t`, then puts back what it
    /// was set to before (or lets it follow the system clock again).
    pub fn at<R>(&self, t: impl Into<Frozen>, f: impl FnOnce() -> R) -> R {
        let before = self.cell().lock().replace(t.into());
        let out = f();
        *self.cell().lock() = before;
        out
    }

    fn cell(&self) -> &Mutex<Option<Frozen>> {
        self.manual
            .as_deref()
            .expect("only a manual clock (Clock::manual) can be set")
    }

    fn frozen(&self) -> Option<Frozen> {
        self.manual.as_ref().and_then(|m| m.lock().clone())
    }

    /// Now, in UTC.
    pub fn now(&self) -> DateTime<Utc> {
        self.frozen().map_or_else(Utc::now, |t| t.utc)
    }

    /// Now, as Unix epoch seconds (the REAL time columns).
    pub fn epoch(&self) -> f64 {
        self.frozen().map_or_else(epoch_now, |t| t.epoch)
    }

    /// Now, in the ISO shape we write ([`format_iso`]).
    pub fn iso(&self) -> String {
        self.frozen().map_or_else(now_iso, |t| t.iso)
    }

    /// Now, as the local wall-clock time (the columns the original fills
    /// with a naive `datetime.now()`).
    pub fn local(&self) -> NaiveDateTime {
        self.frozen()
            .map_or_else(|| Local::now().naive_local(), |t| t.local)
    }
}

/// Now, in the shape we write.
pub fn now_iso() -> String {
    format_iso(Utc::now())
}

/// Formats like Python's `datetime.isoformat()` on an aware UTC datetime:
/// microseconds only when non-zero.
pub fn format_iso(t: DateTime<Utc>) -> String {
    if t.nanosecond() / 1000 == 0 {
        t.format("%Y-%m-%dT%H:%M:%S+00:00").to_string()
    } else {
        t.format("%Y-%m-%dT%H:%M:%S%.6f+00:00").to_string()
    }
}

/// SQLite `CURRENT_TIMESTAMP`'s shape, `YYYY-MM-DD HH:MM:SS` (UTC, whole
/// seconds): the default of the original's columns that SQLite fills.
pub fn format_sql(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S").to_string()
}

/// Now, as Unix epoch seconds (the REAL time columns).
pub fn epoch_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// Parses any observed timestamp shape. Naive times are taken as UTC.
pub fn parse(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    if let Ok(t) = DateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f%:z") {
        return Some(t.with_timezone(&Utc));
    }
    for fmt in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, fmt) {
            return Some(Utc.from_utc_datetime(&t));
        }
    }
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return d.and_hms_opt(0, 0, 0).map(|t| Utc.from_utc_datetime(&t));
    }
    let secs: f64 = s.parse().ok()?;
    from_epoch(secs)
}

/// The start of every range of times: 0001-01-01 UTC. An index on a
/// timestamp is in time order, NULL and text that is no time first
/// (src/table/keys.rs, "Timestamps in indexes"), so a range that starts
/// here holds times only: retention deletes what it can date, never a
/// row whose time it cannot read.
pub const EARLIEST: &str = "0001-01-01T00:00:00+00:00";

/// A Unix epoch in seconds (REAL or INTEGER columns).
pub fn from_epoch(secs: f64) -> Option<DateTime<Utc>> {
    if !secs.is_finite() {
        return None;
    }
    let whole = secs.floor();
    let nanos = ((secs - whole) * 1e9).round().min(999_999_999.0) as u32;
    if whole.abs() > 1e13 {
        return None;
    }
    Utc.timestamp_opt(whole as i64, nanos).single()
}

/// `YYYY-MM` of a timestamp, for monthly aggregation.
pub fn month_of(s: &str) -> Option<String> {
    parse(s).map(|t| t.format("%Y-%m").to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_observed_shape_parses() {
        let want = Utc.with_ymd_and_hms(2026, 1, 5, 10, 0, 0).unwrap();
        for s in [
            "2026-01-05 10:00:00",
            "2026-01-05T10:00:00",
            "2026-01-05T10:00:00.000000",
            "2026-01-05T10:00:00+00:00",
            "2026-01-05T11:00:00+01:00",
            "1767607200",
            "1767607200.0",
        ] {
            assert_eq!(parse(s), Some(want), "{s}");
        }
        assert_eq!(parse("yesterday"), None);
        assert_eq!(parse("NaN"), None);
        assert_eq!(parse("1e300"), None);
    }

    #[test]
    fn python_isoformat_shape() {
        let t = Utc.with_ymd_and_hms(2026, 1, 5, 10, 0, 0).unwrap();
        assert_eq!(format_iso(t), "2026-01-05T10:00:00+00:00");
        let t = t + chrono::Duration::microseconds(42);
        assert_eq!(format_iso(t), "2026-01-05T10:00:00.000042+00:00");
        assert_eq!(month_of("2026-01-31 23:59:59").as_deref(), Some("2026-01"));
    }

    #[test]
    fn a_manual_clock_reads_back_what_it_was_set_to() {
        let t = Utc.with_ymd_and_hms(2026, 1, 5, 10, 0, 0).unwrap();
        let c = Clock::fixed(1767607200.123);
        assert_eq!(c.epoch(), 1767607200.123);
        c.set(t);
        assert_eq!(
            (c.now(), c.epoch(), c.iso().as_str()),
            (t, 1767607200.0, "2026-01-05T10:00:00+00:00")
        );
        assert_eq!(c.local(), t.naive_utc());
        let local = NaiveDate::from_ymd_opt(2026, 1, 5)
            .unwrap()
            .and_hms_opt(11, 0, 0)
            .unwrap();
        c.set((local, t));
        assert_eq!((c.local(), c.now()), (local, t));
        c.set("2026-01-05 10:00:00");
        assert_eq!((c.iso().as_str(), c.now()), ("2026-01-05 10:00:00", t));
        // `at` sets it for one call and puts back what was there.
        let clone = c.clone();
        assert_eq!(c.at(5.0, || clone.epoch()), 5.0);
        assert_eq!(c.iso(), "2026-01-05 10:00:00");
        c.unset();
        let before = Utc::now();
        assert!(c.now() >= before);
        assert!(Clock::manual().at(t, || Clock::system().now()) > t);
    }

    #[test]
    #[should_panic(expected = "only a manual clock")]
    fn the_system_clock_cannot_be_set() {
        Clock::system().set(0.0);
    }
}
