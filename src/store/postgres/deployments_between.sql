-- Migration 6: dora_deployments_between (compat.sql, migration 5) again,
-- with the same columns, planned as its work is. Over a year of 100,000
-- deployments the old text's estimate (every deployment of the range
-- remediated) was above jit_above_cost: PostgreSQL spent 0.75 s compiling
-- a 0.2 s query. Now the remediated deployments of the range are found by
-- a join the planner has statistics for, and only the columns the rules
-- need are materialized (the final select reads the range again, so a
-- query reads only the columns it uses).
CREATE OR REPLACE FUNCTION dora_deployments_between(p_from timestamptz, p_to timestamptz)
RETURNS TABLE (
    seq bigint, deployment_id text, service text, env text, team text, sha text, previous_sha text,
    started_at timestamptz, finished_at timestamptz, kind text, version text, ref_name text,
    deployed_by text, pipeline_url text, recorded_at timestamptz, failed boolean, causes bigint,
    failure_rule text, failed_by_deployment text, failed_by_incident text, failed_by_commit text,
    recovered_at timestamptz, incident_id text, changes bigint, lead_time_p50_seconds double precision
) LANGUAGE sql STABLE AS $fn$
WITH d AS MATERIALIZED (
    SELECT w.seq, w.id, w.service, w.env FROM dorameter.deployments w
    WHERE w.status = 'success' AND w.finished_at >= p_from AND w.finished_at < p_to
), causes AS (
    -- Rules 1 and 2: a later successful deployment of the service and env
    -- remediated it.
    SELECT t.seq AS deployment_seq, t.reason::text AS rule, rd.id::text AS by_deployment,
        NULL::text AS by_incident, t.commit_sha::text AS by_commit,
        rd.finished_at AS recovered_at, rd.finished_at AS at, rd.seq AS ord
    FROM (
        -- The range's deployments that were remediated (the remediations
        -- are few; joined to the table, not to d, so that the planner
        -- knows it), then who remediated them.
        SELECT w.seq, w.service, w.env, r.reason, r.commit_sha, r.deployment_seq
        FROM dorameter.remediations r JOIN dorameter.deployments w ON w.id = r.target_id
        WHERE w.status = 'success' AND w.finished_at >= p_from AND w.finished_at < p_to
        OFFSET 0
    ) t
    CROSS JOIN LATERAL (
        -- By key, for each of those few (never a scan of every deployment).
        SELECT x.id, x.finished_at, x.seq FROM dorameter.deployments x
        WHERE x.seq = t.deployment_seq AND x.status = 'success' AND x.service = t.service AND x.env = t.env
        OFFSET 0
    ) rd
    UNION ALL
    -- Rule 3, incidents linked by deployment id.
    SELECT d.seq, 'incident', NULL, i.id, NULL, i.resolved_at, i.started_at, i.seq
    FROM d
    JOIN dorameter.incidents i ON i.deployment_id = d.id
    WHERE i.env = d.env AND i.cause IN ('deploy', 'unknown')
      AND EXISTS (SELECT 1 FROM dorameter.incident_services s WHERE s.incident_seq = i.seq AND s.service = d.service)
    UNION ALL
    -- Rule 3, incidents linked by sha: to the earliest successful
    -- deployment of the service and env that deployed or shipped it
    -- (incident_services.ship_seq, kept current by triggers below).
    SELECT d.seq, 'incident', NULL, i.id, NULL, i.resolved_at, i.started_at, i.seq
    FROM dorameter.incident_services s
    JOIN d ON d.seq = s.ship_seq
    JOIN dorameter.incidents i ON i.seq = s.incident_seq
    WHERE i.deployment_id IS NULL AND i.deployment_sha IS NOT NULL AND i.cause IN ('deploy', 'unknown')
      AND i.env = d.env
    UNION ALL
    -- Rule 3, incidents without a link: the latest successful deployment
    -- that finished strictly before it started (equal times: the greatest
    -- id), within 24 hours.
    SELECT a.seq, 'incident', NULL, i.id, NULL, i.resolved_at, i.started_at, i.seq
    FROM dorameter.incidents i
    JOIN dorameter.incident_services s ON s.incident_seq = i.seq
    CROSS JOIN LATERAL (
        SELECT e.seq, e.finished_at FROM dorameter.deployments e
        WHERE e.service = s.service AND e.env = i.env AND e.status = 'success'
          AND e.finished_at < i.started_at AND e.finished_at >= i.started_at - interval '24 hours'
        ORDER BY e.finished_at DESC, e.id DESC LIMIT 1
    ) a
    WHERE i.deployment_id IS NULL AND i.deployment_sha IS NULL AND i.cause IN ('deploy', 'unknown')
      AND i.started_at > p_from AND i.started_at <= p_to + interval '24 hours'
      AND a.finished_at >= p_from AND a.finished_at < p_to
), failures AS (
    SELECT c.deployment_seq,
        count(*) AS causes,
        (array_agg(c.rule ORDER BY c.at, c.ord))[1] AS failure_rule,
        (array_agg(c.by_deployment ORDER BY c.at, c.ord))[1] AS failed_by_deployment,
        (array_agg(c.by_incident ORDER BY c.at, c.ord))[1] AS failed_by_incident,
        (array_agg(c.by_commit ORDER BY c.at, c.ord))[1] AS failed_by_commit,
        min(c.recovered_at) AS recovered_at,
        (array_agg(c.by_incident ORDER BY c.at, c.ord) FILTER (WHERE c.by_incident IS NOT NULL))[1] AS incident_id
    FROM causes c GROUP BY c.deployment_seq
)
-- The range again, from the table: d holds only what the rules need.
SELECT
    d.seq, d.id, d.service, d.env, d.team, d.sha, d.previous_sha, d.started_at, d.finished_at,
    d.kind, d.version, d.ref_name, d.deployed_by, d.pipeline_url, d.recorded_at,
    (f.deployment_seq IS NOT NULL), coalesce(f.causes, 0), f.failure_rule, f.failed_by_deployment,
    f.failed_by_incident, f.failed_by_commit, f.recovered_at, f.incident_id,
    lt.changes, lt.lead_time_p50_seconds
FROM dorameter.deployments d
LEFT JOIN failures f ON f.deployment_seq = d.seq
LEFT JOIN LATERAL (
    SELECT count(*) AS changes,
        percentile_cont(0.5) WITHIN GROUP (ORDER BY c.lead_time_seconds) AS lead_time_p50_seconds
    FROM dorameter.changes c WHERE c.deployment_seq = d.seq
) lt ON true
WHERE d.status = 'success' AND d.finished_at >= p_from AND d.finished_at < p_to
$fn$;
