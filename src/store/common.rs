//! The small checks and errors every store words the same way, defined
//! once so that two stores cannot drift apart in what they accept or how
//! they say no.

use crate::error::{Error, Result};

/// A number a store writes must be finite (SQLite would store a NaN as
/// NULL and an infinity as a REAL the original cannot read back).
pub(crate) fn finite(what: &str, value: f64) -> Result<()> {
    if value.is_finite() {
        Ok(())
    } else {
        Err(Error::InvalidArgument(format!("{what} must be finite")))
    }
}

/// A store's time-to-live: a finite number of seconds, not negative.
pub(crate) fn ttl(what: &str, seconds: f64) -> Result<f64> {
    if seconds.is_finite() && seconds >= 0.0 {
        Ok(seconds)
    } else {
        Err(Error::InvalidArgument(format!(
            "{what} TTL {seconds} must be a finite number of seconds >= 0"
        )))
    }
}

/// The row `id` of `table` that an operation needs does not exist (the
/// key rendered as the table layer renders a text key, quoted).
pub(crate) fn not_found(table: &'static str, id: &str) -> Error {
    Error::NotFound {
        table,
        key: format!("{id:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_is_refused() {
        assert!(finite("x", 1.5).is_ok());
        for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            let e = finite("confidence", bad).unwrap_err().to_string();
            assert!(e.contains("confidence must be finite"), "{e}");
        }
        assert_eq!(ttl("t", 0.0).unwrap(), 0.0);
        assert!(ttl("t", -1.0).is_err() && ttl("t", f64::NAN).is_err());
        let e = not_found("users", "u1").to_string();
        assert!(e.contains("users") && e.contains("\"u1\""), "{e}");
    }
}
