//! Pages with reserved bytes at the end (header offset 20). SQL cannot set them, so the
//! fixtures were made once with the sqlite3 CLI (`.filectrl reserve_bytes N`, then
//! `PRAGMA page_size`, VACUUM, 60 rows with growing blobs, every 5th row deleted).
use aragora_db::sqlite;

use super::common::*;

#[test]
fn reserved_bytes_fixtures_match_sqlite() {
    for (name, ps, reserved) in [
        ("reserved_512_32.db", 512, 32),
        ("reserved_4096_40.db", 4096, 40),
    ] {
        let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/sqlite")
            .join(name);
        let d = tempfile::tempdir().unwrap();
        let p = copy_db(&src, d.path(), name);
        let f = sqlite::SqliteFile::open(&p).unwrap();
        assert_eq!(f.header().page_size, ps);
        assert_eq!(f.header().reserved, reserved);
        assert_eq!(f.header().usable_size(), ps - u32::from(reserved));
        f.freelist().unwrap();
        let got = ours(&f).unwrap();
        assert_eq!(got[0].1.len(), 48);
        assert_eq!(got, oracle(&p));
    }
}
