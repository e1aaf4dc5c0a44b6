//! The request's document: checked for nesting, parsed with
//! `graphql-parser` and converted into [`ast`](super::ast).
//!
//! The parser descends recursively, so a document nested thousands deep
//! would overflow the stack: [`nesting`] measures the brackets first
//! (outside strings and comments), and a document deeper than
//! [`MAX_NESTING`] is refused unparsed.

use graphql_parser::query as q;

use super::ast::{
    Directive, Document, Field, Fragment, OpKind, Operation, Pos, Selection, Value, VariableDef,
};
use super::error::GqlError;
use super::validate::MAX_DEPTH;

/// The deepest bracket nesting (`{`, `[`, `(`) parsed: room for
/// [`MAX_DEPTH`] selection sets, arguments and list values in them.
pub const MAX_NESTING: usize = 3 * MAX_DEPTH;

/// The deepest bracket nesting of `text`, and where it first passes
/// `limit` (stops counting there).
pub fn nesting(text: &str, limit: usize) -> (usize, Option<Pos>) {
    let bytes = text.as_bytes();
    let (mut depth, mut max) = (0usize, 0usize);
    let (mut line, mut col) = (1usize, 1usize);
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        let mut step = 1;
        match b {
            b'#' => {
                while i + step < bytes.len() && bytes[i + step] != b'\n' && bytes[i + step] != b'\r'
                {
                    step += 1;
                }
            }
            b'"' if bytes[i..].starts_with(b"\"\"\"") => {
                step = 3;
                while i + step < bytes.len() && !bytes[i + step..].starts_with(b"\"\"\"") {
                    step += if bytes[i + step..].starts_with(b"\\\"\"\"") {
                        4
                    } else {
                        1
                    };
                }
                step = (step + 3).min(bytes.len() - i);
            }
            b'"' => {
                while i + step < bytes.len() && !matches!(bytes[i + step], b'"' | b'\n' | b'\r') {
                    step += if bytes[i + step] == b'\\' { 2 } else { 1 };
                }
                step = (step + 1).min(bytes.len() - i);
            }
            b'{' | b'[' | b'(' => {
                depth += 1;
                max = max.max(depth);
                if depth > limit {
                    return (max, Some(Pos { line, column: col }));
                }
            }
            b'}' | b']' | b')' => depth = depth.saturating_sub(1),
            _ => {}
        }
        // Lines and columns over what was skipped (strings may hold newlines).
        for &c in &bytes[i..i + step] {
            if c == b'\n' {
                line += 1;
                col = 1;
            } else if c & 0xC0 != 0x80 {
                col += 1;
            }
        }
        i += step;
    }
    (max, None)
}

/// `text` as a document, or the error a 400 carries.
pub fn document(text: &str) -> Result<Document, GqlError> {
    if let (_, Some(at)) = nesting(text, MAX_NESTING) {
        return Err(GqlError::new(
            "QUERY_TOO_DEEP",
            format!(
                "the document is nested deeper than {MAX_NESTING} brackets; fields may nest {MAX_DEPTH} deep"
            ),
            Some(at),
        ));
    }
    let doc = q::parse_query::<&str>(text).map_err(|e| {
        let message = e.to_string();
        let at = error_position(&message);
        let message = message
            .strip_prefix("query parse error: ")
            .unwrap_or(&message)
            .replace('\n', " ")
            .trim()
            .to_string();
        GqlError::new(
            "GRAPHQL_PARSE_FAILED",
            format!("Syntax Error: {message}"),
            at,
        )
    })?;
    let mut out = Document::default();
    for d in doc.definitions {
        match d {
            q::Definition::Operation(op) => out.operations.push(operation(op)),
            q::Definition::Fragment(f) => out.fragments.push(Fragment {
                name: f.name.to_string(),
                on: condition(f.type_condition),
                directives: directives(f.directives),
                selection: selection_set(f.selection_set),
                pos: pos(f.position),
            }),
        }
    }
    Ok(out)
}

/// `Parse error at 3:7` in the parser's message.
fn error_position(message: &str) -> Option<Pos> {
    let rest = &message[message.find(" at ")? + 4..];
    let (line, rest) = rest.split_once(':')?;
    let column: String = rest.chars().take_while(char::is_ascii_digit).collect();
    Some(Pos {
        line: line.trim().parse().ok()?,
        column: column.parse().ok()?,
    })
}

fn pos(p: graphql_parser::Pos) -> Pos {
    Pos {
        line: p.line,
        column: p.column,
    }
}

fn operation<'a>(op: q::OperationDefinition<'a, &'a str>) -> Operation {
    let (kind, position, name, vars, dirs, set) = match op {
        q::OperationDefinition::SelectionSet(s) => {
            let at = s.span.0;
            (OpKind::Query, at, None, Vec::new(), Vec::new(), s)
        }
        q::OperationDefinition::Query(o) => (
            OpKind::Query,
            o.position,
            o.name,
            o.variable_definitions,
            o.directives,
            o.selection_set,
        ),
        q::OperationDefinition::Mutation(o) => (
            OpKind::Mutation,
            o.position,
            o.name,
            o.variable_definitions,
            o.directives,
            o.selection_set,
        ),
        q::OperationDefinition::Subscription(o) => (
            OpKind::Subscription,
            o.position,
            o.name,
            o.variable_definitions,
            o.directives,
            o.selection_set,
        ),
    };
    Operation {
        kind,
        name: name.map(str::to_string),
        variables: vars
            .into_iter()
            .map(|v| VariableDef {
                name: v.name.to_string(),
                ty: v.var_type.to_string(),
                default: v.default_value.map(value),
                pos: pos(v.position),
            })
            .collect(),
        directives: directives(dirs),
        selection: selection_set(set),
        pos: pos(position),
    }
}

fn condition<'a>(c: q::TypeCondition<'a, &'a str>) -> String {
    let q::TypeCondition::On(name) = c;
    name.to_string()
}

fn selection_set<'a>(s: q::SelectionSet<'a, &'a str>) -> Vec<Selection> {
    s.items
        .into_iter()
        .map(|item| match item {
            q::Selection::Field(f) => Selection::Field(Field {
                alias: f.alias.map(str::to_string),
                name: f.name.to_string(),
                arguments: arguments(f.arguments),
                directives: directives(f.directives),
                selection: selection_set(f.selection_set),
                pos: pos(f.position),
            }),
            q::Selection::FragmentSpread(s) => Selection::Spread {
                name: s.fragment_name.to_string(),
                directives: directives(s.directives),
                pos: pos(s.position),
            },
            q::Selection::InlineFragment(i) => Selection::Inline {
                on: i.type_condition.map(condition),
                directives: directives(i.directives),
                selection: selection_set(i.selection_set),
                pos: pos(i.position),
            },
        })
        .collect()
}

fn directives<'a>(ds: Vec<q::Directive<'a, &'a str>>) -> Vec<Directive> {
    ds.into_iter()
        .map(|d| Directive {
            name: d.name.to_string(),
            arguments: arguments(d.arguments),
            pos: pos(d.position),
        })
        .collect()
}

fn arguments<'a>(args: Vec<(&'a str, q::Value<'a, &'a str>)>) -> Vec<(String, Value)> {
    args.into_iter()
        .map(|(n, v)| (n.to_string(), value(v)))
        .collect()
}

fn value<'a>(v: q::Value<'a, &'a str>) -> Value {
    match v {
        q::Value::Variable(n) => Value::Variable(n.to_string()),
        // The parser holds an i64 or fails on a literal that overflows it.
        q::Value::Int(n) => Value::Int(n.as_i64().unwrap_or(i64::MAX)),
        q::Value::Float(f) => Value::Float(f),
        q::Value::String(s) => Value::String(s),
        q::Value::Boolean(b) => Value::Boolean(b),
        q::Value::Null => Value::Null,
        q::Value::Enum(e) => Value::Enum(e.to_string()),
        q::Value::List(items) => Value::List(items.into_iter().map(value).collect()),
        q::Value::Object(fields) => Value::Object(
            fields
                .into_iter()
                .map(|(k, v)| (k.to_string(), value(v)))
                .collect(),
        ),
    }
}
