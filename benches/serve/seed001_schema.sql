-- The tables of seed 001's "Complete Metrics Service" (benches/serve/seed001_service.py).
--
-- The seed's own CREATE TABLE, verbatim:
CREATE TABLE deployments (
    id SERIAL PRIMARY KEY,
    service VARCHAR(255) NOT NULL,
    environment VARCHAR(50) NOT NULL,
    commit_sha VARCHAR(40) NOT NULL,
    deployed_at TIMESTAMP NOT NULL,
    status VARCHAR(20) DEFAULT 'success',
    is_rollback BOOLEAN DEFAULT FALSE,
    is_hotfix BOOLEAN DEFAULT FALSE,
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP
);

-- What the seed's code uses and its schema omits: the lead-time column its
-- INSERT and lead-time query name, and the incidents table of
-- POST /events/incident (incident_id is its ON CONFLICT target, so the key).
-- Naive TIMESTAMP like the seed's: it writes and compares datetime.utcnow().
ALTER TABLE deployments ADD COLUMN commit_timestamp TIMESTAMP;

CREATE TABLE incidents (
    incident_id VARCHAR(255) PRIMARY KEY,
    service VARCHAR(255) NOT NULL,
    severity VARCHAR(50),
    detected_at TIMESTAMP NOT NULL,
    resolved_at TIMESTAMP
);

-- Not in the seed: the indexes a reasonable operator would add for its
-- queries (every one filters on service, environment and a time lower
-- bound), so the baseline is not slowed down by sequential scans.
CREATE INDEX deployments_service_env_deployed_at ON deployments (service, environment, deployed_at);
CREATE INDEX incidents_service_detected_at ON incidents (service, detected_at);
