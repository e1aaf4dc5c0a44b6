//! Grafana's PostgreSQL macros and template variables, expanded as Grafana
//! expands them before it sends a panel's SQL, so that the tests
//! (`tests/it/grafana.rs`) and the benchmark (`examples/dashboard_bench.rs`)
//! run exactly what a dashboard would:
//!
//! - `$__timeFilter(expr)` → `expr BETWEEN 'FROM' AND 'TO'`;
//! - `$__timeFrom()`, `$__timeTo()` → `'FROM'`, `'TO'` (RFC 3339, UTC);
//! - `$__timeGroupAlias(expr, 1d)` → `floor(extract(epoch from expr)/86400)*86400 AS "time"`
//!   (`$__timeGroup` without the alias);
//! - `$name` and `${name}`: a single-value variable as its raw text; a
//!   multi-value or include-all one as its values quoted and joined with
//!   commas, or its custom all value when All is selected.
//!
//! (Grafana's `sqleng` macro engine and `templateSrv`'s `sqlstring` format.)

#![allow(dead_code)]

use chrono::{TimeZone, Utc};

/// A dashboard variable's value.
pub enum Value<'a> {
    /// A single-value variable: substituted raw.
    One(&'a str),
    /// A multi-value variable: each value quoted.
    Many(&'a [&'a str]),
    /// All selected: the variable's custom all value, raw.
    All(&'a str),
}

fn rfc(t: i64) -> String {
    Utc.timestamp_opt(t, 0)
        .single()
        .expect("a time")
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// The arguments of the macro call starting at `rest` (just after its
/// name), and what follows the closing parenthesis.
fn call_args(rest: &str) -> (Vec<String>, &str) {
    assert!(rest.starts_with('('), "a macro call: {rest}");
    let mut depth = 0;
    let mut args = Vec::new();
    let mut current = String::new();
    for (i, ch) in rest.char_indices() {
        match ch {
            '(' => {
                depth += 1;
                if depth == 1 {
                    continue;
                }
            }
            ')' => {
                depth -= 1;
                if depth == 0 {
                    if !current.trim().is_empty() {
                        args.push(current.trim().to_string());
                    }
                    return (args, &rest[i + 1..]);
                }
            }
            ',' if depth == 1 => {
                args.push(current.trim().to_string());
                current.clear();
                continue;
            }
            _ => {}
        }
        current.push(ch);
    }
    panic!("unbalanced macro call: {rest}")
}

/// Seconds of a Grafana interval (`1d`, `'1w'`, `5m`).
fn interval_seconds(s: &str) -> i64 {
    let s = s.trim_matches('\'');
    let (n, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: i64 = n.parse().unwrap_or_else(|_| panic!("an interval: {s}"));
    n * match unit {
        "s" | "" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        other => panic!("an interval unit: {other}"),
    }
}

/// `sql` as Grafana sends it for the range `[from, to]` (unix seconds) and
/// the variables `vars`.
pub fn expand(sql: &str, from: i64, to: i64, vars: &[(&str, Value<'_>)]) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut rest = sql;
    while let Some(i) = rest.find("$__") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 3..];
        let name_len = after
            .find(|c: char| !c.is_ascii_alphanumeric())
            .unwrap_or(after.len());
        let name = &after[..name_len];
        let (args, tail) = call_args(&after[name_len..]);
        let expanded = match name {
            "timeFilter" => format!("{} BETWEEN '{}' AND '{}'", args[0], rfc(from), rfc(to)),
            "timeFrom" => format!("'{}'", rfc(from)),
            "timeTo" => format!("'{}'", rfc(to)),
            "timeGroup" | "timeGroupAlias" => {
                let secs = interval_seconds(&args[1]);
                let group = format!("floor(extract(epoch from {})/{secs})*{secs}", args[0]);
                if name == "timeGroupAlias" {
                    format!("{group} AS \"time\"")
                } else {
                    group
                }
            }
            other => panic!("a macro this expander does not know: $__{other}"),
        };
        out.push_str(&expanded);
        rest = tail;
    }
    out.push_str(rest);
    let mut sql = out;
    // Longest names first, so `$service` never eats `$services`.
    let mut vars: Vec<&(&str, Value<'_>)> = vars.iter().collect();
    vars.sort_by_key(|(name, _)| std::cmp::Reverse(name.len()));
    for (name, value) in vars {
        let text = match value {
            Value::One(v) => v.to_string(),
            Value::Many(vs) => vs
                .iter()
                .map(|v| format!("'{}'", v.replace('\'', "''")))
                .collect::<Vec<_>>()
                .join(","),
            Value::All(all) => all.to_string(),
        };
        sql = sql
            .replace(&format!("${{{name}}}"), &text)
            .replace(&format!("${name}"), &text);
    }
    assert!(
        !sql.contains('$') || sql.contains("$$"),
        "a variable left unexpanded: {sql}"
    );
    sql
}
