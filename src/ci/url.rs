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
