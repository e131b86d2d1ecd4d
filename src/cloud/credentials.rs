//! VPSie credentials, read from the Secret `kube-system/vpsie-secret`, and the base URL rule.

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;

use reqwest::Url;

use super::error::CloudError;

/// The Secret the autoscaler reads by default, `namespace/name`.
pub const DEFAULT_SECRET_REF: &str = "kube-system/vpsie-secret";

/// The VPSie API base URL used when the Secret has no `url` key.
pub const DEFAULT_BASE_URL: &str = "https://api.vpsie.com/v2";

/// A string that never shows itself: `Debug` and `Display` print `<redacted>`. Read it with
/// [`SecretString::expose`] only where it is sent.
///
/// (An own ten-line type rather than the `secrecy` crate: `secrecy` prints
/// `SecretBox<str>([REDACTED])` and would add a dependency for what a newtype does.)
#[derive(Clone, PartialEq, Eq)]
pub struct SecretString(String);

impl SecretString {
    /// Wraps a secret.
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }

    /// The secret itself: only for putting it on the wire.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether the secret is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl fmt::Display for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl From<String> for SecretString {
    fn from(s: String) -> Self {
        Self(s)
    }
}

impl From<&str> for SecretString {
    fn from(s: &str) -> Self {
        Self(s.to_string())
    }
}

/// How the client authenticates.
#[derive(Clone, PartialEq, Eq)]
pub enum Credentials {
    /// OAuth-style client credentials, exchanged at `POST /auth/from/api` for an access token
    /// that the client refreshes.
    ClientCredentials {
        /// The client id (not secret, but not printed either).
        client_id: String,
        /// The client secret.
        client_secret: SecretString,
    },
    /// A static API token, sent as is and never refreshed.
    StaticToken(SecretString),
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Credentials::ClientCredentials { .. } => f
                .debug_struct("ClientCredentials")
                .field("fingerprint", &self.fingerprint())
                .field("client_secret", &"<redacted>")
                .finish(),
            Credentials::StaticToken(_) => f
                .debug_struct("StaticToken")
                .field("fingerprint", &self.fingerprint())
                .field("token", &"<redacted>")
                .finish(),
        }
    }
}

impl fmt::Display for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} credentials {}", self.kind(), self.fingerprint())
    }
}

impl Credentials {
    /// OAuth client credentials.
    pub fn client(client_id: impl Into<String>, client_secret: impl Into<SecretString>) -> Self {
        Credentials::ClientCredentials {
            client_id: client_id.into(),
            client_secret: client_secret.into(),
        }
    }

    /// A static token.
    pub fn token(token: impl Into<SecretString>) -> Self {
        Credentials::StaticToken(token.into())
    }

    /// `client-credentials` or `static-token`.
    pub fn kind(&self) -> &'static str {
        match self {
            Credentials::ClientCredentials { .. } => "client-credentials",
            Credentials::StaticToken(_) => "static-token",
        }
    }

    /// The Secret keys these credentials come from, for messages: `clientId, clientSecret` or `token`.
    pub fn secret_keys(&self) -> &'static str {
        match self {
            Credentials::ClientCredentials { .. } => "clientId, clientSecret",
            Credentials::StaticToken(_) => "token",
        }
    }

    /// A short, non-secret, non-reversible id of the credential set: the first 12 hex digits of
    /// SHA-256 over the kind, the client id and the secret (or the token). Two sets print the
    /// same fingerprint only when they are equal, so an operator can tell whether a rotated
    /// Secret was picked up.
    pub fn fingerprint(&self) -> String {
        let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
        match self {
            Credentials::ClientCredentials {
                client_id,
                client_secret,
            } => {
                ctx.update(b"client-credentials\0");
                ctx.update(client_id.as_bytes());
                ctx.update(b"\0");
                ctx.update(client_secret.expose().as_bytes());
            }
            Credentials::StaticToken(token) => {
                ctx.update(b"static-token\0");
                ctx.update(token.expose().as_bytes());
            }
        }
        ctx.finish()
            .as_ref()
            .iter()
            .take(6)
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

/// A validated API base URL (https, or http on a loopback host), without a trailing slash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseUrl(String);

impl BaseUrl {
    /// Checks `raw` against the rule: an absolute `https://` URL, or `http://` only when the host
    /// is loopback (127.0.0.0/8, ::1, localhost), with no credentials, query or fragment.
    pub fn parse(raw: &str) -> Result<Self, CloudError> {
        let trimmed = raw.trim();
        let url = Url::parse(trimmed).map_err(|e| {
            CloudError::Config(format!(
                "base URL {trimmed:?} is not a valid URL ({e}); use e.g. {DEFAULT_BASE_URL}"
            ))
        })?;
        let host = url.host_str().unwrap_or("").to_string();
        if host.is_empty() {
            return Err(CloudError::Config(format!(
                "base URL {trimmed:?} has no host; use e.g. {DEFAULT_BASE_URL}"
            )));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(CloudError::Config(
                "base URL must not carry a user or password; put credentials in the Secret keys clientId/clientSecret or token".to_string(),
            ));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(CloudError::Config(format!(
                "base URL {trimmed:?} must not have a query or fragment; use e.g. {DEFAULT_BASE_URL}"
            )));
        }
        match url.scheme() {
            "https" => {}
            "http" if is_loopback_host(&host) => {}
            "http" => {
                return Err(CloudError::Config(format!(
                    "base URL {trimmed:?} uses plain http to a non-loopback host {host:?}; use https:// (plain http is allowed only for 127.0.0.0/8, ::1 and localhost)"
                )))
            }
            other => {
                return Err(CloudError::Config(format!(
                    "base URL {trimmed:?} has scheme {other:?}; use https://, e.g. {DEFAULT_BASE_URL}"
                )))
            }
        }
        Ok(BaseUrl(url.as_str().trim_end_matches('/').to_string()))
    }

    /// The default, `https://api.vpsie.com/v2`.
    pub fn default_url() -> Self {
        BaseUrl(DEFAULT_BASE_URL.to_string())
    }

    /// The URL as text, without a trailing slash.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `base + path`; `path` starts with `/`.
    pub fn join(&self, path: &str) -> String {
        format!("{}{}", self.0, path)
    }
}

impl Default for BaseUrl {
    fn default() -> Self {
        Self::default_url()
    }
}

impl fmt::Display for BaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Whether `host` (as in a URL, IPv6 in brackets) is loopback.
fn is_loopback_host(host: &str) -> bool {
    let h = host.trim_start_matches('[').trim_end_matches(']');
    if h.eq_ignore_ascii_case("localhost") {
        return true;
    }
    h.parse::<IpAddr>()
        .map(|ip| ip.is_loopback())
        .unwrap_or(false)
}

/// What the VPSie Secret holds: the credentials and, optionally, a base URL.
#[derive(Debug, Clone, PartialEq)]
pub struct VpsieSecret {
    /// The credentials.
    pub credentials: Credentials,
    /// The `url` key, validated; `None` means [`DEFAULT_BASE_URL`].
    pub base_url: Option<BaseUrl>,
}

impl VpsieSecret {
    /// Reads the Secret's data (`secret_ref` is `namespace/name`, for messages): keys
    /// `clientId` + `clientSecret`, or `token`, and an optional `url`. Values are UTF-8 with
    /// surrounding whitespace (a stray newline) ignored.
    pub fn from_data(
        secret_ref: &str,
        data: &BTreeMap<String, Vec<u8>>,
    ) -> Result<Self, CloudError> {
        let get = |key: &str| -> Result<Option<String>, CloudError> {
            match data.get(key) {
                None => Ok(None),
                Some(bytes) => {
                    let s = std::str::from_utf8(bytes).map_err(|_| {
                        CloudError::Config(format!(
                            "Secret {secret_ref} key {key:?} is not UTF-8 text; store the plain value (kubectl create secret generic --from-literal={key}=...)"
                        ))
                    })?;
                    let t = s.trim();
                    if t.is_empty() {
                        Err(CloudError::Config(format!(
                            "Secret {secret_ref} key {key:?} is empty; set it to the value from the VPSie console"
                        )))
                    } else {
                        Ok(Some(t.to_string()))
                    }
                }
            }
        };
        let client_id = get("clientId")?;
        let client_secret = get("clientSecret")?;
        let token = get("token")?;
        let credentials = match (client_id, client_secret, token) {
            (Some(id), Some(secret), _) => Credentials::client(id, secret),
            (None, None, Some(token)) => Credentials::token(token),
            (Some(_), None, _) => {
                return Err(CloudError::Config(format!(
                    "Secret {secret_ref} has key \"clientId\" but no key \"clientSecret\"; add clientSecret (or use a single \"token\" key)"
                )))
            }
            (None, Some(_), _) => {
                return Err(CloudError::Config(format!(
                    "Secret {secret_ref} has key \"clientSecret\" but no key \"clientId\"; add clientId (or use a single \"token\" key)"
                )))
            }
            (None, None, None) => {
                let mut keys: Vec<&str> = data.keys().map(String::as_str).collect();
                keys.sort_unstable();
                return Err(CloudError::Config(format!(
                    "Secret {secret_ref} has neither keys \"clientId\" and \"clientSecret\" nor key \"token\" (found keys: [{}]); create it with kubectl create secret generic vpsie-secret -n kube-system --from-literal=clientId=... --from-literal=clientSecret=...",
                    keys.join(", ")
                )));
            }
        };
        let base_url = match get("url")? {
            Some(u) => Some(BaseUrl::parse(&u).map_err(|e| match e {
                CloudError::Config(m) => {
                    CloudError::Config(format!("Secret {secret_ref} key \"url\": {m}"))
                }
                other => other,
            })?),
            None => None,
        };
        Ok(VpsieSecret {
            credentials,
            base_url,
        })
    }

    /// Like [`VpsieSecret::from_data`], for the `data` map of a `k8s_openapi` Secret.
    pub fn from_byte_strings(
        secret_ref: &str,
        data: &BTreeMap<String, k8s_openapi::ByteString>,
    ) -> Result<Self, CloudError> {
        let plain: BTreeMap<String, Vec<u8>> =
            data.iter().map(|(k, v)| (k.clone(), v.0.clone())).collect();
        Self::from_data(secret_ref, &plain)
    }

    /// The base URL to use: the Secret's `url`, or the default.
    pub fn base_url_or_default(&self) -> BaseUrl {
        self.base_url.clone().unwrap_or_default()
    }
}

/// The base URL a Secret's data selects: its `url` key validated, or the default.
pub fn base_url_from_secret(
    secret_ref: &str,
    data: &BTreeMap<String, Vec<u8>>,
) -> Result<BaseUrl, CloudError> {
    VpsieSecret::from_data(secret_ref, data).map(|s| s.base_url_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(pairs: &[(&str, &str)]) -> BTreeMap<String, Vec<u8>> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.as_bytes().to_vec()))
            .collect()
    }

    #[test]
    fn client_credentials_from_secret() {
        let s = VpsieSecret::from_data(
            DEFAULT_SECRET_REF,
            &data(&[("clientId", "id-1\n"), ("clientSecret", "s3cr3t-value")]),
        )
        .expect("valid");
        assert_eq!(s.credentials, Credentials::client("id-1", "s3cr3t-value"));
        assert_eq!(s.base_url, None);
        assert_eq!(s.base_url_or_default().as_str(), DEFAULT_BASE_URL);
    }

    #[test]
    fn token_and_url_from_secret() {
        let s = VpsieSecret::from_data(
            "ns/x",
            &data(&[("token", "tok-abc"), ("url", "http://127.0.0.1:8443/v2/")]),
        )
        .expect("valid");
        assert_eq!(s.credentials, Credentials::token("tok-abc"));
        assert_eq!(
            s.base_url.expect("url").as_str(),
            "http://127.0.0.1:8443/v2"
        );
    }

    #[test]
    fn client_credentials_win_over_token() {
        let s = VpsieSecret::from_data(
            "ns/x",
            &data(&[("clientId", "a"), ("clientSecret", "b"), ("token", "t")]),
        )
        .expect("valid");
        assert_eq!(s.credentials.kind(), "client-credentials");
    }

    #[test]
    fn missing_keys_are_named() {
        let e = VpsieSecret::from_data("kube-system/vpsie-secret", &data(&[("clientId", "a")]))
            .expect_err("missing secret");
        let m = e.to_string();
        assert!(
            m.contains("clientSecret") && m.contains("kube-system/vpsie-secret"),
            "{m}"
        );
        let e = VpsieSecret::from_data("ns/s", &data(&[("clientSecret", "a")])).expect_err("id");
        assert!(e.to_string().contains("no key \"clientId\""), "{e}");
        let e = VpsieSecret::from_data("ns/s", &data(&[("other", "a")])).expect_err("none");
        let m = e.to_string();
        assert!(
            m.contains("found keys: [other]") && m.contains("ns/s"),
            "{m}"
        );
        assert_eq!(e.class(), super::super::error::ErrorClass::Config);
    }

    #[test]
    fn empty_and_non_utf8_values_are_refused() {
        let e = VpsieSecret::from_data("ns/s", &data(&[("token", "  \n")])).expect_err("empty");
        assert!(e.to_string().contains("key \"token\" is empty"), "{e}");
        let mut d = BTreeMap::new();
        d.insert("token".to_string(), vec![0xff, 0xfe]);
        let e = VpsieSecret::from_data("ns/s", &d).expect_err("utf8");
        assert!(e.to_string().contains("not UTF-8"), "{e}");
    }

    #[test]
    fn bad_url_in_secret_names_the_key() {
        let e = VpsieSecret::from_data(
            "ns/s",
            &data(&[("token", "t"), ("url", "http://api.example.com/v2")]),
        )
        .expect_err("http");
        let m = e.to_string();
        assert!(m.contains("key \"url\"") && m.contains("https://"), "{m}");
    }

    #[test]
    fn byte_strings_work_too() {
        let mut d = BTreeMap::new();
        d.insert(
            "token".to_string(),
            k8s_openapi::ByteString(b"tok".to_vec()),
        );
        let s = VpsieSecret::from_byte_strings("ns/s", &d).expect("valid");
        assert_eq!(s.credentials, Credentials::token("tok"));
        assert_eq!(
            base_url_from_secret("ns/s", &data(&[("token", "t")]))
                .expect("ok")
                .as_str(),
            DEFAULT_BASE_URL
        );
    }

    #[test]
    fn base_url_rule() {
        for ok in [
            "https://api.vpsie.com/v2",
            "https://api.vpsie.com/v2/",
            "http://127.0.0.1:9000",
            "http://127.5.6.7/v2",
            "http://localhost:8080/v2",
            "http://LOCALHOST/v2",
            "http://[::1]:8080/v2",
        ] {
            assert!(BaseUrl::parse(ok).is_ok(), "{ok} should be accepted");
        }
        for bad in [
            "http://api.vpsie.com/v2",
            "http://10.0.0.1/v2",
            "http://128.0.0.1/v2",
            "http://localhost.evil.com/v2",
            "ftp://api.vpsie.com",
            "api.vpsie.com/v2",
            "",
            "https://user:pw@api.vpsie.com/v2",
            "https://api.vpsie.com/v2?x=1",
        ] {
            let e = BaseUrl::parse(bad).expect_err(bad);
            assert_eq!(e.class(), super::super::error::ErrorClass::Config, "{bad}");
        }
        assert_eq!(
            BaseUrl::parse("https://api.vpsie.com/v2/")
                .expect("ok")
                .join("/vm"),
            "https://api.vpsie.com/v2/vm"
        );
        let e = BaseUrl::parse("https://user:hunter2@api.vpsie.com").expect_err("creds");
        assert!(!e.to_string().contains("hunter2"));
    }

    #[test]
    fn secrets_never_print() {
        let c = Credentials::client("my-client", "super-secret-value");
        let t = Credentials::token("static-token-value");
        for text in [
            format!("{c:?}"),
            format!("{c}"),
            format!("{t:?}"),
            format!("{t}"),
            format!("{:?}", SecretString::new("super-secret-value")),
            format!("{}", SecretString::new("super-secret-value")),
            format!(
                "{:?}",
                VpsieSecret {
                    credentials: c.clone(),
                    base_url: None
                }
            ),
        ] {
            assert!(!text.contains("super-secret-value"), "{text}");
            assert!(!text.contains("static-token-value"), "{text}");
        }
        assert_eq!(format!("{}", SecretString::new("x")), "<redacted>");
    }

    #[test]
    fn fingerprint_is_short_stable_and_distinct() {
        let a = Credentials::client("id", "secret");
        let f = a.fingerprint();
        assert_eq!(f.len(), 12);
        assert!(f.chars().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(f, Credentials::client("id", "secret").fingerprint());
        assert_ne!(f, Credentials::client("id", "secret2").fingerprint());
        assert_ne!(f, Credentials::client("id2", "secret").fingerprint());
        // The separator keeps ("ab","c") and ("a","bc") apart.
        assert_ne!(
            Credentials::client("ab", "c").fingerprint(),
            Credentials::client("a", "bc").fingerprint()
        );
        assert_ne!(
            Credentials::token("secret").fingerprint(),
            Credentials::client("", "secret").fingerprint()
        );
        assert!(!"secret".contains(&f));
    }
}
