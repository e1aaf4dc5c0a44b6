//! Validation and execution of one operation over the fixed schema
//! (GraphQL spec, October 2021 edition, for what this schema can hold:
//! objects, scalars, one enum, lists, no interfaces, unions or input
//! objects, no introspection beyond `__typename`).
//!
//! [`prepare`] picks the operation, coerces its variables and validates the
//! whole document: an invalid request executes nothing. [`execute`] then
//! resolves the root fields through a [`Root`] and picks the selected
//! fields out of the JSON each answers, with the spec's null propagation.
//! Work is bounded before anything runs: a selection nested deeper than
//! [`MAX_DEPTH`], more than [`MAX_ROOT_FIELDS`] root fields or more than
//! [`MAX_SELECTIONS`] selections once fragments are expanded are refused.

use std::collections::{HashMap, HashSet};

use serde_json::{Map, Value as Json, json};

use super::ast::{Directive, Document, Field, Fragment, OpKind, Operation, Pos, Selection, Value};
use super::schema::{self, Kind, Object, QUERY, Ty};
use crate::serve::api::ApiError;

/// The deepest field nesting served (`{ a { b } }` is 2).
pub const MAX_DEPTH: usize = 10;
/// The most root fields (after fragments and aliases) one request runs:
/// each may load a project's breakdown.
pub const MAX_ROOT_FIELDS: usize = 20;
/// The most selections (fields, spreads, inline fragments) of an
/// operation with its fragments expanded where they are spread.
pub const MAX_SELECTIONS: usize = 2000;

/// One entry of an error's `path`.
#[derive(Clone, Debug, PartialEq)]
pub enum Step {
    Key(String),
    Index(usize),
}

/// An entry of the response's `errors`.
#[derive(Clone, Debug)]
pub struct GqlError {
    pub message: String,
    pub locations: Vec<Pos>,
    pub path: Vec<Step>,
    /// `extensions.code`: the REST error code, or a GraphQL stage.
    pub code: &'static str,
    pub details: Option<Json>,
}

impl GqlError {
    pub fn new(code: &'static str, message: impl Into<String>, at: Option<Pos>) -> GqlError {
        GqlError {
            message: message.into(),
            locations: at.into_iter().collect(),
            path: Vec::new(),
            code,
            details: None,
        }
    }

    fn invalid(message: impl Into<String>, at: Pos) -> GqlError {
        GqlError::new("GRAPHQL_VALIDATION_FAILED", message, Some(at))
    }

    pub fn to_json(&self) -> Json {
        let mut e = Map::new();
        e.insert("message".into(), json!(self.message));
        if !self.locations.is_empty() {
            let l: Vec<Json> = self
                .locations
                .iter()
                .map(|p| json!({"line": p.line, "column": p.column}))
                .collect();
            e.insert("locations".into(), Json::Array(l));
        }
        if !self.path.is_empty() {
            let p: Vec<Json> = self
                .path
                .iter()
                .map(|s| match s {
                    Step::Key(k) => json!(k),
                    Step::Index(i) => json!(i),
                })
                .collect();
            e.insert("path".into(), Json::Array(p));
        }
        let mut ext = Map::new();
        ext.insert("code".into(), json!(self.code));
        if let Some(d) = &self.details {
            ext.insert("details".into(), d.clone());
        }
        e.insert("extensions".into(), Json::Object(ext));
        Json::Object(e)
    }
}

/// `{"errors": [...]}`.
pub fn errors_body(errors: &[GqlError]) -> Json {
    json!({"errors": errors.iter().map(GqlError::to_json).collect::<Vec<_>>()})
}

/// What answers the root fields.
pub trait Root {
    /// The source JSON of root field `name` with its coerced arguments
    /// (absent ones left out, defaults applied).
    fn root(
        &mut self,
        name: &str,
        args: &Map<String, Json>,
    ) -> impl Future<Output = Result<Json, ApiError>> + Send;
}

/// An operation ready to run: chosen, its variables coerced, validated.
pub struct Prepared<'d> {
    doc: &'d Document,
    op: &'d Operation,
    vars: Map<String, Json>,
}

/// Picks the operation (`operation_name`, else the only one), coerces
/// `variables` to its definitions and validates the document.
pub fn prepare<'d>(
    doc: &'d Document,
    operation_name: Option<&str>,
    variables: &Map<String, Json>,
) -> Result<Prepared<'d>, Vec<GqlError>> {
    let mut errors = Vec::new();
    check_names(doc, &mut errors);
    if !errors.is_empty() {
        return Err(errors);
    }
    let op = pick(doc, operation_name).map_err(|e| vec![e])?;
    let at = op.pos;
    let deepest = depth(doc, &op.selection, &mut HashMap::new(), &mut Vec::new());
    if deepest > MAX_DEPTH {
        return Err(vec![GqlError::new(
            "QUERY_TOO_DEEP",
            format!("the query nests fields {deepest} deep; at most {MAX_DEPTH} levels are served"),
            Some(at),
        )]);
    }
    if op.kind != OpKind::Query {
        return Err(vec![GqlError::invalid(
            "only queries are served: this API records nothing (the webhooks do)",
            at,
        )]);
    }
    for d in &op.directives {
        errors.push(GqlError::invalid(
            format!("Directive \"@{}\" may not be used on QUERY.", d.name),
            d.pos,
        ));
    }
    let mut v = Validator::new(doc, op);
    let query = schema::object(QUERY).ok_or_else(|| vec![internal("no Query type")])?;
    v.selection(
        query,
        &op.selection,
        1,
        &mut Vec::new(),
        &mut HashMap::new(),
    );
    if !v.too_big {
        for f in &doc.fragments {
            if !v.used_fragments.contains(f.name.as_str()) {
                v.errors.push(GqlError::invalid(
                    format!("Fragment \"{}\" is never used.", f.name),
                    f.pos,
                ));
            }
        }
        for d in &op.variables {
            if !v.used_vars.contains(d.name.as_str()) {
                v.errors.push(GqlError::invalid(
                    format!("Variable \"${}\" is never used.", d.name),
                    d.pos,
                ));
            }
        }
    }
    errors.append(&mut v.errors);
    if errors.is_empty() {
        let roots = collect(doc, query, &op.selection, &Map::new(), true).len();
        if roots > MAX_ROOT_FIELDS {
            errors.push(GqlError::new(
                "QUERY_TOO_LARGE",
                format!("the query has {roots} root fields; at most {MAX_ROOT_FIELDS} are served"),
                Some(at),
            ));
        }
    }
    let vars = coerce_variables(op, variables, &mut errors);
    if errors.is_empty() {
        Ok(Prepared { doc, op, vars })
    } else {
        Err(errors)
    }
}

/// How deep `set` nests fields, fragments expanded (each fragment's depth
/// is computed once; a cycle counts as nothing here and is reported by
/// validation).
fn depth<'d>(
    doc: &'d Document,
    set: &'d [Selection],
    memo: &mut HashMap<&'d str, usize>,
    visiting: &mut Vec<&'d str>,
) -> usize {
    let mut deepest = 0;
    for s in set {
        let d = match s {
            Selection::Field(f) if f.selection.is_empty() => 1,
            Selection::Field(f) => 1 + depth(doc, &f.selection, memo, visiting),
            Selection::Inline { selection, .. } => depth(doc, selection, memo, visiting),
            Selection::Spread { name, .. } => match memo.get(name.as_str()) {
                Some(d) => *d,
                None if visiting.contains(&name.as_str()) => 0,
                None => match doc.fragments.iter().find(|f| f.name == *name) {
                    Some(frag) => {
                        visiting.push(&frag.name);
                        let d = depth(doc, &frag.selection, memo, visiting);
                        visiting.pop();
                        memo.insert(&frag.name, d);
                        d
                    }
                    None => 0,
                },
            },
        };
        deepest = deepest.max(d);
    }
    deepest
}

fn internal(what: &str) -> GqlError {
    GqlError::new("INTERNAL_ERROR", format!("internal error: {what}"), None)
}

/// Operation and fragment names are unique, an anonymous operation is alone.
fn check_names(doc: &Document, errors: &mut Vec<GqlError>) {
    let mut seen = HashSet::new();
    for op in &doc.operations {
        match &op.name {
            Some(n) if !seen.insert(n.as_str()) => errors.push(GqlError::invalid(
                format!("There can be only one operation named \"{n}\"."),
                op.pos,
            )),
            None if doc.operations.len() > 1 => errors.push(GqlError::invalid(
                "This anonymous operation must be the only defined operation.",
                op.pos,
            )),
            _ => {}
        }
    }
    let mut seen = HashSet::new();
    for f in &doc.fragments {
        if !seen.insert(f.name.as_str()) {
            errors.push(GqlError::invalid(
                format!("There can be only one fragment named \"{}\".", f.name),
                f.pos,
            ));
        }
    }
}

fn pick<'d>(doc: &'d Document, name: Option<&str>) -> Result<&'d Operation, GqlError> {
    let at = Some(Pos { line: 1, column: 1 });
    match name {
        Some(n) => doc
            .operations
            .iter()
            .find(|o| o.name.as_deref() == Some(n))
            .ok_or_else(|| {
                GqlError::new(
                    "OPERATION_NOT_FOUND",
                    format!("Unknown operation named \"{n}\"."),
                    None,
                )
            }),
        None => match doc.operations.as_slice() {
            [op] => Ok(op),
            [] => Err(GqlError::new(
                "GRAPHQL_VALIDATION_FAILED",
                "the document has no operation",
                at,
            )),
            _ => Err(GqlError::new(
                "OPERATION_NOT_FOUND",
                "Must provide operation name if query contains multiple operations.",
                None,
            )),
        },
    }
}

/// The variables' runtime values, coerced to their declared types.
fn coerce_variables(
    op: &Operation,
    given: &Map<String, Json>,
    errors: &mut Vec<GqlError>,
) -> Map<String, Json> {
    let mut out = Map::new();
    for d in &op.variables {
        let named = Ty::named(&d.ty);
        match schema::kind(named) {
            Some(Kind::Scalar | Kind::Enum(_)) => {}
            Some(Kind::Object(_)) => {
                errors.push(GqlError::invalid(
                    format!(
                        "Variable \"${}\" cannot be non-input type \"{}\".",
                        d.name, d.ty
                    ),
                    d.pos,
                ));
                continue;
            }
            None => {
                errors.push(GqlError::invalid(
                    format!("Unknown type \"{named}\"."),
                    d.pos,
                ));
                continue;
            }
        }
        let value = match (given.get(&d.name), &d.default) {
            (Some(v), _) => coerce_json(v, &d.ty),
            (None, Some(default)) => coerce_literal(default, &d.ty, None),
            (None, None) if d.ty.ends_with('!') => {
                Err(format!("of required type \"{}\" was not provided", d.ty))
            }
            (None, None) => continue,
        };
        match value {
            Ok(v) => {
                out.insert(d.name.clone(), v);
            }
            Err(why) => errors.push(GqlError::new(
                "BAD_USER_INPUT",
                format!("Variable \"${}\" got an invalid value: {why}.", d.name),
                Some(d.pos),
            )),
        }
    }
    out
}

/// A JSON variable value as type `ty`.
fn coerce_json(v: &Json, ty: &str) -> Result<Json, String> {
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

fn scalar_json(v: &Json, name: &str) -> Result<Json, String> {
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
fn coerce_literal(v: &Value, ty: &str, vars: Option<&Map<String, Json>>) -> Result<Json, String> {
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
fn compatible(var: &str, loc: &str) -> bool {
    match (Ty::of(var), Ty::of(loc)) {
        (Ty::NonNull(v), Ty::NonNull(l)) => compatible(v, l),
        (Ty::NonNull(v), _) => compatible(v, loc),
        (_, Ty::NonNull(_)) => false,
        (Ty::List(v), Ty::List(l)) => compatible(v, l),
        (Ty::Named(v), Ty::Named(l)) => v == l,
        _ => false,
    }
}

struct Validator<'d> {
    doc: &'d Document,
    op: &'d Operation,
    errors: Vec<GqlError>,
    selections: usize,
    too_big: bool,
    used_fragments: HashSet<&'d str>,
    used_vars: HashSet<&'d str>,
}

/// Response key → the field name and arguments it stands for, in one
/// selection set (fragments merged in).
type Seen<'d> = HashMap<&'d str, (&'d str, &'d [(String, Value)], Pos)>;

impl<'d> Validator<'d> {
    fn new(doc: &'d Document, op: &'d Operation) -> Validator<'d> {
        Validator {
            doc,
            op,
            errors: Vec::new(),
            selections: 0,
            too_big: false,
            used_fragments: HashSet::new(),
            used_vars: HashSet::new(),
        }
    }

    fn error(&mut self, message: impl Into<String>, at: Pos) {
        // One request cannot make the answer grow without end either.
        if self.errors.len() < 100 {
            self.errors.push(GqlError::invalid(message, at));
        }
    }

    fn fragment(&self, name: &str) -> Option<&'d Fragment> {
        self.doc.fragments.iter().find(|f| f.name == name)
    }

    /// Counts one selection; false once the budget is spent.
    fn budget(&mut self, at: Pos) -> bool {
        if self.too_big {
            return false;
        }
        self.selections += 1;
        if self.selections > MAX_SELECTIONS {
            self.too_big = true;
            self.errors.push(GqlError::new(
                "QUERY_TOO_LARGE",
                format!("the query selects more than {MAX_SELECTIONS} fields once its fragments are expanded"),
                Some(at),
            ));
            return false;
        }
        true
    }

    fn selection(
        &mut self,
        obj: &'static Object,
        set: &'d [Selection],
        depth: usize,
        spreading: &mut Vec<&'d str>,
        seen: &mut Seen<'d>,
    ) {
        for s in set {
            match s {
                Selection::Field(f) => {
                    if !self.budget(f.pos) {
                        return;
                    }
                    self.directives(&f.directives);
                    self.field(obj, f, depth, seen);
                }
                Selection::Spread {
                    name,
                    directives,
                    pos,
                } => {
                    if !self.budget(*pos) {
                        return;
                    }
                    self.directives(directives);
                    self.used_fragments.insert(name.as_str());
                    let Some(frag) = self.fragment(name) else {
                        self.error(format!("Unknown fragment \"{name}\"."), *pos);
                        continue;
                    };
                    if spreading.contains(&name.as_str()) {
                        self.error(
                            format!("Cannot spread fragment \"{name}\" within itself."),
                            *pos,
                        );
                        continue;
                    }
                    if !frag.directives.is_empty() {
                        self.error(
                            format!(
                                "Directives are not served on fragment definitions (\"{name}\")."
                            ),
                            frag.pos,
                        );
                    }
                    if !self.condition(obj, &frag.on, *pos) {
                        continue;
                    }
                    spreading.push(name.as_str());
                    self.selection(obj, &frag.selection, depth, spreading, seen);
                    spreading.pop();
                }
                Selection::Inline {
                    on,
                    directives,
                    selection,
                    pos,
                } => {
                    if !self.budget(*pos) {
                        return;
                    }
                    self.directives(directives);
                    if let Some(on) = on {
                        if !self.condition(obj, on, *pos) {
                            continue;
                        }
                    }
                    self.selection(obj, selection, depth, spreading, seen);
                }
            }
        }
    }

    /// A type condition `on` holds where `obj` is expected: without
    /// interfaces or unions, only `obj` itself.
    fn condition(&mut self, obj: &Object, on: &str, at: Pos) -> bool {
        if schema::kind(on).is_none() {
            self.error(format!("Unknown type \"{on}\"."), at);
            return false;
        }
        if on != obj.name {
            self.error(
                format!(
                    "Fragment cannot be spread here as objects of type \"{}\" can never be of type \"{on}\".",
                    obj.name
                ),
                at,
            );
            return false;
        }
        true
    }

    fn field(&mut self, obj: &'static Object, f: &'d Field, depth: usize, seen: &mut Seen<'d>) {
        if depth > MAX_DEPTH {
            self.error(
                format!("the query is nested deeper than {MAX_DEPTH} levels"),
                f.pos,
            );
            return;
        }
        match seen.get(f.key()) {
            Some((name, args, _)) if *name != f.name || *args != f.arguments.as_slice() => {
                let why = if *name == f.name {
                    "they have differing arguments".to_string()
                } else {
                    format!("\"{name}\" and \"{}\" are different fields", f.name)
                };
                self.error(
                    format!("Fields \"{}\" conflict because {why}. Use different aliases on the fields to fetch both if this was intentional.", f.key()),
                    f.pos,
                );
                return;
            }
            Some(_) => {}
            None => {
                seen.insert(f.key(), (&f.name, &f.arguments, f.pos));
            }
        }
        if f.name == "__typename" {
            if !f.arguments.is_empty() {
                self.error("Unknown argument on field \"__typename\".", f.pos);
            }
            if !f.selection.is_empty() {
                self.error("Field \"__typename\" must not have a selection since type \"String!\" has no subfields.", f.pos);
            }
            return;
        }
        if f.name.starts_with("__") {
            self.error(
                format!(
                    "introspection (\"{}\") is not served; GET /api/graphql/schema prints the schema",
                    f.name
                ),
                f.pos,
            );
            return;
        }
        let Some(def) = obj.field(&f.name) else {
            self.error(
                format!(
                    "Cannot query field \"{}\" on type \"{}\".",
                    f.name, obj.name
                ),
                f.pos,
            );
            return;
        };
        self.arguments(obj, def, &f.arguments, f.pos);
        match schema::kind(Ty::named(def.ty)) {
            Some(Kind::Object(sub)) => {
                if f.selection.is_empty() {
                    self.error(
                        format!(
                            "Field \"{}\" of type \"{}\" must have a selection of subfields. Did you mean \"{} {{ ... }}\"?",
                            f.name, def.ty, f.name
                        ),
                        f.pos,
                    );
                } else {
                    self.selection(
                        sub,
                        &f.selection,
                        depth + 1,
                        &mut Vec::new(),
                        &mut HashMap::new(),
                    );
                }
            }
            _ => {
                if !f.selection.is_empty() {
                    self.error(
                        format!(
                            "Field \"{}\" must not have a selection since type \"{}\" has no subfields.",
                            f.name, def.ty
                        ),
                        f.pos,
                    );
                }
            }
        }
    }

    fn arguments(
        &mut self,
        obj: &Object,
        def: &schema::Field,
        given: &'d [(String, Value)],
        at: Pos,
    ) {
        let mut names = HashSet::new();
        for (name, value) in given {
            if !names.insert(name.as_str()) {
                self.error(
                    format!("There can be only one argument named \"{name}\"."),
                    at,
                );
                continue;
            }
            let Some(arg) = def.args.iter().find(|a| a.name == name) else {
                self.error(
                    format!(
                        "Unknown argument \"{name}\" on field \"{}.{}\".",
                        obj.name, def.name
                    ),
                    at,
                );
                continue;
            };
            self.input(value, arg.ty, &format!("Argument \"{name}\""), at);
        }
        for arg in def.args {
            if arg.ty.ends_with('!') && arg.default.is_none() && !names.contains(arg.name) {
                self.error(
                    format!(
                        "Field \"{}\" argument \"{}\" of type \"{}\" is required, but it was not provided.",
                        def.name, arg.name, arg.ty
                    ),
                    at,
                );
            }
        }
    }

    /// A literal (or variable) where type `ty` is expected.
    fn input(&mut self, v: &'d Value, ty: &str, what: &str, at: Pos) {
        if let Value::Variable(name) = v {
            self.used_vars.insert(name.as_str());
            let Some(d) = self.op.variables.iter().find(|d| d.name == *name) else {
                self.error(format!("Variable \"${name}\" is not defined."), at);
                return;
            };
            // A nullable variable with a default may fill a non-null place.
            let var_ty = match &d.default {
                Some(dv) if *dv != Value::Null && !d.ty.ends_with('!') => format!("{}!", d.ty),
                _ => d.ty.clone(),
            };
            if !compatible(&var_ty, ty) {
                self.error(
                    format!(
                        "Variable \"${name}\" of type \"{}\" used in position expecting type \"{ty}\".",
                        d.ty
                    ),
                    at,
                );
            }
            return;
        }
        // Variables inside lists are checked against the item type.
        if let (Value::List(items), Ty::List(inner) | Ty::NonNull(inner)) = (v, Ty::of(ty)) {
            let item = match Ty::of(inner) {
                Ty::List(i) => i,
                _ if ty.ends_with('!') => {
                    self.input(v, inner, what, at);
                    return;
                }
                _ => inner,
            };
            for i in items {
                self.input(i, item, what, at);
            }
            return;
        }
        if let Err(why) = coerce_literal(v, ty, None) {
            self.error(format!("{what} has an invalid value: {why}."), at);
        }
    }

    fn directives(&mut self, ds: &'d [Directive]) {
        for d in ds {
            if d.name != "skip" && d.name != "include" {
                self.error(format!("Unknown directive \"@{}\".", d.name), d.pos);
                continue;
            }
            match d.arguments.as_slice() {
                [(name, v)] if name == "if" => {
                    self.input(
                        v,
                        "Boolean!",
                        &format!("Directive \"@{}\" argument \"if\"", d.name),
                        d.pos,
                    );
                }
                _ => self.error(
                    format!(
                        "Directive \"@{}\" takes exactly one argument, \"if\".",
                        d.name
                    ),
                    d.pos,
                ),
            }
        }
    }
}

/// Whether `@skip`/`@include` leave the selection in.
fn included(ds: &[Directive], vars: &Map<String, Json>) -> bool {
    ds.iter().all(|d| {
        let on = d
            .arguments
            .first()
            .and_then(|(_, v)| coerce_literal(v, "Boolean", Some(vars)).ok())
            .and_then(|j| j.as_bool())
            .unwrap_or(false);
        if d.name == "skip" { !on } else { on }
    })
}

/// The fields of a selection set by response key, in document order, with
/// fragments and directives applied (the spec's CollectFields). `all`
/// ignores directives (counting before variables are known).
fn collect<'d>(
    doc: &'d Document,
    obj: &Object,
    set: &'d [Selection],
    vars: &Map<String, Json>,
    all: bool,
) -> Vec<(&'d str, Vec<&'d Field>)> {
    // Depth-first, in document order; a fragment is spread once per set.
    fn walk<'d>(
        doc: &'d Document,
        obj: &Object,
        set: &'d [Selection],
        vars: &Map<String, Json>,
        all: bool,
        visited: &mut HashSet<&'d str>,
        order: &mut Vec<&'d Field>,
    ) {
        for s in set {
            match s {
                Selection::Field(f) => {
                    if all || included(&f.directives, vars) {
                        order.push(f);
                    }
                }
                Selection::Spread {
                    name, directives, ..
                } => {
                    if !(all || included(directives, vars)) || !visited.insert(name.as_str()) {
                        continue;
                    }
                    if let Some(frag) = doc.fragments.iter().find(|f| f.name == *name) {
                        if frag.on == obj.name {
                            walk(doc, obj, &frag.selection, vars, all, visited, order);
                        }
                    }
                }
                Selection::Inline {
                    on,
                    directives,
                    selection,
                    ..
                } => {
                    if (all || included(directives, vars))
                        && on.as_deref().is_none_or(|on| on == obj.name)
                    {
                        walk(doc, obj, selection, vars, all, visited, order);
                    }
                }
            }
        }
    }
    let mut fields = Vec::new();
    walk(doc, obj, set, vars, all, &mut HashSet::new(), &mut fields);
    let mut out: Vec<(&'d str, Vec<&'d Field>)> = Vec::new();
    for f in fields {
        match out.iter_mut().find(|(k, _)| *k == f.key()) {
            Some((_, group)) => group.push(f),
            None => out.push((f.key(), vec![f])),
        }
    }
    out
}

/// A non-null place got null: the error is recorded, the nearest nullable
/// parent becomes null.
struct Bubble;

struct Run<'d, 'p> {
    p: &'p Prepared<'d>,
    errors: Vec<GqlError>,
    path: Vec<Step>,
}

/// Runs `p`: `{"data": ...}` with `"errors"` when any field failed.
pub async fn execute<R: Root>(p: &Prepared<'_>, root: &mut R) -> Json {
    let mut run = Run {
        p,
        errors: Vec::new(),
        path: Vec::new(),
    };
    let data = match schema::object(QUERY) {
        Some(query) => run.root(query, root).await,
        None => Err(Bubble),
    };
    let mut out = Map::new();
    out.insert("data".into(), data.unwrap_or(Json::Null));
    if !run.errors.is_empty() {
        out.insert(
            "errors".into(),
            Json::Array(run.errors.iter().map(GqlError::to_json).collect()),
        );
    }
    Json::Object(out)
}

impl<'d> Run<'d, '_> {
    async fn root<R: Root>(
        &mut self,
        query: &'static Object,
        root: &mut R,
    ) -> Result<Json, Bubble> {
        let mut data = Map::new();
        for (key, fields) in collect(self.p.doc, query, &self.p.op.selection, &self.p.vars, false) {
            let f = fields[0];
            if f.name == "__typename" {
                data.insert(key.into(), json!(query.name));
                continue;
            }
            let Some(def) = query.field(&f.name) else {
                return Err(Bubble);
            };
            self.path.push(Step::Key(key.into()));
            let resolved = match self.arguments(def, f) {
                Ok(args) => root.root(&f.name, &args).await.map_err(|e| {
                    let mut g = GqlError::new(e.code, e.message, Some(f.pos));
                    if e.details.as_object().is_some_and(|d| !d.is_empty()) {
                        g.details = Some(e.details);
                    }
                    g
                }),
                Err(e) => Err(e),
            };
            let value = match resolved {
                Ok(v) => self.complete(def.ty, v, &fields),
                Err(mut e) => {
                    e.path = self.path.clone();
                    self.errors.push(e);
                    if def.ty.ends_with('!') {
                        Err(Bubble)
                    } else {
                        Ok(Json::Null)
                    }
                }
            };
            self.path.pop();
            data.insert(key.into(), value?);
        }
        Ok(Json::Object(data))
    }

    /// The coerced arguments of `f`: given ones, else defaults.
    fn arguments(&self, def: &schema::Field, f: &Field) -> Result<Map<String, Json>, GqlError> {
        let mut args = Map::new();
        for a in def.args {
            let given = f
                .arguments
                .iter()
                .find(|(n, _)| n == a.name)
                .map(|(_, v)| v);
            // A variable without a value leaves the argument out.
            let given = given.filter(|v| match v {
                Value::Variable(n) => self.p.vars.contains_key(n),
                _ => true,
            });
            let value = match (given, a.default) {
                (Some(v), _) => coerce_literal(v, a.ty, Some(&self.p.vars)),
                (None, Some(d)) => d
                    .parse::<i64>()
                    .map(|i| json!(i))
                    .map_err(|_| "bad default".to_string()),
                (None, None) => continue,
            };
            match value {
                Ok(Json::Null) if a.ty.ends_with('!') => {
                    return Err(GqlError::new(
                        "BAD_USER_INPUT",
                        format!(
                            "Argument \"{}\" of non-null type \"{}\" must not be null.",
                            a.name, a.ty
                        ),
                        Some(f.pos),
                    ));
                }
                Ok(v) => {
                    args.insert(a.name.into(), v);
                }
                Err(why) => {
                    return Err(GqlError::new(
                        "BAD_USER_INPUT",
                        format!("Argument \"{}\" has an invalid value: {why}.", a.name),
                        Some(f.pos),
                    ));
                }
            }
        }
        Ok(args)
    }

    fn fail(&mut self, message: String, fields: &[&Field]) {
        let mut e = GqlError::new("INTERNAL_ERROR", message, fields.first().map(|f| f.pos));
        e.path = self.path.clone();
        self.errors.push(e);
    }

    /// `v` as type `ty`, with the sub-selections of `fields`.
    fn complete(&mut self, ty: &str, v: Json, fields: &[&'d Field]) -> Result<Json, Bubble> {
        match Ty::of(ty) {
            Ty::NonNull(inner) => {
                let out = self.complete_nullable(inner, v, fields)?;
                if out.is_null() {
                    self.fail(
                        format!("Cannot return null for non-nullable field (type {ty})."),
                        fields,
                    );
                    return Err(Bubble);
                }
                Ok(out)
            }
            _ => Ok(self.complete_nullable(ty, v, fields).unwrap_or(Json::Null)),
        }
    }

    fn complete_nullable(
        &mut self,
        ty: &str,
        v: Json,
        fields: &[&'d Field],
    ) -> Result<Json, Bubble> {
        if v.is_null() {
            return Ok(Json::Null);
        }
        match Ty::of(ty) {
            Ty::NonNull(_) => self.complete(ty, v, fields),
            Ty::List(inner) => {
                let Json::Array(items) = v else {
                    self.fail(format!("internal error: expected a list for {ty}"), fields);
                    return Err(Bubble);
                };
                let mut out = Vec::with_capacity(items.len());
                for (i, item) in items.into_iter().enumerate() {
                    self.path.push(Step::Index(i));
                    let done = self.complete(inner, item, fields);
                    self.path.pop();
                    out.push(done?);
                }
                Ok(Json::Array(out))
            }
            Ty::Named(name) => match schema::kind(name) {
                Some(Kind::Object(obj)) => self.object(obj, v, fields),
                Some(Kind::Scalar | Kind::Enum(_)) => match scalar_json(&v, name) {
                    Ok(v) => Ok(v),
                    Err(why) => {
                        self.fail(format!("internal error: {why}"), fields);
                        Err(Bubble)
                    }
                },
                None => Err(Bubble),
            },
        }
    }

    fn object(
        &mut self,
        obj: &'static Object,
        v: Json,
        fields: &[&'d Field],
    ) -> Result<Json, Bubble> {
        let Json::Object(source) = v else {
            self.fail(
                format!("internal error: expected an object for {}", obj.name),
                fields,
            );
            return Err(Bubble);
        };
        let doc = self.p.doc;
        let mut out = Map::new();
        let mut groups: Vec<(&'d str, Vec<&'d Field>)> = Vec::new();
        for f in fields {
            for (key, group) in collect(doc, obj, &f.selection, &self.p.vars, false) {
                match groups.iter_mut().find(|(k, _)| *k == key) {
                    Some((_, g)) => g.extend(group),
                    None => groups.push((key, group)),
                }
            }
        }
        for (key, group) in groups {
            let f = group[0];
            if f.name == "__typename" {
                out.insert(key.into(), json!(obj.name));
                continue;
            }
            let Some(def) = obj.field(&f.name) else {
                return Err(Bubble);
            };
            // A field selected twice under two aliases reads its value twice.
            let value = source.get(def.key).cloned().unwrap_or(Json::Null);
            self.path.push(Step::Key(key.into()));
            let done = self.complete(def.ty, value, &group);
            self.path.pop();
            out.insert(key.into(), done?);
        }
        Ok(Json::Object(out))
    }
}
