//! Choosing the operation, coercing its variables and validating the whole
//! document before anything runs (GraphQL spec, October 2021 edition, for
//! what this schema can hold: objects, scalars, one enum, lists; no
//! interfaces, unions or input objects; no introspection beyond
//! `__typename`). An invalid request executes nothing.
//!
//! Work is bounded here too: a selection nested deeper than [`MAX_DEPTH`],
//! more than [`MAX_ROOT_FIELDS`] root fields or more than
//! [`MAX_SELECTIONS`] selections once fragments are expanded are refused.

use std::collections::{HashMap, HashSet};

use serde_json::{Map, Value as Json};

use super::ast::{Directive, Document, Field, Fragment, OpKind, Operation, Pos, Selection, Value};
use super::coerce::{coerce_json, coerce_literal, compatible};
use super::error::GqlError;
use super::exec::collect;
use super::schema::{self, Kind, Object, QUERY, Ty};

/// The deepest field nesting served (`{ a { b } }` is 2).
pub const MAX_DEPTH: usize = 10;
/// The most root fields (after fragments and aliases) one request runs:
/// each may load a project's breakdown.
pub const MAX_ROOT_FIELDS: usize = 20;
/// The most selections (fields, spreads, inline fragments) of an
/// operation with its fragments expanded where they are spread.
pub const MAX_SELECTIONS: usize = 2000;
/// The most fragment definitions of a document.
pub const MAX_FRAGMENTS: usize = 100;

/// An operation ready to run: chosen, its variables coerced, validated.
pub struct Prepared<'d> {
    pub doc: &'d Document,
    pub op: &'d Operation,
    pub vars: Map<String, Json>,
}

/// Picks the operation (`operation_name`, else the only one), coerces
/// `variables` to its definitions and validates the document.
pub fn prepare<'d>(
    doc: &'d Document,
    operation_name: Option<&str>,
    variables: &Map<String, Json>,
) -> Result<Prepared<'d>, Vec<GqlError>> {
    let mut errors = Vec::new();
    if doc.fragments.len() > MAX_FRAGMENTS {
        // Spreads nest through fragments without brackets: their number
        // bounds the recursion below.
        return Err(vec![GqlError::new(
            "QUERY_TOO_LARGE",
            format!(
                "the document defines {} fragments; at most {MAX_FRAGMENTS} are served",
                doc.fragments.len()
            ),
            doc.fragments.get(MAX_FRAGMENTS).map(|f| f.pos),
        )]);
    }
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
        if let Value::List(items) = v {
            let list = match Ty::of(ty) {
                Ty::NonNull(t) => t,
                _ => ty,
            };
            if let Ty::List(item) = Ty::of(list) {
                for i in items {
                    self.input(i, item, what, at);
                }
                return;
            }
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
