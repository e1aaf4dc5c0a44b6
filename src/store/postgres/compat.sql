-- Views for dashboards and for the SQL of the seed setups (SPEC §10,
-- docs/postgres.md, docs/grafana.md). Applied once, as one migration, in a
-- database dorameter writes to (never for a read-only command's empty
-- temporary store).
--
-- dorameter.dora_deployments_between(from, to) (and the view
-- dora_deployments), dora_changes, dora_incidents, dora_services, bands and
-- dora_level: what the dashboards read, one row per successful deployment
-- (with why it failed), per change counted for lead time, per incident and
-- service, per service and env.
-- dora_compat: the seed setups' tables as views (seed 002's deploy_events
-- and test_runs, seed 001's deployments and incidents); INSERT into the
-- deployment shapes records a real deployment, seed 001's incident upsert
-- records an incident.
-- public.deploy_events and public.test_runs: seed 002's names where its
-- queries look for them, when this role may create them there and nothing
-- of that name exists.

-- Dashboards select incidents, and deployments, by a time range across services.
CREATE INDEX incidents_started ON incidents (started_at);
CREATE INDEX remediations_target ON remediations (target_id);
CREATE INDEX deployments_finished ON deployments (finished_at) WHERE status = 'success';

-- The incident's (first) service, as seed 001's `incidents` table has it;
-- incident_services keeps them all. A row written with a service (seed
-- 001's upsert) gets its incident_services row from a trigger below.
ALTER TABLE incidents ADD COLUMN service text COLLATE "C";
-- Incidents recorded before this migration: their (first by name) service.
UPDATE incidents i SET service = (SELECT min(s.service) FROM incident_services s WHERE s.incident_seq = i.seq);

-- The deployment an incident linked by sha is attributed to, per service:
-- the earliest successful deployment of the service and env that deployed
-- or shipped the commit (as report resolves it). Kept in
-- incident_services.ship_seq, so that a dashboard need not resolve every
-- such incident of the store's history for each range: written here when
-- an incident's services or commit are, and by the statement that records
-- a deployment (insert_deployment's `shipped`) when it deploys or ships an
-- incident's commit before the deployment recorded there (it may arrive
-- late): no trigger on the write path of every deployment.
CREATE INDEX incidents_sha ON incidents (deployment_sha) WHERE deployment_sha IS NOT NULL;
ALTER TABLE incident_services ADD COLUMN ship_seq bigint;

CREATE FUNCTION shipped_first(p_sha text, p_service text, p_env text)
RETURNS bigint LANGUAGE sql STABLE SET search_path = dorameter, pg_temp AS $fn$
    SELECT x.seq FROM (
        (SELECT e.seq, e.finished_at FROM deployments e
        WHERE e.sha = p_sha AND e.service || '' = p_service AND e.env || '' = p_env AND e.status || '' = 'success'
        ORDER BY e.finished_at, e.seq LIMIT 1)
        UNION ALL
        (SELECT e.seq, e.finished_at FROM changes c JOIN deployments e ON e.seq = c.deployment_seq
        WHERE c.sha = p_sha AND e.service || '' = p_service AND e.env || '' = p_env AND e.status || '' = 'success'
        ORDER BY e.finished_at, e.seq LIMIT 1)
    ) x ORDER BY x.finished_at, x.seq LIMIT 1
$fn$;

-- After an incident's service is written.
CREATE FUNCTION ship_of_service() RETURNS trigger LANGUAGE plpgsql SET search_path = dorameter, pg_temp AS $fn$
BEGIN
    UPDATE incident_services s SET ship_seq = shipped_first(i.deployment_sha, s.service, i.env)
    FROM incidents i
    WHERE i.seq = NEW.incident_seq AND i.deployment_sha IS NOT NULL
      AND s.incident_seq = NEW.incident_seq AND s.service = NEW.service;
    RETURN NULL;
END
$fn$;
CREATE TRIGGER ship_of_service AFTER INSERT ON incident_services
    FOR EACH ROW EXECUTE FUNCTION ship_of_service();

-- After an incident's commit or env changes.
CREATE FUNCTION ship_of_incident() RETURNS trigger LANGUAGE plpgsql SET search_path = dorameter, pg_temp AS $fn$
BEGIN
    UPDATE incident_services s
    SET ship_seq = CASE WHEN NEW.deployment_sha IS NOT NULL THEN shipped_first(NEW.deployment_sha, s.service, NEW.env) END
    WHERE s.incident_seq = NEW.seq;
    RETURN NULL;
END
$fn$;
CREATE TRIGGER ship_of_incident AFTER UPDATE OF deployment_sha, env ON incidents
    FOR EACH ROW EXECUTE FUNCTION ship_of_incident();

-- Incidents recorded before this migration.
UPDATE incident_services s SET ship_seq = shipped_first(i.deployment_sha, s.service, i.env)
FROM incidents i WHERE i.seq = s.incident_seq AND i.deployment_sha IS NOT NULL;

-- One row per successful deployment that finished in [p_from, p_to) (a
-- failed deploy job is not a deployment, SPEC §3), with whether it counts
-- as failed by report's rules (SPEC §3): a later rollback or rollforward
-- remediated it, or an incident with cause deploy or unknown is attributed
-- to it (explicitly by deployment id; by sha, to the earliest successful
-- deployment of its service and env that deployed or shipped the commit;
-- else to the latest successful deployment that finished before the
-- incident started, within the default attribution window of 24 hours).
-- Every event counts, before, in or after the range.
--
-- A function of the range so that the work follows the range: the
-- remediations and the incidents linked by id or sha are joined to the
-- range's deployments, the incidents without a link that started up to 24
-- hours after the range are attributed from their side. One SELECT in SQL, so PostgreSQL inlines it into the
-- caller's query: what the caller does not read is not computed.
-- Migration 6 replaces this text (deployments_between.sql); kept as
-- migration 5 made it.
CREATE FUNCTION dora_deployments_between(p_from timestamptz, p_to timestamptz)
RETURNS TABLE (
    seq bigint, deployment_id text, service text, env text, team text, sha text, previous_sha text,
    started_at timestamptz, finished_at timestamptz, kind text, version text, ref_name text,
    deployed_by text, pipeline_url text, recorded_at timestamptz, failed boolean, causes bigint,
    failure_rule text, failed_by_deployment text, failed_by_incident text, failed_by_commit text,
    recovered_at timestamptz, incident_id text, changes bigint, lead_time_p50_seconds double precision
) LANGUAGE sql STABLE AS $fn$
WITH d AS MATERIALIZED (
    SELECT * FROM dorameter.deployments w
    WHERE w.status = 'success' AND w.finished_at >= p_from AND w.finished_at < p_to
), causes AS (
    -- Rules 1 and 2: a later successful deployment of the service and env
    -- remediated it.
    SELECT t.seq AS deployment_seq, t.reason::text AS rule, rd.id::text AS by_deployment,
        NULL::text AS by_incident, t.commit_sha::text AS by_commit,
        rd.finished_at AS recovered_at, rd.finished_at AS at, rd.seq AS ord
    FROM (
        -- The range's deployments that were remediated (a hash join of the
        -- two: the remediations are few), then who remediated them.
        SELECT d.seq, d.service, d.env, r.reason, r.commit_sha, r.deployment_seq
        FROM dorameter.remediations r JOIN d ON d.id = r.target_id
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
SELECT
    d.seq, d.id, d.service, d.env, d.team, d.sha, d.previous_sha, d.started_at, d.finished_at,
    d.kind, d.version, d.ref_name, d.deployed_by, d.pipeline_url, d.recorded_at,
    (f.deployment_seq IS NOT NULL), coalesce(f.causes, 0), f.failure_rule, f.failed_by_deployment,
    f.failed_by_incident, f.failed_by_commit, f.recovered_at, f.incident_id,
    lt.changes, lt.lead_time_p50_seconds
FROM d
LEFT JOIN failures f ON f.deployment_seq = d.seq
LEFT JOIN LATERAL (
    SELECT count(*) AS changes,
        percentile_cont(0.5) WITHIN GROUP (ORDER BY c.lead_time_seconds) AS lead_time_p50_seconds
    FROM dorameter.changes c WHERE c.deployment_seq = d.seq
) lt ON true
$fn$;

-- Every successful deployment, as dora_deployments_between gives it.
CREATE VIEW dora_deployments AS
SELECT * FROM dora_deployments_between('-infinity', 'infinity');

-- One row per service and env with a deployment, with the team and the
-- finish of its latest successful deployment: a service belongs to the
-- team its latest deployment names. A skip scan of the timeline index, as
-- cheap on 100k deployments as on ten (the dashboards' variables).
CREATE VIEW dora_services AS
WITH RECURSIVE pairs AS (
    (SELECT x.service, x.env FROM deployments x ORDER BY x.service, x.env LIMIT 1)
    UNION ALL
    SELECT n.service, n.env FROM pairs p CROSS JOIN LATERAL (
        SELECT x.service, x.env FROM deployments x
        WHERE (x.service, x.env) > (p.service, p.env)
        ORDER BY x.service, x.env LIMIT 1
    ) n
)
SELECT p.service, p.env, l.team, l.finished_at AS last_deployed_at
FROM pairs p
LEFT JOIN LATERAL (
    SELECT d.team, d.finished_at FROM deployments d
    WHERE d.service = p.service AND d.env = p.env AND d.status = 'success'
    ORDER BY d.finished_at DESC, d.seq DESC LIMIT 1
) l ON true;

-- One row per change counted for lead time (each commit once per service
-- and env, at the first successful deployment that shipped it, SPEC §3).
CREATE VIEW dora_changes AS
SELECT d.service, d.env, d.team, d.id AS deployment_id, d.finished_at AS deployed_at,
    c.sha, c.authored_at, c.committed_at, c.lead_time_seconds
FROM changes c JOIN deployments d ON d.seq = c.deployment_seq
WHERE d.status = 'success';

-- One row per incident and service. restore_seconds as report measures time
-- to restore: resolved_at - started_at, never below zero.
CREATE VIEW dora_incidents AS
SELECT s.service, i.env, i.id AS incident_id, i.severity, i.title, i.cause,
    i.started_at, i.detected_at, i.resolved_at,
    greatest(extract(epoch FROM i.resolved_at - i.started_at), 0)::double precision AS restore_seconds,
    (i.resolved_at IS NULL) AS open,
    i.deployment_id, i.deployment_sha
FROM incidents i JOIN incident_services s ON s.incident_seq = i.seq;

-- Records a deployment given as a row of SQL (no git here): the deployed
-- commit is its one change, dated `commit_time`, as `deploy` records a
-- deployment whose commit time a webhook gave. Follows deploy's rules
-- (src/app/deploy.rs `plan` and `classify`, without a repository):
--   - lead time: a sample for the deployed commit unless an earlier
--     successful deployment of the service and env deployed or shipped it;
--     no commit time: no sample (no_previous_deployment, no_new_changes or
--     no_repository);
--   - rule 1: deploying a sha deployed successfully before, when the
--     previous deployment's sha did not first ship before it, is a rollback
--     marking every deployment since the sha's last one; `rollback` marks
--     the previous deployment;
--   - rule 2: `hotfix` marks the previous deployment (no commit messages
--     here, so no revert or subject rule).
-- The same row inserted twice is one deployment (its id is derived from
-- service, env, sha and finish time). Takes the writers' lock, like every
-- dorameter write. Returns the deployment id.
CREATE FUNCTION record_sql_deployment(
    p_service text, p_env text, p_sha text, p_finished_at timestamptz, p_commit_time timestamptz,
    p_deployed_by text, p_status text, p_rollback boolean, p_hotfix boolean, p_via text
) RETURNS text LANGUAGE plpgsql SET search_path = dorameter, pg_temp AS $fn$
DECLARE
    v_status text;
    v_finished timestamptz := date_trunc('milliseconds', coalesce(p_finished_at, now()));
    v_id text;
    v_key text;
    prev record;
    last_of_sha record;
    first_prev record;
    first_new record;
    v_kind text := 'planned';
    v_went_back boolean := false;
    v_note text;
    v_clamped bigint := 0;
    v_lead bigint;
    shas text[] := '{}';
    times timestamptz[] := '{}';
    leads bigint[] := '{}';
    targets text[] := '{}';
    reasons text[] := '{}';
    t record;
BEGIN
    IF p_service IS NULL OR btrim(p_service) = '' THEN
        RAISE EXCEPTION '% needs the service (%), not empty', p_via,
            CASE WHEN p_via LIKE '%deploy_events%' THEN 'repo' ELSE 'service' END
            USING ERRCODE = 'not_null_violation';
    END IF;
    IF p_env IS NULL OR btrim(p_env) = '' THEN
        RAISE EXCEPTION '% needs the environment, not empty', p_via USING ERRCODE = 'not_null_violation';
    END IF;
    IF p_sha IS NULL OR btrim(p_sha) = '' THEN
        RAISE EXCEPTION '% needs the deployed commit sha, not empty', p_via USING ERRCODE = 'not_null_violation';
    END IF;
    IF p_sha !~ '^[0-9A-Fa-f]{4,64}$' THEN
        RAISE EXCEPTION '% sha ''%'' is not a commit sha: 4 to 64 hexadecimal digits', p_via, p_sha
            USING ERRCODE = 'check_violation';
    END IF;
    -- As every command: a time more than a day ahead is a mistake (a unit,
    -- a clock), not a deployment.
    IF p_finished_at > now() + interval '24 hours' THEN
        RAISE EXCEPTION '% deployed_at % is in the future', p_via, p_finished_at
            USING ERRCODE = 'check_violation', HINT = 'give when the deployment finished, in UTC or with its offset';
    END IF;
    v_status := CASE lower(coalesce(p_status, 'success'))
        WHEN 'success' THEN 'success' WHEN 'succeeded' THEN 'success' WHEN 'successful' THEN 'success'
        WHEN 'rollback' THEN 'success' WHEN 'hotfix' THEN 'success'
        WHEN 'failure' THEN 'failure' WHEN 'failed' THEN 'failure' WHEN 'error' THEN 'failure'
    END;
    IF v_status IS NULL THEN
        RAISE EXCEPTION '% status ''%'' is not one of success (or succeeded, successful), rollback, hotfix, failure (or failed, error)', p_via, p_status
            USING ERRCODE = 'check_violation';
    END IF;
    p_rollback := coalesce(p_rollback, false) OR lower(coalesce(p_status, '')) = 'rollback';
    p_hotfix := coalesce(p_hotfix, false) OR lower(coalesce(p_status, '')) = 'hotfix';

    v_key := concat_ws(':', 'sql', p_service, p_env, p_sha,
        to_char(v_finished AT TIME ZONE 'UTC', 'YYYYMMDD"T"HH24MISS.MS"Z"'));
    v_id := regexp_replace(v_key, '[^A-Za-z0-9._:-]', '-', 'g');
    IF length(v_id) > 128 THEN
        v_id := left(v_id, 111) || ':' || left(md5(v_key), 16);
    END IF;

    PERFORM pg_advisory_xact_lock(x'646f726177726974'::bigint);
    IF EXISTS (SELECT 1 FROM deployments WHERE id = v_id) THEN
        RETURN v_id;
    END IF;

    SELECT id, sha, finished_at, seq INTO prev FROM deployments
    WHERE service = p_service AND env = p_env AND status = 'success' AND finished_at <= v_finished
    ORDER BY finished_at DESC, seq DESC LIMIT 1;

    -- Lead time: the deployed commit, when no earlier deployment shipped it.
    IF p_commit_time IS NOT NULL THEN
        IF prev.id IS NULL OR NOT EXISTS (
            SELECT 1 FROM (
                SELECT finished_at FROM deployments
                WHERE sha = p_sha AND service = p_service AND env = p_env AND status = 'success'
                UNION ALL
                SELECT x.finished_at FROM changes c JOIN deployments x ON x.seq = c.deployment_seq
                WHERE c.sha = p_sha AND x.service = p_service AND x.env = p_env AND x.status = 'success'
                ORDER BY 1 LIMIT 1
            ) s WHERE s.finished_at <= v_finished)
        THEN
            v_lead := floor(extract(epoch FROM v_finished))::bigint - floor(extract(epoch FROM p_commit_time))::bigint;
            IF v_lead < 0 THEN
                v_clamped := 1;
                v_lead := 0;
            END IF;
            shas := ARRAY[p_sha];
            times := ARRAY[to_timestamp(floor(extract(epoch FROM p_commit_time)))];
            leads := ARRAY[v_lead];
        ELSE
            v_note := 'no_new_changes';
        END IF;
    ELSIF prev.id IS NULL THEN
        v_note := 'no_previous_deployment';
    ELSIF prev.sha = p_sha THEN
        v_note := 'no_new_changes';
    ELSE
        v_note := 'no_repository';
    END IF;

    IF v_status = 'success' THEN
        -- Rule 1: back to a sha deployed before, unless history moves forward
        -- (the previous sha first shipped before this one first did).
        IF prev.id IS NOT NULL AND prev.sha <> p_sha THEN
            SELECT id, finished_at, seq INTO last_of_sha FROM deployments
            WHERE sha = p_sha AND service = p_service AND env = p_env AND status = 'success'
              AND finished_at <= v_finished
            ORDER BY finished_at DESC, seq DESC LIMIT 1;
            IF last_of_sha.id IS NOT NULL THEN
                SELECT finished_at, seq INTO first_prev FROM (
                    SELECT finished_at, seq FROM deployments
                    WHERE sha = prev.sha AND service = p_service AND env = p_env AND status = 'success'
                    UNION ALL
                    SELECT x.finished_at, x.seq FROM changes c JOIN deployments x ON x.seq = c.deployment_seq
                    WHERE c.sha = prev.sha AND x.service = p_service AND x.env = p_env AND x.status = 'success'
                ) s ORDER BY finished_at, seq LIMIT 1;
                SELECT finished_at, seq INTO first_new FROM (
                    SELECT finished_at, seq FROM deployments
                    WHERE sha = p_sha AND service = p_service AND env = p_env AND status = 'success'
                    UNION ALL
                    SELECT x.finished_at, x.seq FROM changes c JOIN deployments x ON x.seq = c.deployment_seq
                    WHERE c.sha = p_sha AND x.service = p_service AND x.env = p_env AND x.status = 'success'
                ) s ORDER BY finished_at, seq LIMIT 1;
                v_went_back := NOT (first_prev.seq IS NOT NULL AND first_new.seq IS NOT NULL
                    AND (first_prev.finished_at, first_prev.seq) < (first_new.finished_at, first_new.seq));
            END IF;
        END IF;
        IF v_went_back THEN
            FOR t IN SELECT id FROM deployments
                WHERE service = p_service AND env = p_env AND status = 'success'
                  AND (finished_at > last_of_sha.finished_at
                       OR (finished_at = last_of_sha.finished_at AND seq > last_of_sha.seq))
                  AND finished_at <= v_finished
                ORDER BY finished_at, seq
            LOOP
                IF NOT t.id = ANY(targets) THEN
                    targets := targets || t.id;
                    reasons := reasons || 'rollback'::text;
                END IF;
            END LOOP;
        END IF;
        IF v_went_back OR p_rollback THEN
            v_kind := 'rollback';
            IF prev.id IS NOT NULL AND NOT prev.id = ANY(targets) THEN
                targets := targets || prev.id;
                reasons := reasons || 'rollback'::text;
            END IF;
        ELSIF p_hotfix THEN
            v_kind := 'rollforward';
            IF prev.id IS NOT NULL THEN
                targets := targets || prev.id;
                reasons := reasons || 'hotfix'::text;
            END IF;
        END IF;
    END IF;

    PERFORM insert_deployment(
        v_id, p_service, p_env, NULL, p_sha, prev.sha, v_finished, v_finished,
        v_status, v_kind, NULL, NULL, NULL, NULL, p_deployed_by, '{}', 'author',
        v_note,
        v_clamped, false, date_trunc('milliseconds', now()), NULL,
        ARRAY[p_sha], shas, times, times, leads,
        targets, reasons, array_fill(NULL::text, ARRAY[cardinality(targets)]));
    RETURN v_id;
END
$fn$;

-- Incidents written by SQL (seed 001's upsert): what dorameter's own writes
-- always give, filled in when missing.
CREATE FUNCTION incidents_fill() RETURNS trigger LANGUAGE plpgsql SET search_path = dorameter, pg_temp AS $fn$
BEGIN
    IF NEW.id IS NULL OR btrim(NEW.id) = '' THEN
        RAISE EXCEPTION 'an incident needs its id (incident_id), not empty' USING ERRCODE = 'not_null_violation';
    END IF;
    -- dorameter's own writes always name the first service; a row of SQL
    -- must too, or no service would ever count it.
    IF NEW.service IS NULL OR btrim(NEW.service) = '' THEN
        RAISE EXCEPTION 'incident % needs its service, not empty', NEW.id USING ERRCODE = 'not_null_violation';
    END IF;
    IF coalesce(NEW.started_at, NEW.detected_at) > now() + interval '24 hours'
       OR NEW.resolved_at > now() + interval '24 hours' THEN
        RAISE EXCEPTION 'incident % has a time in the future', NEW.id
            USING ERRCODE = 'check_violation', HINT = 'give its times in UTC or with their offset';
    END IF;
    NEW.env := coalesce(NEW.env, 'production');
    NEW.started_at := date_trunc('milliseconds', coalesce(NEW.started_at, NEW.detected_at, now()));
    NEW.detected_at := date_trunc('milliseconds', NEW.detected_at);
    NEW.resolved_at := date_trunc('milliseconds', NEW.resolved_at);
    NEW.cause := coalesce(NEW.cause, 'unknown');
    NEW.recorded_at := coalesce(NEW.recorded_at, date_trunc('milliseconds', now()));
    IF TG_OP = 'INSERT' THEN
        NEW.updated_at := coalesce(NEW.updated_at, NEW.recorded_at);
    ELSIF NEW.updated_at IS NOT DISTINCT FROM OLD.updated_at THEN
        NEW.updated_at := date_trunc('milliseconds', now());
    END IF;
    IF NEW.resolved_at < NEW.started_at THEN
        RAISE EXCEPTION 'incident % is resolved (%) before it started (%)', NEW.id, NEW.resolved_at, NEW.started_at
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END
$fn$;
CREATE TRIGGER incidents_fill BEFORE INSERT OR UPDATE ON incidents
    FOR EACH ROW EXECUTE FUNCTION incidents_fill();

CREATE FUNCTION incidents_service() RETURNS trigger LANGUAGE plpgsql SET search_path = dorameter, pg_temp AS $fn$
BEGIN
    INSERT INTO incident_services (service, incident_seq) VALUES (NEW.service, NEW.seq) ON CONFLICT DO NOTHING;
    RETURN NULL;
END
$fn$;
CREATE TRIGGER incidents_service AFTER INSERT OR UPDATE OF service ON incidents
    FOR EACH ROW WHEN (NEW.service IS NOT NULL) EXECUTE FUNCTION incidents_service();

-- The band tables of `--bands` (src/metrics/bands.rs), written by dorameter
-- after every migration, and the level of a value in one of them, as
-- report gives it: NULL for no value, 'low' when no boundary is met.
CREATE TABLE bands (
    bands text COLLATE "C" NOT NULL,
    metric text COLLATE "C" NOT NULL,
    rank integer NOT NULL,
    level text COLLATE "C" NOT NULL,
    comparison text COLLATE "C" NOT NULL CHECK (comparison IN ('>=', '<', '<=')),
    boundary double precision NOT NULL,
    PRIMARY KEY (bands, metric, rank)
);
CREATE FUNCTION dora_level(p_metric text, p_value double precision, p_bands text DEFAULT 'classic')
RETURNS text LANGUAGE sql STABLE SET search_path = dorameter, pg_temp AS $fn$
    SELECT CASE WHEN p_value IS NULL OR NOT EXISTS (SELECT 1 FROM bands WHERE bands = p_bands) THEN NULL
        ELSE coalesce((
            SELECT b.level FROM bands b
            WHERE b.bands = p_bands AND b.metric = p_metric
              AND CASE b.comparison WHEN '>=' THEN p_value >= b.boundary
                                    WHEN '<' THEN p_value < b.boundary
                                    ELSE p_value <= b.boundary END
            ORDER BY b.rank LIMIT 1), 'low') END
$fn$;

CREATE SCHEMA dora_compat;

-- Seed 002's deploy_events table. status is 'success' on every row (every
-- row is a successful deployment: rollbacks and roll-forwards are
-- deployments, and the seed's frequency query counts status = 'success');
-- kind says planned, rollback or rollforward. caused_incident is true when
-- the deployment counts as failed by report's rules (failure_rule says
-- which), incident_id the earliest incident attributed to it.
-- lead_time_seconds is the median lead time of its changes (NULL when it
-- counted none): seed 002 records one commit per deployment; for report's
-- lead time over commits, read dorameter.dora_changes.
CREATE VIEW dora_compat.deploy_events AS
SELECT seq AS id, sha, service AS repo, env AS environment, finished_at AS deployed_at, deployed_by,
    'success'::text AS status, failed AS caused_incident, incident_id,
    round(lead_time_p50_seconds::numeric)::bigint AS lead_time_seconds,
    deployment_id, kind, failure_rule, team, changes
FROM dorameter.dora_deployments;

-- Seed 001's deployments table. is_rollback/is_hotfix say what the
-- deployment is (kind rollback/rollforward); caused_incident whether it
-- counts as failed. commit_timestamp is deployed_at minus the median lead
-- time of its changes.
CREATE VIEW dora_compat.deployments AS
SELECT seq AS id, service, env AS environment, sha AS commit_sha,
    finished_at - make_interval(secs => lead_time_p50_seconds) AS commit_timestamp,
    finished_at AS deployed_at, 'success'::text AS status,
    (kind = 'rollback') AS is_rollback, (kind = 'rollforward') AS is_hotfix,
    recorded_at AS created_at, failed AS caused_incident, deployment_id, kind, failure_rule, team
FROM dorameter.dora_deployments;

-- Seed 001's incidents table (and seed 002's: started_at). A plain view of
-- dorameter.incidents, so seed 001's INSERT … ON CONFLICT (incident_id)
-- writes the incident itself.
CREATE VIEW dora_compat.incidents AS
SELECT id AS incident_id, service, severity, detected_at, resolved_at, started_at, env AS environment,
    title, cause, deployment_id
FROM dorameter.incidents;

-- Seed 002's flaky-test tracker table: one row per test case attempt, as
-- its script inserts one per <testcase> element: 'failed' for a failure or
-- an error, else 'passed' (a skipped test too, as the script has it).
CREATE VIEW dora_compat.test_runs AS
SELECT r.classname || '.' || r.name AS test_name, t.service AS suite,
    CASE WHEN a.n <= r.failures THEN 'failed' ELSE 'passed' END::text AS status,
    t.recorded_at AS ran_at, t.id AS run_id, t.sha, t.job
FROM dorameter.test_runs t
JOIN dorameter.test_results r ON r.run_seq = t.seq
CROSS JOIN LATERAL generate_series(1, greatest(r.attempts, 1)) AS a (n);

-- INSERT into the deployment shapes.
CREATE FUNCTION dora_compat.deploy_events_insert() RETURNS trigger LANGUAGE plpgsql
SET search_path = dorameter, pg_temp AS $fn$
BEGIN
    PERFORM dorameter.record_sql_deployment(NEW.repo, NEW.environment, NEW.sha, NEW.deployed_at,
        CASE WHEN NEW.lead_time_seconds IS NOT NULL
             THEN coalesce(NEW.deployed_at, now()) - make_interval(secs => NEW.lead_time_seconds) END,
        NEW.deployed_by, NEW.status, false, false, 'INSERT INTO ' || TG_TABLE_SCHEMA || '.deploy_events');
    RETURN NEW;
END
$fn$;
CREATE TRIGGER deploy_events_insert INSTEAD OF INSERT ON dora_compat.deploy_events
    FOR EACH ROW EXECUTE FUNCTION dora_compat.deploy_events_insert();
ALTER VIEW dora_compat.deploy_events ALTER COLUMN deployed_at SET DEFAULT now();
ALTER VIEW dora_compat.deploy_events ALTER COLUMN status SET DEFAULT 'success';

CREATE FUNCTION dora_compat.deployments_insert() RETURNS trigger LANGUAGE plpgsql
SET search_path = dorameter, pg_temp AS $fn$
BEGIN
    PERFORM dorameter.record_sql_deployment(NEW.service, NEW.environment, NEW.commit_sha, NEW.deployed_at,
        NEW.commit_timestamp, NULL, NEW.status, NEW.is_rollback, NEW.is_hotfix,
        'INSERT INTO ' || TG_TABLE_SCHEMA || '.deployments');
    RETURN NEW;
END
$fn$;
CREATE TRIGGER deployments_insert INSTEAD OF INSERT ON dora_compat.deployments
    FOR EACH ROW EXECUTE FUNCTION dora_compat.deployments_insert();
ALTER VIEW dora_compat.deployments ALTER COLUMN deployed_at SET DEFAULT now();
ALTER VIEW dora_compat.deployments ALTER COLUMN status SET DEFAULT 'success';
ALTER VIEW dora_compat.deployments ALTER COLUMN is_rollback SET DEFAULT false;
ALTER VIEW dora_compat.deployments ALTER COLUMN is_hotfix SET DEFAULT false;

-- dorameter.deploy_events (migration 2) becomes seed 002's shape too.
DROP VIEW deploy_events;
CREATE VIEW deploy_events AS SELECT * FROM dora_compat.deploy_events;
CREATE TRIGGER deploy_events_insert INSTEAD OF INSERT ON deploy_events
    FOR EACH ROW EXECUTE FUNCTION dora_compat.deploy_events_insert();
ALTER VIEW deploy_events ALTER COLUMN deployed_at SET DEFAULT now();
ALTER VIEW deploy_events ALTER COLUMN status SET DEFAULT 'success';

-- Seed 002's names where its queries look for them.
DO $do$
BEGIN
    IF to_regnamespace('public') IS NOT NULL AND has_schema_privilege('public', 'CREATE') THEN
        IF to_regclass('public.deploy_events') IS NULL THEN
            CREATE VIEW public.deploy_events AS SELECT * FROM dora_compat.deploy_events;
            CREATE TRIGGER deploy_events_insert INSTEAD OF INSERT ON public.deploy_events
                FOR EACH ROW EXECUTE FUNCTION dora_compat.deploy_events_insert();
            ALTER VIEW public.deploy_events ALTER COLUMN deployed_at SET DEFAULT now();
            ALTER VIEW public.deploy_events ALTER COLUMN status SET DEFAULT 'success';
        END IF;
        IF to_regclass('public.test_runs') IS NULL THEN
            CREATE VIEW public.test_runs AS SELECT * FROM dora_compat.test_runs;
        END IF;
    END IF;
END
$do$;
