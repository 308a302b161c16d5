//! `PersonaManager`: agent personas and their performance history
//! (`agent_personas.db`, consolidated `agents.db`; the original's
//! `aragora/agents/personas/core.py`).
//!
//! `traits` is stored as Python's `json.dumps` of a list of strings,
//! `expertise` as `json.dumps` of an object domain → score in [0, 1], in
//! insertion order (an updated domain keeps its place, a new one is
//! appended). `created_at`/`updated_at` are naive local ISO;
//! `performance_history.created_at` has the `CURRENT_TIMESTAMP` shape
//! (`YYYY-MM-DD HH:MM:SS`, UTC), `success` is 0/1.
//!
//! Choices of ours where the original's behaviour is not known:
//! * The original filters traits to `PERSONALITY_TRAITS` and domains to
//!   `EXPERTISE_DOMAINS`; those lists are not known here, so every trait
//!   and domain is accepted (traits are de-duplicated keeping the first,
//!   blank names are dropped). Expertise scores are clamped to [0, 1]; NaN
//!   is rejected.
//! * Re-creating a persona (an upsert) keeps its `created_at`.
//! * Expertise after [`PersonaManager::record_performance`]: the
//!   recency-weighted success rate `r` of the agent's last
//!   [`EXPERTISE_WINDOW`] records in the domain (weight `0.9^i`, `i = 0`
//!   for the newest) is blended with the previous score `e` (0.5 when the
//!   domain had none) as `0.7·e + 0.3·r`.

use crate::config::{Config, DatabaseType, DbTarget};
use crate::db::Database;
use crate::error::{Error, Result};
use crate::pyjson::{parse_object, py_list, py_object_values};
use crate::schema::personas::{PerformanceRecord, Persona};
use crate::store::genesis::naive_iso;
use crate::store::query::{keep, newest};
use crate::table::Read;
use crate::table::{KeyRange, Page, RawKey, Reader};
use serde_json::Value;

/// How many of the newest records of a domain feed its expertise.
pub const EXPERTISE_WINDOW: usize = 20;

/// A persona with its JSON columns decoded.
#[derive(Debug, Clone, PartialEq)]
pub struct PersonaView {
    /// The agent.
    pub agent_name: String,
    /// Free text.
    pub description: String,
    /// Traits, in stored order.
    pub traits: Vec<String>,
    /// Expertise per domain, in stored order.
    pub expertise: Vec<(String, f64)>,
    /// As stored.
    pub created_at: Option<String>,
    /// As stored.
    pub updated_at: Option<String>,
}

impl PersonaView {
    /// Decodes a stored persona. Malformed JSON is [`Error::Corrupt`].
    pub fn from_row(p: &Persona) -> Result<PersonaView> {
        let bad = |what: String| Error::Corrupt {
            table: "personas",
            key: format!("{:?}", p.agent_name),
            what,
        };
        let traits = match p.traits.as_deref() {
            None | Some("") => Vec::new(),
            Some(t) => {
                serde_json::from_str::<Vec<String>>(t).map_err(|e| bad(format!("traits: {e}")))?
            }
        };
        Ok(PersonaView {
            agent_name: p.agent_name.clone(),
            description: p.description.clone().unwrap_or_default(),
            traits,
            expertise: expertise_of(p).map_err(bad)?,
            created_at: p.created_at.clone(),
            updated_at: p.updated_at.clone(),
        })
    }

    /// The score of one domain, if any.
    pub fn expertise_in(&self, domain: &str) -> Option<f64> {
        self.expertise
            .iter()
            .find(|(d, _)| d == domain)
            .map(|(_, s)| *s)
    }
}

fn expertise_of(p: &Persona) -> std::result::Result<Vec<(String, f64)>, String> {
    match p.expertise.as_deref() {
        None | Some("") => Ok(Vec::new()),
        Some(t) => parse_object(t)
            .map_err(|e| format!("expertise: {e}"))?
            .into_iter()
            .map(|(k, v)| match v.as_f64() {
                Some(f) => Ok((k, f)),
                None => Err(format!("expertise[{k:?}] is not a number")),
            })
            .collect(),
    }
}

fn clean_traits(traits: &[&str]) -> String {
    let mut out: Vec<&str> = Vec::new();
    for t in traits {
        let t = t.trim();
        if !t.is_empty() && !out.contains(&t) {
            out.push(t);
        }
    }
    py_list(out)
}

fn expertise_json(items: &[(String, f64)]) -> String {
    let vals: Vec<(String, Value)> = items
        .iter()
        .map(|(k, v)| (k.clone(), Value::from(*v)))
        .collect();
    py_object_values(&vals)
}

fn clean_expertise(expertise: &[(&str, f64)]) -> Result<Vec<(String, f64)>> {
    let mut out: Vec<(String, f64)> = Vec::new();
    for (d, s) in expertise {
        if s.is_nan() {
            return Err(Error::InvalidArgument(format!(
                "expertise score for {d:?} is NaN"
            )));
        }
        let d = d.trim();
        if d.is_empty() {
            continue;
        }
        let s = s.clamp(0.0, 1.0);
        match out.iter_mut().find(|(k, _)| k == d) {
            Some(e) => e.1 = s,
            None => out.push((d.to_string(), s)),
        }
    }
    Ok(out)
}

/// The persona store.
#[derive(Debug, Clone)]
pub struct PersonaManager {
    db: Database,
}

impl PersonaManager {
    /// Opens the personas database of a configuration.
    pub fn open(config: &Config) -> Result<Self> {
        Ok(PersonaManager {
            db: Database::open(config, DbTarget::Type(DatabaseType::Personas))?,
        })
    }

    /// Wraps an already open personas database.
    pub fn from_db(db: Database) -> Self {
        PersonaManager { db }
    }

    /// The underlying database.
    pub fn db(&self) -> &Database {
        &self.db
    }

    /// A snapshot for several reads.
    pub fn read(&self) -> Result<Reader> {
        self.db.read()
    }

    /// Creates or replaces a persona (keeping `created_at` of an existing
    /// one), at the local time now.
    pub fn create_persona(
        &self,
        agent_name: &str,
        description: &str,
        traits: &[&str],
        expertise: &[(&str, f64)],
    ) -> Result<PersonaView> {
        let at = self.db.now_local();
        if agent_name.is_empty() {
            return Err(Error::InvalidArgument(
                "agent_name must not be empty".into(),
            ));
        }
        let expertise = clean_expertise(expertise)?;
        self.db.op(
            "persona_create",
            || format!("agent={agent_name}"),
            || {
                let now = naive_iso(at);
                self.db.write_retrying(|w| {
                    let created_at = w
                        .get::<Persona>(agent_name)?
                        .and_then(|p| p.created_at)
                        .unwrap_or_else(|| now.clone());
                    let row = Persona {
                        agent_name: agent_name.into(),
                        description: Some(description.into()),
                        traits: Some(clean_traits(traits)),
                        expertise: Some(expertise_json(&expertise)),
                        created_at: Some(created_at),
                        updated_at: Some(now.clone()),
                        extra: Default::default(),
                    };
                    w.upsert(&row)?;
                    PersonaView::from_row(&row)
                })
            },
        )
    }

    /// A persona, decoded.
    pub fn get_persona(&self, agent_name: &str) -> Result<Option<PersonaView>> {
        self.db.op("PersonaManager.get_persona", String::new, || {
            match self.db.read()?.get::<Persona>(agent_name)? {
                None => Ok(None),
                Some(p) => PersonaView::from_row(&p).map(Some),
            }
        })
    }

    /// Changes the given parts of an existing persona: the description and
    /// traits are replaced, the expertise scores given are set (others
    /// kept). Returns `None` if there is no such persona.
    pub fn update_persona(
        &self,
        agent_name: &str,
        description: Option<&str>,
        traits: Option<&[&str]>,
        expertise: Option<&[(&str, f64)]>,
    ) -> Result<Option<PersonaView>> {
        let at = self.db.now_local();
        let expertise = expertise.map(clean_expertise).transpose()?;
        self.db.write_op(
            "persona_update",
            || format!("agent={agent_name}"),
            |w| {
                let Some(mut p) = w.get::<Persona>(agent_name)? else {
                    return Ok(None);
                };
                if let Some(d) = description {
                    p.description = Some(d.into());
                }
                if let Some(t) = traits {
                    p.traits = Some(clean_traits(t));
                }
                if let Some(new) = expertise.clone() {
                    let mut cur = PersonaView::from_row(&p)?.expertise;
                    for (d, s) in new {
                        match cur.iter_mut().find(|(k, _)| *k == d) {
                            Some(e) => e.1 = s,
                            None => cur.push((d, s)),
                        }
                    }
                    p.expertise = Some(expertise_json(&cur));
                }
                p.updated_at = Some(naive_iso(at));
                w.update(&p)?;
                PersonaView::from_row(&p).map(Some)
            },
        )
    }

    /// Every persona, by agent name.
    pub fn list_personas(&self) -> Result<Vec<PersonaView>> {
        self.db
            .read_op("PersonaManager.list_personas", String::new, |r| {
                let rows: Vec<Persona> = r.scan(KeyRange::all(), Page::default())?;
                rows.iter().map(PersonaView::from_row).collect()
            })
    }

    /// Deletes a persona (its history stays). Returns false if absent.
    pub fn delete_persona(&self, agent_name: &str) -> Result<bool> {
        self.db
            .op("PersonaManager.delete_persona", String::new, || {
                self.db.write_retrying(|w| w.delete::<Persona>(agent_name))
            })
    }

    /// Appends a `performance_history` row (`created_at` from `utc`),
    /// then recomputes `expertise[domain]` (see the module documentation)
    /// and sets `updated_at` from `local`. A missing persona is created
    /// with only its name, expertise and `updated_at` (and `created_at`
    /// as its column default writes it), as the original does. Returns the new expertise score.
    #[allow(clippy::too_many_arguments)]
    pub fn record_performance(
        &self,
        agent_name: &str,
        domain: &str,
        success: bool,
        action: &str,
        debate_id: Option<&str>,
    ) -> Result<f64> {
        let local = self.db.now_local();
        let utc = self.db.now();
        if agent_name.is_empty() || domain.trim().is_empty() {
            return Err(Error::InvalidArgument(
                "agent_name and domain must not be empty".into(),
            ));
        }
        let domain = domain.trim();
        self.db.write_op(
            "persona_record_performance",
            || format!("agent={agent_name}, domain={domain}"),
            |w| {
                let id = w.next_id::<PerformanceRecord>()?;
                w.insert(&PerformanceRecord {
                    id,
                    agent_name: agent_name.into(),
                    debate_id: debate_id.map(str::to_string),
                    domain: Some(domain.into()),
                    action: Some(action.into()),
                    success: Some(success),
                    created_at: Some(crate::time::format_sql(utc)),
                    extra: Default::default(),
                })?;
                // The agent's records in this domain, newest (highest id) first.
                let mut mine = Vec::new();
                for k in w.keys_by(PerformanceRecord::idx_performance_agent, agent_name)? {
                    if let Some(r) = w.get::<PerformanceRecord>(RawKey(&k))?
                        && r.domain.as_deref() == Some(domain)
                    {
                        mine.push(r);
                    }
                }
                let mine = newest(mine, EXPERTISE_WINDOW, |r| r.id, keep);
                let (mut num, mut den, mut wgt) = (0.0, 0.0, 1.0);
                for r in &mine {
                    if r.success == Some(true) {
                        num += wgt;
                    }
                    den += wgt;
                    wgt *= 0.9;
                }
                let rate = if den > 0.0 { num / den } else { 0.0 };
                let existing = w.get::<Persona>(agent_name)?;
                // A new row gets `created_at` the way the column default would.
                let mut p = existing.unwrap_or_else(|| Persona {
                    agent_name: agent_name.into(),
                    created_at: Some(crate::time::format_sql(utc)),
                    ..Persona::default()
                });
                let mut exp = PersonaView::from_row(&p)?.expertise;
                let old = exp
                    .iter()
                    .find(|(d, _)| d == domain)
                    .map_or(0.5, |(_, s)| *s);
                let new = (0.7 * old + 0.3 * rate).clamp(0.0, 1.0);
                match exp.iter_mut().find(|(d, _)| d == domain) {
                    Some(e) => e.1 = new,
                    None => exp.push((domain.to_string(), new)),
                }
                p.expertise = Some(expertise_json(&exp));
                p.updated_at = Some(naive_iso(local));
                w.upsert(&p)?;
                Ok(new)
            },
        )
    }

    /// An agent's performance records, newest first, optionally of one
    /// domain only.
    pub fn performance_history(
        &self,
        agent_name: &str,
        domain: Option<&str>,
        limit: Option<usize>,
    ) -> Result<Vec<PerformanceRecord>> {
        self.db
            .op("PersonaManager.performance_history", String::new, || {
                let mut rows: Vec<PerformanceRecord> = self.db.read()?.find(
                    PerformanceRecord::idx_performance_agent,
                    agent_name,
                    Page::default(),
                )?;
                if let Some(d) = domain {
                    rows.retain(|r| r.domain.as_deref() == Some(d));
                }
                Ok(newest(rows, limit.unwrap_or(usize::MAX), |r| r.id, keep))
            })
    }

    /// Successes and attempts of an agent per domain, by domain name.
    pub fn domain_success(&self, agent_name: &str) -> Result<Vec<(String, u64, u64)>> {
        let mut map = std::collections::BTreeMap::<String, (u64, u64)>::new();
        for r in self.performance_history(agent_name, None, None)? {
            let e = map.entry(r.domain.unwrap_or_default()).or_default();
            e.1 += 1;
            if r.success == Some(true) {
                e.0 += 1;
            }
        }
        Ok(map.into_iter().map(|(d, (s, n))| (d, s, n)).collect())
    }
}
