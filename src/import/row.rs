//! One source row typed for its declaration: shared by the import and by
//! `--verify`, so both apply exactly the same rules.

use super::convert::{self, How};
use super::plan::Mapping;
use crate::sqlite::{Row, TableInfo, ValueRef as Src};
use crate::table::{Extras, Value};

/// A row ready to store.
#[derive(Debug)]
pub struct Typed {
    /// Values in declared column order.
    pub values: Vec<Value>,
    /// Source columns the declaration lacks.
    pub extras: Extras,
    /// How many values were converted.
    pub converted: u64,
}

/// Why a row cannot be stored in its table.
#[derive(Debug)]
pub struct Fault<'r> {
    /// The column at fault (source name), if one is.
    pub column: Option<String>,
    /// Why.
    pub reason: String,
    /// The offending value.
    pub value: Src<'r>,
}

/// Types `row` per `m`.
pub fn type_row<'r>(m: &Mapping, table: &TableInfo, row: &Row<'r>) -> Result<Typed, Fault<'r>> {
    let def = m.def;
    let mut values = Vec::with_capacity(def.columns.len());
    let mut converted = 0;
    for (i, (col, src)) in def.columns.iter().zip(&m.columns).enumerate() {
        if m.rowid == Some(i) {
            match row.rowid() {
                Some(id) => values.push(crate::table::Value::Integer(id)),
                None => {
                    return Err(Fault {
                        column: Some(col.name.to_string()),
                        reason: "the row has no rowid (WITHOUT ROWID table)".into(),
                        value: Src::Null,
                    });
                }
            }
            continue;
        }
        match src {
            Some(j) => {
                let v = row.get(*j);
                match convert::convert(col, v) {
                    Ok((out, how)) => {
                        converted += u64::from(how == How::Converted);
                        values.push(out);
                    }
                    Err(reason) => {
                        return Err(Fault {
                            column: Some(table.columns[*j].name.clone()),
                            reason,
                            value: v,
                        });
                    }
                }
            }
            None => {
                let v = def.default_value(i);
                if !(col.accepts)(v.as_ref()) {
                    return Err(Fault {
                        column: Some(col.name.to_string()),
                        reason: format!(
                            "the source has no column {} and it has no usable default",
                            col.name
                        ),
                        value: Src::Null,
                    });
                }
                values.push(v);
            }
        }
    }
    if m.postgres {
        let shape = crate::export::pgshape::shape(def);
        for (i, (v, col)) in values.iter().zip(shape.declared()).enumerate() {
            if let Err(e) = crate::export::pgshape::param(v.as_ref(), col) {
                let src = m.columns[i];
                return Err(Fault {
                    column: Some(src.map_or(def.columns[i].name.to_string(), |j| {
                        table.columns[j].name.clone()
                    })),
                    reason: format!("PostgreSQL cannot hold it: {e}"),
                    value: src.map_or(Src::Null, |j| row.get(j)),
                });
            }
        }
    }
    let mut extras = Extras::new();
    for (j, name) in &m.extras {
        let v = row.get(*j);
        match convert::keep(v) {
            Ok(out) => {
                extras.insert(name.clone(), out);
            }
            Err(reason) => {
                return Err(Fault {
                    column: Some(name.clone()),
                    reason,
                    value: v,
                });
            }
        }
    }
    Ok(Typed {
        values,
        extras,
        converted,
    })
}

/// Every column of `row` as it is, for the rejects and raw tables. Text
/// that is not UTF-8 is kept as a blob and its column listed under
/// [`TEXT_AS_BLOB`].
pub fn whole(table: &TableInfo, row: &Row<'_>) -> Extras {
    let mut out = Extras::new();
    let mut blobbed = Vec::new();
    for (j, c) in table.columns.iter().enumerate() {
        let v = row.get(j);
        if let Src::Text(t) = v
            && std::str::from_utf8(t).is_err()
        {
            blobbed.push(c.name.as_str());
        }
        out.insert(c.name.clone(), convert::raw(v));
    }
    if !blobbed.is_empty() {
        out.insert(TEXT_AS_BLOB.into(), Value::Text(blobbed.join(",")));
    }
    out
}

/// Extra-map key listing the columns whose text was not UTF-8 and is kept
/// as a blob.
pub const TEXT_AS_BLOB: &str = "$text_as_blob";
