//! The queries stores share: the rows of an index key (or of the whole
//! table when no key is given), in time order, a page or the newest few of
//! them.
//!
//! Stored timestamps are text, kept as written, in every shape the
//! original wrote ([`crate::time`]): SQLite's `YYYY-MM-DD HH:MM:SS`, naive
//! ISO, ISO with an offset. An index whose columns end with the time is
//! already in time order (src/table/keys.rs, "Timestamps in indexes"):
//! a store reads it with a page or a [`time_range`] and sorts nothing.
//! Where no index leads to the time (a filter on another column, a
//! tie-break of the store's own), rows are ordered here by the instant
//! the text stands for
//! ([`instant`]; a missing or unreadable time orders before every instant),
//! parsed once per row rather than once per comparison. Where two
//! spellings of one instant must still come out in a fixed order,
//! [`instant_then_text`] breaks the tie by the text. REAL epoch columns
//! order by [`Real`]. Rows at the same time are ordered by the store's own
//! tie-break (`then`); [`keep`] leaves them in the order they were read
//! (the sort is stable), which for a scan or an index is key order.

use crate::error::Result;
use crate::table::keys::IntoKey;
use crate::table::{Edge, Index, KeyRange, Page, PrefixOf, Read, Row};
use chrono::{DateTime, Utc};
use std::cmp::Ordering;

/// Oldest or newest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Order {
    /// Earliest time first.
    Oldest,
    /// Latest time first.
    Newest,
}

/// The instant a stored timestamp stands for; `None` (missing or
/// unreadable) orders before every instant.
pub(crate) fn instant(text: Option<&str>) -> Option<DateTime<Utc>> {
    text.and_then(crate::time::parse)
}

/// [`instant`], then the text itself (missing text as empty).
pub(crate) fn instant_then_text(text: Option<&str>) -> (Option<DateTime<Utc>>, String) {
    (instant(text), text.unwrap_or_default().to_string())
}

/// A REAL column (an epoch time, a score), totally ordered
/// (`f64::total_cmp`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Real(pub f64);

impl PartialEq for Real {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Real {}

impl PartialOrd for Real {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Real {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.total_cmp(&other.0)
    }
}

/// No tie-break: rows at the same time stay in the order they were read.
pub(crate) fn keep<R>(_: &R, _: &R) -> Ordering {
    Ordering::Equal
}

/// The rows whose `index` columns start with `key`, or every row of the
/// table when there is no key (read in index or primary-key order).
pub(crate) fn find_or_scan<R: Row, K, P: PrefixOf<K>>(
    r: &impl Read,
    index: Index<R, K>,
    key: Option<P>,
) -> Result<Vec<R>> {
    match key {
        Some(k) => r.find(index, k, Page::default()),
        None => r.scan(KeyRange::all(), Page::default()),
    }
}

/// `rows` ordered by `time` (computed once per row) in `order`, rows at
/// the same time by `then`. The key may lead with another column (a
/// count, a score) that orders before the time, in the same direction.
pub(crate) fn by_time<R, K: Ord>(
    rows: Vec<R>,
    order: Order,
    time: impl Fn(&R) -> K,
    then: impl Fn(&R, &R) -> Ordering,
) -> Vec<R> {
    let keys: Vec<K> = rows.iter().map(time).collect();
    let mut at: Vec<usize> = (0..rows.len()).collect();
    at.sort_by(|&a, &b| {
        let by_time = match order {
            Order::Oldest => keys[a].cmp(&keys[b]),
            Order::Newest => keys[b].cmp(&keys[a]),
        };
        by_time.then_with(|| then(&rows[a], &rows[b]))
    });
    let mut slots: Vec<Option<R>> = rows.into_iter().map(Some).collect();
    at.into_iter().filter_map(|i| slots[i].take()).collect()
}

/// The newest `limit` of `rows` by `time`, newest first; rows at the
/// same time by `then`.
pub(crate) fn newest<R, K: Ord>(
    rows: Vec<R>,
    limit: usize,
    time: impl Fn(&R) -> K,
    then: impl Fn(&R, &R) -> Ordering,
) -> Vec<R> {
    let mut rows = by_time(rows, Order::Newest, time, then);
    rows.truncate(limit);
    rows
}

/// The range of an index on `(lead, time)` (or on `time` alone, with no
/// `lead`): the rows of `lead` whose time lies in `[since, until)`. The
/// index is in time order and its bounds compare instants, whatever
/// shape a row or a bound is written in (src/table/keys.rs, "Timestamps
/// in indexes"); from `since` on, text that is no time is left out (it
/// sorts before every time).
pub(crate) fn time_range(lead: Option<&str>, since: Option<&str>, until: Option<&str>) -> KeyRange {
    let prefix = lead.map(|l| l.to_key()).unwrap_or_default();
    let start = match since {
        Some(s) => Edge::Before([prefix.clone(), s.to_key()].concat()),
        None if prefix.is_empty() => Edge::Unbounded,
        None => Edge::Before(prefix.clone()),
    };
    let end = match until {
        Some(u) => Edge::Before([prefix.clone(), u.to_key()].concat()),
        None if prefix.is_empty() => Edge::Unbounded,
        None => Edge::After(prefix),
    };
    KeyRange::from_edges(start, end)
}

/// One page of rows already in order: reversed first if the page asks
/// for it, then `offset` skipped and at most `limit` kept.
pub(crate) fn paginate<T>(mut all: Vec<T>, page: Page) -> Vec<T> {
    if page.reverse {
        all.reverse();
    }
    all.into_iter()
        .skip(page.offset)
        .take(page.limit.unwrap_or(usize::MAX))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mixed_shapes_order_by_instant_and_ties_keep_their_order() {
        // (time, name): the same instant in three spellings, one unreadable.
        let rows = vec![
            (Some("2026-01-05T11:00:00+01:00"), "b"),
            (Some("2026-01-05 09:00:00"), "early"),
            (Some("yesterday"), "junk"),
            (Some("2026-01-05T10:00:00"), "a"),
            (None, "none"),
            (Some("2026-01-05 10:00:00"), "c"),
        ];
        fn names(v: Vec<(Option<&str>, &'static str)>) -> Vec<&'static str> {
            v.into_iter().map(|r| r.1).collect()
        }
        let oldest = by_time(rows.clone(), Order::Oldest, |r| instant(r.0), keep);
        assert_eq!(names(oldest), ["junk", "none", "early", "b", "a", "c"]);
        let newest = newest(rows.clone(), 4, |r| instant(r.0), |a, b| a.1.cmp(b.1));
        assert_eq!(names(newest), ["a", "b", "c", "early"]);
        let text = by_time(rows, Order::Oldest, |r| instant_then_text(r.0), keep);
        assert_eq!(names(text), ["none", "junk", "early", "c", "a", "b"]);
    }

    #[test]
    fn epochs_and_pages() {
        let rows = vec![(2.0, 'a'), (f64::NAN, 'n'), (1.0, 'b'), (2.0, 'c')];
        let got: Vec<char> = newest(rows, 3, |r| Real(r.0), |a, b| a.1.cmp(&b.1))
            .into_iter()
            .map(|r| r.1)
            .collect();
        assert_eq!(got, ['n', 'a', 'c']);
        let page = Page {
            offset: 1,
            limit: Some(2),
            reverse: true,
        };
        assert_eq!(paginate(vec![1, 2, 3, 4], page), [3, 2]);
        assert_eq!(paginate(vec![1, 2, 3], Page::default()), [1, 2, 3]);
    }
}
