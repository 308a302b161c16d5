//! Timestamps in the original's formats (docs/ORIGINAL.md, "Value encodings").
//!
//! Stored timestamps are text, kept exactly as written. We write
//! `datetime.now(timezone.utc).isoformat()`'s shape
//! (`2026-01-05T10:00:00.123456+00:00`) and read every observed shape:
//! `YYYY-MM-DD HH:MM:SS` (SQLite `CURRENT_TIMESTAMP`, UTC), naive ISO (local
//! time of the writer, unknown to us, read as UTC), ISO with an offset, and
//! REAL or INTEGER Unix epochs.

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Timelike, Utc};

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
}
