//! The slow-operation log (`ARAGORA_SLOW_QUERY_MS`).
//!
//! Operations slower than the threshold are logged through `tracing` at WARN
//! in the original's shape:
//!
//! ```text
//! Slow query (0.523s): save_cycle [cycle=5] (threshold: 0.500s)
//! ```
//!
//! Stores do not measure themselves: each names its operation to
//! [`Database::op`](crate::db::Database::op) (or `read_op` / `write_op`),
//! which times the operation as a whole, so every store operation is
//! measured the same way and a slow one is logged once.

use std::time::{Duration, Instant};

/// Measures one operation; logs on drop if it was slow.
#[must_use = "the operation is measured until the guard is dropped"]
pub struct SlowGuard<'a, F: FnOnce() -> String> {
    op: &'a str,
    context: Option<F>,
    threshold: Duration,
    start: Instant,
}

impl<'a, F: FnOnce() -> String> SlowGuard<'a, F> {
    /// Starts measuring `op`; `context` is only evaluated if the operation is slow.
    pub fn new(op: &'a str, threshold: Duration, context: F) -> Self {
        SlowGuard {
            op,
            context: Some(context),
            threshold,
            start: Instant::now(),
        }
    }
}

impl<F: FnOnce() -> String> Drop for SlowGuard<'_, F> {
    fn drop(&mut self) {
        let elapsed = self.start.elapsed();
        if elapsed > self.threshold {
            let ctx = self.context.take().map(|f| f()).unwrap_or_default();
            tracing::warn!("{}", format_slow(self.op, &ctx, elapsed, self.threshold));
        }
    }
}

/// Formats the slow-query line exactly as the original does.
pub fn format_slow(op: &str, context: &str, elapsed: Duration, threshold: Duration) -> String {
    let ctx = if context.is_empty() {
        String::new()
    } else {
        format!(" [{context}]")
    };
    format!(
        "Slow query ({:.3}s): {op}{ctx} (threshold: {:.3}s)",
        elapsed.as_secs_f64(),
        threshold.as_secs_f64()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documented_shape() {
        let line = format_slow(
            "save_cycle",
            "cycle=5",
            Duration::from_millis(523),
            Duration::from_millis(500),
        );
        assert_eq!(
            line,
            "Slow query (0.523s): save_cycle [cycle=5] (threshold: 0.500s)"
        );
    }
}
