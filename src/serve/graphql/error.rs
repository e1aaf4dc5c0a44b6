//! An entry of a response's `errors` and the `{"errors": [...]}` body.

use serde_json::{Map, Value as Json, json};

use super::ast::Pos;

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

    pub fn invalid(message: impl Into<String>, at: Pos) -> GqlError {
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
