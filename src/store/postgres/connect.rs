//! Turning a `postgres://` URL into a connection: libpq's `sslmode` values
//! on top of tokio-postgres (which knows only disable/prefer/require), TLS
//! through rustls with the `ring` provider, and timeouts on every step.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use tokio_postgres::config::SslMode;
use tokio_postgres::{Client, NoTls};
use tokio_postgres_rustls::MakeRustlsConnect;

/// What a malformed URL should have looked like.
pub const EXPECTED_FORM: &str = "expected postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE[?sslmode=disable|prefer|require|verify-ca|verify-full]";

const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// libpq's `sslmode`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ssl {
    Disable,
    /// TLS when the server offers it, plain otherwise (also `allow`).
    Prefer,
    /// TLS without certificate verification: libpq's `require` protects
    /// against eavesdropping, not against a man in the middle.
    Require,
    /// TLS with a certificate chain to a trusted root, any host name.
    VerifyCa,
    /// TLS with a trusted chain and a matching host name.
    VerifyFull,
}

/// A parsed URL, ready to connect.
pub struct Target {
    pub config: tokio_postgres::Config,
    pub ssl: Ssl,
    /// `sslrootcert`: a PEM file of trusted roots instead of the webpki roots.
    pub root_cert: Option<String>,
    /// The password as written and decoded, so error text can be scrubbed of it.
    secrets: Vec<String>,
}

/// Validates a URL without connecting (for `StoreUrl::parse`).
pub fn check_url(raw: &str) -> Result<(), String> {
    Target::parse(raw).map(|_| ())
}

/// Where a URL's data lives, whoever connects: its hosts, ports and
/// database (the user's name when none is given, as libpq does), without
/// user or password. Two URLs with the same place name the same store.
pub fn place(raw: &str) -> Option<String> {
    let c = Target::parse(raw).ok()?.config;
    let ports: &[u16] = match c.get_ports() {
        [] => &[5432],
        p => p,
    };
    let db = c.get_dbname().or(c.get_user()).unwrap_or("");
    Some(format!(
        "{:?} {:?} {ports:?} {db}",
        c.get_hosts(),
        c.get_hostaddrs()
    ))
}

impl Target {
    pub fn parse(raw: &str) -> Result<Target, String> {
        let secrets: Vec<String> = password_of(raw)
            .into_iter()
            .flat_map(|p| [percent_decode(&p), p])
            // Defence in depth (no message we know of echoes the password);
            // scrubbing a one-letter password would garble every message.
            .filter(|p| p.len() >= 4)
            .collect();
        let scrub = |s: String| scrub_all(&secrets, s);
        let (base, query) = match raw.split_once('?') {
            Some((b, q)) => (b, Some(q)),
            None => (raw, None),
        };
        let mut ssl = Ssl::Prefer;
        let mut root_cert = None;
        let mut rest = Vec::new();
        for pair in query
            .into_iter()
            .flat_map(|q| q.split('&'))
            .filter(|p| !p.is_empty())
        {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            match key {
                "sslmode" => {
                    ssl = match value {
                        "disable" => Ssl::Disable,
                        "allow" | "prefer" => Ssl::Prefer,
                        "require" => Ssl::Require,
                        "verify-ca" => Ssl::VerifyCa,
                        "verify-full" => Ssl::VerifyFull,
                        other => {
                            return Err(scrub(format!(
                                "unknown sslmode '{other}': use disable, prefer, require, verify-ca or verify-full"
                            )));
                        }
                    }
                }
                "sslrootcert" => root_cert = Some(percent_decode(value)),
                _ => rest.push(pair),
            }
        }
        let rebuilt = if rest.is_empty() {
            base.to_string()
        } else {
            format!("{base}?{}", rest.join("&"))
        };
        let mut config = tokio_postgres::Config::from_str(&rebuilt).map_err(|e| {
            let cause = std::error::Error::source(&e)
                .map(|s| format!(": {s}"))
                .unwrap_or_default();
            scrub(format!("{e}{cause}; {EXPECTED_FORM}"))
        })?;
        if config.get_hosts().is_empty() && config.get_hostaddrs().is_empty() {
            return Err(format!("the URL names no host; {EXPECTED_FORM}"));
        }
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(DEFAULT_CONNECT_TIMEOUT);
        }
        if config.get_application_name().is_none() {
            config.application_name("dorameter");
        }
        config.ssl_mode(match ssl {
            Ssl::Disable => SslMode::Disable,
            Ssl::Prefer => SslMode::Prefer,
            Ssl::Require | Ssl::VerifyCa | Ssl::VerifyFull => SslMode::Require,
        });
        Ok(Target {
            config,
            ssl,
            root_cert,
            secrets,
        })
    }

    /// Replaces the password, wherever a message might echo it.
    pub fn scrub(&self, s: String) -> String {
        scrub_all(&self.secrets, s)
    }

    /// The whole connection (every host, TLS, authentication) must finish in
    /// this time: `connect_timeout` alone covers only the socket.
    fn overall_timeout(&self) -> Duration {
        let per_host = self
            .config
            .get_connect_timeout()
            .copied()
            .unwrap_or(DEFAULT_CONNECT_TIMEOUT);
        let hosts = self.config.get_hosts().len().max(1) as u32;
        per_host * hosts + Duration::from_secs(10)
    }

    /// Connects and spawns the connection task on the current runtime.
    pub async fn connect(&self) -> Result<Client, ConnectError> {
        let attempt = async {
            match self.ssl {
                Ssl::Disable => self.connect_with(&self.config, None).await,
                Ssl::Prefer => {
                    let tls = self.tls().map_err(ConnectError::setup)?;
                    match self.connect_with(&self.config, Some(tls)).await {
                        // libpq's prefer: a failed handshake falls back to plain.
                        Err(e) if e.message.starts_with("error performing TLS handshake") => {
                            let mut plain = self.config.clone();
                            plain.ssl_mode(SslMode::Disable);
                            self.connect_with(&plain, None).await
                        }
                        other => other,
                    }
                }
                _ => {
                    let tls = self.tls().map_err(ConnectError::setup)?;
                    self.connect_with(&self.config, Some(tls)).await
                }
            }
        };
        match tokio::time::timeout(self.overall_timeout(), attempt).await {
            Ok(r) => r.map_err(|e| ConnectError {
                message: self.scrub(e.message),
                unreachable: e.unreachable,
            }),
            Err(_) => Err(ConnectError {
                message: format!(
                    "no answer from the server within {} s",
                    self.overall_timeout().as_secs()
                ),
                unreachable: true,
            }),
        }
    }

    async fn connect_with(
        &self,
        config: &tokio_postgres::Config,
        tls: Option<MakeRustlsConnect>,
    ) -> Result<Client, ConnectError> {
        match tls {
            None => {
                let (client, conn) = config.connect(NoTls).await.map_err(ConnectError::from_pg)?;
                tokio::spawn(async move {
                    let _ = conn.await;
                });
                Ok(client)
            }
            Some(tls) => {
                let (client, conn) = config.connect(tls).await.map_err(ConnectError::from_pg)?;
                tokio::spawn(async move {
                    let _ = conn.await;
                });
                Ok(client)
            }
        }
    }

    fn tls(&self) -> Result<MakeRustlsConnect, String> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("cannot set up TLS: {e}"))?;
        let config = match self.ssl {
            Ssl::Disable | Ssl::Prefer | Ssl::Require => builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(Unverified(provider)))
                .with_no_client_auth(),
            Ssl::VerifyCa | Ssl::VerifyFull => {
                let mut roots = RootCertStore::empty();
                match &self.root_cert {
                    Some(path) => {
                        let pem = std::fs::read(path)
                            .map_err(|e| format!("cannot read sslrootcert {path}: {e}"))?;
                        for cert in CertificateDer::pem_slice_iter(&pem) {
                            let cert =
                                cert.map_err(|e| format!("sslrootcert {path} is not PEM: {e}"))?;
                            roots
                                .add(cert)
                                .map_err(|e| format!("sslrootcert {path}: {e}"))?;
                        }
                        if roots.is_empty() {
                            return Err(format!("sslrootcert {path} holds no certificate"));
                        }
                    }
                    None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
                }
                let verifier =
                    WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
                        .build()
                        .map_err(|e| format!("cannot set up TLS verification: {e}"))?;
                let verifier: Arc<dyn ServerCertVerifier> = if self.ssl == Ssl::VerifyCa {
                    Arc::new(AnyName(verifier))
                } else {
                    verifier
                };
                builder
                    .dangerous()
                    .with_custom_certificate_verifier(verifier)
                    .with_no_client_auth()
            }
        };
        Ok(MakeRustlsConnect::new(config))
    }
}

/// The message of a tokio-postgres error with its causes, on one line: the
/// server's own message for database errors.
/// Why a connection failed, and whether the server could not be reached
/// at all (refused, unroutable, unresolvable, silent): the environment, not
/// the URL's settings (a refused password or a TLS mismatch are those).
#[derive(Debug)]
pub struct ConnectError {
    pub message: String,
    pub unreachable: bool,
}

impl ConnectError {
    fn setup(message: String) -> ConnectError {
        ConnectError {
            message,
            unreachable: false,
        }
    }

    fn from_pg(e: tokio_postgres::Error) -> ConnectError {
        let message = describe(&e);
        let io = std::error::Error::source(&e).is_some_and(|s| s.is::<std::io::Error>());
        ConnectError {
            unreachable: e.as_db_error().is_none()
                && io
                && !message.starts_with("error performing TLS handshake"),
            message,
        }
    }
}

pub fn describe(e: &tokio_postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        let mut s = db.message().to_string();
        if let Some(detail) = db.detail() {
            s.push_str(&format!(" ({detail})"));
        }
        return s;
    }
    // "error connecting to server" alone does not say why.
    let mut s = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        let text = cause.to_string();
        if !s.contains(&text) {
            s.push_str(": ");
            s.push_str(&text);
        }
        source = cause.source();
    }
    s
}

fn scrub_all(secrets: &[String], mut s: String) -> String {
    for p in secrets {
        s = s.replace(p.as_str(), "***");
    }
    s
}

/// The password in the URL's user info or `password=` parameter, as written.
fn password_of(raw: &str) -> Option<String> {
    let rest = &raw[raw.find("://")? + 3..];
    let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    if let Some((userinfo, _)) = authority.rsplit_once('@') {
        if let Some((_, p)) = userinfo.split_once(':') {
            return Some(p.to_string());
        }
    }
    let query = raw.split_once('?')?.1;
    query
        .split('&')
        .find_map(|pair| pair.strip_prefix("password="))
        .map(str::to_string)
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
            if let Some(b) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `sslmode=require`/`prefer`: encryption without authentication of the
/// server, as libpq does. Handshake signatures are still checked, so the
/// session key really belongs to whoever holds the certificate's key.
#[derive(Debug)]
struct Unverified(Arc<CryptoProvider>);

impl ServerCertVerifier for Unverified {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// `sslmode=verify-ca`: the chain must reach a trusted root; the host name
/// may differ (servers reached through an IP or an internal alias).
#[derive(Debug)]
struct AnyName(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for AnyName {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sslmodes_and_scrubbing() {
        let t =
            Target::parse("postgres://u:pw@h/db?sslmode=verify-full&sslrootcert=%2Ftmp%2Fca.pem")
                .unwrap();
        assert_eq!(t.ssl, Ssl::VerifyFull);
        assert_eq!(t.root_cert.as_deref(), Some("/tmp/ca.pem"));
        assert_eq!(t.config.get_ssl_mode(), SslMode::Require);
        assert_eq!(Target::parse("postgres://u@h/db").unwrap().ssl, Ssl::Prefer);
        assert_eq!(
            Target::parse("postgresql://u@h/db?sslmode=disable")
                .unwrap()
                .ssl,
            Ssl::Disable
        );
        let e = Target::parse("postgres://u:s3cretpw@h:99999/db")
            .err()
            .unwrap();
        assert!(
            !e.contains("s3cretpw") && e.contains("expected postgres://"),
            "{e}"
        );
        assert!(Target::parse("postgres://u:pw@h/db?sslmode=on").is_err());
        assert_eq!(
            password_of("postgres://u:a%40b@h/db").as_deref(),
            Some("a%40b")
        );
        assert_eq!(
            password_of("postgres://h/db?user=u&password=x").as_deref(),
            Some("x")
        );
        assert_eq!(password_of("postgres://u@h/db"), None);
    }
}
