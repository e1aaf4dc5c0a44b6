//! Execution of a prepared operation: the root fields are resolved
//! through a [`Root`], and the selected fields are picked out of the JSON
//! each answers by the schema's keys, with the spec's null propagation.

use std::collections::HashSet;

use serde_json::{Map, Value as Json, json};

use super::ast::{Directive, Document, Field, Selection, Value};
use super::coerce::{coerce_literal, scalar_json};
use super::error::{GqlError, Step};
use super::schema::{self, Kind, Object, QUERY, Ty};
use super::validate::Prepared;
use crate::serve::api::ApiError;

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
pub fn collect<'d>(
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

/// The most values (scalars and list items) one answer holds: a long
/// custom window's daily timeseries under many aliases would otherwise
/// grow the answer without bound.
pub const MAX_VALUES: usize = 200_000;

struct Run<'d, 'p> {
    p: &'p Prepared<'d>,
    errors: Vec<GqlError>,
    path: Vec<Step>,
    /// Values still allowed in the answer.
    values: usize,
}

/// Runs `p`: `{"data": ...}` with `"errors"` when any field failed.
pub async fn execute<R: Root>(p: &Prepared<'_>, root: &mut R) -> Json {
    let mut run = Run {
        p,
        errors: Vec::new(),
        path: Vec::new(),
        values: MAX_VALUES,
    };
    let data = match schema::object(QUERY) {
        Some(query) => run.root(query, root).await,
        None => Err(Bubble),
    };
    // A partial answer cut at the bound would look complete in places.
    let data = if run.values == 0 { Err(Bubble) } else { data };
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

    /// Takes one value from the answer's budget; false (with the error
    /// once) when it is spent.
    fn take_value(&mut self, fields: &[&'d Field]) -> bool {
        match self.values {
            0 => false,
            1 => {
                self.values = 0;
                let mut e = GqlError::new(
                    "RESPONSE_TOO_LARGE",
                    format!(
                        "the answer would hold more than {MAX_VALUES} values; select fewer fields or a shorter window"
                    ),
                    fields.first().map(|f| f.pos),
                );
                e.path = self.path.clone();
                self.errors.push(e);
                false
            }
            _ => {
                self.values -= 1;
                true
            }
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
                    if !self.take_value(fields) {
                        return Err(Bubble);
                    }
                    self.path.push(Step::Index(i));
                    let done = self.complete(inner, item, fields);
                    self.path.pop();
                    out.push(done?);
                }
                Ok(Json::Array(out))
            }
            Ty::Named(name) => match schema::kind(name) {
                Some(Kind::Object(obj)) => self.object(obj, v, fields),
                Some(Kind::Scalar | Kind::Enum(_)) if !self.take_value(fields) => Err(Bubble),
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
