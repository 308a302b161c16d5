//! Column DEFAULT values as SQLite evaluates them for records shorter than the table
//! (lang_altertable "ADD COLUMN": the default must be a constant; evaluation as in
//! SQLite's `valueFromExpr`, affinity as in `applyAffinity`, datatype3 §3.1–§4.2).
//!
//! Integer and float literals keep SQLite's quirks: an INTEGER token becomes an integer
//! then takes the column affinity (so `DEFAULT 007` on a TEXT column reads `'7'`), a FLOAT
//! token stays text until affinity converts it (`DEFAULT 5.50` on TEXT reads `'5.50'`),
//! and BLOB affinity makes FLOAT tokens real and INTEGER tokens NUMERIC. Anything that is
//! not a constant (CURRENT_TIMESTAMP, function calls, arithmetic) evaluates to `None`,
//! which reads as NULL, as in SQLite.

use turso_parser::ast::{Expr, Literal, UnaryOperator};

use super::ddl::{affinity_of, unquote};
use super::schema::Affinity;
use super::value::Value;

fn hex_to_bytes(s: &str) -> Option<Vec<u8>> {
    let s = s.trim_start_matches(['x', 'X']).trim_matches('\'');
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| s.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok()))
        .collect()
}

/// Parse text as SQLite's `applyNumericAffinity` would: `Some` only for a well-formed number.
fn text_to_number(s: &str) -> Option<Value> {
    let t = s.trim_matches(|c: char| c.is_ascii_whitespace());
    let body = t.strip_prefix(['+', '-']).unwrap_or(t);
    let mut digits = false;
    let mut rest = body.chars().peekable();
    let mut is_int = true;
    while rest.peek().is_some_and(char::is_ascii_digit) {
        rest.next();
        digits = true;
    }
    if rest.peek() == Some(&'.') {
        is_int = false;
        rest.next();
        while rest.peek().is_some_and(char::is_ascii_digit) {
            rest.next();
            digits = true;
        }
    }
    if !digits {
        return None;
    }
    if matches!(rest.peek(), Some('e' | 'E')) {
        is_int = false;
        rest.next();
        if matches!(rest.peek(), Some('+' | '-')) {
            rest.next();
        }
        let mut exp_digits = false;
        while rest.peek().is_some_and(char::is_ascii_digit) {
            rest.next();
            exp_digits = true;
        }
        if !exp_digits {
            return None;
        }
    }
    if rest.next().is_some() {
        return None;
    }
    if is_int && let Ok(i) = t.parse::<i64>() {
        return Some(Value::Integer(i));
    }
    let r: f64 = t.parse().ok()?;
    Some(real_to_int_if_exact(r))
}

fn real_to_int_if_exact(r: f64) -> Value {
    let i = r as i64;
    if i as f64 == r && i > i64::MIN && i < i64::MAX {
        Value::Integer(i)
    } else {
        Value::Real(r)
    }
}

fn real_to_text(r: f64) -> String {
    if r.fract() == 0.0 && r.abs() < 1e15 {
        format!("{r:.1}")
    } else {
        format!("{r}")
    }
}

/// Apply column affinity to a constant, as `sqlite3ValueApplyAffinity` does.
pub fn apply_affinity(v: Value, aff: Affinity) -> Value {
    match aff {
        Affinity::Blob => v,
        Affinity::Text => match v {
            Value::Integer(i) => Value::Text(i.to_string().into_bytes()),
            Value::Real(r) => Value::Text(real_to_text(r).into_bytes()),
            other => other,
        },
        Affinity::Numeric | Affinity::Integer | Affinity::Real => match v {
            Value::Real(r) => real_to_int_if_exact(r),
            Value::Text(t) => match std::str::from_utf8(&t).ok().and_then(text_to_number) {
                Some(n) => n,
                None => Value::Text(t),
            },
            other => other,
        },
    }
}

/// An INTEGER or FLOAT literal token (with an optional leading minus) as
/// `valueFromExpr` builds it: integers that fit become integers, everything else text;
/// then BLOB affinity turns FLOAT tokens into reals and INTEGER tokens get NUMERIC.
fn numeric_default(tok: &str, neg: bool, aff: Affinity) -> Value {
    let lower = tok.to_ascii_lowercase();
    let is_hex = lower.starts_with("0x");
    let is_float = !is_hex && lower.contains(['.', 'e']);
    let sign: i64 = if neg { -1 } else { 1 };
    let text = || Value::Text(format!("{}{tok}", if neg { "-" } else { "" }).into_bytes());
    let v = if is_float {
        text()
    } else if is_hex {
        match lower.get(2..).and_then(|h| u64::from_str_radix(h, 16).ok()) {
            Some(u) => Value::Integer((u as i64).wrapping_mul(sign)),
            None => text(),
        }
    } else {
        match tok.parse::<i64>() {
            Ok(i) => Value::Integer(i.wrapping_mul(sign)),
            Err(_) => text(),
        }
    };
    match aff {
        Affinity::Blob if is_float => {
            let s = format!("{}{tok}", if neg { "-" } else { "" });
            Value::Real(s.parse::<f64>().unwrap_or(0.0))
        }
        Affinity::Blob => apply_affinity(v, Affinity::Numeric),
        a => apply_affinity(v, a),
    }
}

/// Evaluate a DEFAULT expression as a constant with the column's affinity, or `None`
/// when it is not a constant (CURRENT_TIMESTAMP, function calls, arithmetic):
/// SQLite yields NULL for those on a short record.
pub fn eval_default(e: &Expr, aff: Affinity) -> Option<Value> {
    match e {
        Expr::Parenthesized(v) => match v.as_slice() {
            [only] => eval_default(only, aff),
            _ => None,
        },
        Expr::Unary(UnaryOperator::Positive, inner) | Expr::Collate(inner, _) => {
            eval_default(inner, aff)
        }
        Expr::Literal(Literal::Null) => Some(Value::Null),
        Expr::Literal(Literal::True) => Some(apply_affinity(Value::Integer(1), aff)),
        Expr::Literal(Literal::False) => Some(apply_affinity(Value::Integer(0), aff)),
        Expr::Literal(Literal::Blob(h)) => hex_to_bytes(h).map(Value::Blob),
        Expr::Literal(Literal::String(s)) => {
            Some(apply_affinity(Value::Text(unquote(s).into_bytes()), aff))
        }
        Expr::Id(n) | Expr::Name(n) => Some(apply_affinity(
            Value::Text(n.as_str().as_bytes().to_vec()),
            aff,
        )),
        Expr::Literal(Literal::Numeric(s)) => Some(numeric_default(s, false, aff)),
        Expr::Unary(UnaryOperator::Negative, inner) => {
            if let Expr::Literal(Literal::Numeric(s)) = inner.as_ref()
                && !s.to_ascii_lowercase().starts_with("0x")
            {
                return Some(numeric_default(s, true, aff));
            }
            let v = eval_default(inner, aff)?;
            let n = match v {
                Value::Null => return Some(Value::Null),
                Value::Integer(i) => Value::Integer(i),
                Value::Real(r) => Value::Real(r),
                Value::Text(t) | Value::Blob(t) => std::str::from_utf8(&t)
                    .ok()
                    .and_then(text_to_number)
                    .unwrap_or(Value::Integer(0)),
            };
            let neg = match n {
                Value::Integer(i64::MIN) => Value::Real(-(i64::MIN as f64)),
                Value::Integer(i) => Value::Integer(-i),
                Value::Real(r) => Value::Real(-r),
                other => other,
            };
            Some(apply_affinity(neg, aff))
        }
        Expr::Cast { expr, type_name } => {
            let cast_aff = affinity_of(type_name.as_ref().map(|t| t.name.as_str()).unwrap_or(""));
            let v = eval_default(expr, cast_aff)?;
            let v = match (cast_aff, v) {
                (Affinity::Blob, Value::Text(t)) => Value::Blob(t),
                (Affinity::Text, Value::Blob(b)) => Value::Text(b),
                (Affinity::Real, Value::Integer(i)) => Value::Real(i as f64),
                (_, v) => apply_affinity(v, cast_aff),
            };
            Some(apply_affinity(v, aff))
        }
        _ => None,
    }
}
