//! `dorameter demo [DIR]`: a demo repository with a month of recorded
//! history, and the commands to try on it.

use std::path::{Path, PathBuf};

use clap::Args;
use serde::Serialize;

use super::GlobalArgs;
use super::context::Context;
use crate::app::demo::{self, DEFAULT_DIR, Demo, DemoRequest};
use crate::event::DeploymentKind;
use crate::render::{self, Format};
use crate::settings::Settings;
use crate::{Result, exit};

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Directory to create the demo in; it must not exist yet, or be empty
    #[arg(value_name = "DIR", default_value = DEFAULT_DIR)]
    pub dir: PathBuf,
}

#[derive(Serialize)]
struct DemoView<'a> {
    dir: String,
    store: String,
    service: &'a str,
    env: &'a str,
    commits: usize,
    tags: &'a [String],
    backfilled: &'a [String],
    deployed: Vec<DeployedView<'a>>,
    incidents: &'a [String],
    warnings: &'a [String],
    next: Vec<String>,
}

#[derive(Serialize)]
struct DeployedView<'a> {
    version: &'a str,
    kind: DeploymentKind,
}

/// The request from the arguments and settings.
pub fn request(args: &DemoArgs, s: &Settings, cwd: &Path) -> DemoRequest {
    DemoRequest {
        dir: args.dir.clone(),
        cwd: cwd.to_path_buf(),
        now: s.now,
    }
}

pub fn run(args: DemoArgs, global: &GlobalArgs, ctx: &mut Context<'_>) -> Result<u8> {
    let mut settings = ctx.settings(global, None)?;
    settings.use_format(
        &[Format::Table, Format::Json],
        "`dorameter demo`",
        "use --format table or json",
    )?;
    // The demo touches nothing outside its directory: no configured store
    // (the next commands must find the history), no sinks.
    if let Some(s) = &settings.store {
        ctx.warn(
            &settings,
            &format!(
                "the demo records into its own directory, not the store from {}; unset it to report on the demo",
                s.origin
            ),
        )?;
    }
    if !settings.sinks.is_empty() {
        ctx.warn(&settings, "the demo sends nothing to the configured sinks")?;
    }
    let demo = demo::create(&request(&args, &settings, &ctx.cwd))?;
    ctx.warn_all(&settings, &demo.warnings)?;
    let next = next_commands(&demo);
    let text = match settings.format.value {
        Format::Json => render::json(&DemoView {
            dir: demo.dir.display().to_string(),
            store: format!("sqlite:{}", demo.store.display()),
            service: &demo.service,
            env: &demo.env,
            commits: demo.commits,
            tags: &demo.tags,
            backfilled: &demo.backfilled,
            deployed: demo
                .deployed
                .iter()
                .map(|(version, kind)| DeployedView {
                    version,
                    kind: *kind,
                })
                .collect(),
            incidents: &demo.incidents,
            warnings: &demo.warnings,
            next,
        }),
        _ => summary(&demo, &next),
    };
    ctx.out(&text)?;
    Ok(exit::OK)
}

/// What to run next, from where the demo was created.
fn next_commands(demo: &Demo) -> Vec<String> {
    let dir = shell_word(&demo.dir.display().to_string());
    let store = shell_word(&format!("sqlite:{}", demo.store.display()));
    vec![
        format!("cd {dir} && dorameter report"),
        format!("cd {dir} && dorameter deployments list --failed"),
        format!("cd {dir} && git log --graph --oneline --decorate"),
        format!("dorameter --store {store} report --window 7d --format markdown"),
    ]
}

fn summary(demo: &Demo, next: &[String]) -> String {
    let esc = |s: &str| render::escape::terminal(s);
    let dir = esc(&demo.dir.display().to_string());
    let kinds = |k| demo.deployed.iter().filter(|(_, kind)| *kind == k).count() as u64;
    let range = |v: &[String]| match (v.first(), v.last()) {
        (Some(a), Some(b)) => format!("{a} … {b}"),
        _ => String::new(),
    };
    let mut out = format!(
        "created a demo repository in {dir}: {}, {} over {} days, {} ({}), a merged branch, a revert and a hotfix\n",
        esc(&demo.service),
        render::count(demo.commits as u64, "commit"),
        demo.days,
        render::count(demo.tags.len() as u64, "release tag"),
        range(&demo.tags),
    );
    out.push_str(&format!(
        "recorded its history in {}:\n",
        esc(&demo.store.display().to_string())
    ));
    out.push_str(&format!(
        "  {} backfilled from the tags {}\n",
        render::count(demo.backfilled.len() as u64, "deployment"),
        range(&demo.backfilled),
    ));
    out.push_str(&format!(
        "  {} by the deploy job: {}, {}\n",
        render::count(demo.deployed.len() as u64, "deployment"),
        render::count(kinds(DeploymentKind::Rollback), "rollback"),
        render::count(kinds(DeploymentKind::Rollforward), "rollforward"),
    ));
    out.push_str(&format!(
        "  {}, opened and resolved: {}\n\ntry:\n",
        render::count(demo.incidents.len() as u64, "incident"),
        demo.incidents.join(", "),
    ));
    for c in next {
        out.push_str(&format!("  {}\n", esc(c)));
    }
    out
}

/// `word` as one POSIX shell word: as is when it is plain, else in single
/// quotes.
fn shell_word(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-./:=@+,".contains(c));
    if plain {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::{request, shell_word};
    use crate::cli::Command;
    use crate::cli::tests::parse;

    #[test]
    fn dir_defaults_to_dorameter_demo() {
        let (cmd, s, dir) = parse(&["dorameter", "demo"], &[], "");
        let Command::Demo(a) = cmd else {
            unreachable!()
        };
        let r = request(&a, &s, dir.path());
        assert_eq!(r.dir, std::path::Path::new("dorameter-demo"));
        assert_eq!((r.cwd.as_path(), r.now), (dir.path(), s.now));
        let (cmd, ..) = parse(&["dorameter", "demo", "/tmp/x y"], &[], "");
        let Command::Demo(a) = cmd else {
            unreachable!()
        };
        assert_eq!(a.dir, std::path::Path::new("/tmp/x y"));
    }

    #[test]
    fn next_commands_quote_what_the_shell_would_split() {
        assert_eq!(shell_word("dorameter-demo"), "dorameter-demo");
        assert_eq!(shell_word("sqlite:a/b.db"), "sqlite:a/b.db");
        assert_eq!(shell_word("my demo"), "'my demo'");
        assert_eq!(shell_word("it's"), r"'it'\''s'");
    }
}
