//! `[[service]] paths` (SPEC §11): a monorepo with three services, where a
//! service's changes are the commits that touch its paths. Expected change
//! sets are written out from the script below, not computed by dorameter.

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::Value;

use crate::util::{DAY, Dm, HOUR, NOW, Repo};

const CONFIG: &str = r#"
[[service]]
name = "api"
paths = ["services/api/**", "libs/shared"]

[[service]]
name = "web"
paths = ["services/web/**", "libs/shared/**", "config/*.toml"]

[[service]]
name = "worker"
paths = ["services/worker"]
"#;

fn write(repo: &Repo, path: &str, text: &str) {
    let p = repo.path.join(path);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
    repo.git(&["add", "-A"], NOW);
}

fn changes(dm: &Dm, id: &str) -> BTreeSet<String> {
    let v = dm.json(&["deployments", "show", id]);
    v["changes"]
        .as_array()
        .unwrap_or_else(|| panic!("{v:#}"))
        .iter()
        .map(|c| c["sha"].as_str().unwrap().to_string())
        .collect()
}

fn set(shas: &[&String]) -> BTreeSet<String> {
    shas.iter().map(|s| s.to_string()).collect()
}

fn deploy(dm: &Dm, repo: &Path, service: &str, id: &str, sha: &str, at: i64) {
    dm.deploy_at(repo, service, id, sha, at, &[]);
}

#[test]
fn each_service_counts_the_commits_that_touch_its_paths() {
    let dm = Dm::default();
    std::fs::write(dm.cwd().join(".dorameter.toml"), CONFIG).unwrap();
    let mut repo = Repo::new();
    let t = NOW - 10 * DAY;
    for f in [
        "services/api/main.go",
        "services/web/app.js",
        "services/worker/old.txt",
        "libs/shared/util.go",
        "README.md",
    ] {
        write(&repo, f, "0\n");
    }
    let c1 = repo.commit_at("init", t);
    write(&repo, "services/api/main.go", "1\n");
    let c2 = repo.commit_at("api: handler", t + HOUR);
    write(&repo, "services/web/app.js", "2\n");
    let c3 = repo.commit_at("web: page", t + 2 * HOUR);
    write(&repo, "libs/shared/util.go", "3\n");
    let c4 = repo.commit_at("shared: helper", t + 3 * HOUR);
    repo.git(
        &["mv", "services/worker/old.txt", "services/api/moved.txt"],
        t + 4 * HOUR,
    );
    let c5 = repo.commit_at("move the job into api", t + 4 * HOUR);
    write(&repo, "README.md", "6\n");
    let c6 = repo.commit_at("docs", t + 5 * HOUR);
    write(&repo, "config/web.toml", "7\n");
    let c7 = repo.commit_at("web config", t + 6 * HOUR);
    // A branch touching web, merged: its commit is web's, the merge is no change.
    repo.checkout_branch("feature");
    write(&repo, "services/web/cart.js", "8\n");
    let c8 = repo.commit_at("web: cart", t + 7 * HOUR);
    repo.checkout("main");
    repo.merge("feature", "Merge branch 'feature'", t + 8 * HOUR);
    let head = repo.head();

    for s in ["api", "web", "worker"] {
        deploy(&dm, &repo.path, s, &format!("{s}-1"), &c1, t + 30 * 60);
    }
    for s in ["api", "web", "worker"] {
        deploy(&dm, &repo.path, s, &format!("{s}-2"), &head, t + 9 * HOUR);
    }
    assert_eq!(changes(&dm, "api-2"), set(&[&c2, &c4, &c5]));
    assert_eq!(changes(&dm, "web-2"), set(&[&c3, &c4, &c7, &c8]));
    // The rename moved a file out of worker's paths: worker's change too.
    assert_eq!(changes(&dm, "worker-2"), set(&[&c5]));
    assert!(
        !changes(&dm, "api-2").contains(&c6),
        "README.md is no service's"
    );

    // The same sets as git's own path-limited log.
    for (id, paths) in [
        ("api-2", &["services/api", "libs/shared"][..]),
        (
            "web-2",
            &["services/web", "libs/shared", "config/*.toml"][..],
        ),
        ("worker-2", &["services/worker"][..]),
    ] {
        let range = format!("{c1}..{head}");
        let mut args = vec![
            "log",
            "--full-history",
            "--no-merges",
            "--format=%H",
            range.as_str(),
            "--",
        ];
        args.extend_from_slice(paths);
        let git: BTreeSet<String> = repo.git(&args, NOW).lines().map(str::to_string).collect();
        assert_eq!(changes(&dm, id), git, "{id}");
    }

    // Lead times: each change from its own commit time.
    let v = dm.json(&["deployments", "show", "worker-2"]);
    assert_eq!(
        v["changes"][0]["lead_time_seconds"].as_i64(),
        Some(5 * 3600),
        "{v:#}"
    );

    // Backfill from tags scopes the same way.
    let dm2 = Dm::default();
    std::fs::write(dm2.cwd().join(".dorameter.toml"), CONFIG).unwrap();
    repo.git(&["tag", "v1", &c1], t);
    repo.git(&["tag", "v2", &head], t);
    let repo_s = repo.path.display().to_string();
    let r: Value = dm2.json(&[
        "backfill",
        "--repo",
        &repo_s,
        "--service",
        "web",
        "--from-tags",
        "v*",
    ]);
    assert_eq!(r["recorded"].as_u64(), Some(2), "{r:#}");
    let ids = dm2.json(&["deployments", "list", "--service", "web"]);
    let latest = ids["deployments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["id"].as_str().unwrap().contains(":v2:"))
        .unwrap_or_else(|| panic!("{ids:#}"))["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(changes(&dm2, &latest), set(&[&c3, &c4, &c7, &c8]));
}

#[test]
fn bad_paths_are_a_usage_error_naming_the_service() {
    let dm = Dm::default();
    std::fs::write(
        dm.cwd().join(".dorameter.toml"),
        "[[service]]\nname = \"api\"\npaths = [\"services/[api\"]\n",
    )
    .unwrap();
    let mut repo = Repo::new();
    let c = repo.commit_at("init", NOW - DAY);
    let repo_s = repo.path.display().to_string();
    let r = dm.run(&["deploy", "--repo", &repo_s, "--service", "api", "--sha", &c]);
    r.assert_usage_error("[[service]] 'api'");
    assert!(r.stderr.contains("services/[api"), "{r:#?}");
}
