//! The PostgreSQL schema: versioned migrations, applied in order, each in
//! its own transaction and recorded in `dorameter.schema_migrations`.
//!
//! The SQL names no schema: it runs with `search_path = dorameter`, and with
//! `search_path = pg_temp` to give a read-only command an empty store in
//! temporary tables when nothing was ever recorded.
//!
//! Mirrors the SQLite schema: same tables, same keys, same insertion order
//! (`seq`). Instants are `timestamptz` holding whole milliseconds (the store
//! truncates, as SQLite's integer milliseconds do), so both stores compare
//! and order identically. Text is `COLLATE "C"`: byte order, like SQLite,
//! whatever the database's default collation.

/// One step of the schema.
/// The schema version this dorameter migrates a database to.
pub const SCHEMA_VERSION: usize = MIGRATIONS.len();

pub struct Migration {
    pub description: &'static str,
    pub sql: &'static str,
    /// Also applied to a read-only command's empty store of temporary
    /// tables (`search_path = pg_temp`): tables, not what only other
    /// readers and writers use.
    pub temporary: bool,
}

const fn step(description: &'static str, sql: &'static str) -> Migration {
    Migration {
        description,
        sql,
        temporary: true,
    }
}

/// Migration `i` takes the schema to version `i + 1`. Append only.
pub const MIGRATIONS: &[Migration] = &[
    step(
        "deployments, changes, remediations, incidents, test runs and results",
        r#"
CREATE TABLE deployments (
    seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id text COLLATE "C" NOT NULL UNIQUE,
    service text COLLATE "C" NOT NULL,
    env text COLLATE "C" NOT NULL,
    repository_url text COLLATE "C",
    sha text COLLATE "C" NOT NULL,
    previous_sha text COLLATE "C",
    started_at timestamptz NOT NULL,
    finished_at timestamptz NOT NULL,
    status text COLLATE "C" NOT NULL CHECK (status IN ('success', 'failure')),
    kind text COLLATE "C" NOT NULL CHECK (kind IN ('planned', 'rollback', 'rollforward')),
    version text COLLATE "C",
    team text COLLATE "C",
    pipeline_id text COLLATE "C",
    pipeline_url text COLLATE "C",
    deployed_by text COLLATE "C",
    tags jsonb NOT NULL DEFAULT '{}',
    lead_time_from text COLLATE "C" NOT NULL,
    lead_time_note text COLLATE "C",
    clamped_changes bigint NOT NULL DEFAULT 0,
    truncated boolean NOT NULL DEFAULT false,
    recorded_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX deployments_timeline ON deployments (service, env, status, finished_at, seq);
CREATE INDEX deployments_sha ON deployments (sha);

CREATE TABLE changes (
    deployment_seq bigint NOT NULL REFERENCES deployments (seq),
    sha text COLLATE "C" NOT NULL,
    authored_at timestamptz NOT NULL,
    committed_at timestamptz NOT NULL,
    lead_time_seconds bigint NOT NULL,
    PRIMARY KEY (deployment_seq, sha)
);
-- report reads every lead time of a service+env: an index-only scan.
CREATE INDEX changes_lead_times ON changes (deployment_seq) INCLUDE (lead_time_seconds);
CREATE INDEX changes_sha ON changes (sha);

CREATE TABLE remediations (
    deployment_seq bigint NOT NULL REFERENCES deployments (seq),
    target_id text COLLATE "C" NOT NULL,
    reason text COLLATE "C" NOT NULL,
    PRIMARY KEY (deployment_seq, target_id)
);

CREATE TABLE incidents (
    seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id text COLLATE "C" NOT NULL UNIQUE,
    env text COLLATE "C" NOT NULL,
    started_at timestamptz NOT NULL,
    detected_at timestamptz,
    resolved_at timestamptz,
    severity text COLLATE "C",
    title text COLLATE "C",
    cause text COLLATE "C" NOT NULL CHECK (cause IN ('deploy', 'infra', 'unknown')),
    deployment_id text COLLATE "C",
    deployment_sha text COLLATE "C",
    recorded_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);
CREATE INDEX incidents_deployment_id ON incidents (deployment_id) WHERE deployment_id IS NOT NULL;

CREATE TABLE incident_services (
    service text COLLATE "C" NOT NULL,
    incident_seq bigint NOT NULL REFERENCES incidents (seq) ON DELETE CASCADE,
    PRIMARY KEY (service, incident_seq)
);
CREATE INDEX incident_services_incident ON incident_services (incident_seq);

CREATE TABLE test_runs (
    seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id text COLLATE "C" NOT NULL UNIQUE,
    service text COLLATE "C" NOT NULL,
    sha text COLLATE "C",
    run_id text COLLATE "C",
    run_attempt text COLLATE "C",
    job text COLLATE "C",
    recorded_at timestamptz NOT NULL,
    files bigint NOT NULL DEFAULT 0,
    tests bigint NOT NULL DEFAULT 0,
    runs bigint NOT NULL DEFAULT 0,
    passed bigint NOT NULL DEFAULT 0,
    failed bigint NOT NULL DEFAULT 0,
    errored bigint NOT NULL DEFAULT 0,
    skipped bigint NOT NULL DEFAULT 0,
    flaky bigint NOT NULL DEFAULT 0
);
CREATE INDEX test_runs_service ON test_runs (service, recorded_at);

-- run_seq is test_runs.seq, written in the same transaction; not declared
-- a foreign key: a check per row would add half again to the ingestion
-- of a million-test report.
CREATE TABLE test_results (
    run_seq bigint NOT NULL,
    classname text COLLATE "C" NOT NULL,
    name text COLLATE "C" NOT NULL,
    outcome text COLLATE "C" NOT NULL CHECK (outcome IN ('passed', 'failed', 'errored', 'skipped')),
    attempts bigint NOT NULL,
    failures bigint NOT NULL,
    passes bigint NOT NULL,
    -- Failed, then passed, inside this run (SPEC §6 retry evidence).
    flaky boolean NOT NULL DEFAULT false,
    duration double precision,
    message text COLLATE "C",
    PRIMARY KEY (run_seq, classname, name)
);
"#,
    ),
    step(
        "deploy_events view for queries written against the common deploy_events table",
        r#"
-- One row per deployment, with the column names of the widely copied
-- `deploy_events` table, so existing dashboards and queries keep working.
--   status: a failed deploy job is 'failure', a rollback 'rollback', a roll
--     forward (fix shipped forward) 'hotfix', anything else 'success'.
--   caused_incident / incident_id: an incident whose cause is deploy or
--     unknown links to this deployment explicitly (--deployment-id, or
--     --sha resolved to the earliest successful deployment of the
--     incident's service and env that deployed or shipped the commit);
--     the earliest such incident. Links inferred by `report` from timing
--     are not shown here.
--   lead_time_seconds: the median lead time of the deployment's changes
--     (NULL when it shipped none).
CREATE VIEW deploy_events AS
WITH links AS (
    SELECT d.seq AS deployment_seq, i.id, i.started_at, i.seq
    FROM incidents i JOIN deployments d ON d.id = i.deployment_id
    WHERE i.cause IN ('deploy', 'unknown')
    UNION ALL
    SELECT ship.seq, i.id, i.started_at, i.seq
    FROM incidents i
    JOIN incident_services s ON s.incident_seq = i.seq
    CROSS JOIN LATERAL (
        SELECT x.seq FROM (
            SELECT d.seq, d.finished_at FROM deployments d
            WHERE d.sha = i.deployment_sha AND d.service = s.service AND d.env = i.env AND d.status = 'success'
            UNION ALL
            SELECT d.seq, d.finished_at FROM changes c JOIN deployments d ON d.seq = c.deployment_seq
            WHERE c.sha = i.deployment_sha AND d.service = s.service AND d.env = i.env AND d.status = 'success'
        ) x ORDER BY x.finished_at, x.seq LIMIT 1
    ) ship
    WHERE i.deployment_id IS NULL AND i.deployment_sha IS NOT NULL AND i.cause IN ('deploy', 'unknown')
), first_link AS (
    SELECT DISTINCT ON (deployment_seq) deployment_seq, id
    FROM links ORDER BY deployment_seq, started_at, seq
)
SELECT
    d.sha,
    d.service AS repo,
    d.env AS environment,
    d.finished_at AS deployed_at,
    d.deployed_by,
    CASE
        WHEN d.status = 'failure' THEN 'failure'
        WHEN d.kind = 'rollback' THEN 'rollback'
        WHEN d.kind = 'rollforward' THEN 'hotfix'
        ELSE 'success'
    END::text AS status,
    (l.id IS NOT NULL) AS caused_incident,
    l.id AS incident_id,
    (SELECT round(percentile_cont(0.5) WITHIN GROUP (ORDER BY c.lead_time_seconds))::bigint
     FROM changes c WHERE c.deployment_seq = d.seq) AS lead_time_seconds
FROM deployments d
LEFT JOIN first_link l ON l.deployment_seq = d.seq;
"#,
    ),
    step(
        "the commit that fired a remediation rule",
        r#"
ALTER TABLE remediations ADD COLUMN commit_sha text COLLATE "C";
"#,
    ),
    step(
        "deployments.ref_name: the branch or tag CI built",
        r#"
ALTER TABLE deployments ADD COLUMN ref_name text COLLATE "C";
"#,
    ),
    Migration {
        description: "views for dashboards and the seed setups' SQL (dora_deployments, dora_changes, dora_incidents, dora_compat, public.deploy_events)",
        sql: concat!(
            include_str!("compat.sql"),
            // Last: its body names incident_services.ship_seq, added above.
            "\nCREATE FUNCTION insert_deployment(text, text, text, text, text, text, timestamptz, timestamptz,
                text, text, text, text, text, text, text, text, text, text, bigint, boolean, timestamptz, text,
                text[], text[], timestamptz[], timestamptz[], bigint[], text[], text[], text[])
            RETURNS SETOF bigint LANGUAGE sql SET search_path = dorameter, pg_temp AS $fn$",
            insert_deployment_sql!(),
            "$fn$;\n"
        ),
        temporary: false,
    },
    Migration {
        description: "dora_deployments_between planned as its work is (no JIT over a year of deployments)",
        sql: include_str!("deployments_between.sql"),
        temporary: false,
    },
    step(
        "cursors: where each import left off (incident import)",
        r#"
CREATE TABLE cursors (
    source text COLLATE "C" PRIMARY KEY,
    value text NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
"#,
    ),
    step(
        "pull_commits: squash commits' requests and original commits (--lead-time-source pr)",
        r#"
CREATE TABLE pull_commits (
    sha text COLLATE "C" PRIMARY KEY,
    forge text NOT NULL,
    number bigint,
    commits text NOT NULL,
    fetched_at timestamptz NOT NULL DEFAULT now()
);
"#,
    ),
];

#[cfg(test)]
mod tests {
    use super::MIGRATIONS;
    use crate::store::testing::{pg, pg_exec, postgres_server, with_db};
    use crate::store::{Access, StoreUrl};

    /// A store migrated before the views (version 4), with an incident
    /// linked by sha to a commit a deployment shipped: opened by this
    /// dorameter, the incident gets its service and its deployment, and
    /// the views count the deployment failed.
    #[test]
    fn a_store_of_version_4_gets_its_incident_links_on_upgrade() {
        let Some(admin) = postgres_server() else {
            return;
        };
        let db = format!("t_{}", uuid::Uuid::now_v7().simple());
        pg_exec(&admin, &format!("CREATE DATABASE {db}"));
        let url = with_db(&admin, &db);
        let mut sql = String::from(
            "CREATE SCHEMA dorameter; SET search_path = dorameter;
             CREATE TABLE schema_migrations (version bigint PRIMARY KEY, description text NOT NULL,
                 applied_at timestamptz NOT NULL DEFAULT now());",
        );
        for (i, m) in MIGRATIONS[..4].iter().enumerate() {
            sql.push_str(m.sql);
            sql.push_str(&format!(
                ";\nINSERT INTO schema_migrations (version, description) VALUES ({}, 'then');",
                i + 1
            ));
        }
        sql.push_str(
            "INSERT INTO deployments (id, service, env, sha, started_at, finished_at, status, kind, lead_time_from)
                 VALUES ('d1', 'api', 'production', 'aaaa', now() - interval '1 hour', now() - interval '1 hour',
                         'success', 'planned', 'author');
             INSERT INTO changes (deployment_seq, sha, authored_at, committed_at, lead_time_seconds)
                 VALUES (1, 'bbbb', now() - interval '2 hours', now() - interval '2 hours', 3600);
             INSERT INTO incidents (id, env, started_at, cause, deployment_sha, recorded_at, updated_at)
                 VALUES ('i1', 'production', now(), 'deploy', 'bbbb', now(), now());
             INSERT INTO incident_services (service, incident_seq) VALUES ('api', 1);",
        );
        pg_exec(&url, &sql);
        let mut store = crate::store::open(&StoreUrl::parse(&url).unwrap(), Access::ReadWrite)
            .expect("open the version 4 store");
        store.write(&mut |_| Ok(())).expect("migrate");
        drop(store);
        let row = pg(&url, async |c| {
            c.query_one(
                "SELECT (SELECT max(version) FROM dorameter.schema_migrations),
                        (SELECT service FROM dorameter.incidents WHERE id = 'i1'),
                        (SELECT ship_seq FROM dorameter.incident_services),
                        (SELECT failed FROM dorameter.dora_deployments WHERE deployment_id = 'd1'),
                        (SELECT incident_id FROM dorameter.dora_deployments WHERE deployment_id = 'd1')",
                &[],
            )
            .await
        });
        assert_eq!(row.get::<_, i64>(0), MIGRATIONS.len() as i64);
        assert_eq!(row.get::<_, Option<String>>(1).as_deref(), Some("api"));
        assert_eq!(row.get::<_, Option<i64>>(2), Some(1));
        assert_eq!(row.get::<_, Option<bool>>(3), Some(true));
        assert_eq!(row.get::<_, Option<String>>(4).as_deref(), Some("i1"));
        pg_exec(&admin, &format!("DROP DATABASE {db} WITH (FORCE)"));
    }

    /// Migration 5 made `dorameter.insert_deployment` of this text: a
    /// database migrated then records `INSERT INTO deploy_events` by it. A
    /// new text needs a migration that re-creates the function (`CREATE OR
    /// REPLACE FUNCTION insert_deployment …`); then pin the new digest.
    #[test]
    fn insert_deployment_is_the_migrated_function() {
        let digest = crate::event::fnv1a64(insert_deployment_sql!().as_bytes());
        assert_eq!(format!("{digest:016x}"), "37c3b82ed9fe1dba");
    }
}
