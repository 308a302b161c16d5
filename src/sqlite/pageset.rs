//! A set of page numbers as a bitmap: one bit per page up to the highest
//! page inserted, so a traversal of a 200 MB table remembers its ~50,000
//! pages of 4 KiB in ~6 KB instead of a hash set's ~320 KB (64 Ki buckets of
//! 5 bytes, more while it grows). Callers insert only page
//! numbers they have checked against the file's page count, which bounds
//! the bitmap by the file's size.

/// Page numbers seen so far.
#[derive(Debug, Default)]
pub struct PageSet {
    words: Vec<u64>,
}

impl PageSet {
    /// Adds `pgno`; false if it was already there.
    pub fn insert(&mut self, pgno: u32) -> bool {
        let (w, bit) = ((pgno / 64) as usize, 1u64 << (pgno % 64));
        if let Some(word) = self.words.get_mut(w) {
            let new = *word & bit == 0;
            *word |= bit;
            return new;
        }
        self.words.resize(w, 0);
        self.words.push(bit);
        true
    }

    /// Whether `pgno` was inserted.
    pub fn contains(&self, pgno: u32) -> bool {
        self.words
            .get((pgno / 64) as usize)
            .is_some_and(|w| w & (1u64 << (pgno % 64)) != 0)
    }
}

#[cfg(test)]
mod tests {
    use super::PageSet;
    use std::collections::HashSet;

    #[test]
    fn agrees_with_a_hash_set() {
        let mut set = PageSet::default();
        let mut oracle = HashSet::new();
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let pgno = (x % 5_000) as u32 + if x & 1 == 0 { 0 } else { 60_000 };
            assert_eq!(set.insert(pgno), oracle.insert(pgno), "{pgno}");
        }
        for pgno in 0..70_000 {
            assert_eq!(set.contains(pgno), oracle.contains(&pgno), "{pgno}");
        }
    }
}
