//! `GenesisLedger` and `GenomeStore`: the genesis event ledger, agent
//! genomes and populations (`genesis.db`; the original's `aragora/genesis/`;
//! ids and hashes as in docs/ORIGINAL.md, "Value encodings").
//!
//! Both stores live in one file (`genesis.db` legacy, `agents.db`
//! consolidated) and share one [`Database`] handle.
//!
//! Events are append-only. Each one carries `content_hash` = SHA-256 hex of
//! Python's `json.dumps({"event_id", "event_type", "timestamp",
//! "parent_event_id", "data"}, sort_keys=True)`; [`python_json`] reproduces
//! that text byte for byte (default separators, `ensure_ascii=True`, floats
//! as Python's `repr`). Known limits of the reproduction: integers beyond
//! the `i64`/`u64` range and NaN/±Infinity cannot be held by a
//! `serde_json::Value`, so such data cannot be recorded; and with
//! `sort_keys=False` object keys come out in the `serde_json::Map` order
//! (sorted, as this crate builds serde_json without `preserve_order`),
//! where Python keeps insertion order — this only affects the stored
//! `data` text, never the hash, which always sorts.
//!
//! Timestamps are naive local ISO (`datetime.now().isoformat()`), genome
//! and population times too.

use crate::config::{Config, DatabaseType, DbTarget};
use crate::db::Database;
use crate::error::{Error, Result};
use crate::pyjson::{parse_python_json, python_json};
use crate::schema::genesis::{ActivePopulation, GenesisEvent, Genome, Population};
use crate::store::common::{finite, not_found};
use crate::store::query::{Order, by_time, instant, instant_then_text, paginate};
use crate::table::Read;
use crate::table::{KeyRange, Page, Reader};
use chrono::{NaiveDateTime, Timelike};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;

/// The event types the original ledger records.
pub const EVENT_TYPES: [&str; 16] = [
    "debate_start",
    "debate_end",
    "debate_spawn",
    "debate_merge",
    "consensus_reached",
    "tension_detected",
    "tension_resolved",
    "tension_unresolved",
    "agent_birth",
    "agent_death",
    "agent_mutation",
    "agent_crossover",
    "fitness_update",
    "population_created",
    "population_evolved",
    "generation_advance",
];

/// Formats like Python's naive `datetime.isoformat()`:
/// `YYYY-MM-DDTHH:MM:SS.ffffff`, without the fraction when it is zero.
pub fn naive_iso(t: NaiveDateTime) -> String {
    if t.nanosecond() / 1000 == 0 {
        t.format("%Y-%m-%dT%H:%M:%S").to_string()
    } else {
        t.format("%Y-%m-%dT%H:%M:%S%.6f").to_string()
    }
}

/// SHA-256 of text, lower-case hex.
pub fn sha256_hex(text: &str) -> String {
    let digest = Sha256::digest(text.as_bytes());
    digest.iter().fold(String::with_capacity(64), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// The original's `content_hash` of an event.
pub fn content_hash(
    event_id: &str,
    event_type: &str,
    timestamp: &str,
    parent_event_id: Option<&str>,
    data: &Value,
) -> String {
    let mut m = Map::new();
    m.insert("event_id".into(), event_id.into());
    m.insert("event_type".into(), event_type.into());
    m.insert("timestamp".into(), timestamp.into());
    m.insert(
        "parent_event_id".into(),
        parent_event_id.map_or(Value::Null, Value::from),
    );
    m.insert("data".into(), data.clone());
    sha256_hex(&python_json(&Value::Object(m), true))
}

fn stored_data(e: &GenesisEvent) -> Result<Value> {
    match e.data.as_deref() {
        None => Ok(Value::Null),
        Some(t) => parse_python_json(t),
    }
}

// ----- the ledger ----------------------------------------------------------

/// What is wrong with one ledger event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChainIssue {
    /// The stored hash is not the hash of the stored content.
    HashMismatch {
        /// As stored.
        stored: String,
        /// Recomputed.
        computed: String,
    },
    /// `data` is not JSON we can re-hash.
    BadData(String),
    /// The parent event does not exist.
    MissingParent(String),
    /// The parent's timestamp is later than the event's.
    ParentNewer {
        /// The parent.
        parent: String,
        /// Its timestamp.
        parent_timestamp: String,
        /// The event's timestamp.
        timestamp: String,
    },
    /// Following parents from this event comes back to it.
    Cycle,
}

/// One problem found by [`GenesisLedger::verify_chain`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainProblem {
    /// The event concerned.
    pub event_id: String,
    /// What is wrong.
    pub issue: ChainIssue,
}

/// The genesis event ledger.
#[derive(Debug, Clone)]
pub struct GenesisLedger {
    db: Database,
}

impl GenesisLedger {
    /// Opens the genesis database of a configuration.
    pub fn open(config: &Config) -> Result<Self> {
        Ok(GenesisLedger {
            db: Database::open(config, DbTarget::Type(DatabaseType::Genesis))?,
        })
    }

    /// Wraps an already open genesis database.
    pub fn from_db(db: Database) -> Self {
        GenesisLedger { db }
    }

    /// The underlying database.
    pub fn db(&self) -> &Database {
        &self.db
    }

    /// The genome and population store of the same file.
    pub fn genomes(&self) -> GenomeStore {
        GenomeStore {
            db: self.db.clone(),
        }
    }

    /// A snapshot for several reads.
    pub fn read(&self) -> Result<Reader> {
        self.db.read()
    }

    /// Records an event at the local time now: a fresh
    /// id (`str(uuid4())[:12]`, so 8 hex digits, a dash, 3 hex digits), `data` as Python's `json.dumps` writes it, and the
    /// content hash. Fails with [`Error::InvalidArgument`] for an unknown event
    /// type and with [`Error::ForeignKey`] if the parent does not exist.
    pub fn record(
        &self,
        event_type: &str,
        parent_event_id: Option<&str>,
        data: Value,
    ) -> Result<GenesisEvent> {
        let at = self.db.now_local();
        if !EVENT_TYPES.contains(&event_type) {
            return Err(Error::InvalidArgument(format!(
                "genesis event type {event_type:?} is not one of {}",
                EVENT_TYPES.join(", ")
            )));
        }
        self.db.op(
            "genesis_record",
            || format!("type={event_type}"),
            || {
                let timestamp = naive_iso(at);
                self.db.write_retrying(|w| {
                    // Retry on the (unlikely) collision of a 48-bit id.
                    for _ in 0..8 {
                        let event_id = crate::store::users::new_uuid()[..12].to_string();
                        if w.get::<GenesisEvent>(event_id.as_str())?.is_some() {
                            continue;
                        }
                        let event = GenesisEvent {
                            content_hash: content_hash(
                                &event_id,
                                event_type,
                                &timestamp,
                                parent_event_id,
                                &data,
                            ),
                            event_id,
                            event_type: event_type.to_string(),
                            timestamp: timestamp.clone(),
                            parent_event_id: parent_event_id.map(str::to_string),
                            data: Some(python_json(&data, false)),
                            extra: Default::default(),
                        };
                        // The self-referencing foreign key rejects a missing parent.
                        w.insert(&event)?;
                        return Ok(event);
                    }
                    Err(Error::InvalidArgument(
                        "could not find a free genesis event id".into(),
                    ))
                })
            },
        )
    }

    /// An event by id.
    pub fn get_event(&self, event_id: &str) -> Result<Option<GenesisEvent>> {
        self.db
            .read_op("GenesisLedger.get_event", String::new, |r| r.get(event_id))
    }

    /// Number of events.
    pub fn count(&self) -> Result<u64> {
        self.db.read_op("GenesisLedger.count", String::new, |r| {
            r.count::<GenesisEvent>()
        })
    }

    /// Events in time order (ties by id), optionally of one type only.
    /// Without a type the page is read straight from the timestamp index;
    /// with one, the events of that type are sorted in memory.
    pub fn events(&self, event_type: Option<&str>, page: Page) -> Result<Vec<GenesisEvent>> {
        self.db
            .read_op("GenesisLedger.events", String::new, |r| match event_type {
                None => r.scan_index(
                    GenesisEvent::idx_genesis_events_timestamp,
                    KeyRange::all(),
                    page,
                ),
                Some(t) => {
                    let all: Vec<GenesisEvent> =
                        r.find(GenesisEvent::idx_genesis_events_type, t, Page::default())?;
                    Ok(paginate(oldest_first(all), page))
                }
            })
    }

    /// The direct children of an event, in time order.
    pub fn children(&self, event_id: &str) -> Result<Vec<GenesisEvent>> {
        self.db.read_op("GenesisLedger.children", String::new, |r| {
            let kids: Vec<GenesisEvent> = r.find(
                GenesisEvent::idx_genesis_events_parent_event_id,
                event_id,
                Page::default(),
            )?;
            Ok(oldest_first(kids))
        })
    }

    /// The event and its ancestors, from the event up to the root. Empty
    /// for an unknown event; stops at a missing parent; a cycle (only
    /// possible by writing rows directly) is [`Error::Corrupt`].
    pub fn lineage(&self, event_id: &str) -> Result<Vec<GenesisEvent>> {
        self.db.read_op("GenesisLedger.lineage", String::new, |r| {
            let mut out = Vec::new();
            let mut seen = HashSet::new();
            let mut next = Some(event_id.to_string());
            while let Some(id) = next {
                if !seen.insert(id.clone()) {
                    return Err(Error::Corrupt {
                        table: "genesis_events",
                        key: format!("{id:?}"),
                        what: "parent chain loops back to this event".into(),
                    });
                }
                let Some(e) = r.get::<GenesisEvent>(id.as_str())? else {
                    break;
                };
                next = e.parent_event_id.clone();
                out.push(e);
            }
            Ok(out)
        })
    }

    /// Checks the whole ledger: every hash recomputes, every parent
    /// exists and is not newer than its child, no parent chain loops.
    /// Returns the problems found, in event-id order; empty when sound.
    pub fn verify_chain(&self) -> Result<Vec<ChainProblem>> {
        self.db.op("genesis_verify_chain", String::new, || {
            let all: Vec<GenesisEvent> = self.db.read()?.scan(KeyRange::all(), Page::default())?;
            let by_id: HashMap<&str, &GenesisEvent> =
                all.iter().map(|e| (e.event_id.as_str(), e)).collect();
            let mut problems = Vec::new();
            let mut acyclic: HashSet<&str> = HashSet::new();
            for e in &all {
                let problem = |issue| ChainProblem {
                    event_id: e.event_id.clone(),
                    issue,
                };
                match stored_data(e) {
                    Err(err) => problems.push(problem(ChainIssue::BadData(err.to_string()))),
                    Ok(data) => {
                        let computed = content_hash(
                            &e.event_id,
                            &e.event_type,
                            &e.timestamp,
                            e.parent_event_id.as_deref(),
                            &data,
                        );
                        if computed != e.content_hash {
                            problems.push(problem(ChainIssue::HashMismatch {
                                stored: e.content_hash.clone(),
                                computed,
                            }));
                        }
                    }
                }
                if let Some(pid) = e.parent_event_id.as_deref() {
                    match by_id.get(pid) {
                        None => problems.push(problem(ChainIssue::MissingParent(pid.to_string()))),
                        Some(p) => {
                            let newer =
                                match (instant(Some(&p.timestamp)), instant(Some(&e.timestamp))) {
                                    (Some(pt), Some(et)) => pt > et,
                                    _ => p.timestamp > e.timestamp,
                                };
                            if newer {
                                problems.push(problem(ChainIssue::ParentNewer {
                                    parent: pid.to_string(),
                                    parent_timestamp: p.timestamp.clone(),
                                    timestamp: e.timestamp.clone(),
                                }));
                            }
                        }
                    }
                }
                // Cycle check: walk up until a root, a missing parent, or an
                // event already known to lead to a root.
                let mut path: Vec<&str> = Vec::new();
                let mut on_path: HashSet<&str> = HashSet::new();
                let mut cur = Some(e.event_id.as_str());
                let mut looped = false;
                while let Some(id) = cur {
                    if acyclic.contains(id) {
                        break;
                    }
                    if !on_path.insert(id) {
                        looped = true;
                        break;
                    }
                    path.push(id);
                    cur = by_id.get(id).and_then(|x| x.parent_event_id.as_deref());
                }
                if looped {
                    if on_path.contains(e.event_id.as_str()) && cur == Some(e.event_id.as_str()) {
                        problems.push(problem(ChainIssue::Cycle));
                    }
                } else {
                    acyclic.extend(path);
                }
            }
            Ok(problems)
        })
    }
}

/// Oldest first; one instant in several spellings by its text, then by id.
fn oldest_first(events: Vec<GenesisEvent>) -> Vec<GenesisEvent> {
    by_time(
        events,
        Order::Oldest,
        |e| instant_then_text(Some(&e.timestamp)),
        |a, b| a.event_id.cmp(&b.event_id),
    )
}

// ----- genomes and populations ---------------------------------------------

/// Agent genomes and populations (`GenomeStore`, `PopulationManager`).
#[derive(Debug, Clone)]
pub struct GenomeStore {
    db: Database,
}

fn check_json(what: &str, text: Option<&str>, want_object: bool) -> Result<()> {
    let Some(t) = text else { return Ok(()) };
    let v: Value = serde_json::from_str(t)
        .map_err(|e| Error::InvalidArgument(format!("{what} is not JSON: {e}")))?;
    let ok = if want_object {
        v.is_object()
    } else {
        v.is_array()
    };
    if !ok {
        return Err(Error::InvalidArgument(format!(
            "{what} must be a JSON {}",
            if want_object { "object" } else { "list" }
        )));
    }
    Ok(())
}

impl GenomeStore {
    /// Opens the genomes database of a configuration (the genesis file).
    pub fn open(config: &Config) -> Result<Self> {
        Ok(GenomeStore {
            db: Database::open(config, DbTarget::Type(DatabaseType::Genomes))?,
        })
    }

    /// The underlying database.
    pub fn db(&self) -> &Database {
        &self.db
    }

    /// Inserts or replaces a genome. `traits` and `expertise` must be JSON
    /// objects and `parent_genomes` a JSON list when given. `created_at` is
    /// set to now if missing; `updated_at` is always now. Returns the row.
    pub fn save_genome(&self, genome: &Genome) -> Result<Genome> {
        check_json("genomes.traits", genome.traits.as_deref(), true)?;
        check_json("genomes.expertise", genome.expertise.as_deref(), true)?;
        check_json(
            "genomes.parent_genomes",
            genome.parent_genomes.as_deref(),
            false,
        )?;
        self.db.op(
            "genome_save",
            || format!("id={}", genome.genome_id),
            || {
                let mut g = genome.clone();
                let now = naive_iso(self.db.now_local());
                if g.created_at.is_none() {
                    g.created_at = Some(now.clone());
                }
                g.updated_at = Some(now);
                self.db.write_retrying(|w| w.upsert(&g).map(drop))?;
                Ok(g)
            },
        )
    }

    /// A genome by id.
    pub fn get_genome(&self, genome_id: &str) -> Result<Option<Genome>> {
        self.db
            .read_op("GenomeStore.get_genome", String::new, |r| r.get(genome_id))
    }

    /// The `limit` fittest genomes, best first (NULL fitness last).
    pub fn top_genomes(&self, limit: usize) -> Result<Vec<Genome>> {
        self.db
            .read_op("GenomeStore.top_genomes", String::new, |r| {
                r.scan_index(
                    Genome::idx_genomes_fitness,
                    KeyRange::all(),
                    Page::first(limit).reversed(),
                )
            })
    }

    /// Sets a genome's fitness score; `None` if there is no such genome.
    pub fn update_fitness(&self, genome_id: &str, fitness_score: f64) -> Result<Option<Genome>> {
        self.db.op("GenomeStore.update_fitness", String::new, || {
            finite("fitness score", fitness_score)?;
            self.db.write_retrying(|w| {
                let Some(mut g) = w.get::<Genome>(genome_id)? else {
                    return Ok(None);
                };
                g.fitness_score = Some(fitness_score);
                g.updated_at = Some(naive_iso(self.db.now_local()));
                w.update(&g)?;
                Ok(Some(g))
            })
        })
    }

    /// Deletes a genome.
    pub fn delete_genome(&self, genome_id: &str) -> Result<bool> {
        self.db
            .write_op("GenomeStore.delete_genome", String::new, |w| {
                w.delete::<Genome>(genome_id)
            })
    }

    /// Creates population `pop-YYYYMMDD-HHMMSS` (generation 0, empty
    /// debate history) of existing genomes and makes it the active one.
    /// A population with the same id (same second) is a
    /// [`Error::Unique`] error; an unknown genome is [`Error::NotFound`].
    pub fn create_population(&self, genome_ids: &[&str]) -> Result<Population> {
        let at = self.db.now_local();
        let pop = Population {
            population_id: format!("pop-{}", at.format("%Y%m%d-%H%M%S")),
            genome_ids: Some(python_json(&Value::from(genome_ids.to_vec()), false)),
            generation: Some(0),
            created_at: Some(naive_iso(at)),
            debate_history: Some("[]".into()),
            extra: Default::default(),
        };
        self.db.op(
            "population_create",
            || format!("genomes={}", genome_ids.len()),
            || {
                self.db.write_retrying(|w| {
                    for id in genome_ids {
                        if w.get::<Genome>(*id)?.is_none() {
                            return Err(not_found("genomes", id));
                        }
                    }
                    w.insert(&pop)?;
                    w.upsert(&ActivePopulation {
                        id: 1,
                        population_id: Some(pop.population_id.clone()),
                        extra: Default::default(),
                    })?;
                    Ok(())
                })?;
                Ok(pop)
            },
        )
    }

    /// A population by id.
    pub fn get_population(&self, population_id: &str) -> Result<Option<Population>> {
        self.db
            .read_op("GenomeStore.get_population", String::new, |r| {
                r.get(population_id)
            })
    }

    /// The active population (the one named by singleton row 1).
    pub fn active_population(&self) -> Result<Option<Population>> {
        self.db
            .op("GenomeStore.active_population", String::new, || {
                let r = self.db.read()?;
                let Some(active) = r.get::<ActivePopulation>(1i64)? else {
                    return Ok(None);
                };
                match active.population_id {
                    Some(id) => r.get(id.as_str()),
                    None => Ok(None),
                }
            })
    }

    /// Makes an existing population the active one.
    pub fn set_active_population(&self, population_id: &str) -> Result<()> {
        self.db
            .op("GenomeStore.set_active_population", String::new, || {
                self.db.write_retrying(|w| {
                    if w.get::<Population>(population_id)?.is_none() {
                        return Err(not_found("populations", population_id));
                    }
                    w.upsert(&ActivePopulation {
                        id: 1,
                        population_id: Some(population_id.to_string()),
                        extra: Default::default(),
                    })
                    .map(drop)
                })
            })
    }

    /// Replaces a population's genomes and increments its generation
    /// (the original's `evolve_population`).
    pub fn evolve_population(
        &self,
        population_id: &str,
        genome_ids: &[&str],
    ) -> Result<Population> {
        self.db
            .op("GenomeStore.evolve_population", String::new, || {
                self.db.write_retrying(|w| {
                    let mut p = w
                        .get::<Population>(population_id)?
                        .ok_or_else(|| not_found("populations", population_id))?;
                    p.genome_ids = Some(python_json(&Value::from(genome_ids.to_vec()), false));
                    p.generation = Some(p.generation.unwrap_or(0) + 1);
                    w.update(&p)?;
                    Ok(p)
                })
            })
    }

    /// Appends a debate id to a population's `debate_history` JSON list.
    pub fn record_debate(&self, population_id: &str, debate_id: &str) -> Result<Population> {
        self.db
            .write_op("GenomeStore.record_debate", String::new, |w| {
                let mut p = w
                    .get::<Population>(population_id)?
                    .ok_or_else(|| not_found("populations", population_id))?;
                let mut history = match p.debate_history.as_deref() {
                    None | Some("") => Vec::new(),
                    Some(t) => match serde_json::from_str::<Value>(t) {
                        Ok(Value::Array(items)) => items,
                        _ => {
                            return Err(Error::Corrupt {
                                table: "populations",
                                key: format!("{population_id:?}"),
                                what: "debate_history is not a JSON list".into(),
                            });
                        }
                    },
                };
                history.push(Value::from(debate_id));
                p.debate_history = Some(python_json(&Value::Array(history), false));
                w.update(&p)?;
                Ok(p)
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pyjson::py_float;

    #[test]
    fn floats_print_like_python_repr() {
        for (f, want) in [
            (0.5, "0.5"),
            (1.0, "1.0"),
            (1e-7, "1e-07"),
            (1e16, "1e+16"),
            (1e15, "1000000000000000.0"),
            (0.0001, "0.0001"),
            (1e-5, "1e-05"),
            (-2.5e-300, "-2.5e-300"),
            (0.1 + 0.2, "0.30000000000000004"),
            (123456.789, "123456.789"),
            (1.5e16, "1.5e+16"),
            (-0.0, "-0.0"),
        ] {
            assert_eq!(py_float(f), want, "{f:e}");
        }
    }

    #[test]
    fn parser_round_trips() {
        let t = r#"{"b": [1, -2, 3.5, 1e-07, null, true], "a": "\u00e9\ud83d\ude00"}"#;
        let v = parse_python_json(t).unwrap();
        assert_eq!(
            python_json(&v, true),
            r#"{"a": "\u00e9\ud83d\ude00", "b": [1, -2, 3.5, 1e-07, null, true]}"#
        );
        assert!(parse_python_json("[1,").is_err());
        assert!(parse_python_json("NaN").is_err());
    }
}
