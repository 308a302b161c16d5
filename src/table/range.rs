//! Key ranges and pages: what a scan asks for, independent of the backend.
//!
//! A [`KeyRange`] keeps what the caller meant — "leading columns at or
//! after these values", "up to and including this prefix" — as encoded
//! values, not as byte bounds, so that the embedded store can turn it into
//! byte bounds in a key space ([`KeyRange::within`]) and a SQL backend into
//! a row comparison on the leading columns ([`KeyRange::edges`]).

use super::keys::{self, IntoKey};
use std::ops::Bound;

/// One end of a [`KeyRange`]. The encoded values (see [`keys`]) are the
/// leading columns of the key the edge compares against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Edge {
    /// No limit at this end.
    Unbounded,
    /// Start: keys whose leading columns are `>=` these values.
    /// End: keys whose leading columns are `<` these values.
    Before(Vec<u8>),
    /// Start: keys whose leading columns are `>` these values.
    /// End: keys whose leading columns are `<=` these values.
    After(Vec<u8>),
    /// A bound on already-encoded whole keys (embedded-store tools only).
    Raw(Bound<Vec<u8>>),
}

/// A range of keys, on the primary key or on an index's columns. Bounds
/// compare whole column values even inside composite index keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRange {
    start: Edge,
    end: Edge,
}

impl KeyRange {
    /// Everything.
    pub fn all() -> Self {
        KeyRange {
            start: Edge::Unbounded,
            end: Edge::Unbounded,
        }
    }

    /// Keys whose leading columns equal `prefix`.
    pub fn prefix(prefix: impl IntoKey) -> Self {
        let p = prefix.to_key();
        KeyRange {
            start: Edge::Before(p.clone()),
            end: Edge::After(p),
        }
    }

    /// Keys whose leading columns lie between `lo` and `hi`.
    pub fn between<K: IntoKey>(lo: Bound<K>, hi: Bound<K>) -> Self {
        let start = match lo {
            Bound::Included(k) => Edge::Before(k.to_key()),
            Bound::Excluded(k) => Edge::After(k.to_key()),
            Bound::Unbounded => Edge::Unbounded,
        };
        let end = match hi {
            Bound::Included(k) => Edge::After(k.to_key()),
            Bound::Excluded(k) => Edge::Before(k.to_key()),
            Bound::Unbounded => Edge::Unbounded,
        };
        KeyRange { start, end }
    }

    /// A range from its two edges (see [`Edge`]).
    pub fn from_edges(start: Edge, end: Edge) -> Self {
        KeyRange { start, end }
    }

    /// A range of already-encoded whole keys (embedded-store tools).
    pub fn from_bounds(start: Bound<Vec<u8>>, end: Bound<Vec<u8>>) -> Self {
        KeyRange {
            start: Edge::Raw(start),
            end: Edge::Raw(end),
        }
    }

    /// The two ends, as the caller meant them.
    pub fn edges(&self) -> (&Edge, &Edge) {
        (&self.start, &self.end)
    }

    /// Whether this is the whole key space.
    pub fn is_all(&self) -> bool {
        self.start == Edge::Unbounded && self.end == Edge::Unbounded
    }

    /// The keys whose leading columns equal one prefix (what
    /// [`prefix`](Self::prefix) makes), as opposed to a range between two
    /// bounds: that prefix.
    pub fn one_key(&self) -> Option<&[u8]> {
        match (&self.start, &self.end) {
            (Edge::Before(a), Edge::After(b)) if a == b => Some(a),
            _ => None,
        }
    }

    /// The byte bounds of this range over the entries of index `idx` of
    /// `def`: [`within`](Self::within) its key space, each bound's values
    /// first put in the form the index stores them
    /// ([`bound`](super::layout::bound): `Timestamp` columns keyed by time,
    /// a trailing time compared by its instant).
    pub fn within_index(
        &self,
        def: &super::def::TableDef,
        idx: &super::def::IndexDef,
    ) -> (Bound<Vec<u8>>, Bound<Vec<u8>>) {
        if !super::layout::has_time_key(def, idx) {
            return self.within(idx.space);
        }
        // A range of one key (a prefix lookup) finds it exactly; other
        // bounds compare a trailing time by its instant.
        let exact = self.one_key().is_some();
        let probe = |e: &Edge| match e {
            Edge::Before(k) => Edge::Before(super::layout::bound(def, idx, k, exact)),
            Edge::After(k) => Edge::After(super::layout::bound(def, idx, k, exact)),
            other => other.clone(),
        };
        KeyRange {
            start: probe(&self.start),
            end: probe(&self.end),
        }
        .within(idx.space)
    }

    /// The byte bounds of this range inside one key space of the embedded
    /// layout (see [`layout`](super::layout)).
    pub fn within(&self, space: u8) -> (Bound<Vec<u8>>, Bound<Vec<u8>>) {
        let spaced = |k: &[u8]| super::layout::spaced(space, k);
        let start = match &self.start {
            Edge::Unbounded => Bound::Included(vec![space]),
            Edge::Before(p) => Bound::Included(spaced(p)),
            Edge::After(p) => match keys::prefix_end(p) {
                Some(e) => Bound::Included(spaced(&e)),
                None => Bound::Excluded(spaced(&[0xFF; 16])),
            },
            Edge::Raw(Bound::Included(k)) => Bound::Included(spaced(k)),
            Edge::Raw(Bound::Excluded(k)) => Bound::Excluded(spaced(k)),
            Edge::Raw(Bound::Unbounded) => Bound::Included(vec![space]),
        };
        let space_end = || {
            if space == u8::MAX {
                Bound::Unbounded
            } else {
                Bound::Excluded(vec![space + 1])
            }
        };
        let end = match &self.end {
            Edge::Unbounded | Edge::Raw(Bound::Unbounded) => space_end(),
            Edge::Before(p) => Bound::Excluded(spaced(p)),
            Edge::After(p) => match keys::prefix_end(p) {
                Some(e) => Bound::Excluded(spaced(&e)),
                None => space_end(),
            },
            Edge::Raw(Bound::Included(k)) => Bound::Included(spaced(k)),
            Edge::Raw(Bound::Excluded(k)) => Bound::Excluded(spaced(k)),
        };
        (start, end)
    }
}

/// Which rows of a scan to return.
#[derive(Debug, Clone, Copy, Default)]
pub struct Page {
    /// Rows to skip.
    pub offset: usize,
    /// At most this many rows (`None` = all).
    pub limit: Option<usize>,
    /// Newest/largest first.
    pub reverse: bool,
}

impl Page {
    /// The first `limit` rows.
    pub fn first(limit: usize) -> Self {
        Page {
            limit: Some(limit),
            ..Page::default()
        }
    }

    /// Same page, largest keys first.
    pub fn reversed(mut self) -> Self {
        self.reverse = true;
        self
    }

    /// Same page, skipping `offset` rows.
    pub fn skip(mut self, offset: usize) -> Self {
        self.offset = offset;
        self
    }
}
