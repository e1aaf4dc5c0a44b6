//! A scripted month for two services deployed from one monorepo: planned
//! deployments, rollbacks, `--hotfix`, hotfix subjects, a `git revert`, a
//! failed deploy job, a redeploy, a clock-skewed commit, a merged branch and
//! incidents of every cause. Every expected value is computed here from the
//! SPEC §3 definitions by a small independent model, then compared with
//! `report --format json`.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde_json::Value;

use crate::util::*;

const TOL: f64 = 0.01;
const ATTRIBUTION: i64 = 24 * HOUR;
/// The window: March 2026, `[03-01, 03-31)`, 30 days.
pub(crate) const SINCE: i64 = BASE;
pub(crate) const UNTIL: i64 = BASE + 30 * DAY;

#[derive(Clone, Copy, Default)]
struct Opts {
    hotfix: bool,
    failure: bool,
    /// Deploy from a `--depth 1` clone with the previous deployed commit
    /// fetched separately at depth 1 (a shallow CI job).
    shallow: bool,
}

const PLAIN: Opts = Opts {
    hotfix: false,
    failure: false,
    shallow: false,
};

struct Dep {
    id: String,
    svc: &'static str,
    sha: String,
    finished: i64,
    success: bool,
    /// Non-merge commits shipped, with their (clamped) lead times.
    changes: BTreeMap<String, i64>,
    kind: &'static str,
    remediates: Vec<(String, String)>,
}

struct Inc {
    svc: &'static str,
    started: i64,
    resolved: Option<i64>,
    cause: &'static str,
    deployment: Option<String>,
}

pub(crate) struct Month {
    pub(crate) dm: Dm,
    pub(crate) repo: Repo,
    graph: Graph,
    deps: Vec<Dep>,
    incs: Vec<Inc>,
    /// What `deploy --format json` printed for each deployment id.
    pub(crate) printed: BTreeMap<String, Value>,
}

fn reverted_shas(message: &str) -> Vec<String> {
    message
        .lines()
        .filter_map(|l| l.trim().strip_prefix("This reverts commit "))
        .map(|rest| rest.trim_end_matches('.').trim().to_string())
        .collect()
}

fn subject(message: &str) -> &str {
    message.lines().next().unwrap_or("")
}

/// SPEC §3's default rollforward subject rule, written out by hand: a
/// subject that starts with `Revert "`, `revert:`, `hotfix` or `hot-fix`
/// (any case), or a merge of a `hotfix/` branch.
fn subject_rule(message: &str) -> Option<&'static str> {
    let s = subject(message).to_lowercase();
    let starts = ["revert \"", "revert:", "hotfix", "hot-fix"]
        .iter()
        .any(|p| s.starts_with(p));
    let merge = s.starts_with("merge ")
        && [
            "/hotfix/",
            "'hotfix/",
            " hotfix/",
            "/hot-fix/",
            "'hot-fix/",
            " hot-fix/",
        ]
        .iter()
        .any(|p| s.contains(p));
    match (starts || merge, s.starts_with("revert")) {
        (false, _) => None,
        (true, true) => Some("revert_subject"),
        (true, false) => Some("hotfix_subject"),
    }
}

impl Month {
    fn new() -> Month {
        Month {
            dm: Dm::default(),
            repo: Repo::new(),
            graph: Graph::default(),
            deps: vec![],
            incs: vec![],
            printed: BTreeMap::new(),
        }
    }

    fn learn(&mut self, sha: &str) -> String {
        self.graph.add(self.repo.info(sha));
        sha.to_string()
    }

    fn commit(&mut self, msg: &str, author: i64, committer: i64) -> String {
        let sha = self.repo.commit(msg, author, committer);
        self.learn(&sha)
    }

    fn dep(&self, id: &str) -> &Dep {
        self.deps
            .iter()
            .find(|d| d.id == id)
            .unwrap_or_else(|| panic!("no deployment {id} in the script"))
    }

    /// The latest successful deployment of `svc` finished before `t`.
    fn latest_before(&self, svc: &str, t: i64) -> Option<&Dep> {
        self.deps
            .iter()
            .filter(|d| d.svc == svc && d.success && d.finished < t)
            .max_by_key(|d| d.finished)
    }

    /// Records a deployment of `rev` (HEAD when None) with the model's
    /// expectations checked against the deploy JSON.
    fn deploy(&mut self, svc: &'static str, id: &str, rev: Option<&str>, finished: i64, o: Opts) {
        let sha = match rev {
            Some(r) => r.to_string(),
            None => self.repo.head(),
        };
        let mut extra = vec![];
        if o.hotfix {
            extra.push("--hotfix");
        }
        if o.failure {
            extra.extend(["--status", "failure"]);
        }
        // A shallow CI job: `--depth 1`, then the previous deployed commit
        // fetched at depth 1 (as `git fetch --tags --depth 1` would).
        let shallow = o.shallow.then(|| {
            let prev = self
                .latest_before(svc, finished)
                .expect("a shallow deploy needs a previous one");
            let tag = format!("prev-of-{id}");
            self.repo.git(&["tag", &tag, &prev.sha], BASE);
            let (dir, clone) = self.repo.clone_with(&["--depth", "1", "--no-tags"], "ci");
            self.repo.git_in(
                &clone,
                &["fetch", "-q", "--depth", "1", "origin", "tag", &tag],
            );
            self.repo.git(&["tag", "-d", &tag], BASE);
            (dir, clone)
        });
        let repo_path = shallow.as_ref().map_or(&self.repo.path, |(_, p)| p);
        let out = self
            .dm
            .deploy_at(repo_path, svc, id, &sha, finished, &extra);
        assert_eq!(out["recorded"], true, "{out}");
        assert_eq!(out["sha"], sha.as_str(), "{out}");
        self.printed.insert(id.to_string(), out.clone());

        if o.failure {
            assert_eq!(out["status"], "failure", "{out}");
            self.deps.push(Dep {
                id: id.to_string(),
                svc,
                sha,
                finished,
                success: false,
                changes: BTreeMap::new(),
                kind: "planned",
                remediates: vec![],
            });
            return;
        }

        // --- the model (SPEC §3) ---
        let prev = self.latest_before(svc, finished);
        let prev_sha = prev.map(|p| p.sha.clone());
        let earlier: Vec<&Dep> = self
            .deps
            .iter()
            .filter(|d| d.svc == svc && d.success && d.finished < finished)
            .collect();
        // Each commit counts once: not the ones an earlier deployment shipped.
        let shipped_before: BTreeSet<&str> = earlier
            .iter()
            .flat_map(|d| d.changes.keys().map(String::as_str).chain([d.sha.as_str()]))
            .collect();
        let mut changes = BTreeMap::new();
        let mut merges = BTreeSet::new();
        if let (Some(p), false) = (&prev_sha, o.shallow) {
            for c in self.graph.changes(p, &sha) {
                if shipped_before.contains(c.as_str()) {
                    continue;
                }
                let lead = (finished - self.graph.commits[&c].author).max(0);
                changes.insert(c, lead);
            }
            merges = self.graph.merges(p, &sha);
        }
        let last_of_sha = earlier
            .iter()
            .filter(|d| d.sha == sha)
            .max_by_key(|d| d.finished);
        let mut kind = "planned";
        let mut rem: Vec<(String, String)> = vec![];
        // A rollback goes to a sha deployed before, and history does not
        // move forward: the previous sha is not an ancestor of it.
        if let (Some(last), Some(p)) = (last_of_sha, &prev_sha)
            && *p != sha
            && !self.graph.ancestors(&sha).contains(p)
        {
            kind = "rollback";
            for d in &earlier {
                if d.finished > last.finished {
                    rem.push((d.id.clone(), "rollback".into()));
                }
            }
        } else if o.hotfix {
            kind = "rollforward";
            rem.push((
                prev.expect("hotfix needs a previous").id.clone(),
                "hotfix".into(),
            ));
        } else {
            let mut subject_hit: Option<&str> = None;
            for c in changes.keys() {
                let msg = &self.graph.commits[c].message;
                let targets = reverted_shas(msg);
                if targets.is_empty() {
                    if let Some(r) = subject_rule(msg) {
                        assert!(
                            subject_hit.is_none_or(|x| x == r),
                            "ambiguous script: two subject rules in {id}"
                        );
                        subject_hit = Some(r);
                    }
                    continue;
                }
                for t in targets {
                    if changes.contains_key(&t) {
                        continue; // reverted in the same deployment
                    }
                    let shipped: Vec<&&Dep> = earlier
                        .iter()
                        .filter(|d| d.changes.contains_key(&t))
                        .collect();
                    assert_eq!(
                        shipped.len(),
                        1,
                        "ambiguous script: {t} reverted in {id} was shipped by {} deployments",
                        shipped.len()
                    );
                    rem.push((shipped[0].id.clone(), "revert".into()));
                }
            }
            if !rem.is_empty() {
                assert!(
                    subject_hit.is_none(),
                    "ambiguous script: revert and subject rule in {id}"
                );
                kind = "rollforward";
            } else if let Some(r) = subject_hit.or_else(|| {
                merges
                    .iter()
                    .find_map(|c| subject_rule(&self.graph.commits[c].message))
            }) {
                kind = "rollforward";
                rem.push((prev.expect("needs a previous").id.clone(), r.into()));
            }
        }
        rem.sort();

        // --- compare with the deploy output ---
        match &prev_sha {
            Some(p) => assert_eq!(out["previous_sha"], p.as_str(), "{id}: {out}"),
            None => assert!(out["previous_sha"].is_null(), "{id}: {out}"),
        }
        let got: BTreeSet<String> = change_shas(&out);
        let want: BTreeSet<String> = changes.keys().cloned().collect();
        assert_eq!(got, want, "{id}: changes");
        let lts = change_lead_times(&out);
        for (c, lead) in &changes {
            assert_f(
                lts[c],
                *lead as f64,
                TOL,
                &format!("{id}: lead time of {c}"),
            );
        }
        let clamped = changes
            .keys()
            .filter(|c| self.graph.commits[*c].author > finished)
            .count();
        assert_eq!(out["clamped_changes"], clamped, "{id}: {out}");
        assert_eq!(out["kind"], kind, "{id}: {out}");
        assert_eq!(remediates(&out), rem, "{id}: remediates");
        if changes.is_empty() {
            assert!(out["lead_time"].is_null(), "{id}: {out}");
            if o.shallow {
                assert_eq!(out["lead_time_note"], "shallow_history", "{id}: {out}");
                let warned = out["warnings"].to_string();
                assert!(warned.contains("fetch-depth: 0"), "{id}: {out}");
            } else if prev_sha.is_none() {
                assert_eq!(out["lead_time_note"], "no_previous_deployment", "{id}");
            } else if kind == "planned" {
                assert_eq!(out["lead_time_note"], "no_new_changes", "{id}");
            }
        } else {
            assert_eq!(out["lead_time"]["changes"], changes.len(), "{id}: {out}");
            assert!(out["lead_time_note"].is_null(), "{id}: {out}");
        }

        self.deps.push(Dep {
            id: id.to_string(),
            svc,
            sha,
            finished,
            success: true,
            changes,
            kind,
            remediates: rem,
        });
    }

    fn incident(
        &mut self,
        id: &str,
        svc: &'static str,
        cause: &'static str,
        started: i64,
        resolved: Option<i64>,
        deployment: Option<&str>,
    ) {
        let started_s = rfc(started);
        let mut args = vec![
            "incident",
            "open",
            "--id",
            id,
            "--service",
            svc,
            "--cause",
            cause,
            "--started-at",
            started_s.as_str(),
        ];
        if let Some(d) = deployment {
            args.extend(["--deployment", d]);
        }
        // Half of the resolved incidents arrive resolved in one event, the
        // other half are opened and then resolved (upsert).
        let one_shot = self.incs.len() % 2 == 0;
        let resolved_s = resolved.map(rfc);
        if let (true, Some(r)) = (one_shot, &resolved_s) {
            args.extend(["--resolved-at", r.as_str()]);
        }
        let out = self.dm.json(&args);
        assert_eq!(out["cause"], cause, "{out}");
        if let (false, Some(r)) = (one_shot, &resolved_s) {
            let out = self
                .dm
                .json(&["incident", "resolve", "--id", id, "--resolved-at", r]);
            assert_eq!(ts(&out["resolved_at"]), resolved.unwrap(), "{out}");
        }
        self.incs.push(Inc {
            svc,
            started,
            resolved,
            cause,
            deployment: deployment.map(str::to_string),
        });
    }

    /// The deployment an incident is linked to (explicit, else attribution).
    fn linked(&self, inc: &Inc) -> Option<String> {
        if let Some(d) = &inc.deployment {
            return Some(d.clone());
        }
        self.latest_before(inc.svc, inc.started)
            .filter(|d| inc.started - d.finished <= ATTRIBUTION)
            .map(|d| d.id.clone())
    }

    pub(crate) fn expected(&self, svc: &str) -> Expected {
        let in_window: Vec<&Dep> = self
            .deps
            .iter()
            .filter(|d| d.svc == svc && d.success && d.finished >= SINCE && d.finished < UNTIL)
            .collect();
        let n = in_window.len();
        // Failed: marked by any remediation, or linked to a deploy/unknown incident.
        let mut failed: BTreeSet<String> = BTreeSet::new();
        let mut remedy: HashMap<String, Vec<i64>> = HashMap::new();
        let mut remedy_with_infra: HashMap<String, Vec<i64>> = HashMap::new();
        for d in self.deps.iter().filter(|d| d.svc == svc && d.success) {
            for (target, _) in &d.remediates {
                failed.insert(target.clone());
                remedy.entry(target.clone()).or_default().push(d.finished);
                remedy_with_infra
                    .entry(target.clone())
                    .or_default()
                    .push(d.finished);
            }
        }
        for inc in self.incs.iter().filter(|i| i.svc == svc) {
            let Some(target) = self.linked(inc) else {
                continue;
            };
            if inc.cause != "infra" {
                failed.insert(target.clone());
                if let Some(r) = inc.resolved {
                    remedy.entry(target.clone()).or_default().push(r);
                }
            }
            if let Some(r) = inc.resolved {
                remedy_with_infra.entry(target).or_default().push(r);
            }
        }
        let failed_in_window: Vec<&&Dep> = in_window
            .iter()
            .filter(|d| failed.contains(&d.id))
            .collect();
        let recovery = |m: &HashMap<String, Vec<i64>>| -> Vec<f64> {
            failed_in_window
                .iter()
                .filter_map(|d| {
                    m.get(&d.id)
                        .and_then(|v| v.iter().min())
                        .map(|t| (t - d.finished) as f64)
                })
                .collect()
        };
        let fdrt = recovery(&remedy);
        assert_eq!(
            fdrt,
            recovery(&remedy_with_infra),
            "ambiguous script: an infra incident would change recovery times of {svc}"
        );
        // Each commit counts once, at the first successful deployment on the
        // timeline (finished, then recording order) that shipped it.
        let mut timeline: Vec<(usize, &Dep)> = self
            .deps
            .iter()
            .enumerate()
            .filter(|(_, d)| d.svc == svc && d.success)
            .collect();
        timeline.sort_by_key(|(i, d)| (d.finished, *i));
        let mut seen: BTreeSet<&str> = BTreeSet::new();
        let mut leads: Vec<f64> = Vec::new();
        for (_, d) in timeline {
            for (c, lead) in &d.changes {
                if seen.insert(c.as_str()) && d.finished >= SINCE && d.finished < UNTIL {
                    leads.push(*lead as f64);
                }
            }
            seen.insert(d.sha.as_str());
        }
        let incs: Vec<&Inc> = self
            .incs
            .iter()
            .filter(|i| i.svc == svc && i.started >= SINCE && i.started < UNTIL)
            .collect();
        let ttr: Vec<f64> = incs
            .iter()
            .filter_map(|i| i.resolved.map(|r| (r - i.started) as f64))
            .collect();
        assert!(
            self.incs
                .iter()
                .filter(|i| i.svc == svc && i.resolved.is_none())
                .all(|i| i.started >= SINCE && i.started < UNTIL),
            "ambiguous script: open incidents outside the window"
        );
        let open = incs.iter().filter(|i| i.resolved.is_none()).count();
        let rework = in_window
            .iter()
            .filter(|d| d.kind == "rollback" || d.kind == "rollforward")
            .count();
        Expected {
            deployments: n,
            per_day: n as f64 / 30.0,
            leads,
            failed: failed_in_window.len(),
            fdrt,
            ttr,
            open,
            rework,
            failed_ids: failed_in_window.iter().map(|d| d.id.clone()).collect(),
        }
    }
}

pub(crate) struct Expected {
    pub(crate) deployments: usize,
    per_day: f64,
    leads: Vec<f64>,
    failed: usize,
    fdrt: Vec<f64>,
    ttr: Vec<f64>,
    open: usize,
    rework: usize,
    pub(crate) failed_ids: Vec<String>,
}

fn classic_rate(per_day: f64) -> &'static str {
    if per_day >= 1.0 {
        "elite"
    } else if per_day >= 1.0 / 7.0 {
        "high"
    } else if per_day >= 1.0 / 30.0 {
        "medium"
    } else {
        "low"
    }
}

fn classic_duration(seconds: f64) -> &'static str {
    if seconds < HOUR as f64 {
        "elite"
    } else if seconds < DAY as f64 {
        "high"
    } else if seconds < 7.0 * DAY as f64 {
        "medium"
    } else {
        "low"
    }
}

fn classic_cfr(percent: f64) -> &'static str {
    if percent <= 15.0 {
        "elite"
    } else if percent <= 30.0 {
        "high"
    } else if percent <= 45.0 {
        "medium"
    } else {
        "low"
    }
}

#[track_caller]
fn assert_stats(metric: &Value, samples: &[f64], what: &str) {
    assert_opt_close(
        &metric["p50"],
        percentile(samples, 0.5),
        TOL,
        &format!("{what} p50"),
    );
    assert_opt_close(
        &metric["p95"],
        percentile(samples, 0.95),
        TOL,
        &format!("{what} p95"),
    );
    assert_opt_close(&metric["mean"], mean(samples), TOL, &format!("{what} mean"));
    assert_opt_close(
        &metric["value"],
        percentile(samples, 0.5),
        TOL,
        &format!("{what} value"),
    );
}

fn check_report(r: &Value, svc: &str, e: &Expected) {
    let ctx = format!("{svc}: expected failed {:?}", e.failed_ids);
    assert_eq!(r["service"], svc);
    assert_eq!(r["env"], "production");
    assert_eq!(ts(&r["window"]["start"]), SINCE);
    assert_eq!(ts(&r["window"]["end"]), UNTIL);
    assert_close(&r["window"]["days"], 30.0, 1e-9, "window.days");
    let m = &r["metrics"];

    let df = &m["deployment_frequency"];
    assert_eq!(df["deployments"], e.deployments, "{svc}: {df}");
    assert_close(&df["value"], e.per_day, 1e-3, &format!("{svc} per_day"));
    assert_eq!(df["unit"], "per_day");
    assert_eq!(df["level"], classic_rate(e.per_day), "{svc}: {df}");

    let lt = &m["lead_time_for_changes"];
    assert_eq!(lt["changes"], e.leads.len(), "{svc}: {lt}");
    assert_stats(lt, &e.leads, &format!("{svc} lead time"));
    let p50 = percentile(&e.leads, 0.5).expect("lead samples");
    assert_eq!(lt["level"], classic_duration(p50), "{svc}: {lt}");

    let cfr = &m["change_failure_rate"];
    let cfr_value = round2(100.0 * e.failed as f64 / e.deployments as f64);
    assert_eq!(cfr["failed_deployments"], e.failed, "{ctx}: {cfr}");
    assert_eq!(cfr["total_deployments"], e.deployments, "{svc}: {cfr}");
    assert_close(&cfr["value"], cfr_value, TOL, &format!("{svc} cfr"));
    assert_eq!(cfr["unit"], "percent");
    assert_eq!(cfr["level"], classic_cfr(cfr_value), "{svc}: {cfr}");

    let ttr = &m["time_to_restore"];
    assert_stats(ttr, &e.ttr, &format!("{svc} time to restore"));
    assert_eq!(ttr["open_incidents"], e.open, "{svc}: {ttr}");
    let incidents = ttr["incidents"].as_u64().expect("incidents") as usize;
    assert!(
        incidents == e.ttr.len() || incidents == e.ttr.len() + e.open,
        "{svc}: incidents {incidents}, expected {} resolved (+{} open)",
        e.ttr.len(),
        e.open
    );
    let ttr_p50 = percentile(&e.ttr, 0.5).expect("ttr samples");
    assert_eq!(ttr["level"], classic_duration(ttr_p50), "{svc}: {ttr}");

    let f = &m["failed_deployment_recovery_time"];
    assert_stats(f, &e.fdrt, &format!("{svc} failed deployment recovery"));
    let fd = f["failed_deployments"]
        .as_u64()
        .expect("failed_deployments") as usize;
    assert!(
        fd == e.failed || fd == e.fdrt.len(),
        "{ctx}: recovery failed_deployments {fd}, expected {} failed / {} recovered",
        e.failed,
        e.fdrt.len()
    );

    let rw = &m["rework_rate"];
    assert_eq!(rw["remediation_deployments"], e.rework, "{svc}: {rw}");
    assert_eq!(rw["total_deployments"], e.deployments, "{svc}: {rw}");
    assert_close(
        &rw["value"],
        round2(100.0 * e.rework as f64 / e.deployments as f64),
        TOL,
        &format!("{svc} rework"),
    );
    assert_eq!(rw["unit"], "percent");
}

/// The script: 2026-02-27 first deployments, then every day of March (and
/// April 1st) two commits, `api` deploying on weekdays at 14:00 and `web` on
/// even days at 17:00, with the special events on their days.
pub(crate) fn script() -> Month {
    let mut m = Month::new();
    m.commit("chore: initial import", at(-2, 9, 0), at(-2, 9, 0));
    m.deploy("api", "api-init", None, at(-2, 12, 0), PLAIN);
    m.deploy("web", "web-init", None, at(-2, 13, 0), PLAIN);

    let mut risky = String::new();
    for d in 0..=31 {
        if d == 2 {
            m.repo.checkout_branch("feature-search");
            m.commit("feat(search): index", at(2, 7, 10), at(2, 7, 10));
            m.commit("feat(search): query", at(2, 7, 20), at(2, 7, 40));
            m.repo.checkout("main");
        }
        // Some commits rewritten later (rebase, amend): committer after author.
        let skew = (d % 3) * 30 * MIN;
        m.commit(
            &format!("feat: day {d} morning"),
            at(d, 8, 0),
            at(d, 8, 0) + skew,
        );
        let late = m.commit(
            &format!("feat: day {d} late morning"),
            at(d, 10, 30),
            at(d, 10, 30) + skew,
        );
        if d == 2 {
            let merge = m.repo.merge(
                "feature-search",
                "Merge branch 'feature-search'",
                at(2, 11, 0),
            );
            m.learn(&merge);
        }
        if d == 10 {
            risky = late;
        }
        if d == 17 {
            // A laptop with its clock 8 hours ahead.
            m.commit("feat: clock-skewed laptop", at(17, 22, 0), at(17, 22, 0));
        }

        // api
        if d == 30 {
            let s = m.dep("api-d28").sha.clone();
            m.deploy("api", "api-d30-rollback", Some(&s), at(30, 9, 0), PLAIN);
        }
        if d == 15 {
            let o = Opts {
                failure: true,
                ..PLAIN
            };
            m.deploy("api", "api-d15-failed-job", None, at(15, 13, 0), o);
        }
        if d % 7 != 5 && d % 7 != 6 {
            m.deploy("api", &format!("api-d{d:02}"), None, at(d, 14, 0), PLAIN);
        }
        match d {
            3 => {
                let s = m.dep("api-d01").sha.clone();
                m.deploy("api", "api-d03-rollback", Some(&s), at(3, 16, 0), PLAIN);
                // Fixed elsewhere: the rolled-back sha goes out again. It
                // moves forward (planned, marks nothing) and its commits
                // were shipped by api-d02 and api-d03 already.
                let s = m.dep("api-d03").sha.clone();
                m.deploy("api", "api-d03-redeploy", Some(&s), at(3, 17, 0), PLAIN);
                assert_eq!(m.dep("api-d03-redeploy").kind, "planned");
                assert!(m.dep("api-d03-redeploy").changes.is_empty());
            }
            9 => {
                // Names the word, is no hotfix (SPEC §3's default pattern).
                m.commit(
                    "docs: describe the hotfix branching process",
                    at(9, 12, 0),
                    at(9, 12, 0),
                );
            }
            24 => {
                // A hotfix branch merged: the merge's subject names it.
                m.repo.checkout_branch("hotfix/login-timeout");
                m.commit("fix: login timeout", at(24, 11, 0), at(24, 11, 0));
                m.repo.checkout("main");
                let merge = m.repo.merge(
                    "hotfix/login-timeout",
                    "Merge branch 'hotfix/login-timeout'",
                    at(24, 11, 30),
                );
                m.learn(&merge);
            }
            26 => {
                // Recorded out of order: the later deployment first, then
                // its ancestor, which finished earlier.
                let b = m.repo.head();
                m.deploy("api", "api-d26-b", Some(&b), at(26, 15, 0), PLAIN);
                let a = m.repo.rev_parse("HEAD~1");
                m.deploy("api", "api-d26-a", Some(&a), at(26, 13, 0), PLAIN);
            }
            8 => {
                m.commit("hotfix: login redirect", at(8, 15, 0), at(8, 15, 0));
                m.deploy("api", "api-d08-fix", None, at(8, 15, 30), PLAIN);
            }
            11 => {
                let r = m.repo.revert(&risky, at(11, 15, 0));
                m.learn(&r);
                m.deploy("api", "api-d11-revert", None, at(11, 18, 0), PLAIN);
            }
            14 => {
                m.commit("fix: null check in parser", at(14, 15, 0), at(14, 15, 0));
                let o = Opts {
                    hotfix: true,
                    ..PLAIN
                };
                m.deploy("api", "api-d14-hotfix", None, at(14, 16, 0), o);
            }
            _ => {}
        }

        // web
        if d % 2 == 0 {
            // Day 28's job runs in a shallow clone.
            let o = Opts {
                shallow: d == 28,
                ..PLAIN
            };
            m.deploy("web", &format!("web-d{d:02}"), None, at(d, 17, 0), o);
        }
        if d == 16 {
            let s = m.dep("web-d16").sha.clone();
            m.deploy("web", "web-d16-again", Some(&s), at(16, 18, 0), PLAIN);
        }
        if d == 22 {
            let s = m.dep("web-d18").sha.clone();
            m.deploy("web", "web-d22-rollback", Some(&s), at(22, 19, 0), PLAIN);
        }
    }

    // Incidents: six of each cause, attributed, unattributed (> 24h after
    // the last deployment), explicit, open, and one after the window.
    let i = |d, h, mi| Some(at(d, h, mi));
    m.incident("api-1", "api", "deploy", at(9, 15, 0), i(9, 15, 45), None);
    m.incident("api-2", "api", "unknown", at(16, 20, 0), i(17, 1, 0), None);
    m.incident("api-3", "api", "infra", at(5, 20, 0), i(5, 23, 0), None);
    m.incident("api-4", "api", "infra", at(21, 16, 0), i(21, 16, 20), None);
    m.incident(
        "api-5",
        "api",
        "deploy",
        at(23, 15, 0),
        i(23, 18, 0),
        Some("api-d22"),
    );
    m.incident("api-6", "api", "unknown", at(24, 15, 0), None, None);
    m.incident("api-7", "api", "infra", at(12, 10, 0), i(12, 13, 0), None);
    m.incident("api-8", "api", "deploy", at(13, 20, 0), i(14, 2, 0), None);
    m.incident(
        "api-9",
        "api",
        "unknown",
        at(25, 15, 0),
        i(25, 15, 20),
        None,
    );
    m.incident("api-10", "api", "infra", at(27, 10, 0), None, None);
    m.incident("web-1", "web", "deploy", at(4, 18, 0), i(4, 19, 30), None);
    m.incident(
        "web-2",
        "web",
        "unknown",
        at(14, 18, 30),
        i(14, 20, 0),
        None,
    );
    m.incident("web-3", "web", "infra", at(18, 18, 0), i(18, 18, 30), None);
    m.incident("web-4", "web", "infra", at(25, 9, 0), i(25, 10, 0), None);
    m.incident("web-5", "web", "unknown", at(7, 2, 0), i(7, 3, 0), None);
    // After the window, explicitly linked to a deployment inside it.
    m.incident(
        "web-6",
        "web",
        "deploy",
        at(30, 10, 0),
        i(30, 12, 0),
        Some("web-d28"),
    );
    m.incident("web-7", "web", "unknown", at(20, 20, 0), i(21, 8, 0), None);
    m.incident("web-8", "web", "deploy", at(11, 9, 0), i(11, 9, 30), None);

    // Backfill after real deployments: tags on shas `deploy` recorded are the
    // same deployments (skipped), and a release candidate is excluded.
    let d04 = m.dep("api-d04").sha.clone();
    let d11 = m.dep("api-d11").sha.clone();
    m.repo.lightweight_tag("v1.4.0", &d04);
    m.repo.lightweight_tag("v1.11.0", &d11);
    m.repo.lightweight_tag("v1.11.0-rc1", &format!("{d11}~1"));
    let repo = m.repo.path.display().to_string();
    let out = m.dm.json(&[
        "backfill",
        "--from-tags",
        "v*",
        "--exclude",
        "*-rc*",
        "--service",
        "api",
        "--repo",
        &repo,
    ]);
    assert_eq!(
        (
            &out["tags"],
            &out["recorded"],
            &out["skipped"],
            &out["excluded"]
        ),
        (&2.into(), &0.into(), &2.into(), &1.into()),
        "{out}"
    );
    m
}

#[test]
fn a_scripted_month_for_two_services() {
    let m = script();

    // The script is what it claims to be.
    let successful = m.deps.iter().filter(|d| d.success).count();
    assert!(successful >= 30, "{successful} deployments");
    for cause in ["deploy", "infra", "unknown"] {
        assert!(m.incs.iter().filter(|i| i.cause == cause).count() >= 5);
    }
    for kind in ["rollback", "rollforward"] {
        assert!(m.deps.iter().any(|d| d.kind == kind));
    }
    let reasons: BTreeSet<&str> = m
        .deps
        .iter()
        .flat_map(|d| d.remediates.iter().map(|(_, r)| r.as_str()))
        .collect();
    assert_eq!(
        reasons,
        ["hotfix", "hotfix_subject", "revert", "rollback"]
            .into_iter()
            .collect()
    );

    let since = rfc(SINCE);
    let until = rfc(UNTIL);
    let mut by_service = BTreeMap::new();
    for svc in ["api", "web"] {
        let e = m.expected(svc);
        // Failed by events after the window: api-d29 (rolled back on 03-31),
        // web-d28 (an incident on 03-31).
        let late = if svc == "api" { "api-d29" } else { "web-d28" };
        assert!(e.failed_ids.iter().any(|id| id == late), "{svc}");
        assert!(e.failed > 0 && e.failed < e.deployments, "{svc}");
        assert!(!e.fdrt.is_empty() && e.open <= 2, "{svc}");
        let r = m.dm.report(svc, SINCE, UNTIL, &[]);
        assert_eq!(r["bands"], "classic");
        check_report(&r, svc, &e);

        // --window 30d ends at now: same numbers when now is the window end.
        let at_end = Dm::new(UNTIL).with_store(&m.dm.store_url());
        let w = at_end.json(&["report", "--service", svc, "--window", "30d"]);
        assert_eq!(ts(&w["window"]["start"]), SINCE, "{w}");
        assert_eq!(ts(&w["window"]["end"]), UNTIL, "{w}");
        check_report(&w, svc, &e);

        // Another band table changes levels, never values.
        let b = m.dm.report(svc, SINCE, UNTIL, &["--bands", "dora-2023"]);
        assert_eq!(b["bands"], "dora-2023");
        let levels = ["elite", "high", "medium", "low"];
        for metric in [
            "deployment_frequency",
            "lead_time_for_changes",
            "change_failure_rate",
        ] {
            let level = b["metrics"][metric]["level"].as_str();
            assert!(
                level.is_some_and(|l| levels.contains(&l)),
                "{svc} {metric} dora-2023 level: {}",
                b["metrics"][metric]
            );
            assert_eq!(
                b["metrics"][metric]["value"], r["metrics"][metric]["value"],
                "{svc} {metric}: bands change levels only"
            );
        }
        for (metric, body) in b["metrics"].as_object().expect("metrics") {
            if body["value"].is_null() {
                assert!(body["level"].is_null(), "{svc} {metric}: {body}");
            }
        }
        by_service.insert(svc, r);
    }

    // Without --service: one object per service.
    let all = m.dm.json(&["report", "--since", &since, "--until", &until]);
    let arr = all.as_array().expect("an array without --service");
    let names: BTreeSet<&str> = arr.iter().filter_map(|o| o["service"].as_str()).collect();
    assert_eq!(names, ["api", "web"].into_iter().collect());
    for o in arr {
        let svc = o["service"].as_str().unwrap();
        assert_eq!(
            o["metrics"], by_service[svc]["metrics"],
            "{svc} in the array"
        );
    }

    // The other formats render the same report.
    let store = m.dm.store_url();
    for format in ["prometheus", "csv", "markdown", "table"] {
        let run = m.dm.run_raw(&[
            "--store", &store, "--format", format, "report", "--since", &since, "--until", &until,
        ]);
        run.assert_ok();
        assert!(!run.stdout.trim().is_empty(), "{format}: empty output");
        for svc in ["api", "web"] {
            assert!(run.stdout.contains(svc), "{format} names {svc}: {run:#?}");
        }
        match format {
            "prometheus" => check_prometheus(&run.stdout),
            "csv" => check_csv(&run.stdout),
            "markdown" => assert!(run.stdout.contains("|---"), "a markdown table"),
            _ => {}
        }
    }
}

/// Every sample line is `name{labels} value` with a finite number: metrics
/// without data are left out, never written as `null`.
fn check_prometheus(text: &str) {
    let mut samples = 0;
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        if let Some(rest) = line.strip_prefix('#') {
            let rest = rest.trim_start();
            assert!(
                rest.starts_with("HELP ") || rest.starts_with("TYPE "),
                "comment line: {line}"
            );
            continue;
        }
        let (series, value) = line.rsplit_once(' ').expect("name and value");
        let name_end = series.find('{').unwrap_or(series.len());
        let name = &series[..name_end];
        assert!(
            !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
                && !name.starts_with(|c: char| c.is_ascii_digit()),
            "metric name: {line}"
        );
        if name_end < series.len() {
            assert!(series.ends_with('}'), "labels: {line}");
        }
        let v: f64 = value
            .parse()
            .unwrap_or_else(|_| panic!("sample value: {line}"));
        assert!(v.is_finite(), "{line}");
        samples += 1;
    }
    assert!(samples > 0, "no samples: {text}");
}

/// A rectangular CSV (RFC 4180 quoting) with a header row.
fn check_csv(text: &str) {
    let rows = parse_csv(text);
    assert!(
        rows.len() >= 3,
        "a header and rows for both services: {text}"
    );
    let width = rows[0].len();
    assert!(width >= 2, "{text}");
    for row in &rows {
        assert_eq!(row.len(), width, "ragged CSV row {row:?} in {text}");
    }
    let svc_col = rows[0].iter().position(|h| h == "service");
    if let Some(c) = svc_col {
        let names: BTreeSet<&str> = rows[1..].iter().map(|r| r[c].as_str()).collect();
        assert_eq!(names, ["api", "web"].into_iter().collect(), "{text}");
    }
}

fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut rows = vec![];
    let mut row = vec![];
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut field)),
            (false, '\r') => {}
            (false, '\n') => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            (false, c) => field.push(c),
        }
    }
    if !field.is_empty() || !row.is_empty() {
        row.push(field);
        rows.push(row);
    }
    rows
}

/// The classic table's boundaries (SPEC §3): `≥` for frequency, `<` for
/// durations, `≤` for change failure rate.
#[test]
fn classic_band_boundaries_are_as_specified() {
    let dm = Dm::default();
    let mut repo = Repo::new();
    let c0 = repo.commit_at("feat: zero", at(0, 0, 0));
    let c1 = repo.commit_at("feat: one", at(0, 0, 0));
    // Exactly one hour of lead time, exactly one deployment per day.
    dm.deploy_at(
        &repo.path,
        "edge",
        "edge-1",
        &c1,
        at(0, 1, 0),
        &["--previous-sha", &c0],
    );
    let day = |d: i64| dm.report("edge", at(0, 0, 0), at(d, 0, 0), &[])["metrics"].clone();
    let m = day(1);
    assert_eq!(m["deployment_frequency"]["level"], "elite", "1/day: {m}");
    assert_close(&m["lead_time_for_changes"]["p50"], 3600.0, TOL, "lead");
    assert_eq!(m["lead_time_for_changes"]["level"], "high", "1h: {m}");
    let m = day(7);
    assert_eq!(
        m["deployment_frequency"]["level"], "high",
        "1/7 per day: {m}"
    );
    let m = day(30);
    assert_eq!(m["deployment_frequency"]["level"], "medium", "1/30: {m}");
    let m = day(31);
    assert_eq!(m["deployment_frequency"]["level"], "low", "1/31: {m}");

    // Time to restore of exactly one hour, then exactly one day.
    let incident = |id: &str, svc: &str, started: i64, resolved: i64, extra: &[&str]| {
        let (s, r) = (rfc(started), rfc(resolved));
        let mut args = vec![
            "incident",
            "open",
            "--id",
            id,
            "--service",
            svc,
            "--started-at",
            &s,
            "--resolved-at",
            &r,
        ];
        args.extend_from_slice(extra);
        dm.json(&args);
    };
    incident(
        "ttr-h",
        "ttr-hour",
        at(2, 0, 0),
        at(2, 1, 0),
        &["--cause", "infra"],
    );
    incident(
        "ttr-d",
        "ttr-day",
        at(2, 0, 0),
        at(3, 0, 0),
        &["--cause", "infra"],
    );
    let r = dm.report("ttr-hour", at(0, 0, 0), at(5, 0, 0), &[]);
    assert_eq!(r["metrics"]["time_to_restore"]["level"], "high", "{r}");
    let r = dm.report("ttr-day", at(0, 0, 0), at(5, 0, 0), &[]);
    assert_eq!(r["metrics"]["time_to_restore"]["level"], "medium", "{r}");

    // Change failure rate of exactly 15 %, 30 % and 45 %.
    for (svc, total, failed, level) in [
        ("cfr15", 20, 3, "elite"),
        ("cfr30", 10, 3, "high"),
        ("cfr45", 20, 9, "medium"),
    ] {
        for i in 0..total {
            let id = format!("{svc}-{i:02}");
            dm.deploy_at(&repo.path, svc, &id, &c1, at(1, 0, i), &[]);
        }
        for i in 0..failed {
            let id = format!("{svc}-{i:02}");
            incident(
                &format!("{svc}-inc-{i}"),
                svc,
                at(1, 2, i),
                at(1, 3, 0),
                &["--cause", "deploy", "--deployment", &id],
            );
        }
        let r = dm.report(svc, at(0, 0, 0), at(5, 0, 0), &[]);
        let cfr = &r["metrics"]["change_failure_rate"];
        assert_eq!(cfr["failed_deployments"], failed, "{svc}: {cfr}");
        assert_eq!(cfr["total_deployments"], total, "{svc}: {cfr}");
        let pct = 100.0 * failed as f64 / total as f64;
        assert_close(&cfr["value"], pct, TOL, svc);
        assert_eq!(cfr["level"], level, "{svc}: {cfr}");
    }
}
