//! A write transaction that notes which events it wrote, so the git store
//! can put exactly those on the ref. Every query passes straight through.

use chrono::{DateTime, Utc};

use serde::{Deserialize, Serialize};

use crate::event::{Deployment, Incident, TestRun};
use crate::junit::{Entry, OwnedEntry, TestHistory};
use crate::metrics::Window;
use crate::store::{
    DeploymentRef, FlakyAtSha, PullCommits, ReadTx, ReportFacts, SourcesState, StoreError,
    StoredResult, WriteTx,
};

/// The ids written through a [`Recorder`], and the test runs whole.
#[derive(Debug, Default)]
pub struct Written {
    pub deployments: Vec<String>,
    pub incidents: Vec<String>,
    pub test_runs: Vec<RunFile>,
    /// Import cursors stored: source and value, the last value per source.
    pub cursors: Vec<Cursor>,
    /// Squash commits' requests stored (`--lead-time-source pr`).
    pub pull_commits: Vec<PullCommits>,
    /// The store's sequence number of each run in `test_runs`.
    seqs: Vec<i64>,
    /// The entries of the file being read (with their run's sequence
    /// number), kept only if the file ends well.
    pending: Vec<(i64, OwnedEntry)>,
}

/// A test run as its file on the ref holds it: the header with its counts,
/// and every entry as the report gave it, so loading it replays the same
/// merge rules the first ingestion applied.
#[derive(Debug, Serialize, Deserialize)]
pub struct RunFile {
    pub run: TestRun,
    pub entries: Vec<OwnedEntry>,
}

/// An import cursor as its file on the ref holds it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Cursor {
    pub source: String,
    pub value: String,
}

pub struct Recorder<'a> {
    pub inner: &'a mut dyn WriteTx,
    pub written: &'a mut Written,
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
        from: DateTime<Utc>,
    ) -> Result<ReportFacts, StoreError> {
        self.inner.report_facts(service, env, window, from)
    }
    fn lead_times(&self, service: &str, env: &str, window: Window) -> Result<Vec<i64>, StoreError> {
        self.inner.lead_times(service, env, window)
    }
    fn lead_time_histogram(
        &self,
        service: &str,
        env: &str,
        bounds: &[f64],
    ) -> Result<crate::store::Histogram, StoreError> {
        self.inner.lead_time_histogram(service, env, bounds)
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
    fn deployment_ids(&self) -> Result<Vec<String>, StoreError> {
        self.inner.deployment_ids()
    }
    fn incident_ids(&self) -> Result<Vec<String>, StoreError> {
        self.inner.incident_ids()
    }
    fn test_run_ids(&self) -> Result<Vec<String>, StoreError> {
        self.inner.test_run_ids()
    }
    fn test_runs_at(&self, service: &str, sha: &str) -> Result<Vec<String>, StoreError> {
        self.inner.test_runs_at(service, sha)
    }
    fn test_results(&self, run_id: &str) -> Result<Vec<StoredResult>, StoreError> {
        self.inner.test_results(run_id)
    }
    fn cursor(&self, source: &str) -> Result<Option<String>, StoreError> {
        self.inner.cursor(source)
    }
    fn pull_commits(&self, shas: &[String]) -> Result<Vec<PullCommits>, StoreError> {
        self.inner.pull_commits(shas)
    }
    fn sources_state(&self) -> Result<SourcesState, StoreError> {
        self.inner.sources_state()
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
    fn set_cursor(&mut self, source: &str, value: &str) -> Result<(), StoreError> {
        self.inner.set_cursor(source, value)?;
        self.written.cursors.retain(|c| c.source != source);
        self.written.cursors.push(Cursor {
            source: source.to_string(),
            value: value.to_string(),
        });
        Ok(())
    }
    fn set_pull_commits(&mut self, p: &PullCommits) -> Result<(), StoreError> {
        self.inner.set_pull_commits(p)?;
        self.written.pull_commits.retain(|w| w.sha != p.sha);
        self.written.pull_commits.push(p.clone());
        Ok(())
    }
    fn upsert_incident(&mut self, i: &Incident) -> Result<(), StoreError> {
        self.inner.upsert_incident(i)?;
        if !self.written.incidents.contains(&i.id) {
            self.written.incidents.push(i.id.clone());
        }
        Ok(())
    }
    fn insert_test_run(&mut self, run: &TestRun) -> Result<Option<i64>, StoreError> {
        let seq = self.inner.insert_test_run(run)?;
        if let Some(seq) = seq {
            self.written.test_runs.push(RunFile {
                run: run.clone(),
                entries: Vec::new(),
            });
            self.written.seqs.push(seq);
        }
        Ok(seq)
    }
    fn update_test_run_counts(&mut self, run_seq: i64, run: &TestRun) -> Result<(), StoreError> {
        self.inner.update_test_run_counts(run_seq, run)?;
        if let Some(i) = self.written.seqs.iter().position(|s| *s == run_seq) {
            self.written.test_runs[i].run = run.clone();
        }
        Ok(())
    }
    fn begin_file(&mut self) -> Result<(), StoreError> {
        self.written.pending.clear();
        self.inner.begin_file()
    }
    fn end_file(&mut self, keep: bool) -> Result<(), StoreError> {
        self.inner.end_file(keep)?;
        let pending = std::mem::take(&mut self.written.pending);
        if keep {
            for (seq, entry) in pending {
                if let Some(i) = self.written.seqs.iter().position(|s| *s == seq) {
                    self.written.test_runs[i].entries.push(entry);
                }
            }
        }
        Ok(())
    }
    fn add_test_entry(&mut self, run_seq: i64, e: &Entry<'_>) -> Result<(), StoreError> {
        self.inner.add_test_entry(run_seq, e)?;
        self.written.pending.push((run_seq, OwnedEntry::of(e)));
        Ok(())
    }
}
