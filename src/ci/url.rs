//! Repository URLs as CI variables give them: https, ssh, scp-like.

/// Removes user and password from an http(s) URL, and the password from any
/// other URL with an authority. `git@host:path` (no secret in it) is kept.
pub fn strip_credentials(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return url.to_string();
    };
    let scheme = &url[..scheme_end];
    let rest = &url[scheme_end + 3..];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let Some(at) = rest[..authority_end].rfind('@') else {
        return url.to_string();
    };
    let userinfo = &rest[..at];
    let host_and_path = &rest[at + 1..];
    if scheme.starts_with("http") {
        format!("{scheme}://{host_and_path}")
    } else {
        let user = userinfo.split(':').next().unwrap_or("");
        format!("{scheme}://{user}@{host_and_path}")
    }
}

/// The one form a repository URL takes in events and sinks:
/// `https://host[:port]/path`, lowercase host, no credentials, no `.git`, no
/// trailing slash, query or fragment. The origin remote (`git@host:acme/api`,
/// `ssh://git@host:2222/acme/api.git`, `https://token@host/acme/api.git`) and
/// the CI's project URL (GitLab `CI_PROJECT_URL`, GitHub's server URL and
/// repository) then name a repository identically, so a receiver that links
/// deployments by repository (DevLake's `repoUrl`) sees one history whether
/// a deployment was backfilled from tags or recorded in CI.
///
/// An ssh port is dropped (it is not the web server's); an http(s) port
/// other than the scheme's default is kept. `None` for what names no
/// repository on a host: a local path, `file://`, an unknown scheme, no path.
pub fn repository_url(raw: &str) -> Option<String> {
    let raw = raw.trim();
    let (authority, path, web) = match raw.split_once("://") {
        Some((scheme, rest)) => {
            let web = match scheme.to_ascii_lowercase().as_str() {
                "http" => Some(80),
                "https" => Some(443),
                "ssh" | "git" | "git+ssh" | "ssh+git" => None,
                _ => return None,
            };
            let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
            (&rest[..end], &rest[end..], web)
        }
        None => {
            // scp-like `[user@]host:path`. A path with a slash before any
            // colon is local, and so is a Windows drive letter (`C:\…`).
            let (host, path) = raw.split_once(':')?;
            if host.len() <= 1 || host.contains(['/', '\\']) {
                return None;
            }
            (host, path, None)
        }
    };
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let (host, port) = match host_port.rsplit_once(':') {
        // `[::1]` alone has colons but no port after its bracket.
        Some((h, p)) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => {
            (h, p.parse::<u16>().ok())
        }
        _ => (host_port, None),
    };
    if host.is_empty() || host.contains(['/', ' ']) {
        return None;
    }
    let port = match (web, port) {
        (Some(default), Some(p)) if p != default => format!(":{p}"),
        _ => String::new(),
    };
    let path = path.split(['?', '#']).next().unwrap_or_default();
    let path = path.trim_matches('/');
    let path = path
        .strip_suffix(".git")
        .unwrap_or(path)
        .trim_end_matches('/');
    if path.is_empty() {
        return None;
    }
    Some(format!(
        "https://{}{port}/{path}",
        host.to_ascii_lowercase()
    ))
}

/// The repository's path on its host: `o/r` for `https://host/o/r.git`,
/// `git@host:o/r.git` and `ssh://git@host:22/o/r`.
pub fn repo_slug(url: &str) -> Option<String> {
    let path = if let Some(scheme_end) = url.find("://") {
        let rest = &url[scheme_end + 3..];
        let start = rest.find('/')?;
        &rest[start + 1..]
    } else if let Some((host, path)) = url.split_once(':') {
        // scp-like `user@host:path`; a Windows drive letter is not a host.
        if host.len() <= 1 || host.contains('/') {
            return None;
        }
        path
    } else {
        return None;
    };
    let path = path.split(['?', '#']).next().unwrap_or("");
    let path = path.trim_matches('/');
    let path = path.strip_suffix(".git").unwrap_or(path);
    (!path.is_empty()).then(|| path.to_string())
}

/// The repository's own name: the last segment of its path, without `.git`.
pub fn repo_name(url: &str) -> Option<String> {
    let slug = repo_slug(url)?;
    slug.rsplit('/').next().map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_credentials() {
        assert_eq!(
            strip_credentials("https://x-access-token:ghs_abc@github.com/o/r.git"),
            "https://github.com/o/r.git"
        );
        assert_eq!(
            strip_credentials("https://gitlab-ci-token:glcbt-xyz@gitlab.example.com/g/p.git"),
            "https://gitlab.example.com/g/p.git"
        );
        assert_eq!(
            strip_credentials("https://myorg@dev.azure.com/myorg/proj/_git/repo"),
            "https://dev.azure.com/myorg/proj/_git/repo"
        );
        assert_eq!(strip_credentials("ssh://git:pw@host/r"), "ssh://git@host/r");
        assert_eq!(
            strip_credentials("git@github.com:o/r.git"),
            "git@github.com:o/r.git"
        );
        assert_eq!(
            strip_credentials("https://github.com/o/r@v1"),
            "https://github.com/o/r@v1"
        );
    }

    #[test]
    fn repository_urls_take_one_form() {
        let want = Some("https://gitlab.example.com/acme/api".to_string());
        for raw in [
            // GitLab's CI_PROJECT_URL, and the origin remotes of the same project.
            "https://gitlab.example.com/acme/api",
            "https://gitlab.example.com/acme/api.git",
            "https://gitlab.example.com/acme/api/",
            "https://gitlab.example.com/acme/api.git/",
            "https://gitlab-ci-token:glcbt-SECRET@gitlab.example.com/acme/api.git",
            "https://oauth2@gitlab.example.com/acme/api",
            "http://gitlab.example.com/acme/api",
            "https://GitLab.Example.com:443/acme/api",
            "git@gitlab.example.com:acme/api.git",
            "git@gitlab.example.com:acme/api",
            "gitlab.example.com:acme/api",
            "git@gitlab.example.com:/acme/api.git",
            "ssh://git@gitlab.example.com/acme/api.git",
            "ssh://git@gitlab.example.com:2222/acme/api",
            "git+ssh://git@gitlab.example.com/acme/api.git",
            "git://gitlab.example.com/acme/api.git",
            "https://gitlab.example.com/acme/api?private_token=x#readme",
            "  https://gitlab.example.com/acme/api\n",
        ] {
            assert_eq!(repository_url(raw), want, "{raw:?}");
        }
        // Idempotent: the normal form is its own normal form.
        let once = repository_url("git@github.com:Org/Repo.git").unwrap();
        assert_eq!(once, "https://github.com/Org/Repo");
        assert_eq!(repository_url(&once).as_deref(), Some(once.as_str()));
        // A web port that is not the default is part of the address.
        assert_eq!(
            repository_url("https://u:p@git.internal:8443/g/sub/p.git").as_deref(),
            Some("https://git.internal:8443/g/sub/p")
        );
        assert_eq!(
            repository_url("http://[::1]:8080/g/p").as_deref(),
            Some("https://[::1]:8080/g/p")
        );
        assert_eq!(
            repository_url("https://dev.azure.com/org/proj/_git/repo").as_deref(),
            Some("https://dev.azure.com/org/proj/_git/repo")
        );
        // Nothing that names a repository on a host.
        for raw in [
            "/srv/git/api.git",
            "../api",
            "file:///srv/git/api.git",
            "C:\\src\\api",
            "C:/src/api",
            "https://github.com/",
            "git@github.com:",
            "ftp://host/a/b",
            "",
        ] {
            assert_eq!(repository_url(raw), None, "{raw:?}");
        }
    }

    #[test]
    fn slugs_and_names() {
        for (url, slug) in [
            ("https://github.com/o/r.git", "o/r"),
            ("https://github.com/o/r", "o/r"),
            ("git@github.com:o/r.git", "o/r"),
            ("ssh://git@host:22/g/sub/p.git", "g/sub/p"),
            ("http://bitbucket.org/ws/repo", "ws/repo"),
            (
                "https://dev.azure.com/org/proj/_git/repo",
                "org/proj/_git/repo",
            ),
        ] {
            assert_eq!(repo_slug(url).as_deref(), Some(slug), "{url}");
        }
        assert_eq!(
            repo_name("git@github.com:o/api.git").as_deref(),
            Some("api")
        );
        assert_eq!(repo_slug("C:/src/repo"), None);
        assert_eq!(repo_slug("https://github.com/"), None);
        assert_eq!(repo_slug("plain"), None);
    }
}
