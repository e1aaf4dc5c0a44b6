//! The executable document as the executor reads it: operations, fragments,
//! selections and literal values with their positions. The parser's tree
//! is converted into this (`parse.rs`), so the executor does not depend on
//! the parser crate's types.

use std::collections::BTreeMap;

/// A 1-based line and column, as GraphQL errors' `locations` give them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Pos {
    pub line: usize,
    pub column: usize,
}

#[derive(Debug, Default)]
pub struct Document {
    pub operations: Vec<Operation>,
    pub fragments: Vec<Fragment>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpKind {
    Query,
    Mutation,
    Subscription,
}

#[derive(Debug)]
pub struct Operation {
    pub kind: OpKind,
    pub name: Option<String>,
    pub variables: Vec<VariableDef>,
    pub directives: Vec<Directive>,
    pub selection: Vec<Selection>,
    pub pos: Pos,
}

#[derive(Debug)]
pub struct VariableDef {
    pub name: String,
    /// As in SDL: `String!`, `[TimeRange]`.
    pub ty: String,
    pub default: Option<Value>,
    pub pos: Pos,
}

#[derive(Debug)]
pub struct Fragment {
    pub name: String,
    pub on: String,
    pub directives: Vec<Directive>,
    pub selection: Vec<Selection>,
    pub pos: Pos,
}

#[derive(Debug)]
pub enum Selection {
    Field(Field),
    Spread {
        name: String,
        directives: Vec<Directive>,
        pos: Pos,
    },
    Inline {
        on: Option<String>,
        directives: Vec<Directive>,
        selection: Vec<Selection>,
        pos: Pos,
    },
}

#[derive(Debug)]
pub struct Field {
    pub alias: Option<String>,
    pub name: String,
    pub arguments: Vec<(String, Value)>,
    pub directives: Vec<Directive>,
    pub selection: Vec<Selection>,
    pub pos: Pos,
}

impl Field {
    /// The key of the answer: the alias, else the name.
    pub fn key(&self) -> &str {
        self.alias.as_deref().unwrap_or(&self.name)
    }
}

#[derive(Debug)]
pub struct Directive {
    pub name: String,
    pub arguments: Vec<(String, Value)>,
    pub pos: Pos,
}

/// A literal value of the document.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Variable(String),
    /// Kept as written: the executor decides whether it fits an `Int`.
    Int(i64),
    Float(f64),
    String(String),
    Boolean(bool),
    Null,
    Enum(String),
    List(Vec<Value>),
    Object(BTreeMap<String, Value>),
}
