//! AWS Signature Version 4 for the `cloudwatch` sink: the `Authorization`
//! header of a request whose path is `/` and whose query is empty (the
//! query protocol sends its parameters in the body). Checked against AWS's
//! published test vectors (`fixtures/aws-sigv4/`).

use chrono::{DateTime, Utc};
use hmac::{Hmac, KeyInit, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

/// An access key, its secret and the session token of temporary
/// credentials (`AWS_SESSION_TOKEN`).
#[derive(Clone)]
pub struct Credentials {
    pub access_key_id: String,
    pub secret_access_key: SecretString,
    pub session_token: Option<SecretString>,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn hmac(key: &[u8], data: &str) -> Vec<u8> {
    let mut m = <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("HMAC takes any key");
    m.update(data.as_bytes());
    m.finalize().into_bytes().to_vec()
}

/// `YYYYMMDD'T'HHMMSS'Z'`, the `X-Amz-Date` header's form.
pub fn amz_date(t: DateTime<Utc>) -> String {
    t.format("%Y%m%dT%H%M%SZ").to_string()
}

/// The canonical request of `method path` (already URI-encoded, as sent)
/// with `headers` (every one signed), an empty query and `body`.
pub fn canonical_request(
    method: &str,
    path: &str,
    headers: &[(String, String)],
    body: &[u8],
) -> String {
    let mut h: Vec<(String, String)> = headers
        .iter()
        .map(|(k, v)| {
            (
                k.to_ascii_lowercase(),
                v.split_whitespace().collect::<Vec<_>>().join(" "),
            )
        })
        .collect();
    h.sort();
    let canonical: String = h.iter().map(|(k, v)| format!("{k}:{v}\n")).collect();
    let signed: Vec<&str> = h.iter().map(|(k, _)| k.as_str()).collect();
    let path = if path.is_empty() { "/" } else { path };
    format!(
        "{method}\n{path}\n\n{canonical}\n{}\n{}",
        signed.join(";"),
        hex(&Sha256::digest(body))
    )
}

/// The `Authorization` header for the request: `headers` must hold `host`
/// and `x-amz-date` (of `time`) and, with a session token,
/// `x-amz-security-token`.
#[allow(clippy::too_many_arguments)]
pub fn authorization(
    method: &str,
    path: &str,
    headers: &[(String, String)],
    body: &[u8],
    creds: &Credentials,
    region: &str,
    service: &str,
    time: DateTime<Utc>,
) -> String {
    let canonical = canonical_request(method, path, headers, body);
    let date = time.format("%Y%m%d").to_string();
    let scope = format!("{date}/{region}/{service}/aws4_request");
    let to_sign = format!(
        "AWS4-HMAC-SHA256\n{}\n{scope}\n{}",
        amz_date(time),
        hex(&Sha256::digest(canonical.as_bytes()))
    );
    let secret = format!("AWS4{}", creds.secret_access_key.expose_secret());
    let key = [date.as_str(), region, service, "aws4_request"]
        .iter()
        .fold(secret.into_bytes(), |k, part| hmac(&k, part));
    let mut signed: Vec<String> = headers
        .iter()
        .map(|(k, _)| k.to_ascii_lowercase())
        .collect();
    signed.sort();
    format!(
        "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={}, Signature={}",
        creds.access_key_id,
        signed.join(";"),
        hex(&hmac(&key, &to_sign))
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    /// Each published case: our canonical request and Authorization header
    /// are AWS's.
    #[test]
    fn signs_the_aws_test_suite_cases() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/aws-sigv4");
        let mut cases = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let case = entry.unwrap().path();
            if !case.is_dir() {
                continue;
            }
            let read = |f: &str| std::fs::read_to_string(case.join(f)).unwrap();
            let ctx: serde_json::Value = serde_json::from_str(&read("context.json")).unwrap();
            let request = read("request.txt");
            let (head, body) = request.split_once("\n\n").unwrap_or((&request, ""));
            let mut lines = head.lines();
            let method = lines.next().unwrap().split(' ').next().unwrap().to_string();
            let mut headers: Vec<(String, String)> = lines
                .map(|l| {
                    let (k, v) = l.split_once(':').unwrap();
                    (k.to_ascii_lowercase(), v.to_string())
                })
                .collect();
            let time = DateTime::parse_from_rfc3339(ctx["timestamp"].as_str().unwrap())
                .unwrap()
                .with_timezone(&Utc);
            headers.push(("x-amz-date".into(), amz_date(time)));
            let c = &ctx["credentials"];
            let token = c["token"].as_str();
            if let Some(t) = token {
                headers.push(("x-amz-security-token".into(), t.into()));
            }
            if ctx["sign_body"] == true {
                headers.push((
                    "x-amz-content-sha256".into(),
                    hex(&Sha256::digest(body.as_bytes())),
                ));
            }
            let creds = Credentials {
                access_key_id: c["access_key_id"].as_str().unwrap().into(),
                secret_access_key: SecretString::from(c["secret_access_key"].as_str().unwrap()),
                session_token: token.map(SecretString::from),
            };
            let name = case.file_name().unwrap().to_string_lossy().into_owned();
            assert_eq!(
                canonical_request(&method, "/", &headers, body.as_bytes()),
                read("header-canonical-request.txt").trim_end(),
                "{name}"
            );
            let auth = authorization(
                &method,
                "/",
                &headers,
                body.as_bytes(),
                &creds,
                ctx["region"].as_str().unwrap(),
                ctx["service"].as_str().unwrap(),
                time,
            );
            let expected = read("header-signed-request.txt");
            let line = expected
                .lines()
                .find_map(|l| l.strip_prefix("Authorization:"))
                .unwrap();
            assert_eq!(auth, line, "{name}");
            cases += 1;
        }
        assert_eq!(cases, 4);
    }
}
