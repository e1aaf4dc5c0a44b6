//! The SQLite schema, one migration per version.

/// Migration `i` takes the schema from version `i` to `i + 1`. Append only.
pub(super) const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE deployments (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    service TEXT NOT NULL,
    env TEXT NOT NULL,
    repository_url TEXT,
    sha TEXT NOT NULL,
    previous_sha TEXT,
    started_at INTEGER NOT NULL,
    finished_at INTEGER NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('success', 'failure')),
    kind TEXT NOT NULL CHECK (kind IN ('planned', 'rollback', 'rollforward')),
    version TEXT,
    team TEXT,
    pipeline_id TEXT,
    pipeline_url TEXT,
    deployed_by TEXT,
    tags TEXT NOT NULL DEFAULT '{}',
    lead_time_from TEXT NOT NULL,
    lead_time_note TEXT,
    clamped_changes INTEGER NOT NULL DEFAULT 0,
    truncated INTEGER NOT NULL DEFAULT 0,
    recorded_at INTEGER NOT NULL
);
CREATE INDEX deployments_timeline ON deployments (service, env, status, finished_at, seq);
CREATE INDEX deployments_sha ON deployments (sha);
CREATE TABLE changes (
    deployment_seq INTEGER NOT NULL REFERENCES deployments (seq),
    sha TEXT NOT NULL,
    authored_at INTEGER NOT NULL,
    committed_at INTEGER NOT NULL,
    lead_time_seconds INTEGER NOT NULL,
    PRIMARY KEY (deployment_seq, sha)
) WITHOUT ROWID;
CREATE INDEX changes_sha ON changes (sha);
CREATE TABLE remediations (
    deployment_seq INTEGER NOT NULL REFERENCES deployments (seq),
    target_id TEXT NOT NULL,
    reason TEXT NOT NULL,
    PRIMARY KEY (deployment_seq, target_id)
) WITHOUT ROWID;
CREATE TABLE incidents (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    env TEXT NOT NULL,
    started_at INTEGER NOT NULL,
    detected_at INTEGER,
    resolved_at INTEGER,
    severity TEXT,
    title TEXT,
    cause TEXT NOT NULL CHECK (cause IN ('deploy', 'infra', 'unknown')),
    deployment_id TEXT,
    deployment_sha TEXT,
    recorded_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE TABLE incident_services (
    service TEXT NOT NULL,
    incident_seq INTEGER NOT NULL REFERENCES incidents (seq) ON DELETE CASCADE,
    PRIMARY KEY (service, incident_seq)
) WITHOUT ROWID;
"#,
    r#"
CREATE TABLE test_runs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    service TEXT NOT NULL,
    sha TEXT,
    run_id TEXT,
    run_attempt TEXT,
    job TEXT,
    recorded_at INTEGER NOT NULL,
    files INTEGER NOT NULL DEFAULT 0,
    tests INTEGER NOT NULL DEFAULT 0,
    runs INTEGER NOT NULL DEFAULT 0,
    passed INTEGER NOT NULL DEFAULT 0,
    failed INTEGER NOT NULL DEFAULT 0,
    errored INTEGER NOT NULL DEFAULT 0,
    skipped INTEGER NOT NULL DEFAULT 0,
    flaky INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX test_runs_service ON test_runs (service, recorded_at);
CREATE TABLE test_results (
    run_seq INTEGER NOT NULL REFERENCES test_runs (seq),
    classname TEXT NOT NULL,
    name TEXT NOT NULL,
    outcome TEXT NOT NULL CHECK (outcome IN ('passed', 'failed', 'errored', 'skipped')),
    attempts INTEGER NOT NULL,
    failures INTEGER NOT NULL,
    passes INTEGER NOT NULL,
    -- Failed, then passed, inside this run (SPEC §6 retry evidence).
    flaky INTEGER NOT NULL DEFAULT 0,
    duration REAL,
    message TEXT,
    PRIMARY KEY (run_seq, classname, name)
) WITHOUT ROWID;
"#,
    r#"
-- The commit that fired a revert or subject rule (SPEC §3).
ALTER TABLE remediations ADD COLUMN commit_sha TEXT;
"#,
    r#"
-- The branch or tag CI built (DevLake's refName).
ALTER TABLE deployments ADD COLUMN ref_name TEXT;
"#,
    r#"
-- An incident's services by incident: reading or replacing them scanned
-- the table (10,000 imported incidents took 2.6 s, quadratic).
CREATE INDEX incident_services_incident ON incident_services (incident_seq);
-- Where each import left off (`incident import`, SPEC §11).
CREATE TABLE cursors (
    source TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    updated_at INTEGER NOT NULL
) WITHOUT ROWID;
"#,
    r#"
-- Squash commits' pull/merge requests and their original commits, as the
-- forge gave them (`--lead-time-source pr`, SPEC §11); `number` NULL: no
-- merged request holds the commit. `commits` is a JSON array.
CREATE TABLE pull_commits (
    sha TEXT PRIMARY KEY,
    forge TEXT NOT NULL,
    number INTEGER,
    commits TEXT NOT NULL,
    fetched_at INTEGER NOT NULL
) WITHOUT ROWID;
"#,
];
