//! The GitHub Action: its install-and-run script (`scripts/action.sh`)
//! executed for real with bash against a local HTTP server serving a
//! "release" of the binary under test, and `action.yml`'s contract.

#![cfg(unix)]

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use crate::util::BIN;

const VERSION: &str = env!("CARGO_PKG_VERSION");
const TARGET: &str = "x86_64-unknown-linux-musl";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A static file server on 127.0.0.1 that records each requested path.
pub(crate) struct Server {
    pub(crate) base: String,
    requests: Arc<Mutex<Vec<String>>>,
}

impl Server {
    pub(crate) fn start(dir: &Path) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&requests);
        let dir = dir.to_path_buf();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let Ok(read_half) = stream.try_clone() else {
                    continue;
                };
                let mut reader = BufReader::new(read_half);
                let mut request_line = String::new();
                if reader.read_line(&mut request_line).is_err() {
                    continue;
                }
                loop {
                    let mut header = String::new();
                    match reader.read_line(&mut header) {
                        Ok(0) | Err(_) => break,
                        Ok(_) if header.trim().is_empty() => break,
                        Ok(_) => {}
                    }
                }
                let path = request_line
                    .split_whitespace()
                    .nth(1)
                    .unwrap_or("/")
                    .to_string();
                log.lock().unwrap().push(path.clone());
                let file = dir.join(path.trim_start_matches('/'));
                let response = match std::fs::read(&file) {
                    Ok(body) if !path.contains("..") => {
                        let mut r = format!(
                            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nContent-Type: application/gzip\r\nConnection: close\r\n\r\n",
                            body.len()
                        )
                        .into_bytes();
                        r.extend_from_slice(&body);
                        r
                    }
                    _ => {
                        b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                            .to_vec()
                    }
                };
                let _ = stream.write_all(&response);
            }
        });
        Server { base, requests }
    }

    pub(crate) fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }
}

fn sh(script: &str, dir: &Path) {
    let out = Command::new("sh")
        .arg("-c")
        .arg(script)
        .current_dir(dir)
        .output()
        .expect("run sh");
    assert!(out.status.success(), "{script}: {out:?}");
}

fn sha256(file: &Path) -> String {
    let out = Command::new("sha256sum")
        .arg(file)
        .output()
        .expect("sha256sum");
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout).unwrap()[..64].to_string()
}

/// `releases/v<version>/dorameter-<version>-<target>.tar.gz` holding
/// `executable` as `dorameter`, and its checksum.
fn release(dir: &Path, executable: &Path) -> (PathBuf, String) {
    let stage = dir.join("stage");
    let out_dir = dir.join("releases").join(format!("v{VERSION}"));
    std::fs::create_dir_all(&stage).unwrap();
    std::fs::create_dir_all(&out_dir).unwrap();
    std::fs::copy(executable, stage.join("dorameter")).unwrap();
    let archive = out_dir.join(format!("dorameter-{VERSION}-{TARGET}.tar.gz"));
    // gzip -1: the debug binary is large and only the format matters here.
    sh(
        &format!("tar -cf - dorameter | gzip -1 > '{}'", archive.display()),
        &stage,
    );
    let sum = sha256(&archive);
    (dir.join("releases"), sum)
}

fn checksums(dir: &Path, lines: &str) -> PathBuf {
    let path = dir.join("checksums.txt");
    std::fs::write(
        &path,
        format!("# test release\n# version: {VERSION}\n{lines}"),
    )
    .unwrap();
    path
}

/// Runs the action script the way action.yml does, in a clean environment.
fn run_action(dir: &Path, base: &str, checksums: &Path, extra: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new("bash");
    cmd.arg(root().join("scripts/action.sh"))
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", dir)
        .env("TMPDIR", dir)
        .env("GITHUB_ACTIONS", "true")
        .env("RUNNER_OS", "Linux")
        .env("RUNNER_ARCH", "X64")
        .env("RUNNER_TEMP", dir)
        .env("GITHUB_ACTION_PATH", root())
        .env("GITHUB_OUTPUT", dir.join("github_output"))
        .env("GITHUB_PATH", dir.join("github_path"))
        .env("DORAMETER_DOWNLOAD_BASE", base)
        .env("DORAMETER_ACTION_CHECKSUMS", checksums)
        .env("DORAMETER_INSTALL_DIR", dir.join("install"))
        .current_dir(dir);
    for (k, v) in extra {
        cmd.env(k, v);
    }
    cmd.output().expect("run bash")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn installs_the_verified_release_binary_and_runs_it() {
    let dir = tempfile::tempdir().unwrap();
    let (releases, sum) = release(dir.path(), Path::new(BIN));
    let server = Server::start(&releases);
    let asset = format!("dorameter-{VERSION}-{TARGET}.tar.gz");
    let sums = checksums(
        dir.path(),
        &format!(
            "{}  dorameter-{VERSION}-other-target.tar.gz\n{sum}  {asset}\n",
            "0".repeat(64)
        ),
    );

    let started = Instant::now();
    let out = run_action(
        dir.path(),
        &server.base,
        &sums,
        &[("INPUT_ARGS", "--version")],
    );
    let elapsed = started.elapsed();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(text(&out.stdout).trim(), format!("dorameter {VERSION}"));
    assert_eq!(server.requests(), [format!("/v{VERSION}/{asset}")]);
    let installed = dir.path().join("install").join("dorameter");
    assert!(installed.is_file());
    let outputs = std::fs::read_to_string(dir.path().join("github_output")).unwrap();
    assert!(
        outputs.contains(&format!("version={VERSION}\n")),
        "{outputs}"
    );
    assert!(
        outputs.contains(&format!("path={}\n", installed.display())),
        "{outputs}"
    );
    let path = std::fs::read_to_string(dir.path().join("github_path")).unwrap();
    assert_eq!(
        path.trim(),
        dir.path().join("install").display().to_string()
    );
    // docs/github-action.md gives the measured time with a release build;
    // this only catches a pathological regression (the debug binary here is
    // ~20 times larger, and the machine may be busy).
    assert!(elapsed.as_secs() < 30, "the action script took {elapsed:?}");

    // A second job step on the same runner reuses the verified binary, and
    // the command and arguments reach the CLI intact.
    let out = run_action(
        dir.path(),
        &server.base,
        &sums,
        &[
            ("INPUT_COMMAND", "report"),
            ("INPUT_ARGS", "--color never\n--help\n"),
        ],
    );
    assert_eq!(server.requests().len(), 1, "cached: no second download");
    let stderr = text(&out.stderr);
    assert!(stderr.contains("already installed"), "{out:?}");
    // `--color never` as one argument is an unknown flag: proof that a line
    // is one argument, not split on spaces and not run through a shell.
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(stderr.contains("--color never"), "{out:?}");

    // Command words are checked, never evaluated.
    let out = run_action(
        dir.path(),
        &server.base,
        &sums,
        &[("INPUT_COMMAND", "deploy $(touch pwned)")],
    );
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(
        text(&out.stderr).contains("invalid command word"),
        "{out:?}"
    );
    assert!(!dir.path().join("pwned").exists());

    // `install` only installs.
    let out = run_action(
        dir.path(),
        &server.base,
        &sums,
        &[("INPUT_COMMAND", "install")],
    );
    assert!(out.status.success(), "{out:?}");
    assert_eq!(text(&out.stdout), "");
}

/// Issue 11: with no `store` input (and no DORAMETER_STORE in the job) the
/// action keeps the history on the repository's own remote; a store given
/// in the job's env is used as given.
#[test]
fn the_store_defaults_to_the_repositorys_own_remote() {
    use crate::util::{BASE, Repo, at};
    let dir = tempfile::tempdir().unwrap();
    let (releases, sum) = release(dir.path(), Path::new(BIN));
    let server = Server::start(&releases);
    let asset = format!("dorameter-{VERSION}-{TARGET}.tar.gz");
    let sums = checksums(dir.path(), &format!("{sum}  {asset}\n"));
    let mut repo = Repo::new();
    let sha = repo.commit_at("feat: one", at(0, 0, 0));
    let bare = dir.path().join("origin.git");
    let bare_s = bare.display().to_string();
    repo.git(&["init", "-q", "--bare", &bare_s], BASE);
    repo.git(
        &["remote", "add", "origin", &format!("file://{bare_s}")],
        BASE,
    );
    let args = format!("--repo\n{}\n--sha\n{sha}\n", repo.path.display());
    let deploy = |extra: &[(&str, &str)]| {
        let mut env = vec![
            ("INPUT_COMMAND", "deploy"),
            ("INPUT_SERVICE", "api"),
            ("INPUT_ARGS", args.as_str()),
        ];
        env.extend_from_slice(extra);
        run_action(dir.path(), &server.base, &sums, &env)
    };
    let out = deploy(&[]);
    assert!(out.status.success(), "{out:?}");
    let files = repo.git_in(
        &bare,
        &["ls-tree", "-r", "--name-only", "refs/dorameter/events"],
    );
    assert!(files.starts_with("deployments-"), "{files}");
    assert!(!text(&out.stderr).contains("will not outlive"), "{out:?}");
    // The job's own DORAMETER_STORE wins over the default.
    let db = dir.path().join("team.db");
    let url = format!("sqlite:{}", db.display());
    let out = deploy(&[("DORAMETER_STORE", url.as_str())]);
    assert!(out.status.success(), "{out:?}");
    assert!(db.is_file(), "{out:?}");
}

#[test]
fn refuses_a_tampered_binary() {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("tampered-binary-ran");
    let fake = dir.path().join("fake-dorameter");
    std::fs::write(
        &fake,
        format!(
            "#!/bin/sh\ntouch '{}'\necho dorameter {VERSION}\n",
            marker.display()
        ),
    )
    .unwrap();
    sh(&format!("chmod +x '{}'", fake.display()), dir.path());
    let (releases, tampered_sum) = release(dir.path(), &fake);
    let server = Server::start(&releases);
    // The committed checksum is the genuine archive's, not the served one's.
    let genuine = "9f".repeat(32);
    assert_ne!(genuine, tampered_sum);
    let sums = checksums(
        dir.path(),
        &format!("{genuine}  dorameter-{VERSION}-{TARGET}.tar.gz\n"),
    );

    let out = run_action(
        dir.path(),
        &server.base,
        &sums,
        &[("INPUT_ARGS", "--version")],
    );
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let stderr = text(&out.stderr);
    assert!(stderr.contains("checksum mismatch"), "{stderr}");
    assert!(
        stderr.contains(&genuine) && stderr.contains(&tampered_sum),
        "{stderr}"
    );
    assert!(stderr.contains("refusing to install"), "{stderr}");
    // The annotation a workflow run shows.
    assert!(text(&out.stdout).contains("::error title=dorameter action::checksum mismatch"));
    assert!(!marker.exists(), "the tampered binary must never run");
    assert!(!dir.path().join("install").join("dorameter").exists());
    assert_eq!(server.requests().len(), 1);
}

#[test]
fn builds_from_source_when_no_checksum_fits() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    // No entry for this target: the script must not download anything.
    let sums = checksums(
        dir.path(),
        &format!(
            "{}  dorameter-{VERSION}-aarch64-apple-darwin.tar.gz\n",
            "1".repeat(64)
        ),
    );
    // A stand-in for cargo that records its arguments and "builds" the
    // binary under test into --root.
    let log = dir.path().join("cargo-args");
    let cargo = dir.path().join("fake-cargo");
    std::fs::write(
        &cargo,
        format!(
            "#!/bin/sh\nprintf '%s\\n' \"$@\" > '{log}'\nwhile [ $# -gt 0 ]; do [ \"$1\" = --root ] && root=$2; shift; done\nmkdir -p \"$root/bin\" && cp '{bin}' \"$root/bin/dorameter\"\n",
            log = log.display(),
            bin = BIN
        ),
    )
    .unwrap();
    sh(&format!("chmod +x '{}'", cargo.display()), dir.path());

    let out = run_action(
        dir.path(),
        &server.base,
        &sums,
        &[
            ("INPUT_ARGS", "--version"),
            ("CARGO", cargo.to_str().unwrap()),
            (
                "DORAMETER_SOURCE_REPO",
                "https://git.example.com/dorameter.git",
            ),
        ],
    );
    assert!(out.status.success(), "{out:?}");
    assert_eq!(text(&out.stdout).trim(), format!("dorameter {VERSION}"));
    assert!(
        text(&out.stderr).contains("cargo install --locked"),
        "{out:?}"
    );
    let install = dir.path().join("install");
    let args = std::fs::read_to_string(&log).unwrap();
    assert_eq!(
        args.lines().collect::<Vec<_>>(),
        [
            "install",
            "--locked",
            "--git",
            "https://git.example.com/dorameter.git",
            "--tag",
            &format!("v{VERSION}"),
            "--root",
            install.to_str().unwrap(),
            "dorameter",
        ]
    );
    assert!(server.requests().is_empty(), "{:?}", server.requests());

    // Without cargo the message says what to do.
    let out = run_action(
        dir.path().join("install").parent().unwrap(),
        &server.base,
        &sums,
        &[
            ("CARGO", "/nonexistent/cargo"),
            (
                "DORAMETER_INSTALL_DIR",
                dir.path().join("other").to_str().unwrap(),
            ),
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(
        text(&out.stderr).contains("cargo is not installed"),
        "{out:?}"
    );
}

#[test]
fn rejects_a_bad_version_before_downloading() {
    let dir = tempfile::tempdir().unwrap();
    let sums = checksums(dir.path(), "");
    let out = run_action(
        dir.path(),
        "http://127.0.0.1:9",
        &sums,
        &[("INPUT_VERSION", "1.0; touch pwned")],
    );
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(text(&out.stderr).contains("invalid version"), "{out:?}");
    assert!(!dir.path().join("pwned").exists());
}

// ---------------------------------------------------------------------------
// action.yml and workflow files, read as text.

/// `(line number, text)` of every line inside a `run:` value.
fn run_blocks(yaml: &str) -> Vec<(usize, String)> {
    let lines: Vec<&str> = yaml.lines().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        let trimmed = line.trim_start().trim_start_matches("- ");
        if let Some(value) = trimmed.strip_prefix("run:") {
            let indent = line.len() - line.trim_start().len();
            out.push((i + 1, value.to_string()));
            let value = value.trim();
            if value.starts_with('|') || value.starts_with('>') {
                i += 1;
                while i < lines.len() {
                    let l = lines[i];
                    let ind = l.len() - l.trim_start().len();
                    if !l.trim().is_empty() && ind <= indent {
                        break;
                    }
                    out.push((i + 1, l.to_string()));
                    i += 1;
                }
                continue;
            }
        }
        i += 1;
    }
    out
}

#[test]
fn no_expression_is_spliced_into_a_run_script() {
    for file in [
        "action.yml",
        ".github/workflows/ci.yml",
        ".github/workflows/release.yml",
    ] {
        let yaml = std::fs::read_to_string(root().join(file)).unwrap();
        let runs = run_blocks(&yaml);
        assert!(!runs.is_empty(), "{file} has run steps");
        for (n, line) in runs {
            assert!(
                !line.contains("${{"),
                "{file}:{n}: an expression inside run: is script injection; pass it through env: instead: {line}"
            );
        }
    }
}

#[test]
fn action_yml_mirrors_the_cli_outputs_and_passes_every_input_through_env() {
    let yaml = std::fs::read_to_string(root().join("action.yml")).unwrap();
    let outputs = yaml
        .split("\noutputs:\n")
        .nth(1)
        .and_then(|s| s.split("\nruns:\n").next())
        .map(|s| format!("\n{s}"))
        .expect("outputs section");
    for name in dorameter::ci::github::outputs::ALL {
        assert!(
            outputs.contains(&format!("\n  {name}:\n"))
                && outputs.contains(&format!("steps.dorameter.outputs.{name} }}")),
            "action.yml must mirror the CLI output '{name}'"
        );
    }
    let inputs = yaml
        .split("\ninputs:\n")
        .nth(1)
        .and_then(|s| s.split("\noutputs:\n").next())
        .expect("inputs section");
    let names: Vec<&str> = inputs
        .lines()
        .filter(|l| l.starts_with("  ") && !l.starts_with("   ") && l.ends_with(':'))
        .map(|l| l.trim().trim_end_matches(':'))
        .collect();
    assert!(names.len() >= 10, "{names:?}");
    for name in names {
        if name == "working-directory" {
            assert!(yaml.contains("working-directory: ${{ inputs.working-directory }}"));
            continue;
        }
        let var = format!("INPUT_{}", name.to_uppercase().replace('-', "_"));
        assert!(
            yaml.contains(&format!("{var}: ${{{{ inputs.{name} }}}}")),
            "input '{name}' must reach the script as {var} through env:"
        );
    }
    assert!(yaml.contains("run: bash \"$GITHUB_ACTION_PATH/scripts/action.sh\""));
}

#[test]
fn committed_checksums_file_is_well_formed() {
    let text = std::fs::read_to_string(root().join("action/checksums.txt")).unwrap();
    let version = text
        .lines()
        .find_map(|l| l.strip_prefix("# version: "))
        .expect("a '# version:' line")
        .trim();
    assert!(
        version.split('.').count() == 3 && version.split('.').all(|p| p.parse::<u32>().is_ok()),
        "{version}"
    );
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        let (sum, name) = line.split_once("  ").expect("'<sha256>  <archive>'");
        assert!(
            sum.len() == 64 && sum.bytes().all(|b| b.is_ascii_hexdigit()),
            "{line}"
        );
        assert!(
            name.starts_with(&format!("dorameter-{version}-")) && name.ends_with(".tar.gz"),
            "{line}"
        );
    }
}
