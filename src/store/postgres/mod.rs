//! The PostgreSQL store: the shared team store, behind the same trait and
//! with the same semantics as the SQLite store.
//!
//! - `store`: the connection, its migrations and its transactions.
//! - `tx`: the view of one transaction, with `read` (the `ReadTx` queries),
//!   `write` (the `WriteTx` inserts and upserts) and `batch` (JUnit results
//!   buffered and written in batches).
//! - `connect`: URLs, TLS and connecting; `schema`: the migrations.

/// Records a deployment with its changes and remediations, in one statement
/// (one round trip): `write`'s `INSERT_DEPLOYMENT`, and the body of the SQL
/// function `dorameter.insert_deployment` that `INSERT INTO deploy_events`
/// records through (migration 5, `compat.sql`). A change to this text needs a
/// migration that re-creates that function (the test `schema::tests::
/// insert_deployment_is_the_migrated_function` fails until then).
///
/// Each commit counts once (SPEC §3), at the first successful
/// deployment that shipped it, as in the SQLite store: a successful
/// deployment recorded after later ones takes its commits' samples from
/// them (`taken`), and keeps no commit an earlier one shipped (the filter
/// of `kept`; scalar subqueries, which the planner never turns into a hash
/// of every matching row, as it may an `EXISTS`). Nothing happens when the
/// id is already recorded (`d` is empty, and every other part joins it).
/// `shipped` keeps `incident_services.ship_seq` (the deployment an incident
/// linked by sha is attributed to, migration 5's `compat.sql`): this one,
/// when it deployed or shipped the incident's commit before the one
/// recorded there (or none is).
macro_rules! insert_deployment_sql {
    () => {
        "WITH d AS (
        INSERT INTO deployments (id, service, env, repository_url, sha, previous_sha, started_at, finished_at,
            status, kind, version, team, pipeline_id, pipeline_url, deployed_by, tags, lead_time_from,
            lead_time_note, clamped_changes, truncated, recorded_at, ref_name)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16::text::jsonb, $17, $18,
            $19, $20, $21, $22)
        ON CONFLICT (id) DO NOTHING
        RETURNING seq
    ), taken AS (
        DELETE FROM changes c USING deployments x, d
        WHERE $9 = 'success' AND c.sha = ANY($23::text[]) AND x.seq = c.deployment_seq
          AND x.service || '' = $2 AND x.env || '' = $3 AND x.status || '' = 'success' AND x.finished_at > $8
    ), kept AS (
        INSERT INTO changes (deployment_seq, sha, authored_at, committed_at, lead_time_seconds)
        SELECT d.seq, u.sha, u.authored_at, u.committed_at, u.lead_time_seconds
        FROM d, unnest($24::text[], $25::timestamptz[], $26::timestamptz[], $27::bigint[])
            AS u (sha, authored_at, committed_at, lead_time_seconds)
        WHERE $9 <> 'success' OR (
            (SELECT 1 FROM changes e JOIN deployments ed ON ed.seq = e.deployment_seq
                WHERE e.sha = u.sha AND ed.service || '' = $2 AND ed.env || '' = $3
                  AND ed.status || '' = 'success' AND ed.finished_at < $8 LIMIT 1) IS NULL
            AND (SELECT 1 FROM deployments ed WHERE ed.sha = u.sha AND ed.service || '' = $2
                  AND ed.env || '' = $3 AND ed.status || '' = 'success' AND ed.finished_at < $8 LIMIT 1) IS NULL)
        ON CONFLICT DO NOTHING
    ), remediated AS (
        INSERT INTO remediations (deployment_seq, target_id, reason, commit_sha)
        SELECT d.seq, u.* FROM d, unnest($28::text[], $29::text[], $30::text[]) AS u
        ON CONFLICT DO NOTHING
    ), shipped AS (
        UPDATE incident_services s SET ship_seq = d.seq
        FROM d, incidents i
        WHERE $9 = 'success' AND i.deployment_sha = ANY($23::text[]) AND s.incident_seq = i.seq
          AND s.service = $2 AND i.env = $3
          AND NOT EXISTS (SELECT 1 FROM deployments x WHERE x.seq = s.ship_seq AND (x.finished_at, x.seq) <= ($8, d.seq))
    )
    SELECT seq FROM d"
    };
}

mod batch;
mod connect;
mod read;
mod schema;
mod store;
mod tx;
mod write;

pub use connect::{check_url, place};
pub use schema::SCHEMA_VERSION;
pub use store::PostgresStore;
