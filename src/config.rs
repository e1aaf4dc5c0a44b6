//! `.dorameter.toml`: defaults for flags, below flags and env vars in
//! precedence (flag > env var > config file > CI-derived > built-in).
//! Unknown keys are rejected so a typo never silently does nothing.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::{Error, Result};

pub const FILE_NAME: &str = ".dorameter.toml";

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// `sqlite:PATH` or `postgres://…`.
    pub store: Option<String>,
    /// Sink specs (`datadog`, `webhook:URL`, `devlake:URL`), used when no
    /// `--sink` flag or `DORAMETER_SINKS` is given.
    pub sinks: Option<Vec<String>>,
    pub format: Option<String>,
    pub service: Option<String>,
    pub env: Option<String>,
    pub bands: Option<String>,
    pub window: Option<String>,
    pub attribution_window: Option<String>,
    pub lead_time_from: Option<String>,
    pub max_commits: Option<usize>,
    pub team: Option<String>,
}

/// Loads `explicit` (which must exist) or the first `.dorameter.toml` in
/// `search` (which may not). Returns the config and the file it came from.
pub fn load(explicit: Option<&Path>, search: &[PathBuf]) -> Result<(Config, Option<PathBuf>)> {
    let path = match explicit {
        Some(p) => p.to_path_buf(),
        None => match search
            .iter()
            .map(|d| d.join(FILE_NAME))
            .find(|p| p.is_file())
        {
            Some(p) => p,
            None => return Ok((Config::default(), None)),
        },
    };
    let text = std::fs::read_to_string(&path).map_err(|e| {
        Error::usage_hint(
            format!("cannot read config file {}: {e}", path.display()),
            "fix the path given to --config (DORAMETER_CONFIG)",
        )
    })?;
    let config: Config = toml::from_str(&text).map_err(|e| {
        Error::usage_hint(
            format!("invalid config file {}: {}", path.display(), e.to_string().trim_end()),
            "fix the file (keys: store, sinks, format, service, env, bands, window, attribution_window, lead_time_from, max_commits, team) or pass another with --config",
        )
    })?;
    Ok((config, Some(path)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_unknown_keys_with_the_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join(FILE_NAME);
        std::fs::write(&p, "service = \"api\"\nsevrice = \"typo\"\n").unwrap();
        let e = load(None, &[dir.path().to_path_buf()])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains(".dorameter.toml") && e.contains("sevrice") && e.contains("line 2"),
            "{e}"
        );
        std::fs::write(&p, "service = \"api\"\nmax_commits = 10\n").unwrap();
        let (c, from) = load(None, &[dir.path().to_path_buf()]).unwrap();
        assert_eq!(
            (c.service.as_deref(), c.max_commits, from),
            (Some("api"), Some(10), Some(p))
        );
        assert!(load(Some(&dir.path().join("missing.toml")), &[]).is_err());
    }
}
