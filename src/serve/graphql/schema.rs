//! The fixed schema as data: every object type, its fields, their types and
//! the key of the REST body each field reads, and the SDL printed from it.
//! Types are written as in SDL (`[Deployment!]!`) and read with [`Ty`].

use std::fmt::Write as _;

/// An argument of a field.
pub struct Arg {
    pub name: &'static str,
    pub ty: &'static str,
    /// The SDL default, printed and applied when the argument is absent.
    pub default: Option<&'static str>,
}

/// A field of an object type.
pub struct Field {
    pub name: &'static str,
    /// The key of the source JSON object (the REST body's name).
    pub key: &'static str,
    pub ty: &'static str,
    pub args: &'static [Arg],
    pub doc: &'static str,
}

pub struct Object {
    pub name: &'static str,
    pub doc: &'static str,
    pub fields: &'static [Field],
}

impl Object {
    pub fn field(&self, name: &str) -> Option<&'static Field> {
        self.fields.iter().find(|f| f.name == name)
    }
}

pub struct Enum {
    pub name: &'static str,
    pub doc: &'static str,
    pub values: &'static [&'static str],
}

/// A type reference: `T!`, `[T]` or a named type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ty<'a> {
    NonNull(&'a str),
    List(&'a str),
    Named(&'a str),
}

impl<'a> Ty<'a> {
    pub fn of(t: &'a str) -> Ty<'a> {
        if let Some(inner) = t.strip_suffix('!') {
            Ty::NonNull(inner)
        } else if let Some(inner) = t.strip_prefix('[').and_then(|t| t.strip_suffix(']')) {
            Ty::List(inner)
        } else {
            Ty::Named(t)
        }
    }

    /// The named type at the bottom.
    pub fn named(t: &str) -> &str {
        t.trim_start_matches('[').trim_end_matches(['!', ']'])
    }
}

/// What a named type is.
pub enum Kind {
    Scalar,
    Enum(&'static Enum),
    Object(&'static Object),
}

pub const SCALARS: &[&str] = &["String", "Float", "Int", "Boolean"];

pub fn kind(name: &str) -> Option<Kind> {
    if SCALARS.contains(&name) {
        return Some(Kind::Scalar);
    }
    if let Some(e) = ENUMS.iter().find(|e| e.name == name) {
        return Some(Kind::Enum(e));
    }
    OBJECTS.iter().find(|o| o.name == name).map(Kind::Object)
}

pub fn object(name: &str) -> Option<&'static Object> {
    OBJECTS.iter().find(|o| o.name == name)
}

pub const QUERY: &str = "Query";

/// Seed 000's time ranges, and the REST `timeRange` each is.
pub const TIME_RANGES: &[(&str, &str)] = &[
    ("LAST_7_DAYS", "last7days"),
    ("LAST_30_DAYS", "last30days"),
    ("LAST_90_DAYS", "last90days"),
];

pub const ENUMS: &[Enum] = &[Enum {
    name: "TimeRange",
    doc: "A window ending now. Without one, the last 30 days, or startDate to endDate when given.",
    values: &["LAST_7_DAYS", "LAST_30_DAYS", "LAST_90_DAYS"],
}];

/// The most deployments one `deployments` field lists.
pub const MAX_DEPLOYMENTS: i64 = 1000;

const fn arg(name: &'static str, ty: &'static str) -> Arg {
    Arg {
        name,
        ty,
        default: None,
    }
}

const fn field(
    name: &'static str,
    key: &'static str,
    ty: &'static str,
    doc: &'static str,
) -> Field {
    Field {
        name,
        key,
        ty,
        args: &[],
        doc,
    }
}

// As REST's parameters: `environment` defaults to production; `startDate`
// (2024-12-15 or 2024-12-15T10:30:00Z) and `endDate` (default now; a date
// includes that whole day) make a custom window, not with `timeRange`.
const PROJECT: Arg = arg("project", "String!");
const TIME_RANGE: Arg = arg("timeRange", "TimeRange");
const ENVIRONMENT: Arg = arg("environment", "String");
const START_DATE: Arg = arg("startDate", "String");
const END_DATE: Arg = arg("endDate", "String");
const WINDOW_ARGS: &[Arg] = &[PROJECT, TIME_RANGE, ENVIRONMENT, START_DATE, END_DATE];

pub const OBJECTS: &[Object] = &[
    Object {
        name: QUERY,
        doc: "",
        fields: &[
            Field {
                name: "doraMetrics",
                key: "doraMetrics",
                ty: "DORAMetrics",
                args: WINDOW_ARGS,
                doc: "The metrics of GET /api/dora/metrics, from the same values. environment defaults to production; startDate and endDate (2024-12-15 or 2024-12-15T10:30:00Z, endDate default now) give a custom window instead of timeRange.",
            },
            Field {
                name: "projects",
                key: "projects",
                ty: "[Project!]!",
                args: &[],
                doc: "Every service with a recorded deployment or incident.",
            },
            Field {
                name: "deployments",
                key: "deployments",
                ty: "[Deployment!]!",
                args: &[
                    PROJECT,
                    TIME_RANGE,
                    ENVIRONMENT,
                    START_DATE,
                    END_DATE,
                    Arg {
                        name: "limit",
                        ty: "Int",
                        default: Some("100"),
                    },
                ],
                doc: "Deployments that finished in the window (failed jobs too), newest first, at most limit (1 to 1000).",
            },
            Field {
                name: "incidents",
                key: "incidents",
                ty: "[Incident!]!",
                args: WINDOW_ARGS,
                doc: "Incidents that started in the window, oldest first (GET /api/dora/mttr's list).",
            },
        ],
    },
    Object {
        name: "DORAMetrics",
        doc: "",
        fields: &[
            field("project", "project", "String!", ""),
            field("environment", "environment", "String!", ""),
            field("timeRange", "timeRange", "TimeWindow!", ""),
            field(
                "deploymentFrequency",
                "deploymentFrequency",
                "DeploymentFrequency",
                "",
            ),
            field("leadTimeForChanges", "leadTimeForChanges", "LeadTime", ""),
            field(
                "changeFailureRate",
                "changeFailureRate",
                "ChangeFailureRate",
                "",
            ),
            field("meanTimeToRestore", "meanTimeToRestore", "MTTR", ""),
            field(
                "operationalPerformance",
                "operationalPerformance",
                "OperationalPerformance",
                "Not measured: every value is null.",
            ),
        ],
    },
    Object {
        name: "TimeWindow",
        doc: "The window [start, end).",
        fields: &[
            field("start", "start", "String!", ""),
            field("end", "end", "String!", ""),
        ],
    },
    Object {
        name: "DeploymentFrequency",
        doc: "",
        fields: &[
            field(
                "value",
                "value",
                "Float",
                "Deployments per unit; null without history.",
            ),
            field("unit", "unit", "String!", ""),
            field(
                "level",
                "level",
                "String",
                "elite, high, medium or low; null without data.",
            ),
            field("description", "description", "String", ""),
            field("deployments", "deployments", "Int!", ""),
            field(
                "timeseries",
                "timeseries",
                "[TimeseriesDataPoint!]!",
                "Per UTC day of the window.",
            ),
        ],
    },
    Object {
        name: "TimeseriesDataPoint",
        doc: "",
        fields: &[
            field("date", "date", "String!", "The UTC day, YYYY-MM-DD."),
            field(
                "count",
                "deployments",
                "Int!",
                "Deployments that finished that day.",
            ),
        ],
    },
    Object {
        name: "LeadTime",
        doc: "Commit to deploy, in minutes.",
        fields: &[
            field("value", "value", "Float", ""),
            field("unit", "unit", "String!", ""),
            field("level", "level", "String", ""),
            field("p50", "p50", "Float", ""),
            field("p95", "p95", "Float", ""),
            field("mean", "mean", "Float", ""),
            field("description", "description", "String", ""),
            field("changes", "changes", "Int!", ""),
            field(
                "stages",
                "stages",
                "[Stage!]!",
                "dorameter measures one stage: commit_to_deploy (its p50).",
            ),
        ],
    },
    Object {
        name: "Stage",
        doc: "",
        fields: &[
            field("name", "name", "String!", ""),
            field("duration", "duration", "Float", ""),
            field("unit", "unit", "String!", ""),
        ],
    },
    Object {
        name: "ChangeFailureRate",
        doc: "",
        fields: &[
            field(
                "value",
                "value",
                "Float",
                "Percent; null without deployments.",
            ),
            field("unit", "unit", "String!", ""),
            field("level", "level", "String", ""),
            field("totalDeployments", "total_deployments", "Int!", ""),
            field("failedDeployments", "failed_deployments", "Int!", ""),
            field("description", "description", "String", ""),
        ],
    },
    Object {
        name: "MTTR",
        doc: "Time to restore service, in minutes.",
        fields: &[
            field("value", "value", "Float", ""),
            field("unit", "unit", "String!", ""),
            field("level", "level", "String", ""),
            field("p50", "p50", "Float", ""),
            field("p95", "p95", "Float", ""),
            field("mean", "mean", "Float", ""),
            field("description", "description", "String", ""),
            field("totalIncidents", "total_incidents", "Int!", ""),
            field("openIncidents", "open_incidents", "Int!", ""),
        ],
    },
    Object {
        name: "OperationalPerformance",
        doc: "dorameter has no SLO source.",
        fields: &[
            field("value", "value", "Float", ""),
            field("unit", "unit", "String!", ""),
            field("sloTarget", "sloTarget", "Float", ""),
            field("p99Latency", "p99Latency", "Float", ""),
            field("errorRate", "errorRate", "Float", ""),
            field("description", "description", "String", ""),
        ],
    },
    Object {
        name: "Project",
        doc: "",
        fields: &[
            field("name", "name", "String!", ""),
            field("environments", "environments", "[String!]!", ""),
        ],
    },
    Object {
        name: "Deployment",
        doc: "",
        fields: &[
            field("id", "id", "String!", ""),
            field("sha", "sha", "String!", ""),
            field("environment", "environment", "String!", ""),
            field(
                "status",
                "status",
                "String!",
                "success or failure (of the deploy job).",
            ),
            field(
                "kind",
                "kind",
                "String!",
                "planned, rollback or rollforward.",
            ),
            field("startedAt", "startedAt", "String!", ""),
            field("finishedAt", "finishedAt", "String!", ""),
            field("version", "version", "String", ""),
            field("changes", "changes", "Int!", "Commits it shipped."),
            field(
                "failed",
                "failed",
                "Boolean!",
                "Counted as a failed change (change failure rate).",
            ),
            field(
                "failureReason",
                "failureReason",
                "String",
                "Why, as GET /api/dora/change-failure-rate says.",
            ),
            field("recoveredAt", "recoveredAt", "String", ""),
        ],
    },
    Object {
        name: "Incident",
        doc: "",
        fields: &[
            field("id", "id", "String!", ""),
            field("title", "title", "String", ""),
            field("severity", "severity", "String", ""),
            field("createdAt", "created_at", "String!", "Impact start."),
            field("resolvedAt", "resolved_at", "String", ""),
            field("durationMinutes", "duration_minutes", "Float", ""),
        ],
    },
];

fn doc(out: &mut String, indent: &str, doc: &str) {
    if !doc.is_empty() {
        let _ = writeln!(out, "{indent}\"{}\"", doc.replace('"', "\\\""));
    }
}

/// The schema in SDL, as `GET /api/graphql/schema` prints it.
pub fn sdl() -> String {
    let mut out = String::from("schema {\n  query: Query\n}\n");
    for e in ENUMS {
        out.push('\n');
        doc(&mut out, "", e.doc);
        let _ = writeln!(out, "enum {} {{", e.name);
        for v in e.values {
            let _ = writeln!(out, "  {v}");
        }
        out.push_str("}\n");
    }
    for o in OBJECTS {
        out.push('\n');
        doc(&mut out, "", o.doc);
        let _ = writeln!(out, "type {} {{", o.name);
        for f in o.fields {
            doc(&mut out, "  ", f.doc);
            out.push_str("  ");
            out.push_str(f.name);
            if !f.args.is_empty() {
                let args: Vec<String> = f
                    .args
                    .iter()
                    .map(|a| match a.default {
                        Some(d) => format!("{}: {} = {d}", a.name, a.ty),
                        None => format!("{}: {}", a.name, a.ty),
                    })
                    .collect();
                let _ = write!(out, "({})", args.join(", "));
            }
            let _ = writeln!(out, ": {}", f.ty);
        }
        out.push_str("}\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_field_type_and_argument_type_is_defined() {
        for o in OBJECTS {
            for f in o.fields {
                assert!(
                    kind(Ty::named(f.ty)).is_some(),
                    "{}.{}: {}",
                    o.name,
                    f.name,
                    f.ty
                );
                for a in f.args {
                    let k = kind(Ty::named(a.ty));
                    assert!(
                        matches!(k, Some(Kind::Scalar | Kind::Enum(_))),
                        "{}.{}({}): {}",
                        o.name,
                        f.name,
                        a.name,
                        a.ty
                    );
                }
            }
        }
    }

    #[test]
    fn types_read_as_sdl_writes_them() {
        assert_eq!(Ty::of("[Deployment!]!"), Ty::NonNull("[Deployment!]"));
        assert_eq!(Ty::of("[Deployment!]"), Ty::List("Deployment!"));
        assert_eq!(Ty::of("Float"), Ty::Named("Float"));
        assert_eq!(Ty::named("[Deployment!]!"), "Deployment");
    }

    #[test]
    fn the_sdl_parses_as_a_schema_with_every_type() {
        let text = sdl();
        let doc = graphql_parser::parse_schema::<&str>(&text).expect("valid SDL");
        // schema, the enum and the objects.
        assert_eq!(doc.definitions.len(), 1 + ENUMS.len() + OBJECTS.len());
    }

    #[test]
    fn the_sdl_has_the_seeds_query_shape() {
        let s = sdl();
        assert!(s.contains("enum TimeRange {\n  LAST_7_DAYS\n  LAST_30_DAYS\n  LAST_90_DAYS\n}"));
        assert!(s.contains(
            "  doraMetrics(project: String!, timeRange: TimeRange, environment: String, startDate: String, endDate: String): DORAMetrics\n"
        ));
        assert!(s.contains("  projects: [Project!]!\n"));
        assert!(s.contains("  totalDeployments: Int!\n"));
        assert!(s.contains("limit: Int = 100): [Deployment!]!\n"));
    }
}
