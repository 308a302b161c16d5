//! CREATE TABLE / CREATE INDEX text → column facts (lang_createtable: column
//! definitions, constraints, "ROWIDs and the INTEGER PRIMARY KEY", WITHOUT ROWID;
//! datatype3 §3.1 "Determination Of Column Affinity"; DEFAULT values as SQLite's
//! `sqlite3ValueFromExpr` evaluates them for records shorter than the table).
//!
//! Parsing is done by `turso_parser` (SQLite's grammar, pure Rust). The parser is
//! third-party code fed with bytes from the file, so it runs under `catch_unwind`:
//! a panic inside it becomes a [`SqliteError::Schema`] instead of unwinding into the caller.

use turso_parser::ast::{
    self, ColumnConstraint, CreateTableBody, Expr, Literal, SortOrder, Stmt, TableConstraint,
};

use super::defaults::eval_default;
use super::error::{Result, SqliteError};
use super::schema::{
    Affinity, ColumnInfo, DefaultValue, ForeignKey, Generated, IndexInfo, TableInfo, TableKind,
};

/// Affinity of a declared type name (datatype3 §3.1).
pub fn affinity_of(decl: &str) -> Affinity {
    let t = decl.to_ascii_uppercase();
    if t.contains("INT") {
        Affinity::Integer
    } else if t.contains("CHAR") || t.contains("CLOB") || t.contains("TEXT") {
        Affinity::Text
    } else if t.contains("BLOB") || t.trim().is_empty() {
        Affinity::Blob
    } else if t.contains("REAL") || t.contains("FLOA") || t.contains("DOUB") {
        Affinity::Real
    } else {
        Affinity::Numeric
    }
}

fn parse_one(sql: &str) -> std::result::Result<Option<ast::Cmd>, String> {
    let bytes = sql.as_bytes().to_vec();
    match std::panic::catch_unwind(move || {
        turso_parser::parser::Parser::new(&bytes)
            .next_cmd()
            .map_err(|e| e.to_string())
    }) {
        Ok(r) => r,
        Err(_) => Err("the SQL parser panicked on this statement".to_string()),
    }
}

pub(super) fn unquote(s: &str) -> String {
    let b = s.as_bytes();
    match (b.first(), b.last()) {
        (Some(&q @ (b'\'' | b'"' | b'`')), Some(&e)) if e == q && b.len() >= 2 => {
            let q = q as char;
            s.get(1..s.len() - 1)
                .unwrap_or_default()
                .replace(&format!("{q}{q}"), &q.to_string())
        }
        (Some(b'['), Some(b']')) if b.len() >= 2 => {
            s.get(1..s.len() - 1).unwrap_or_default().to_string()
        }
        _ => s.to_string(),
    }
}

fn expr_column_name(e: &Expr) -> Option<String> {
    match e {
        Expr::Id(n) | Expr::Name(n) => Some(n.as_str().to_string()),
        Expr::Literal(Literal::String(s)) => Some(unquote(s)),
        Expr::Collate(inner, _) => expr_column_name(inner),
        Expr::Qualified(_, n) => Some(n.as_str().to_string()),
        _ => None,
    }
}

fn type_text(t: &ast::Type) -> String {
    match &t.size {
        None => t.name.clone(),
        Some(ast::TypeSize::MaxSize(a)) => format!("{}({a})", t.name),
        Some(ast::TypeSize::TypeSize(a, b)) => format!("{}({a},{b})", t.name),
    }
}

/// Parse the CREATE TABLE statement of table `name`.
pub fn parse_create_table(name: &str, root_page: u32, sql: &str) -> Result<TableInfo> {
    let schema_err = |message: String| SqliteError::Schema {
        table: name.to_string(),
        message,
    };
    let cmd =
        parse_one(sql).map_err(|e| schema_err(format!("cannot parse CREATE statement: {e}")))?;
    let stmt = match cmd {
        Some(ast::Cmd::Stmt(s)) => s,
        _ => return Err(schema_err("not a CREATE TABLE statement".into())),
    };
    let mut t = TableInfo {
        name: name.to_string(),
        root_page,
        sql: sql.to_string(),
        kind: TableKind::Ordinary,
        columns: Vec::new(),
        strict: false,
        rowid_alias: None,
        autoincrement: false,
        primary_key: Vec::new(),
        foreign_keys: Vec::new(),
    };
    let (columns, constraints, options) = match stmt {
        Stmt::CreateTable {
            body:
                CreateTableBody::ColumnsAndConstraints {
                    columns,
                    constraints,
                    options,
                },
            ..
        } => (columns, constraints, options),
        Stmt::CreateTable {
            body: CreateTableBody::AsSelect(_),
            ..
        } => {
            return Err(schema_err(
                "CREATE TABLE … AS SELECT text in sqlite_schema (SQLite never stores this)".into(),
            ));
        }
        Stmt::CreateVirtualTable(_) => {
            t.kind = TableKind::Virtual;
            return Ok(t);
        }
        _ => return Err(schema_err("not a CREATE TABLE statement".into())),
    };
    t.strict = options.strict_text.is_some();
    let without_rowid = options.without_rowid_text.is_some();
    if without_rowid {
        t.kind = TableKind::WithoutRowid;
    }
    let mut alias_candidate: Option<usize> = None;
    for (i, col) in columns.iter().enumerate() {
        let decl_type = col.col_type.as_ref().map(type_text).unwrap_or_default();
        let mut c = ColumnInfo {
            name: col.col_name.as_str().to_string(),
            affinity: affinity_of(&decl_type),
            decl_type,
            not_null: false,
            default: None,
            pk_position: None,
            unique: false,
            collate: None,
            references: None,
            generated: None,
        };
        let is_integer_type = col
            .col_type
            .as_ref()
            .is_some_and(|ty| ty.name.eq_ignore_ascii_case("INTEGER") && ty.size.is_none());
        for nc in &col.constraints {
            match &nc.constraint {
                ColumnConstraint::PrimaryKey {
                    order,
                    auto_increment,
                    ..
                } => {
                    t.primary_key = vec![i];
                    t.autoincrement |= *auto_increment;
                    // `INTEGER PRIMARY KEY DESC` as a column constraint is not an alias (documented quirk).
                    alias_candidate =
                        (is_integer_type && *order != Some(SortOrder::Desc)).then_some(i);
                }
                ColumnConstraint::NotNull { nullable, .. } => c.not_null |= !*nullable,
                ColumnConstraint::Unique(_) => c.unique = true,
                ColumnConstraint::Default(e) => {
                    c.default = Some(DefaultValue {
                        text: e.to_string(),
                        value: eval_default(e, c.affinity),
                    });
                }
                ColumnConstraint::Collate { collation_name } => {
                    c.collate = Some(collation_name.as_str().to_string())
                }
                ColumnConstraint::ForeignKey { clause, .. } => {
                    let fk = ForeignKey {
                        from: vec![c.name.clone()],
                        table: clause.tbl_name.as_str().to_string(),
                        to: clause
                            .columns
                            .iter()
                            .map(|ic| ic.col_name.as_str().to_string())
                            .collect(),
                    };
                    c.references = Some(fk.clone());
                    t.foreign_keys.push(fk);
                }
                ColumnConstraint::Generated { typ, .. } => {
                    c.generated = Some(match typ {
                        Some(ast::GeneratedColumnType::Stored) => Generated::Stored,
                        _ => Generated::Virtual,
                    });
                }
                ColumnConstraint::Check { .. } => {}
            }
        }
        t.columns.push(c);
    }
    let names: Vec<String> = t.columns.iter().map(|c| c.name.clone()).collect();
    let find = |name: &str| names.iter().position(|c| c.eq_ignore_ascii_case(name));
    let mut table_pk: Option<Vec<usize>> = None;
    for nc in &constraints {
        match &nc.constraint {
            TableConstraint::PrimaryKey {
                columns: cols,
                auto_increment,
                ..
            } => {
                let mut idx = Vec::new();
                for sc in cols {
                    let cname = expr_column_name(&sc.expr).ok_or_else(|| {
                        schema_err(format!("PRIMARY KEY term {} is not a column", sc.expr))
                    })?;
                    let ci = find(&cname).ok_or_else(|| {
                        schema_err(format!("PRIMARY KEY names unknown column {cname:?}"))
                    })?;
                    if !idx.contains(&ci) {
                        idx.push(ci);
                    }
                }
                t.autoincrement |= *auto_increment;
                alias_candidate = match idx.as_slice() {
                    &[only] => t
                        .columns
                        .get(only)
                        .is_some_and(|c| c.decl_type.eq_ignore_ascii_case("INTEGER"))
                        .then_some(only),
                    _ => None,
                };
                table_pk = Some(idx);
            }
            TableConstraint::Unique { columns: cols, .. } => {
                if let [only] = cols.as_slice()
                    && let Some(ci) = expr_column_name(&only.expr).and_then(|n| find(&n))
                    && let Some(c) = t.columns.get_mut(ci)
                {
                    c.unique = true;
                }
            }
            TableConstraint::ForeignKey {
                columns: cols,
                clause,
                ..
            } => t.foreign_keys.push(ForeignKey {
                from: cols
                    .iter()
                    .map(|ic| ic.col_name.as_str().to_string())
                    .collect(),
                table: clause.tbl_name.as_str().to_string(),
                to: clause
                    .columns
                    .iter()
                    .map(|ic| ic.col_name.as_str().to_string())
                    .collect(),
            }),
            TableConstraint::Check { .. } => {}
        }
    }
    if let Some(pk) = table_pk {
        t.primary_key = pk;
    }
    for (pos, &ci) in t.primary_key.iter().enumerate() {
        if let Some(c) = t.columns.get_mut(ci) {
            c.pk_position = Some(pos + 1);
        }
    }
    if without_rowid {
        if t.primary_key.is_empty() {
            return Err(schema_err("WITHOUT ROWID table has no PRIMARY KEY".into()));
        }
    } else {
        t.rowid_alias = alias_candidate;
    }
    Ok(t)
}

/// Parse a CREATE INDEX statement.
pub fn parse_create_index(
    name: &str,
    table: &str,
    root_page: u32,
    sql: Option<&str>,
) -> Result<IndexInfo> {
    let mut info = IndexInfo {
        name: name.to_string(),
        table: table.to_string(),
        root_page,
        sql: sql.map(str::to_string),
        unique: sql.is_none(),
        columns: Vec::new(),
        partial: false,
    };
    let Some(sql) = sql else { return Ok(info) };
    let schema_err = |message: String| SqliteError::Schema {
        table: name.to_string(),
        message,
    };
    match parse_one(sql).map_err(|e| schema_err(format!("cannot parse CREATE INDEX: {e}")))? {
        Some(ast::Cmd::Stmt(Stmt::CreateIndex {
            unique,
            columns,
            where_clause,
            ..
        })) => {
            info.unique = unique;
            info.partial = where_clause.is_some();
            info.columns = columns
                .iter()
                .map(|c| expr_column_name(&c.expr).unwrap_or_else(|| c.expr.to_string()))
                .collect();
            Ok(info)
        }
        _ => Err(schema_err("not a CREATE INDEX statement".into())),
    }
}
