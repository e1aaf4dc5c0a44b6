//! The DORA metrics as pure functions over events (SPEC §3), and the band
//! tables that turn them into levels. Nothing here does I/O: the store loads
//! the facts, `report::compute` turns them into a [`Report`].

mod bands;
mod report;
mod stats;

pub use bands::{
    BandTable, Banded, LEVEL_NAMES, Level, RecoveryMetric, band_table, band_table_names,
};
pub use report::{
    ChangeFailureRate, DeploymentFact, DeploymentFrequency, FailedDeployment,
    FailedDeploymentRecoveryTime, FailureCause, IncidentFact, LeadTimeForChanges, Marks, Metrics,
    Report, ReportInput, ReworkRate, TimeToRestore, Window, WindowOut, compute, compute_marked,
    compute_with_failures, earliest_cause, latest_cause_instant, marks, may_have_caused,
};
pub use stats::{Summary, percentile, round_to, summarize};
