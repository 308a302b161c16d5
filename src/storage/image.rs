//! Crash images: the synced state plus a seeded subset of later writes,
//! some torn. Used by [`super::fault::FaultBackend`] and [`Replay`].

/// How a crash image treats the writes issued since the last sync.
#[derive(Debug, Clone)]
pub struct CrashOptions {
    /// Probability that an unsynced write (or `set_len`) reached the disk.
    pub keep: f64,
    /// Probability that a kept write is torn: only a prefix of its sectors landed.
    pub torn: f64,
    /// Probability that the last unsynced write, if kept, is torn.
    pub torn_last: f64,
    /// Tearing granularity in bytes (512 for a disk sector; 1 for arbitrary bytes).
    pub sector: usize,
}

impl Default for CrashOptions {
    fn default() -> Self {
        CrashOptions {
            keep: 0.5,
            torn: 0.1,
            torn_last: 0.5,
            sector: 512,
        }
    }
}

/// One mutating operation, as journaled.
#[derive(Debug, Clone)]
pub enum JournalOp {
    /// `write(offset, data)`.
    Write {
        /// Byte offset.
        offset: u64,
        /// The bytes written.
        data: Vec<u8>,
    },
    /// `set_len(len)`.
    SetLen(u64),
    /// `sync_data()`: everything before it is durable.
    Sync,
}

/// A journaled operation with the index it had in the count of all operations.
#[derive(Debug, Clone)]
pub struct JournalEntry {
    /// Index of the operation among all operations (see [`super::fault::FaultBackend::op_count`] with [`super::fault::OpMask::ALL`]).
    pub op: u64,
    /// What it did.
    pub kind: JournalOp,
}

/// Applies one operation to an image; a write keeps only its first `limit` bytes.
pub(crate) fn apply(image: &mut Vec<u8>, op: &JournalOp, limit: usize) {
    match op {
        JournalOp::Write { offset, data } => {
            let start = *offset as usize;
            let data = &data[..data.len().min(limit)];
            if image.len() < start + data.len() {
                image.resize(start + data.len(), 0);
            }
            image[start..start + data.len()].copy_from_slice(data);
        }
        JournalOp::SetLen(len) => image.resize(*len as usize, 0),
        JournalOp::Sync => {}
    }
}

pub(crate) fn build_image(
    synced: &[u8],
    pending: &[JournalOp],
    seed: u64,
    opts: &CrashOptions,
) -> Vec<u8> {
    let mut rng = SplitMix(seed);
    let mut image = synced.to_vec();
    let last = pending.len().saturating_sub(1);
    for (i, op) in pending.iter().enumerate() {
        if !rng.chance(opts.keep) {
            continue;
        }
        let mut limit = usize::MAX;
        if let JournalOp::Write { data, .. } = op {
            let p = if i == last { opts.torn_last } else { opts.torn };
            if rng.chance(p) {
                let sector = opts.sector.max(1);
                let sectors = data.len().div_ceil(sector).max(1);
                limit = rng.below(sectors as u64) as usize * sector;
            }
        }
        apply(&mut image, op, limit);
    }
    image
}

/// Walks a journal forward and builds crash images at any operation index.
#[derive(Debug, Clone)]
pub struct Replay {
    synced: Vec<u8>,
    pending: Vec<JournalOp>,
    journal: Vec<JournalEntry>,
    next: usize,
}

impl Replay {
    /// A replay of `journal` starting from the synced state `base`.
    pub fn new(base: Vec<u8>, journal: Vec<JournalEntry>) -> Self {
        Replay {
            synced: base,
            pending: Vec::new(),
            journal,
            next: 0,
        }
    }

    /// The journaled operations.
    pub fn entries(&self) -> &[JournalEntry] {
        &self.journal
    }

    /// Moves forward so that every journaled operation with index `< op` has
    /// been issued (and every sync among them has taken effect). Never goes back.
    pub fn advance_to(&mut self, op: u64) {
        while let Some(e) = self.journal.get(self.next) {
            if e.op >= op {
                break;
            }
            match &e.kind {
                JournalOp::Sync => {
                    for p in self.pending.drain(..) {
                        apply(&mut self.synced, &p, usize::MAX);
                    }
                }
                other => self.pending.push(other.clone()),
            }
            self.next += 1;
        }
    }

    /// The crash image at the current position (see [`super::fault::FaultBackend::crash_image`]).
    pub fn crash_image(&self, seed: u64, opts: &CrashOptions) -> Vec<u8> {
        build_image(&self.synced, &self.pending, seed, opts)
    }

    /// How many writes are unsynced at the current position.
    pub fn unsynced_ops(&self) -> usize {
        self.pending.len()
    }
}

/// A tiny seeded generator (SplitMix64): reproducible crash images without a dependency.
#[derive(Debug, Clone)]
pub struct SplitMix(pub u64);

impl SplitMix {
    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next_u64() % n }
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        ((self.next_u64() >> 11) as f64 / (1u64 << 53) as f64) < p
    }
}
