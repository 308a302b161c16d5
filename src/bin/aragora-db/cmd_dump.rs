//! `aragora-db dump TABLE [--where COLUMN=VALUE] [--format jsonl|csv|table] [--limit N]`.
//!
//! Works on any declared table. A `--where` on the leading column of the
//! primary key or of an index is answered from that index; any other column
//! is a full scan with a filter. The access path is reported on stderr.
//! The file is opened read-only: dumping never changes it.

use crate::output::out;
use aragora_db::config::Config;
use aragora_db::table::keys::RawKey;
use aragora_db::table::{KeyRange, Page, SqlType, TableDef, Value};
use aragora_db::{Database, Error, Result, schema};
use std::io::Write;

pub struct Args<'a> {
    pub table: &'a str,
    pub filter: Option<&'a str>,
    pub format: &'a str,
    pub limit: Option<usize>,
}

pub fn run(config: &Config, a: Args<'_>) -> Result<()> {
    let def = schema::table(a.table)?;
    let filter = a.filter.map(|f| parse_filter(def, f)).transpose()?;
    if config.backend.kind_for(def.owner) == aragora_db::config::BackendKind::Postgres {
        // Read-only: the schema is checked, never created.
        let db = Database::open_target_read_only(config, def.owner)?;
        return dump(&db, def, filter, &a);
    }
    let file = config.get_db_path(def.owner)?;
    if !file.path.exists() {
        eprintln!(
            "-- {}: {} does not exist yet (0 rows)",
            def.name,
            file.path.display()
        );
        return Ok(());
    }
    // Read-only: nothing in the file is written, created or repaired.
    let tables = schema::tables_in_file(config, &file.path)?;
    let db = Database::open_read_only(&file.path, tables, &config.into()).map_err(|e| {
        let u = aragora_db::unreadable::Unreadable::from_error(&file.path, &e);
        if u.trouble == aragora_db::unreadable::Trouble::Locked {
            return e;
        }
        Error::InvalidArgument(u.lines().join("\n"))
    })?;
    for n in db.notes() {
        eprintln!("note: {}: {n}", file.path.display());
    }
    dump(&db, def, filter, &a)
}

fn dump(
    db: &Database,
    def: &'static TableDef,
    filter: Option<(usize, Value)>,
    a: &Args<'_>,
) -> Result<()> {
    let r = db.read()?;
    let mut rows: Vec<Vec<Value>> = Vec::new();
    let limit = a.limit.unwrap_or(usize::MAX);
    let mut keep = |pk: &[u8], bytes: &[u8]| -> Result<bool> {
        if rows.len() >= limit {
            return Ok(false);
        }
        let (vals, extras) = def.decode_values(pk, bytes)?;
        if let Some((col, want)) = &filter
            && &vals[*col] != want
        {
            return Ok(true);
        }
        let mut vals = vals;
        if !extras.is_empty() {
            let map: serde_json::Map<String, serde_json::Value> = extras
                .iter()
                .map(|(k, v)| (k.clone(), v.as_ref().to_json()))
                .collect();
            vals.push(Value::Text(serde_json::Value::Object(map).to_string()));
        }
        rows.push(vals);
        Ok(rows.len() < limit)
    };
    let path = match &filter {
        Some((col, v)) if def.primary_key.first() == Some(col) => {
            r.scan_raw(def, &KeyRange::prefix(v), Page::default(), &mut keep)?;
            "primary key".to_string()
        }
        Some((col, v)) => match def
            .indexes
            .iter()
            .find(|i| i.columns.first() == Some(col) && !i.columns.is_empty())
        {
            Some(idx) => {
                let mut pks = Vec::new();
                r.index_entries(def, idx, &KeyRange::prefix(v), Page::default(), |pk| {
                    pks.push(pk.to_vec());
                    Ok(true)
                })?;
                for pk in pks {
                    let mut more = true;
                    r.scan_raw(
                        def,
                        &KeyRange::prefix(RawKey(&pk)),
                        Page::first(1),
                        |k, b| {
                            more = keep(k, b)?;
                            Ok(false)
                        },
                    )?;
                    if !more {
                        break;
                    }
                }
                format!("index {}", idx.name)
            }
            None => {
                r.scan_raw(def, &KeyRange::all(), Page::default(), &mut keep)?;
                "full scan".to_string()
            }
        },
        None => {
            r.scan_raw(def, &KeyRange::all(), Page::default(), &mut keep)?;
            "full scan".to_string()
        }
    };
    let mut names: Vec<&str> = def.columns.iter().map(|c| c.name).collect();
    if rows.iter().any(|r| r.len() > def.columns.len()) {
        names.push("_extra");
        for r in &mut rows {
            r.resize(names.len(), Value::Null);
        }
    }
    match a.format {
        "csv" => write_csv(&names, &rows)?,
        "table" => write_table(&names, &rows)?,
        _ => write_jsonl(&names, &rows)?,
    }
    eprintln!(
        "-- {}: {} row(s) via {path} of {}",
        def.name,
        rows.len(),
        db.path().display()
    );
    Ok(())
}

fn parse_filter(def: &TableDef, f: &str) -> Result<(usize, Value)> {
    // The flag's parser already checked the `=`.
    let (name, raw) = f.split_once('=').unwrap_or((f, ""));
    let col = def
        .column_index(name.trim())
        .ok_or_else(|| Error::Unknown {
            kind: "column",
            name: name.trim().to_string(),
            hint: format!(
                " in table {} (columns: {})",
                def.name,
                def.columns
                    .iter()
                    .map(|c| c.name)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        })?;
    let bad = |what: &str| Error::InvalidArgument(format!("--where {name}: {raw:?} is not {what}"));
    let v = match def.columns[col].sql {
        SqlType::Integer => Value::Integer(raw.trim().parse().map_err(|_| bad("an integer"))?),
        SqlType::Bool => Value::Integer(match raw.trim() {
            "1" | "true" => 1,
            "0" | "false" => 0,
            _ => return Err(bad("a boolean (0/1/true/false)")),
        }),
        SqlType::Real | SqlType::Epoch => {
            Value::Real(raw.trim().parse().map_err(|_| bad("a number"))?)
        }
        SqlType::Blob => return Err(bad("filterable: BLOB columns cannot be filtered")),
        SqlType::Text | SqlType::Json | SqlType::Timestamp => Value::Text(raw.to_string()),
    };
    Ok((col, v))
}

fn io(e: std::io::Error) -> Error {
    Error::io("write", "<stdout>", e)
}

fn write_jsonl(names: &[&str], rows: &[Vec<Value>]) -> Result<()> {
    let mut w = std::io::BufWriter::new(std::io::stdout().lock());
    for row in rows {
        let obj: serde_json::Map<String, serde_json::Value> = names
            .iter()
            .zip(row)
            .map(|(n, v)| {
                let j = if *n == "_extra" {
                    serde_json::from_str(match v {
                        Value::Text(s) => s,
                        _ => "null",
                    })
                    .unwrap_or_default()
                } else {
                    v.as_ref().to_json()
                };
                (n.to_string(), j)
            })
            .collect();
        serde_json::to_writer(&mut w, &obj).map_err(|e| match e.io_error_kind() {
            // A closed pipe (`dump … | head`) must stay an I/O error: main
            // treats it as success.
            Some(kind) => io(kind.into()),
            None => Error::InvalidArgument(e.to_string()),
        })?;
        w.write_all(b"\n").map_err(io)?;
    }
    w.flush().map_err(io)
}

fn write_csv(names: &[&str], rows: &[Vec<Value>]) -> Result<()> {
    let mut w = std::io::BufWriter::new(std::io::stdout().lock());
    // RFC 4180 line ends, as `sqlite dump` writes them.
    write!(w, "{}\r\n", names.join(",")).map_err(io)?;
    for row in rows {
        let fields: Vec<String> = row.iter().map(|v| v.as_ref().to_csv_field()).collect();
        write!(w, "{}\r\n", fields.join(",")).map_err(io)?;
    }
    w.flush().map_err(io)
}

fn write_table(names: &[&str], rows: &[Vec<Value>]) -> Result<()> {
    const MAX: usize = 32;
    let cell = |v: &Value| -> String {
        let s = match v {
            Value::Null => "NULL".to_string(),
            Value::Text(s) => s.replace(['\n', '\r', '\t'], " "),
            other => other.to_string(),
        };
        if s.chars().count() > MAX {
            format!("{}…", s.chars().take(MAX - 1).collect::<String>())
        } else {
            s
        }
    };
    let cells: Vec<Vec<String>> = rows.iter().map(|r| r.iter().map(cell).collect()).collect();
    let widths: Vec<usize> = (0..names.len())
        .map(|i| {
            cells
                .iter()
                .map(|r| r[i].chars().count())
                .chain([names[i].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |vals: Vec<&str>| -> String {
        vals.iter()
            .zip(&widths)
            .map(|(v, w)| format!("{v:<w$}"))
            .collect::<Vec<_>>()
            .join(" | ")
            .trim_end()
            .to_string()
    };
    out(line(names.to_vec()))?;
    out(widths
        .iter()
        .map(|w| "-".repeat(*w))
        .collect::<Vec<_>>()
        .join("-+-"))?;
    for r in &cells {
        out(line(r.iter().map(String::as_str).collect()))?;
    }
    Ok(())
}
