//! The report benchmark's data set, shared by `benches/core.rs` (SQLite) and
//! `examples/pg_bench.rs` (PostgreSQL) so both stores are measured on the
//! same events: `n` deployments over a year (10 changes each, one job in 50
//! failed, rollbacks and hotfixes) and `n / 10` incidents of every cause,
//! linked by id, by commit sha and by time. Deterministic for a given `n`.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeZone, Utc};
use dorameter::event::{
    Change, Deployment, DeploymentKind, DeploymentStatus, Incident, IncidentCause, LeadTimeFrom,
    Remediation, RemediationReason,
};
use dorameter::store::Store;

/// 2022-01-01T00:00:00Z: the first deployment.
pub const EPOCH: i64 = 1_640_995_200;
/// The data set spans a year.
pub const SPAN: i64 = 365 * 86_400;
pub const DAY: i64 = 86_400;

/// xorshift64: reproducible data without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn sha(&mut self) -> String {
        format!(
            "{:016x}{:016x}{:08x}",
            self.next(),
            self.next(),
            self.next() as u32
        )
    }
}

pub fn at(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(secs, 0).single().expect("valid time")
}

/// Writes the data set through the store's own write path, in one
/// transaction. Returns how many deployments succeeded (each has 10 changes).
pub fn populate(store: &mut dyn Store, n: usize) -> usize {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ n as u64);
    let interval = SPAN / n as i64;
    let mut ids: Vec<String> = Vec::with_capacity(n);
    let mut change_shas: Vec<String> = Vec::with_capacity(n);
    store
        .write(&mut |tx| {
            let mut previous: Option<(String, String)> = None;
            for i in 0..n {
                let finished = EPOCH + i as i64 * interval + 30;
                let id = format!("bench-dep-{i:07}");
                let failed_job = i % 50 == 7;
                let changes: Vec<Change> = (0..10)
                    .map(|_| {
                        let lead = 60 + rng.below(7 * DAY as u64) as i64;
                        Change {
                            sha: rng.sha(),
                            authored_at: at(finished - lead),
                            committed_at: at(finished - lead + 30),
                            lead_time_seconds: lead,
                        }
                    })
                    .collect();
                let (kind, remediates) = match (&previous, i % 40) {
                    (Some((prev, _)), 13) if !failed_job => (
                        DeploymentKind::Rollback,
                        vec![Remediation {
                            deployment_id: prev.clone(),
                            reason: RemediationReason::Rollback,
                            commit: None,
                        }],
                    ),
                    (Some((prev, _)), 33) if !failed_job => (
                        DeploymentKind::Rollforward,
                        vec![Remediation {
                            deployment_id: prev.clone(),
                            reason: RemediationReason::Hotfix,
                            commit: None,
                        }],
                    ),
                    _ => (DeploymentKind::Planned, Vec::new()),
                };
                let d = Deployment {
                    id: id.clone(),
                    service: "bench".into(),
                    env: "production".into(),
                    repository_url: Some("https://example.com/bench.git".into()),
                    sha: changes[0].sha.clone(),
                    previous_sha: previous.as_ref().map(|(_, sha)| sha.clone()),
                    started_at: at(finished - 300),
                    finished_at: at(finished),
                    status: if failed_job {
                        DeploymentStatus::Failure
                    } else {
                        DeploymentStatus::Success
                    },
                    kind,
                    version: Some(format!("v1.{i}")),
                    ref_name: None,
                    team: Some("platform".into()),
                    pipeline_id: Some(format!("{}", 100_000 + i)),
                    pipeline_url: None,
                    deployed_by: Some("ci".into()),
                    tags: BTreeMap::new(),
                    lead_time_from: LeadTimeFrom::Author,
                    lead_time_note: None,
                    clamped_changes: 0,
                    truncated: false,
                    changes: if failed_job { Vec::new() } else { changes },
                    remediates,
                };
                assert!(tx.insert_deployment(&d)?, "fresh id");
                if !failed_job {
                    change_shas.push(d.changes[5].sha.clone());
                    previous = Some((id.clone(), d.sha.clone()));
                }
                ids.push(id);
            }
            for k in 0..n / 10 {
                let started = EPOCH + rng.below(SPAN as u64) as i64;
                let resolved =
                    (k % 20 != 3).then(|| at(started + 600 + rng.below(DAY as u64) as i64));
                // A third linked by id, a third by commit sha, a third by time.
                let (deployment_id, deployment_sha) = match k % 3 {
                    0 => (Some(ids[rng.below(n as u64) as usize].clone()), None),
                    1 => (
                        None,
                        Some(change_shas[rng.below(change_shas.len() as u64) as usize].clone()),
                    ),
                    _ => (None, None),
                };
                tx.upsert_incident(&Incident {
                    id: format!("INC-{k:06}"),
                    services: vec!["bench".into()],
                    env: "production".into(),
                    started_at: at(started),
                    detected_at: Some(at(started + 120)),
                    resolved_at: resolved,
                    severity: Some(format!("SEV{}", 1 + k % 3)),
                    title: Some(format!("incident {k}")),
                    cause: match k % 10 {
                        0..=6 => IncidentCause::Deploy,
                        7 | 8 => IncidentCause::Infra,
                        _ => IncidentCause::Unknown,
                    },
                    deployment_id,
                    deployment_sha,
                })?;
            }
            Ok(())
        })
        .expect("populate the store");
    change_shas.len()
}
