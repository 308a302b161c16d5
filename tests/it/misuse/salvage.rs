//! Misuse cases: see `super`. `salvage` on files damaged in the ways disks
//! and people damage them (cut in half, cut and zero-filled back to length,
//! bytes overwritten in the header and in a leaf page). Each case checks
//! that salvage prints no panic, leaves its input as it was, copies no row
//! that differs from an original, and copies exactly the rows that are
//! provably readable: those with a copy on a leaf page that survives,
//! found by a small leaf parser written here, independent of the one
//! salvage uses.

use super::{assert_unchanged, describe, snapshot};
use crate::common::{cli_env, data_dir, org, user};
use crate::crypto_common::{data_off, trailer_off};
use aragora_db::Database;
use aragora_db::config::{Config, DbTarget, Store};
use aragora_db::crypto::{self, Encryption, Key};
use aragora_db::ops::salvage::pages::{self, Source};
use aragora_db::schema::users::{AUDIT_LOG, AuditEntry, ORGANIZATIONS, USERS};
use aragora_db::table::Read;
use aragora_db::table::{TableDef, Value, keys, raw_def};
use redb::ReadableDatabase;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};

const TABLES: [&TableDef; 3] = [&USERS, &ORGANIZATIONS, &AUDIT_LOG];

/// Rows as (table, stored key, decoded row rendered with `{:?}`): the
/// decoded form, so a row re-encoded by the write path compares equal.
type Rows = BTreeSet<(String, Vec<u8>, String)>;

/// A users file with 200 organizations, 2,000 users and 1,000 audit
/// events written in 20 commits (so old page copies are left around).
fn build() -> (tempfile::TempDir, PathBuf) {
    let (dir, cfg) = data_dir();
    let path = build_in(&cfg);
    (dir, path)
}

/// [`build`] under `cfg` (encrypted when it has a key).
fn build_in(cfg: &Config) -> PathBuf {
    let db = Database::open(cfg, DbTarget::Store(Store::Users)).unwrap();
    for b in 0..20 {
        db.write(|w| {
            for i in 0..10 {
                w.insert(&org(
                    &format!("o{b:02}-{i}"),
                    &format!("slug-{b}-{i}"),
                    None,
                ))?;
            }
            for i in 0..100 {
                let o = format!("o{b:02}-{}", i % 10);
                w.insert(&user(
                    &format!("u{:05}", b * 100 + i),
                    &format!("user{}@example.com", b * 100 + i),
                    Some(&o),
                ))?;
            }
            for i in 0..50 {
                let id = w.next_id::<AuditEntry>()?;
                w.insert(&AuditEntry {
                    id,
                    timestamp: format!("2026-01-{:02}T00:00:00+00:00", 1 + i % 28),
                    action: format!("act.{}", i % 7),
                    user_id: Some(format!("u{:05}", b * 100 + i)),
                    details: Some(format!("{{\"n\": {id}}}")),
                    ..AuditEntry::default()
                })?;
            }
            Ok(())
        })
        .unwrap();
    }
    drop(db);
    cfg.get_db_path(DbTarget::Store(Store::Users)).unwrap().path
}

/// Every row of the three tables of a readable file.
fn rows_of(path: &Path) -> Rows {
    rows_in(&redb::Database::open(path).unwrap())
}

/// Every row of the three tables of an encrypted file.
fn rows_of_encrypted(path: &Path) -> Rows {
    let b = crypto::open_backend(path, path, &key().source).unwrap();
    rows_in(&redb::Builder::new().create_with_backend(b).unwrap())
}

const HEX: &str = "3c3d3e3f404142434445464748494a4b4c4d4e4f505152535455565758595a5b";

fn key() -> Encryption {
    Encryption::raw(Key::parse("test key", HEX).unwrap())
}

fn rows_in(db: &redb::Database) -> Rows {
    let txn = db.begin_read().unwrap();
    let mut out = Rows::new();
    for def in TABLES {
        let t = txn.open_table(raw_def(def.name)).unwrap();
        for e in t.range::<&[u8]>(&[0u8][..]..&[1u8][..]).unwrap() {
            let (k, v) = e.unwrap();
            out.insert(row(def, k.value(), v.value()));
        }
    }
    out
}

fn row(def: &TableDef, key: &[u8], value: &[u8]) -> (String, Vec<u8>, String) {
    let decoded = def.decode_values(&key[1..], value).unwrap();
    (def.name.to_string(), key.to_vec(), format!("{decoded:?}"))
}

/// A leaf's byte range and its (key, value) entries.
type Leaf = (usize, usize, Vec<(Vec<u8>, Vec<u8>)>);

/// Every page of `bytes` (at 4 KiB positions) that parses as a redb leaf
/// with variable-width keys and values: its byte range and its entries.
fn leaves(bytes: &[u8]) -> Vec<Leaf> {
    let mut out = Vec::new();
    let mut off = 4096;
    while off + 4 <= bytes.len() {
        let p = &bytes[off..];
        let n = usize::from(u16::from_le_bytes([p[2], p[3]]));
        let at = |i: usize| {
            p.get(i..i + 4)
                .map(|b| u32::from_le_bytes(b.try_into().unwrap()) as usize)
        };
        let parsed = (|| {
            if p[0] != 1 || n == 0 {
                return None;
            }
            let mut pos = 4 + 8 * n;
            let mut keys = Vec::new();
            for i in 0..n {
                let end = at(4 + 4 * i)?;
                if end < pos || end > p.len() {
                    return None;
                }
                keys.push(p[pos..end].to_vec());
                pos = end;
            }
            let mut entries = Vec::new();
            for (i, k) in keys.into_iter().enumerate() {
                let end = at(4 + 4 * n + 4 * i)?;
                if end < pos || end > p.len() {
                    return None;
                }
                entries.push((k, p[pos..end].to_vec()));
                pos = end;
            }
            Some((off, off + pos, entries))
        })();
        out.extend(parsed);
        off += 4096;
    }
    out
}

/// The original rows with a copy on a leaf of `bytes` that lies wholly in
/// `0..cut` and is not at one of the offsets in `except`.
fn provable(originals: &Rows, bytes: &[u8], cut: usize, except: &[usize]) -> Rows {
    provable_in(originals, &leaves(bytes), cut, except)
}

/// [`provable`] over leaves already parsed.
fn provable_in(originals: &Rows, leaves: &[Leaf], cut: usize, except: &[usize]) -> Rows {
    let mut copies: HashSet<&(Vec<u8>, Vec<u8>)> = HashSet::new();
    for (start, end, entries) in leaves {
        if *end <= cut && !except.contains(start) {
            copies.extend(entries);
        }
    }
    let by_key: BTreeMap<&Vec<u8>, &(String, Vec<u8>, String)> =
        originals.iter().map(|r| (&r.1, r)).collect();
    let mut out = Rows::new();
    for (k, v) in copies {
        if let Some(&orig) = by_key.get(k) {
            let def = TABLES.iter().find(|d| d.name == orig.0).unwrap();
            if def.decode_values(&k[1..], v).is_ok() && row(def, k, v) == *orig {
                out.insert(orig.clone());
            }
        }
    }
    out
}

/// Runs `salvage --json` on `damaged` (as `users.redb` in a directory of
/// its own): no panic text, input unchanged. Returns the report and the
/// rows of the new file.
fn run(damaged: &[u8]) -> (serde_json::Value, Rows) {
    run_with(damaged, &[])
}

/// [`run`] with environment variables (an encrypted file's key).
fn run_with(damaged: &[u8], env: &[(&str, &str)]) -> (serde_json::Value, Rows) {
    let dir = tempfile::tempdir().unwrap();
    let input_dir = dir.path().join("in");
    std::fs::create_dir(&input_dir).unwrap();
    let input = input_dir.join("users.redb");
    std::fs::write(&input, damaged).unwrap();
    let before = snapshot(&input_dir);
    let out = dir.path().join("out").join("users.redb");
    let o = cli_env(
        &[
            "salvage",
            input.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--json",
        ],
        env,
    );
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(!stderr.contains("panicked"), "{}", describe(&o));
    assert_eq!(o.status.code(), Some(1), "{}", describe(&o));
    assert!(stderr.contains("users.redb"), "{}", describe(&o));
    assert_unchanged(&input_dir, &before, "salvage");
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(report["method"], "pages", "{report:#}");
    let rows = if env.is_empty() {
        rows_of(&out)
    } else {
        assert!(crypto::file_is_encrypted(&out).unwrap());
        rows_of_encrypted(&out)
    };
    let copied: u64 = report["tables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["copied"].as_u64().unwrap())
        .sum();
    assert_eq!(copied, rows.len() as u64, "{report:#}");
    for t in report["tables"].as_array().unwrap() {
        assert_eq!(
            t["copied"].as_u64(),
            Some(t["from_tree"].as_u64().unwrap() + t["from_unreferenced"].as_u64().unwrap())
        );
    }
    (report, rows)
}

fn table<'a>(report: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    report["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["table"] == name)
        .unwrap_or_else(|| panic!("no {name} in {report:#}"))
}

#[test]
fn a_file_cut_in_half_gives_every_row_on_a_surviving_leaf() {
    let (_d, path) = build();
    let originals = rows_of(&path);
    assert_eq!(originals.len(), 3200);
    let bytes = std::fs::read(&path).unwrap();
    let cut = bytes.len() / 2;
    let want = provable(&originals, &bytes, cut, &[]);
    assert!(!want.is_empty() && want.len() < originals.len());
    for (what, damaged) in [
        ("cut", bytes[..cut].to_vec()),
        ("cut and zero-filled", {
            let mut b = bytes[..cut].to_vec();
            b.resize(bytes.len(), 0);
            b
        }),
    ] {
        let (report, got) = run(&damaged);
        let invented: Vec<_> = got.difference(&originals).collect();
        assert!(
            invented.is_empty(),
            "{what}: rows not in the original: {invented:?}"
        );
        let missing: Vec<_> = want.difference(&got).map(|r| (&r.0, &r.1)).collect();
        assert!(
            missing.is_empty(),
            "{what}: provable rows missing: {missing:?}\n{report:#}"
        );
        // More than the provable set is fine only for rows that are
        // exactly current (checked above: nothing invented or stale); the
        // plain cut must give exactly the provable set.
        if what == "cut" {
            assert_eq!(got, want, "{what}");
        }
        let notes: Vec<&str> = report["problems"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["table"] == "(file)")
            .map(|p| p["what"].as_str().unwrap())
            .collect();
        let expect = if damaged.len() == cut {
            format!("bytes {cut}..{} are missing", bytes.len())
        } else {
            "all-zero pages".to_string()
        };
        assert!(
            notes.iter().any(|n| n.contains(&expect)),
            "{what}: {notes:#?}"
        );
        eprintln!(
            "{what}: {} of {} rows recovered; {}",
            got.len(),
            originals.len(),
            TABLES
                .iter()
                .map(|d| {
                    let t = table(&report, d.name);
                    format!(
                        "{} {} ({} unreferenced, {} lost)",
                        d.name, t["copied"], t["from_unreferenced"], t["lost"]
                    )
                })
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
}

#[test]
fn damaged_header_and_leaves_lose_only_rows_with_no_other_copy() {
    let (_d, path) = build();
    let originals = rows_of(&path);
    let mut bytes = std::fs::read(&path).unwrap();
    // The leaf holding the middle user, found from the newest commit by
    // salvage's page reader on the intact file.
    let src = pages::PlainFile::open(&path).unwrap();
    let header = pages::read_header(&src);
    let geo = header.geometry.unwrap();
    let mut seen = HashSet::new();
    let tables = pages::walk(&src, &geo, header.slots[0].table_tree.unwrap(), &mut seen);
    let def = &tables.entries.iter().find(|e| e.0 == b"users").unwrap().1;
    let root = pages::table_root(def).unwrap().unwrap();
    let users = pages::walk(&src, &geo, root, &mut seen);
    assert!(users.lost.is_empty());
    // Of the users leaves, the one with most rows that also have an older
    // copy on another page and the one with fewest, so that both outcomes
    // (rescued from an older copy, lost) are exercised.
    let on = |leaf: usize| -> Rows {
        users
            .entries
            .iter()
            .filter(|e| e.2 as usize == leaf && e.0[0] == 0)
            .map(|e| row(&USERS, &e.0, &e.1))
            .collect()
    };
    let offsets: BTreeSet<usize> = users
        .entries
        .iter()
        .filter(|e| e.0[0] == 0)
        .map(|e| e.2 as usize)
        .collect();
    let intact = leaves(&bytes);
    // Where each row's exact bytes sit, to find rows with another copy.
    let mut places: HashMap<(&[u8], &[u8]), Vec<usize>> = HashMap::new();
    for (start, _, entries) in &intact {
        for (k, v) in entries.iter().filter(|(k, _)| k[0] == 0) {
            places.entry((k, v)).or_default().push(*start);
        }
    }
    let elsewhere = |k: &[u8], v: &[u8], l: usize| {
        places
            .get(&(k, v))
            .is_some_and(|at| at.iter().any(|&x| x != l))
    };
    let copies_in = |w: &pages::Walk, l: usize| {
        w.entries
            .iter()
            .filter(|e| e.2 as usize == l && e.0[0] == 0 && elsewhere(&e.0, &e.1, l))
            .count()
    };
    let copies = |l: usize| copies_in(&users, l);
    let most = offsets.iter().copied().max_by_key(|&l| copies(l)).unwrap();
    let fewest = offsets.iter().copied().min_by_key(|&l| copies(l)).unwrap();
    // And the organizations leaf with fewest older copies: the users of
    // its lost organizations are copied with a dangling org_id, reported.
    let odef = &tables
        .entries
        .iter()
        .find(|e| e.0 == b"organizations")
        .unwrap()
        .1;
    let orgs = pages::walk(
        &src,
        &geo,
        pages::table_root(odef).unwrap().unwrap(),
        &mut seen,
    );
    let org_on = |leaf: usize| -> Rows {
        orgs.entries
            .iter()
            .filter(|e| e.2 as usize == leaf && e.0[0] == 0)
            .map(|e| row(&ORGANIZATIONS, &e.0, &e.1))
            .collect()
    };
    let org_leaf = orgs
        .entries
        .iter()
        .filter(|e| e.0[0] == 0)
        .map(|e| e.2 as usize)
        .min_by_key(|&l| copies_in(&orgs, l))
        .unwrap();
    let damaged = [most, fewest, org_leaf];
    let on_leaf: Rows = on(most)
        .union(&on(fewest))
        .cloned()
        .chain(org_on(org_leaf))
        .collect();
    assert!(most != fewest && on_leaf.len() > 10);
    // And a row on a third users leaf that also has an older copy
    // elsewhere: the last byte of its value (its CRC) flipped. The row is
    // reported and not copied; the older copy must not stand in for it.
    let (third, end, last) = intact
        .iter()
        .filter(|(l, _, _)| offsets.contains(l) && !damaged.contains(l))
        .find_map(|(l, end, e)| {
            e.iter()
                .filter(|(k, _)| k[0] == 0)
                .find(|(k, v)| elsewhere(k, v, *l))
                .map(|kv| (*l, *end, kv.clone()))
        })
        .unwrap();
    let bad_crc = row(&USERS, &last.0, &last.1);
    drop(src);
    assert_eq!(src_len(&path), bytes.len() as u64);
    bytes[0] ^= 0xFF; // the magic number
    for leaf in damaged {
        bytes[leaf] = 0xEE; // the leaf's page type
    }
    let at = third
        + bytes[third..end]
            .windows(last.1.len())
            .position(|w| w == last.1.as_slice())
            .unwrap();
    bytes[at + last.1.len() - 1] ^= 0x01; // the row's CRC
    let (report, got) = run(&bytes);
    let invented: Vec<_> = got.difference(&originals).collect();
    assert!(
        invented.is_empty(),
        "rows not in the original: {invented:?}"
    );
    // Everything else comes from the tree; the damaged leaf's rows only
    // where an older copy of the same row survives on another page.
    let others: Rows = originals.difference(&on_leaf).cloned().collect();
    let rescued: Rows = provable(&on_leaf, &bytes, bytes.len(), &damaged);
    let mut want: Rows = others.union(&rescued).cloned().collect();
    assert!(want.remove(&bad_crc));
    assert_eq!(got, want, "{report:#}");
    assert!(!rescued.is_empty() && rescued.len() < on_leaf.len());
    let u = table(&report, "users");
    let rescued_users = rescued.iter().filter(|r| r.0 == "users").count();
    assert_eq!(u["from_unreferenced"], rescued_users as u64, "{report:#}");
    // Users copied whose organization was lost: each reported.
    let lost_orgs: BTreeSet<&Vec<u8>> = on_leaf
        .difference(&rescued)
        .filter(|r| r.0 == "organizations")
        .map(|r| &r.1)
        .collect();
    let org_of = user_orgs(&path);
    let dangling = got
        .iter()
        .filter(|r| r.0 == "users" && org_of.get(&r.1).is_some_and(|o| lost_orgs.contains(o)))
        .count();
    let reported = report["problems"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| {
            p["table"] == "users"
                && p["what"]
                    .as_str()
                    .unwrap()
                    .contains("its parent row was not recovered")
        })
        .count();
    assert!(!lost_orgs.is_empty() && dangling > 0);
    assert_eq!(reported, dangling, "{report:#}");
    let problems = report["problems"].as_array().unwrap();
    let says = |table: &str, text: &str| {
        problems
            .iter()
            .any(|p| p["table"] == table && p["what"].as_str().unwrap().contains(text))
    };
    assert!(says("(file)", "magic number"), "{report:#}");
    let bad_key = aragora_db::table::keys::render(&bad_crc.1[1..]);
    assert!(
        problems.iter().any(|p| p["table"] == "users"
            && p["key"] == bad_key.as_str()
            && p["what"].as_str().unwrap().contains("CRC32")),
        "{report:#}"
    );
    for (leaf, table) in damaged.iter().zip(["users", "users", "organizations"]) {
        assert!(says(table, &format!("(bytes {leaf}..")), "{report:#}");
    }
    eprintln!(
        "header + 3 leaves: {} of {} rows recovered; the leaves held {}, {} rescued from older copies; {} users reported with a lost organization",
        got.len(),
        originals.len(),
        on_leaf.len(),
        rescued.len(),
        dangling
    );
}

/// Each user's row key and its organization's row key, from the intact file.
fn user_orgs(path: &Path) -> BTreeMap<Vec<u8>, Vec<u8>> {
    let db = redb::Database::open(path).unwrap();
    let txn = db.begin_read().unwrap();
    let t = txn.open_table(raw_def("users")).unwrap();
    let col = USERS.column_index("org_id").unwrap();
    let mut out = BTreeMap::new();
    for e in t.range::<&[u8]>(&[0u8][..]..&[1u8][..]).unwrap() {
        let (k, v) = e.unwrap();
        let (values, _) = USERS.decode_values(&k.value()[1..], v.value()).unwrap();
        if let Value::Text(org) = &values[col] {
            let mut key = vec![0u8];
            key.extend(keys::encode([Value::Text(org.clone()).as_ref()]));
            out.insert(k.value().to_vec(), key);
        }
    }
    out
}

fn src_len(path: &Path) -> u64 {
    pages::PlainFile::open(path).unwrap().file_len()
}

#[test]
fn old_page_copies_never_bring_back_updated_or_deleted_rows() {
    let (_d, path) = build();
    let before = rows_of(&path);
    // Later commits rename 100 users and delete 100 others (and their
    // audit events' users stay): their old versions remain on freed pages.
    let cfg = aragora_db::config::Config::for_dir(path.parent().unwrap());
    let db = Database::open(&cfg, DbTarget::Store(Store::Users)).unwrap();
    for b in 0..4 {
        db.write(|w| {
            for i in 0..25 {
                let id = format!("u{:05}", b * 25 + i);
                let mut u: aragora_db::schema::users::User = w.get(id.as_str())?.unwrap();
                u.name = Some(format!("renamed {id}"));
                w.update(&u)?;
                let gone = format!("u{:05}", 1000 + b * 25 + i);
                assert!(w.delete::<aragora_db::schema::users::User>(gone.as_str())?);
            }
            Ok(())
        })
        .unwrap();
    }
    drop(db);
    let current = rows_of(&path);
    assert_eq!(current.len(), before.len() - 100);
    assert_eq!(before.difference(&current).count(), 200);
    // Only the header is damaged: redb refuses the file, every tree is
    // readable page by page, so nothing may come from old copies.
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[0] ^= 0xFF;
    let (report, got) = run(&bytes);
    assert_eq!(got, current, "{report:#}");
    for t in report["tables"].as_array().unwrap() {
        assert_eq!(t["from_unreferenced"], 0, "{report:#}");
    }
}

#[test]
fn encrypted_file_damaged_or_cut_in_half_is_read_page_by_page() {
    let (_d, mut cfg) = data_dir();
    cfg.encryption = Some(key());
    let path = build_in(&cfg);
    let originals = rows_of_encrypted(&path);
    assert_eq!(originals.len(), 3200);
    // The decrypted image, and the users leaves of the newest commit, read
    // through the backend with salvage's page reader.
    let copy = path.with_extension("copy");
    std::fs::copy(&path, &copy).unwrap();
    let src = pages::Backend(crypto::open_backend(&copy, &copy, &key().source).unwrap());
    let mut plain = vec![0u8; src.file_len() as usize];
    assert!(src.read(0, &mut plain));
    let header = pages::read_header(&src);
    let geo = header.geometry.unwrap();
    let mut seen = HashSet::new();
    let tables = pages::walk(&src, &geo, header.slots[0].table_tree.unwrap(), &mut seen);
    let def = &tables.entries.iter().find(|e| e.0 == b"users").unwrap().1;
    let root = pages::table_root(def).unwrap().unwrap();
    let users = pages::walk(&src, &geo, root, &mut seen);
    drop(src);
    std::fs::remove_file(&copy).unwrap();
    let rows: Vec<_> = users.entries.iter().filter(|e| e.0[0] == 0).collect();
    let leaf = rows[rows.len() / 2].2 as usize;
    assert_eq!(leaf % 4096, 0);
    let on_leaf: Rows = users
        .entries
        .iter()
        .filter(|e| e.2 as usize == leaf && e.0[0] == 0)
        .map(|e| row(&USERS, &e.0, &e.1))
        .collect();
    assert!(!on_leaf.is_empty());
    // One byte of that block's ciphertext: the block fails authentication.
    // (Logical block 0 lives in the file header; logical block b is data
    // block b - 1.)
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[data_off(leaf / 4096 - 1) + 100] ^= 0x01;
    let (report, got) = run_with(
        &bytes,
        &[
            ("ARAGORA_SQLITE_ENCRYPTION", "1"),
            ("ARAGORA_ENCRYPTION_KEY", HEX),
        ],
    );
    let invented: Vec<_> = got.difference(&originals).collect();
    assert!(
        invented.is_empty(),
        "rows not in the original: {invented:?}"
    );
    let rescued = provable(&on_leaf, &plain, plain.len(), &[leaf]);
    let want: Rows = originals
        .difference(&on_leaf)
        .cloned()
        .chain(rescued.iter().cloned())
        .collect();
    assert_eq!(got, want, "{report:#}");
    assert_eq!(
        table(&report, "users")["from_unreferenced"],
        rescued.len() as u64
    );
    eprintln!(
        "encrypted, one block damaged: {} of {} rows recovered; the block's leaf held {}, {} rescued",
        got.len(),
        originals.len(),
        on_leaf.len(),
        rescued.len()
    );
    // Cut in half: a leaf survives when every data block it spans, and
    // that block's trailer, lie wholly before the cut.
    let intact = std::fs::read(&path).unwrap();
    let cut = intact.len() / 2;
    let survives = |start: usize, end: usize| {
        (start / 4096..end.div_ceil(4096))
            .all(|b| b >= 1 && data_off(b - 1) + 4096 <= cut && trailer_off(b - 1) + 64 <= cut)
    };
    let surviving: Vec<Leaf> = leaves(&plain)
        .into_iter()
        .filter(|(s, e, _)| survives(*s, *e))
        .collect();
    let want = provable_in(&originals, &surviving, plain.len(), &[]);
    let (report, got) = run_with(
        &intact[..cut],
        &[
            ("ARAGORA_SQLITE_ENCRYPTION", "1"),
            ("ARAGORA_ENCRYPTION_KEY", HEX),
        ],
    );
    let invented: Vec<_> = got.difference(&originals).collect();
    assert!(
        invented.is_empty(),
        "rows not in the original: {invented:?}"
    );
    assert_eq!(got, want, "{report:#}");
    eprintln!(
        "encrypted, cut in half: {} of {} rows recovered",
        got.len(),
        originals.len()
    );
}

#[test]
fn files_that_are_not_databases_are_refused_naming_them_once() {
    let dir = tempfile::tempdir().unwrap();
    let input_dir = dir.path().join("in");
    std::fs::create_dir(&input_dir).unwrap();
    let noise: Vec<u8> = (0..40_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let cases: [(&str, Vec<u8>); 3] = [
        ("empty.redb", Vec::new()),
        ("noise.redb", noise),
        ("sqlite.db", {
            let mut b = b"SQLite format 3\0".to_vec();
            b.resize(8192, 0);
            b
        }),
    ];
    for (name, bytes) in &cases {
        std::fs::write(input_dir.join(name), bytes).unwrap();
    }
    let before = snapshot(dir.path());
    for (name, _) in &cases {
        let input = input_dir.join(name);
        let out = dir.path().join("out").join(name);
        let o = cli_env(
            &[
                "salvage",
                input.to_str().unwrap(),
                "--out",
                out.to_str().unwrap(),
            ],
            &[],
        );
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{name}: {}", describe(&o));
        assert!(!stderr.contains("panicked"), "{name}: {}", describe(&o));
        assert_eq!(
            stderr.matches(input.to_str().unwrap()).count(),
            1,
            "{name}: {}",
            describe(&o)
        );
        assert!(!out.exists(), "{name}: {}", describe(&o));
    }
    // Nothing written: not the inputs, not the output directory's files.
    let after = snapshot(dir.path());
    let created: Vec<_> = after
        .keys()
        .filter(|p| !before.contains_key(*p) && p.is_file())
        .collect();
    assert!(created.is_empty(), "{created:?}");
    for (p, s) in &before {
        assert_eq!(after.get(p), Some(s), "{}", p.display());
    }
}
