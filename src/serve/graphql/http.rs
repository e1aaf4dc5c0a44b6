//! `POST /api/graphql` and `GET /api/graphql/schema`.
//!
//! Statuses: a body that is not a GraphQL request (not JSON, no `query`,
//! a syntax error, a document nested too deep to parse) is 400 with
//! `{"errors": [...]}`; a request that parses is 200, its validation and
//! field errors in `errors` next to `data` (GraphQL over HTTP, for
//! `application/json`).

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::error::{GqlError, errors_body};
use super::resolve::Resolver;
use super::{exec, validate};
use super::{parse, schema};
use crate::serve::api::Json;
use crate::serve::ingest;
use crate::serve::server::Shared;

#[derive(Deserialize)]
struct Body {
    query: Option<String>,
    #[serde(rename = "operationName")]
    operation_name: Option<String>,
    variables: Option<Map<String, Value>>,
}

fn refuse(status: StatusCode, errors: &[GqlError]) -> Response {
    (status, Json(errors_body(errors))).into_response()
}

fn bad_request(code: &'static str, message: String) -> Response {
    refuse(
        StatusCode::BAD_REQUEST,
        &[GqlError::new(code, message, None)],
    )
}

pub async fn query(State(s): State<Shared>, req: Request) -> Response {
    let bytes = match ingest::body(req.into_body(), s.answers.max_body).await {
        Ok(b) => b,
        Err(e) => {
            return refuse(e.status, &[GqlError::new(e.code, e.message, None)]);
        }
    };
    let body: Body = match serde_json::from_slice(&bytes) {
        Ok(b) => b,
        Err(e) => {
            return bad_request(
                "BAD_REQUEST",
                format!(
                    "the body is not a GraphQL request: {{\"query\": \"...\", \"operationName\", \"variables\"}} in JSON ({e})"
                ),
            );
        }
    };
    let Some(text) = body.query.filter(|q| !q.trim().is_empty()) else {
        return bad_request("BAD_REQUEST", "the request has no query".into());
    };
    let doc = match parse::document(&text) {
        Ok(d) => d,
        Err(e) => return refuse(StatusCode::BAD_REQUEST, &[e]),
    };
    let vars = body.variables.unwrap_or_default();
    let prepared = match validate::prepare(&doc, body.operation_name.as_deref(), &vars) {
        Ok(p) => p,
        Err(errors) => return refuse(StatusCode::OK, &errors),
    };
    let mut root = Resolver::new(s.clone());
    Json(exec::execute(&prepared, &mut root).await).into_response()
}

pub async fn sdl() -> Response {
    let mut r = schema::sdl().into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}
