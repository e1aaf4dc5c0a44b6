# dora_metrics_service.py
"""Seed 001's "Complete Metrics Service" (FastAPI + asyncpg), the baseline
of `benches/serve.py`.

Everything from `# --- seed 001, verbatim ---` to `# --- end of seed 001 ---`
is the seed's code unchanged (models, the three endpoints, the classify
functions). The seed leaves `db` undefined; the only addition is what makes
it run: `db` is an asyncpg pool opened on startup from `DATABASE_URL`, with
`DB_POOL_MIN` / `DB_POOL_MAX` connections (default 10 / 10), and a `/healthz`
for the harness to wait on. The schema it needs is `seed001_schema.sql`.

    DATABASE_URL=postgres://... target/bench-venv/bin/uvicorn --app-dir benches/serve \
        seed001_service:app --host 127.0.0.1 --port 8001 --workers 1
"""
import os
from contextlib import asynccontextmanager

# --- seed 001, verbatim ---
from fastapi import FastAPI, HTTPException
from pydantic import BaseModel
from datetime import datetime, timedelta
from typing import Optional
import asyncpg

app = FastAPI(title="DORA Metrics Service")

class DeploymentEvent(BaseModel):
    service: str
    environment: str
    commit_sha: str
    commit_timestamp: datetime
    deployed_at: datetime
    is_rollback: bool = False
    is_hotfix: bool = False

class IncidentEvent(BaseModel):
    incident_id: str
    service: str
    severity: str
    detected_at: datetime
    resolved_at: Optional[datetime] = None

@app.post("/events/deployment")
async def record_deployment(event: DeploymentEvent):
    """Record a deployment event."""
    await db.execute("""
        INSERT INTO deployments
        (service, environment, commit_sha, commit_timestamp, deployed_at, is_rollback, is_hotfix)
        VALUES ($1, $2, $3, $4, $5, $6, $7)
    """, event.service, event.environment, event.commit_sha,
       event.commit_timestamp, event.deployed_at, event.is_rollback, event.is_hotfix)
    return {"status": "recorded"}

@app.post("/events/incident")
async def record_incident(event: IncidentEvent):
    """Record an incident event."""
    await db.execute("""
        INSERT INTO incidents (incident_id, service, severity, detected_at, resolved_at)
        VALUES ($1, $2, $3, $4, $5)
        ON CONFLICT (incident_id) DO UPDATE SET resolved_at = $5
    """, event.incident_id, event.service, event.severity,
       event.detected_at, event.resolved_at)
    return {"status": "recorded"}

@app.get("/metrics/dora/{service}")
async def get_dora_metrics(service: str, days: int = 30):
    """Get all DORA metrics for a service."""

    start_date = datetime.utcnow() - timedelta(days=days)

    # Deployment Frequency
    df_result = await db.fetchrow("""
        SELECT COUNT(*) as count
        FROM deployments
        WHERE service = $1 AND environment = 'production'
          AND deployed_at >= $2
    """, service, start_date)
    deployment_frequency = df_result['count'] / days

    # Lead Time
    lt_result = await db.fetchrow("""
        SELECT
            AVG(EXTRACT(EPOCH FROM (deployed_at - commit_timestamp))) as avg_seconds,
            PERCENTILE_CONT(0.5) WITHIN GROUP (ORDER BY EXTRACT(EPOCH FROM (deployed_at - commit_timestamp))) as median_seconds
        FROM deployments
        WHERE service = $1 AND environment = 'production'
          AND deployed_at >= $2
    """, service, start_date)

    # Change Failure Rate
    cfr_result = await db.fetchrow("""
        SELECT
            COUNT(*) FILTER (WHERE is_rollback OR is_hotfix) as failed,
            COUNT(*) as total
        FROM deployments
        WHERE service = $1 AND environment = 'production'
          AND deployed_at >= $2
    """, service, start_date)
    cfr = (cfr_result['failed'] / cfr_result['total'] * 100) if cfr_result['total'] > 0 else 0

    # MTTR
    mttr_result = await db.fetchrow("""
        SELECT AVG(EXTRACT(EPOCH FROM (resolved_at - detected_at))) / 60 as avg_minutes
        FROM incidents
        WHERE service = $1 AND resolved_at IS NOT NULL
          AND detected_at >= $2
    """, service, start_date)

    return {
        "service": service,
        "period_days": days,
        "metrics": {
            "deployment_frequency": {
                "value": round(deployment_frequency, 2),
                "unit": "per_day",
                "rating": classify_df(deployment_frequency)
            },
            "lead_time": {
                "mean_hours": round(lt_result['avg_seconds'] / 3600, 2) if lt_result['avg_seconds'] else None,
                "median_hours": round(lt_result['median_seconds'] / 3600, 2) if lt_result['median_seconds'] else None,
                "rating": classify_lt(lt_result['avg_seconds'] / 3600) if lt_result['avg_seconds'] else None
            },
            "change_failure_rate": {
                "value": round(cfr, 2),
                "unit": "percent",
                "rating": classify_cfr(cfr)
            },
            "mttr": {
                "value": round(mttr_result['avg_minutes'], 2) if mttr_result['avg_minutes'] else None,
                "unit": "minutes",
                "rating": classify_mttr(mttr_result['avg_minutes']) if mttr_result['avg_minutes'] else None
            }
        }
    }

def classify_df(deploys_per_day: float) -> str:
    if deploys_per_day >= 1:
        return "elite"
    elif deploys_per_day >= 1/7:  # weekly
        return "high"
    elif deploys_per_day >= 1/30:  # monthly
        return "medium"
    return "low"

def classify_lt(hours: float) -> str:
    if hours < 1:
        return "elite"
    elif hours < 24 * 7:  # 1 week
        return "high"
    elif hours < 24 * 30 * 6:  # 6 months
        return "medium"
    return "low"

def classify_cfr(rate: float) -> str:
    if rate <= 15:
        return "elite"
    elif rate <= 30:
        return "high"
    elif rate <= 45:
        return "medium"
    return "low"

def classify_mttr(minutes: float) -> str:
    if minutes < 60:
        return "elite"
    elif minutes < 60 * 24:  # 1 day
        return "high"
    elif minutes < 60 * 24 * 7:  # 1 week
        return "medium"
    return "low"
# --- end of seed 001 ---


# What the seed leaves out: the `db` its endpoints use, as a connection pool.
db = None


@asynccontextmanager
async def lifespan(_app):
    """Opens the pool before the first request and closes it on shutdown."""
    global db
    db = await asyncpg.create_pool(
        os.environ["DATABASE_URL"],
        min_size=int(os.environ.get("DB_POOL_MIN", "10")),
        max_size=int(os.environ.get("DB_POOL_MAX", "10")),
    )
    try:
        yield
    finally:
        await db.close()


app.router.lifespan_context = lifespan


@app.get("/healthz")
async def healthz():
    """Readiness for the harness (not part of the seed)."""
    return {"status": "ok"}
