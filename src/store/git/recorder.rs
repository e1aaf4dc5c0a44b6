//! A write transaction that notes which events it wrote, so the git store
//! can put exactly those on the ref. Every query passes straight through.

use chrono::{DateTime, Utc};

use crate::event::{Deployment, Incident, TestRun};
use crate::junit::{Entry, TestHistory};
use crate::metrics::Window;
use crate::store::{DeploymentRef, FlakyAtSha, ReadTx, ReportFacts, StoreError, WriteTx};

/// The ids written through a [`Recorder`].
#[derive(Debug, Default)]
pub struct Written {
    pub deployments: Vec<String>,
    pub incidents: Vec<String>,
}

pub struct Recorder<'a> {
    pub inner: &'a mut dyn WriteTx,
    pub written: &'a mut Written,
}

/// Test runs are not kept on the event ref yet: refused with the way out.
fn no_test_runs() -> StoreError {
    StoreError::BadUrl {
        url: "git".into(),
        reason: "the git store does not keep JUnit test runs yet; ingest them into a SQLite or PostgreSQL store (--store sqlite:PATH or postgres://…)".into(),
    }
}

impl ReadTx for Recorder<'_> {
    fn previous_success(
        &self,
        service: &str,
        env: &str,
        at: DateTime<Utc>,
    ) -> Result<Option<DeploymentRef>, StoreError> {
        self.inner.previous_success(service, env, at)
    }
    fn last_success_of_sha(
        &self,
        service: &str,
        env: &str,
        sha: &str,
        at: DateTime<Utc>,
    ) -> Result<Option<DeploymentRef>, StoreError> {
        self.inner.last_success_of_sha(service, env, sha, at)
    }
    fn successes_after(
        &self,
        service: &str,
        env: &str,
        after: &DeploymentRef,
        at: DateTime<Utc>,
    ) -> Result<Vec<DeploymentRef>, StoreError> {
        self.inner.successes_after(service, env, after, at)
    }
    fn successes_before(
        &self,
        service: &str,
        env: &str,
        at: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<DeploymentRef>, StoreError> {
        self.inner.successes_before(service, env, at, limit)
    }
    fn deployment_shipping(
        &self,
        service: &str,
        env: &str,
        sha: &str,
    ) -> Result<Option<DeploymentRef>, StoreError> {
        self.inner.deployment_shipping(service, env, sha)
    }
    fn deployment(&self, id: &str) -> Result<Option<Deployment>, StoreError> {
        self.inner.deployment(id)
    }
    fn incident(&self, id: &str) -> Result<Option<Incident>, StoreError> {
        self.inner.incident(id)
    }
    fn service_envs(&self) -> Result<Vec<(String, String)>, StoreError> {
        self.inner.service_envs()
    }
    fn test_services(&self) -> Result<Vec<String>, StoreError> {
        self.inner.test_services()
    }
    fn has_service(&self, service: &str) -> Result<bool, StoreError> {
        self.inner.has_service(service)
    }
    fn report_facts(
        &self,
        service: &str,
        env: &str,
        window: Window,
    ) -> Result<ReportFacts, StoreError> {
        self.inner.report_facts(service, env, window)
    }
    fn lead_times(&self, service: &str, env: &str, window: Window) -> Result<Vec<i64>, StoreError> {
        self.inner.lead_times(service, env, window)
    }
    fn flaky_at_sha(
        &self,
        service: &str,
        sha: &str,
        limit: usize,
    ) -> Result<Vec<FlakyAtSha>, StoreError> {
        self.inner.flaky_at_sha(service, sha, limit)
    }
    fn test_run(&self, id: &str) -> Result<Option<TestRun>, StoreError> {
        self.inner.test_run(id)
    }
    fn test_history(
        &self,
        service: &str,
        window: Window,
        infra_percent: f64,
    ) -> Result<Vec<TestHistory>, StoreError> {
        self.inner.test_history(service, window, infra_percent)
    }
}

impl WriteTx for Recorder<'_> {
    fn insert_deployment(&mut self, d: &Deployment) -> Result<bool, StoreError> {
        let inserted = self.inner.insert_deployment(d)?;
        if inserted {
            self.written.deployments.push(d.id.clone());
        }
        Ok(inserted)
    }
    fn upsert_incident(&mut self, i: &Incident) -> Result<(), StoreError> {
        self.inner.upsert_incident(i)?;
        if !self.written.incidents.contains(&i.id) {
            self.written.incidents.push(i.id.clone());
        }
        Ok(())
    }
    fn insert_test_run(&mut self, _run: &TestRun) -> Result<Option<i64>, StoreError> {
        Err(no_test_runs())
    }
    fn update_test_run_counts(&mut self, _run_seq: i64, _run: &TestRun) -> Result<(), StoreError> {
        Err(no_test_runs())
    }
    fn begin_file(&mut self) -> Result<(), StoreError> {
        Err(no_test_runs())
    }
    fn end_file(&mut self, _keep: bool) -> Result<(), StoreError> {
        Err(no_test_runs())
    }
    fn add_test_entry(&mut self, _run_seq: i64, _e: &Entry<'_>) -> Result<(), StoreError> {
        Err(no_test_runs())
    }
}
