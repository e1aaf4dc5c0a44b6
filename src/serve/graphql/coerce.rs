//! Input coercion: variables' JSON values and literals to the schema's
//! input types (scalars, the enum, lists of them), and which variable
//! types may stand where.

use serde_json::{Map, Value as Json, json};

use super::ast::Value;
use super::schema::{self, Kind, Ty};

/// A JSON variable value as type `ty`.
pub fn coerce_json(v: &Json, ty: &str) -> Result<Json, String> {
    match Ty::of(ty) {
        Ty::NonNull(inner) => match v {
            Json::Null => Err(format!("expected a non-null {inner}")),
            _ => coerce_json(v, inner),
        },
        _ if v.is_null() => Ok(Json::Null),
        Ty::List(inner) => match v {
            Json::Array(items) => items
                .iter()
                .map(|i| coerce_json(i, inner))
                .collect::<Result<Vec<_>, _>>()
                .map(Json::Array),
            _ => Ok(Json::Array(vec![coerce_json(v, inner)?])),
        },
        Ty::Named(name) => scalar_json(v, name),
    }
}

pub fn scalar_json(v: &Json, name: &str) -> Result<Json, String> {
    let ok = match (name, v) {
        ("String", Json::String(_)) | ("Boolean", Json::Bool(_)) => true,
        ("Float", Json::Number(_)) => true,
        ("Int", Json::Number(n)) => n.as_i64().is_some_and(|i| i32::try_from(i).is_ok()),
        _ => match schema::kind(name) {
            Some(Kind::Enum(e)) => v.as_str().is_some_and(|s| e.values.contains(&s)),
            _ => false,
        },
    };
    if ok {
        Ok(v.clone())
    } else {
        Err(format!("{v} is not a valid {name}"))
    }
}

/// A literal as type `ty`; a variable is looked up in `vars` (`None`:
/// validation, where the variable's type was checked instead).
pub fn coerce_literal(
    v: &Value,
    ty: &str,
    vars: Option<&Map<String, Json>>,
) -> Result<Json, String> {
    if let Value::Variable(name) = v {
        return Ok(vars
            .and_then(|m| m.get(name))
            .cloned()
            .unwrap_or(Json::Null));
    }
    match Ty::of(ty) {
        Ty::NonNull(inner) => match v {
            Value::Null => Err(format!("expected a non-null {inner}, found null")),
            _ => coerce_literal(v, inner, vars),
        },
        _ if *v == Value::Null => Ok(Json::Null),
        Ty::List(inner) => match v {
            Value::List(items) => items
                .iter()
                .map(|i| coerce_literal(i, inner, vars))
                .collect::<Result<Vec<_>, _>>()
                .map(Json::Array),
            _ => Ok(Json::Array(vec![coerce_literal(v, inner, vars)?])),
        },
        Ty::Named(name) => {
            let out = match (name, v) {
                ("String", Value::String(s)) => Some(json!(s)),
                ("Boolean", Value::Boolean(b)) => Some(json!(b)),
                ("Int", Value::Int(i)) if i32::try_from(*i).is_ok() => Some(json!(i)),
                ("Float", Value::Int(i)) => Some(json!(*i as f64)),
                ("Float", Value::Float(f)) => Some(json!(f)),
                (_, Value::Enum(e)) => match schema::kind(name) {
                    Some(Kind::Enum(def)) if def.values.contains(&e.as_str()) => Some(json!(e)),
                    _ => None,
                },
                _ => None,
            };
            out.ok_or_else(|| format!("{} is not a valid {name}", show(v)))
        }
    }
}

/// A literal as the document would write it, for messages.
fn show(v: &Value) -> String {
    match v {
        Value::Variable(n) => format!("${n}"),
        Value::Int(i) => i.to_string(),
        Value::Float(f) => f.to_string(),
        Value::String(s) => json!(s).to_string(),
        Value::Boolean(b) => b.to_string(),
        Value::Null => "null".into(),
        Value::Enum(e) => e.clone(),
        Value::List(items) => format!(
            "[{}]",
            items.iter().map(show).collect::<Vec<_>>().join(", ")
        ),
        Value::Object(_) => "{…}".into(),
    }
}

/// Whether a variable of type `var` may stand where `loc` is expected.
pub fn compatible(var: &str, loc: &str) -> bool {
    match (Ty::of(var), Ty::of(loc)) {
        (Ty::NonNull(v), Ty::NonNull(l)) => compatible(v, l),
        (Ty::NonNull(v), _) => compatible(v, loc),
        (_, Ty::NonNull(_)) => false,
        (Ty::List(v), Ty::List(l)) => compatible(v, l),
        (Ty::Named(v), Ty::Named(l)) => v == l,
        _ => false,
    }
}
