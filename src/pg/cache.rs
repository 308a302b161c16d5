//! The prepared statements of one connection, keyed by their SQL text.
//!
//! The table API's statements ([`super::sql`]) have deterministic text
//! (values travel as parameters), so a connection prepares each one once
//! (`PREPARE aragora_N (text, …) AS …`) and afterwards only sends
//! `EXECUTE aragora_N(…)`: PostgreSQL parses and analyses it once and
//! may keep a generic plan. A cache lives with its pooled connection and
//! is dropped with it: a discarded connection takes its statements along,
//! and a new connection starts empty.
//!
//! A statement run alone (nothing to send ahead of it in its round trip)
//! goes on the extended protocol instead ([`StmtCache::bound`]): prepared
//! once per connection as a [`postgres::Statement`] (parameters typed
//! `text`, as `PREPARE`'s), then bound and executed by the client, which
//! saves the server parsing `EXECUTE aragora_N(…)` and its literals.
//!
//! The cache is bounded ([`CAPACITY`] statements of each kind); the least
//! recently used one is deallocated to make room. Names are never reused within a
//! process, so a statement whose fate is unknown (a failed batch) can never
//! be mistaken for another one.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};

/// The next statement number, process-wide.
static NEXT: AtomicU64 = AtomicU64::new(1);

/// Statements kept per connection.
pub const CAPACITY: usize = 256;

/// The prepared statements of one connection.
#[derive(Debug)]
pub struct StmtCache {
    /// SQL text → (statement number, last use).
    map: HashMap<String, (u64, u64)>,
    /// SQL text → (extended-protocol statement, last use). Dropping one
    /// closes it on the server.
    bound: HashMap<String, (postgres::Statement, u64)>,
    /// A use counter, for least-recently-used eviction.
    tick: u64,
    /// Statements prepared on this connection so far.
    prepared: u64,
    capacity: usize,
}

impl Default for StmtCache {
    fn default() -> Self {
        StmtCache::with_capacity(CAPACITY)
    }
}

/// The name of prepared statement `n`.
pub fn name(n: u64) -> String {
    format!("aragora_{n}")
}

impl StmtCache {
    /// An empty cache holding up to `capacity` statements (at least one).
    pub fn with_capacity(capacity: usize) -> StmtCache {
        StmtCache {
            map: HashMap::new(),
            bound: HashMap::new(),
            tick: 0,
            prepared: 0,
            capacity: capacity.max(1),
        }
    }

    /// The number of the statement prepared for `sql`, if any.
    pub fn get(&mut self, sql: &str) -> Option<u64> {
        self.tick += 1;
        let tick = self.tick;
        self.map.get_mut(sql).map(|e| {
            e.1 = tick;
            e.0
        })
    }

    /// A number for a new statement, and the statement to deallocate
    /// first when the cache is full. Record it with [`StmtCache::insert`]
    /// once the server has prepared it.
    pub fn reserve(&mut self) -> (u64, Option<u64>) {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let evict = if self.map.len() >= self.capacity {
            let oldest = self
                .map
                .iter()
                .min_by_key(|(_, (_, used))| *used)
                .map(|(k, _)| k.clone());
            oldest.and_then(|k| self.map.remove(&k)).map(|(n, _)| n)
        } else {
            None
        };
        (n, evict)
    }

    /// Records that statement `n` is prepared for `sql`.
    pub fn insert(&mut self, sql: &str, n: u64) {
        self.tick += 1;
        self.prepared += 1;
        self.map.insert(sql.to_string(), (n, self.tick));
    }

    /// The extended-protocol statement prepared for `sql`, if any.
    pub fn bound(&mut self, sql: &str) -> Option<postgres::Statement> {
        self.tick += 1;
        let tick = self.tick;
        self.bound.get_mut(sql).map(|e| {
            e.1 = tick;
            e.0.clone()
        })
    }

    /// Records an extended-protocol statement prepared for `sql`; the
    /// least recently used one goes when the cache is full.
    pub fn insert_bound(&mut self, sql: &str, st: postgres::Statement) {
        if self.bound.len() >= self.capacity {
            let oldest = self
                .bound
                .iter()
                .min_by_key(|(_, (_, used))| *used)
                .map(|(k, _)| k.clone());
            if let Some(k) = oldest {
                self.bound.remove(&k);
            }
        }
        self.tick += 1;
        self.prepared += 1;
        self.bound.insert(sql.to_string(), (st, self.tick));
    }

    /// Forgets every statement (they may be gone from the server).
    pub fn clear(&mut self) {
        self.map.clear();
        self.bound.clear();
    }

    /// Statements held (`PREPARE`d ones; see [`StmtCache::bound_len`]).
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Extended-protocol statements held.
    pub fn bound_len(&self) -> usize {
        self.bound.len()
    }

    /// Whether no `PREPARE`d statement is held.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// The numbers of the `PREPARE`d statements held.
    pub fn numbers(&self) -> impl Iterator<Item = u64> + '_ {
        self.map.values().map(|(n, _)| *n)
    }

    /// Statements prepared over this cache's life (each `PREPARE` sent,
    /// and each extended-protocol one).
    pub fn prepared(&self) -> u64 {
        self.prepared
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hits_misses_and_least_recently_used_eviction() {
        let mut c = StmtCache::with_capacity(2);
        assert_eq!(c.get("a"), None);
        let (a, ev) = c.reserve();
        assert_eq!(ev, None);
        c.insert("a", a);
        let (b, ev) = c.reserve();
        assert_eq!(ev, None);
        c.insert("b", b);
        assert_eq!(c.get("a"), Some(a));
        // Full: the least recently used ("b") goes.
        let (x, ev) = c.reserve();
        assert_eq!(ev, Some(b));
        c.insert("x", x);
        assert_eq!(c.get("b"), None);
        assert_eq!(c.get("a"), Some(a));
        assert_eq!(c.get("x"), Some(x));
        assert_eq!(c.len(), 2);
        assert_eq!(c.prepared(), 3);
        // Names are never reused, even after a clear.
        c.clear();
        assert!(c.is_empty());
        let (y, _) = c.reserve();
        assert!(y > x && x > b && b > a);
        assert_eq!(name(y), format!("aragora_{y}"));
    }
}
