//! Parsing `--sink` values, and printing sinks and URLs without secrets.

use std::fmt;

use reqwest::Url;

use super::SinkError;

/// Where events go. The URLs may carry credentials: they are only used to
/// send, and `Display`/`Debug` print them redacted.
#[derive(Clone, PartialEq, Eq)]
pub enum SinkSpec {
    /// DORA API v2 at `base` (`https://api.datadoghq.com` or `DD_SITE`).
    Datadog { base: Url },
    /// One POST per event to `url`.
    Webhook { url: Url },
    /// DevLake's webhook connection endpoint (…/plugins/webhook/connections/N).
    DevLake { url: Url },
    /// CloudWatch `PutMetricData` at `endpoint`, signed for `region`.
    CloudWatch {
        endpoint: Url,
        region: String,
        namespace: String,
    },
}

const FORM: &str = "expected datadog, datadog:BASE_URL, webhook:URL, devlake:URL, cloudwatch or cloudwatch:NAMESPACE";

/// What parsing a sink reads from the environment.
#[derive(Clone, Debug, Default)]
pub struct SinkEnv {
    /// `DD_SITE` (e.g. `datadoghq.eu`).
    pub dd_site: Option<String>,
    /// `AWS_REGION`, else `AWS_DEFAULT_REGION`.
    pub aws_region: Option<String>,
    /// `AWS_ENDPOINT_URL_CLOUDWATCH`, else `AWS_ENDPOINT_URL`.
    pub aws_endpoint: Option<String>,
}

impl SinkEnv {
    pub fn from_env(env: &crate::ci::EnvMap) -> SinkEnv {
        use crate::env_vars as ev;
        let get = |names: &[&str]| {
            names.iter().find_map(|n| {
                env.get(*n)
                    .map(|v| v.trim().to_string())
                    .filter(|v| !v.is_empty())
            })
        };
        SinkEnv {
            dd_site: get(&[ev::DD_SITE]),
            aws_region: get(&[ev::AWS_REGION, ev::AWS_DEFAULT_REGION]),
            aws_endpoint: get(&[ev::AWS_ENDPOINT_URL_CLOUDWATCH, ev::AWS_ENDPOINT_URL]),
        }
    }
}

impl SinkSpec {
    /// Parses one `--sink` value.
    pub fn parse(raw: &str, env: &SinkEnv) -> Result<SinkSpec, SinkError> {
        let dd_site = env.dd_site.as_deref();
        let raw = raw.trim();
        let (kind, rest) = match raw.split_once(':') {
            Some((k, r)) => (k, Some(r)),
            None => (raw, None),
        };
        let bad = |reason: String| SinkError::BadSpec {
            shown: shown_raw(raw),
            reason,
        };
        match (kind.to_ascii_lowercase().as_str(), rest) {
            ("datadog", None) => {
                let site = dd_site
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .unwrap_or("datadoghq.com");
                let base = parse_url(&format!("https://api.{site}"))
                    .map_err(|r| bad(format!("DD_SITE '{site}' does not make a valid URL: {r}")))?;
                Ok(SinkSpec::Datadog { base })
            }
            ("datadog", Some(url)) => Ok(SinkSpec::Datadog {
                base: parse_url(url).map_err(|r| bad(format!("{r}; {FORM}")))?,
            }),
            ("webhook", Some(url)) => Ok(SinkSpec::Webhook {
                url: parse_url(url).map_err(|r| bad(format!("{r}; {FORM}")))?,
            }),
            ("devlake", Some(url)) => {
                let mut url = parse_url(url).map_err(|r| bad(format!("{r}; {FORM}")))?;
                // Accept the full endpoint a DevLake UI shows, too.
                let path = url.path().trim_end_matches('/').to_string();
                for suffix in ["/deployments", "/issues"] {
                    if let Some(p) = path.strip_suffix(suffix) {
                        url.set_path(p);
                    }
                }
                Ok(SinkSpec::DevLake { url })
            }
            ("cloudwatch", namespace) => {
                let namespace = match namespace.map(str::trim) {
                    None => super::cloudwatch::DEFAULT_NAMESPACE,
                    Some("") => {
                        return Err(bad(
                            "cloudwatch: is missing its namespace; give cloudwatch (namespace DORA) or cloudwatch:NAMESPACE".into(),
                        ));
                    }
                    Some(n) => n,
                };
                let allowed = |c: char| c.is_ascii_alphanumeric() || ".-_/#: ".contains(c);
                if namespace.len() > 255
                    || namespace.starts_with(':')
                    || namespace.starts_with("AWS/")
                    || !namespace.chars().all(allowed)
                {
                    return Err(bad(format!(
                        "'{namespace}' is not a CloudWatch namespace for custom metrics (at most 255 of A-Z a-z 0-9 . - _ / # : and space, not AWS/…)"
                    )));
                }
                let Some(region) = env.aws_region.clone() else {
                    return Err(bad(
                        "cloudwatch needs a region: set AWS_REGION (or AWS_DEFAULT_REGION)".into(),
                    ));
                };
                if !region
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-')
                {
                    return Err(bad(format!(
                        "AWS_REGION '{region}' is not a region name such as eu-west-1"
                    )));
                }
                let endpoint = match &env.aws_endpoint {
                    Some(e) => parse_url(e).map_err(|r| bad(format!("AWS_ENDPOINT_URL: {r}")))?,
                    // China's regions have their own domain.
                    None if region.starts_with("cn-") => {
                        parse_url(&format!("https://monitoring.{region}.amazonaws.com.cn/"))
                            .map_err(&bad)?
                    }
                    None => parse_url(&format!("https://monitoring.{region}.amazonaws.com/"))
                        .map_err(&bad)?,
                };
                Ok(SinkSpec::CloudWatch {
                    endpoint,
                    region,
                    namespace: namespace.to_string(),
                })
            }
            ("webhook" | "devlake", None) => Err(bad(format!("{kind} needs a URL; {FORM}"))),
            _ => Err(bad(FORM.into())),
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            SinkSpec::Datadog { .. } => "datadog",
            SinkSpec::Webhook { .. } => "webhook",
            SinkSpec::DevLake { .. } => "devlake",
            SinkSpec::CloudWatch { .. } => "cloudwatch",
        }
    }

    fn url(&self) -> &Url {
        match self {
            SinkSpec::Datadog { base } => base,
            SinkSpec::Webhook { url } | SinkSpec::DevLake { url } => url,
            SinkSpec::CloudWatch { endpoint, .. } => endpoint,
        }
    }

    /// The identity spool records carry: the redacted form plus a digest of
    /// the full URL, so two sinks that differ only in a secret stay apart and
    /// the secret is never written to disk.
    pub fn key(&self) -> String {
        let mut id = self.url().as_str().to_string();
        if let SinkSpec::CloudWatch {
            region, namespace, ..
        } = self
        {
            id.push_str(&format!(" {region} {namespace}"));
        }
        let digest = crate::event::fnv1a64(id.as_bytes());
        format!("{self}#{:08x}", digest as u32)
    }
}

impl fmt::Display for SinkSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SinkSpec::CloudWatch {
                endpoint,
                namespace,
                ..
            } => write!(f, "cloudwatch:{namespace}@{}", redact_url(endpoint)),
            _ => write!(f, "{}:{}", self.kind(), redact_url(self.url())),
        }
    }
}

impl fmt::Debug for SinkSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SinkSpec({self})")
    }
}

fn parse_url(raw: &str) -> Result<Url, String> {
    let url = Url::parse(raw.trim()).map_err(|e| format!("not a URL ({e})"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!(
            "the URL scheme must be http or https, not '{}'",
            url.scheme()
        ));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("the URL has no host".into());
    }
    Ok(url)
}

/// What an invalid value looks like in an error: redacted when it parses as
/// a URL, else only its shape (it may be a secret pasted in the wrong place).
fn shown_raw(raw: &str) -> String {
    let (kind, rest) = raw.split_once(':').unwrap_or((raw, ""));
    match Url::parse(rest) {
        Ok(u) => format!("{kind}:{}", redact_url(&u)),
        Err(_) if rest.is_empty() => kind.chars().take(40).collect(),
        Err(_) => format!("{}:…", kind.chars().take(40).collect::<String>()),
    }
}

/// A URL fit for output: no user or password, query values and long path
/// segments (tokens in hook URLs) replaced by `***`.
pub fn redact_url(url: &Url) -> String {
    let mut s = format!("{}://", url.scheme());
    if !url.username().is_empty() || url.password().is_some() {
        s.push_str("***@");
    }
    s.push_str(url.host_str().unwrap_or(""));
    if let Some(port) = url.port() {
        s.push_str(&format!(":{port}"));
    }
    let path = url.path();
    if path != "/" {
        for seg in path.split('/').skip(1) {
            s.push('/');
            if seg.len() > 16 {
                s.push_str("***");
            } else {
                s.push_str(seg);
            }
        }
    }
    if url.query().is_some() {
        let keys: Vec<String> = url.query_pairs().map(|(k, _)| format!("{k}=***")).collect();
        s.push('?');
        s.push_str(&keys.join("&"));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_three_kinds() {
        let dd = SinkSpec::parse("datadog", &SinkEnv::default()).unwrap();
        assert_eq!(dd.to_string(), "datadog:https://api.datadoghq.com");
        let eu = SinkSpec::parse(
            "datadog",
            &SinkEnv {
                dd_site: Some("datadoghq.eu".into()),
                ..SinkEnv::default()
            },
        )
        .unwrap();
        assert_eq!(eu.to_string(), "datadog:https://api.datadoghq.eu");
        let proxy = SinkSpec::parse("datadog:http://127.0.0.1:9/", &SinkEnv::default()).unwrap();
        assert_eq!(proxy.to_string(), "datadog:http://127.0.0.1:9");
        let wh = SinkSpec::parse(
            "webhook:https://hooks.example.com/dora",
            &SinkEnv::default(),
        )
        .unwrap();
        assert_eq!(wh.to_string(), "webhook:https://hooks.example.com/dora");
        let dl = SinkSpec::parse(
            "devlake:https://lake.example.com/api/rest/plugins/webhook/connections/3/deployments",
            &SinkEnv::default(),
        )
        .unwrap();
        assert_eq!(
            dl.to_string(),
            "devlake:https://lake.example.com/api/rest/plugins/webhook/connections/3"
        );
    }

    #[test]
    fn cloudwatch_takes_its_region_and_endpoint_from_the_aws_variables() {
        let env = SinkEnv {
            aws_region: Some("eu-west-1".into()),
            ..SinkEnv::default()
        };
        let cw = SinkSpec::parse("cloudwatch", &env).unwrap();
        assert_eq!(
            cw.to_string(),
            "cloudwatch:DORA@https://monitoring.eu-west-1.amazonaws.com"
        );
        let named = SinkSpec::parse("cloudwatch:Delivery", &env).unwrap();
        assert_ne!(cw.key(), named.key(), "another namespace is another sink");
        let local = SinkEnv {
            aws_endpoint: Some("http://127.0.0.1:4566".into()),
            ..env.clone()
        };
        assert_eq!(
            SinkSpec::parse("cloudwatch", &local).unwrap().to_string(),
            "cloudwatch:DORA@http://127.0.0.1:4566"
        );
        let china = SinkEnv {
            aws_region: Some("cn-north-1".into()),
            ..SinkEnv::default()
        };
        assert_eq!(
            SinkSpec::parse("cloudwatch", &china).unwrap().to_string(),
            "cloudwatch:DORA@https://monitoring.cn-north-1.amazonaws.com.cn"
        );
        for (spec, env, words) in [
            ("cloudwatch", SinkEnv::default(), "AWS_REGION"),
            ("cloudwatch:", env.clone(), "missing its namespace"),
            ("cloudwatch:Dörä", env.clone(), "not a CloudWatch namespace"),
            (
                "cloudwatch:DORA@https://x",
                env.clone(),
                "not a CloudWatch namespace",
            ),
            ("cloudwatch:AWS/EC2", env.clone(), "not AWS/"),
            (
                "cloudwatch",
                SinkEnv {
                    aws_region: Some("eu west".into()),
                    ..SinkEnv::default()
                },
                "region name",
            ),
        ] {
            let e = SinkSpec::parse(spec, &env).unwrap_err().to_string();
            assert!(e.contains(words), "{spec}: {e}");
        }
    }

    #[test]
    fn rejects_bad_specs_without_echoing_secrets() {
        for bad in [
            "webhook",
            "webhook:not a url",
            "webhook:ftp://x.example.com/",
            "kafka:localhost",
            "webhook:https://",
        ] {
            let e = SinkSpec::parse(bad, &SinkEnv::default()).unwrap_err();
            assert!(
                e.to_string().contains("expected") || e.to_string().contains("host"),
                "{e}"
            );
        }
        let e = SinkSpec::parse(
            "webhook:ftp://user:s3cret@x.example.com/",
            &SinkEnv::default(),
        )
        .unwrap_err();
        assert!(!e.to_string().contains("s3cret"), "{e}");
    }

    #[test]
    fn redacts_credentials_tokens_and_query_values() {
        let u = Url::parse("https://bob:pw@hooks.example.com:8443/services/T000/XXXXXXXXXXXXXXXXXXXXXXXX?token=abc&x=1").unwrap();
        let r = redact_url(&u);
        assert_eq!(
            r,
            "https://***@hooks.example.com:8443/services/T000/***?token=***&x=***"
        );
        let a = SinkSpec::parse(
            "webhook:https://h.example.com/a?token=one",
            &SinkEnv::default(),
        )
        .unwrap();
        let b = SinkSpec::parse(
            "webhook:https://h.example.com/a?token=two",
            &SinkEnv::default(),
        )
        .unwrap();
        assert_eq!(a.to_string(), b.to_string());
        assert_ne!(a.key(), b.key());
        assert!(!a.key().contains("one"));
    }
}
