//! `creds rotate` and `creds check`: the VPSie credentials in Secret `vpsie-secret` (keys
//! `clientId`, `clientSecret`; the optional `url` key selects the VPSie API, as `serve` reads it).
//!
//! `creds rotate` gets a new pair (prompts on a terminal; `--from-env` reads
//! [`ENV_CLIENT_ID`]/[`ENV_CLIENT_SECRET`]; `--stdin` reads `clientId=...`/`clientSecret=...`
//! lines), checks it against the VPSie token endpoint (`POST /auth/from/api` at the Secret's
//! `url`, else `https://api.vpsie.com/v2`) unless `--skip-validate`, writes the two keys (other
//! keys kept; the Secret is created when missing) and waits until the controller's status report
//! shows the new pair's fingerprint loaded — serve follows the Secret, no restart.
//!
//! `creds check` compares the Secret with what the controller loaded and, unless `--no-live`,
//! logs in with the Secret's pair.
//!
//! The client secret is held in a [`SecretString`] and is never printed, logged or put in an
//! error; fingerprints ([`Credentials::fingerprint`], the function serve uses) identify pairs.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::ByteString;
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde::{Deserialize, Serialize};
use vpsie_autoscaler::cloud::{
    BaseUrl, ClientConfig, CloudError, CloudMetrics, Credentials, ErrorClass, RetryPolicy,
    SecretString, VpsieClient, VpsieSecret,
};
use vpsie_reconciler::report::{wait_for_report, CredentialsStatus, StatusReport};

use crate::cli::OutputFormat;
use crate::commands::common::{self, Cluster, Op, Spinner};
use crate::error::PluginError;

/// The environment variable `--from-env` reads the client id from.
pub const ENV_CLIENT_ID: &str = "VPSIE_CLIENT_ID";
/// The environment variable `--from-env` reads the client secret from.
pub const ENV_CLIENT_SECRET: &str = "VPSIE_CLIENT_SECRET";
/// The version of the JSON of `creds rotate` and `creds check`.
pub const SCHEMA_VERSION: u32 = 1;

/// Where the new pair comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// Prompts on the terminal.
    Prompt,
    /// [`ENV_CLIENT_ID`] and [`ENV_CLIENT_SECRET`].
    Env,
    /// `clientId=...` and `clientSecret=...` lines on stdin.
    Stdin,
}

/// A new client id and secret; `Debug` shows no secret.
#[derive(Clone)]
pub struct NewPair {
    /// The client id.
    pub client_id: String,
    /// The client secret.
    pub client_secret: SecretString,
}

impl std::fmt::Debug for NewPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "NewPair(fingerprint {})",
            self.credentials().fingerprint()
        )
    }
}

impl NewPair {
    /// As the client's credentials.
    pub fn credentials(&self) -> Credentials {
        Credentials::client(self.client_id.clone(), self.client_secret.clone())
    }
}

/// Checks a client id: trimmed, non-empty, no whitespace or control characters. Pure.
pub fn check_client_id(raw: &str, from: &str) -> Result<String, PluginError> {
    let id = raw.trim();
    if id.is_empty() {
        return Err(PluginError::Config(format!(
            "the client id ({from}) is empty: give the API client id from the VPSie console"
        )));
    }
    if id.len() > 256 || id.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(PluginError::Config(format!(
            "the client id {id:?} ({from}) is invalid: it must be at most 256 characters without spaces or control characters; copy the API client id from the VPSie console"
        )));
    }
    Ok(id.to_string())
}

/// Checks a client secret: trimmed, non-empty, no control characters. The errors never show
/// the value. Pure.
pub fn check_client_secret(raw: &str, from: &str) -> Result<SecretString, PluginError> {
    let s = raw.trim();
    if s.is_empty() {
        return Err(PluginError::Config(format!(
            "the client secret ({from}) is empty: give the API client secret from the VPSie console"
        )));
    }
    if s.chars().any(char::is_control) {
        return Err(PluginError::Config(format!(
            "the client secret ({from}) contains a control character or line break (value not shown): give it on one line"
        )));
    }
    Ok(SecretString::new(s))
}

/// Reads `--stdin`'s text: lines `clientId=ID` and `clientSecret=SECRET` (also
/// `VPSIE_CLIENT_ID=`/`VPSIE_CLIENT_SECRET=`, so an env file works); blank lines and `#`
/// comments are skipped. `flag_id` (`--client-id`) replaces a missing `clientId` line. Pure.
pub fn parse_stdin(text: &str, flag_id: Option<&str>) -> Result<NewPair, PluginError> {
    let mut id: Option<String> = None;
    let mut secret: Option<String> = None;
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            return Err(PluginError::Config(format!(
                "stdin line {}: expected KEY=VALUE with KEY clientId or clientSecret (e.g. `clientId=abc`), got a line without '=' (not shown)",
                n + 1
            )));
        };
        let value = value.trim().trim_matches('"').to_string();
        match key.trim() {
            "clientId" | ENV_CLIENT_ID => id = Some(value),
            "clientSecret" | ENV_CLIENT_SECRET => secret = Some(value),
            other => {
                return Err(PluginError::Config(format!(
                    "stdin line {}: unknown key {other:?}; use clientId=... and clientSecret=...",
                    n + 1
                )))
            }
        }
    }
    let id = match (id, flag_id) {
        (Some(id), _) => check_client_id(&id, "stdin clientId")?,
        (None, Some(f)) => check_client_id(f, "--client-id")?,
        (None, None) => {
            return Err(PluginError::Config(
                "stdin has no clientId line: write `clientId=ID` and `clientSecret=SECRET` lines, or pass --client-id".into(),
            ))
        }
    };
    let secret = match secret {
        Some(s) => check_client_secret(&s, "stdin clientSecret")?,
        None => {
            return Err(PluginError::Config(
                "stdin has no clientSecret line: write `clientSecret=SECRET` on its own line"
                    .into(),
            ))
        }
    };
    Ok(NewPair {
        client_id: id,
        client_secret: secret,
    })
}

/// Reads `--from-env`: [`ENV_CLIENT_ID`] (or `flag_id`) and [`ENV_CLIENT_SECRET`]. Pure given
/// `env`.
pub fn pair_from_env(
    flag_id: Option<&str>,
    env: impl Fn(&str) -> Option<String>,
) -> Result<NewPair, PluginError> {
    let id = match (flag_id, env(ENV_CLIENT_ID)) {
        (Some(f), _) => check_client_id(f, "--client-id")?,
        (None, Some(v)) => check_client_id(&v, ENV_CLIENT_ID)?,
        (None, None) => {
            return Err(PluginError::Config(format!(
                "--from-env: {ENV_CLIENT_ID} is not set: export {ENV_CLIENT_ID}=<client id> (or pass --client-id)"
            )))
        }
    };
    let secret = match env(ENV_CLIENT_SECRET) {
        Some(v) => check_client_secret(&v, ENV_CLIENT_SECRET)?,
        None => {
            return Err(PluginError::Config(format!(
                "--from-env: {ENV_CLIENT_SECRET} is not set: export {ENV_CLIENT_SECRET}=<client secret>"
            )))
        }
    };
    Ok(NewPair {
        client_id: id,
        client_secret: secret,
    })
}

/// The Secret's data as plain bytes.
fn plain_data(secret: &Secret) -> BTreeMap<String, Vec<u8>> {
    secret
        .data
        .as_ref()
        .map(|d| d.iter().map(|(k, v)| (k.clone(), v.0.clone())).collect())
        .unwrap_or_default()
}

/// The VPSie API the Secret selects, as serve reads it: its `url` key (validated), else the
/// default. Pure.
pub fn base_url_of(secret_ref: &str, secret: Option<&Secret>) -> Result<BaseUrl, PluginError> {
    let Some(url) = secret.and_then(|s| plain_data(s).get("url").cloned()) else {
        return Ok(BaseUrl::default());
    };
    let text = String::from_utf8_lossy(&url).trim().to_string();
    if text.is_empty() {
        return Ok(BaseUrl::default());
    }
    BaseUrl::parse(&text).map_err(|e| {
        PluginError::Config(format!(
            "Secret {secret_ref} key \"url\" = {text:?} is not usable: {e}; fix the key or remove it to use the default API"
        ))
    })
}

/// The credentials the Secret holds, as serve parses them. Pure.
pub fn secret_credentials(
    secret_ref: &str,
    secret: Option<&Secret>,
) -> Result<VpsieSecret, String> {
    match secret {
        None => Err(vpsie_reconciler::creds::missing_message(secret_ref)),
        Some(s) => VpsieSecret::from_data(secret_ref, &plain_data(s)).map_err(|e| e.to_string()),
    }
}

/// A client for one check: no retries (an answer now), a short timeout.
fn check_client(
    base_url: BaseUrl,
    secret_ref: &str,
    creds: Credentials,
) -> Result<VpsieClient, String> {
    let config = ClientConfig {
        base_url,
        timeout: Duration::from_secs(15),
        retry: RetryPolicy::none(),
        secret_ref: secret_ref.to_string(),
        ..ClientConfig::default()
    };
    VpsieClient::new(
        config,
        creds,
        vpsie_autoscaler::clock::system(),
        CloudMetrics::unregistered(),
    )
    .map_err(|e| e.to_string())
}

/// What a live login said.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LiveCheck {
    /// The API logged in to.
    pub base_url: String,
    /// Whether the login succeeded.
    pub ok: bool,
    /// `unauthorized`, `network`... when it failed.
    pub error_type: Option<String>,
    /// What failed (never the secret).
    pub message: Option<String>,
}

/// Logs in with `creds` at `base_url` (one request to the token endpoint).
pub async fn live_check(base_url: &BaseUrl, secret_ref: &str, creds: &Credentials) -> LiveCheck {
    let secrets: Vec<String> = match creds {
        Credentials::ClientCredentials { client_secret, .. } => {
            vec![client_secret.expose().to_string()]
        }
        Credentials::StaticToken(t) => vec![t.expose().to_string()],
    };
    let fail = |error_type: Option<String>, message: String| LiveCheck {
        base_url: base_url.to_string(),
        ok: false,
        error_type,
        message: Some(redact(&message, &secrets)),
    };
    let client = match check_client(base_url.clone(), secret_ref, creds.clone()) {
        Ok(c) => c,
        Err(e) => return fail(Some("config".into()), e),
    };
    match client.check_credentials().await {
        Ok(_) => LiveCheck {
            base_url: base_url.to_string(),
            ok: true,
            error_type: None,
            message: None,
        },
        Err(e) => {
            let refs: Vec<&str> = secrets.iter().map(String::as_str).collect();
            let e: CloudError = e.redact(&refs);
            fail(Some(e.class().as_str().to_string()), e.to_string())
        }
    }
}

/// `text` with every secret replaced by `<redacted>`. Pure.
pub fn redact(text: &str, secrets: &[String]) -> String {
    secrets
        .iter()
        .filter(|s| !s.is_empty())
        .fold(text.to_string(), |t, s| t.replace(s.as_str(), "<redacted>"))
}

/// The error of a refused validation: the Secret was not touched. Pure.
pub fn validation_error(check: &LiveCheck, secret_ref: &str) -> PluginError {
    let said = check.message.clone().unwrap_or_default();
    match check.error_type.as_deref() {
        Some(t) if t == ErrorClass::Unauthorized.as_str() => PluginError::Refused(format!(
            "VPSie at {} refused the new credentials (token endpoint: {said}); Secret {secret_ref} was not changed: check the client id and secret in the VPSie console",
            check.base_url
        )),
        _ => PluginError::Refused(format!(
            "could not validate the new credentials against {} ({said}); Secret {secret_ref} was not changed: retry, check connectivity to the VPSie API, or pass --skip-validate to write them unchecked",
            check.base_url
        )),
    }
}

/// Reads the Secret; `None` when absent.
pub async fn get_secret(cluster: &Cluster, name: &str) -> Result<Option<Secret>, PluginError> {
    let api: Api<Secret> = Api::namespaced(cluster.client.clone(), &cluster.namespace);
    api.get_opt(name).await.map_err(|e| {
        cluster.err(
            e,
            Op {
                verb: "get",
                resource: "secrets",
            },
            Some(name),
        )
    })
}

/// Writes `clientId` and `clientSecret` into the Secret: a merge patch keeps its other keys;
/// created (type Opaque) when missing.
async fn write_secret(
    cluster: &Cluster,
    name: &str,
    exists: bool,
    pair: &NewPair,
) -> Result<(), PluginError> {
    let api: Api<Secret> = Api::namespaced(cluster.client.clone(), &cluster.namespace);
    let id = ByteString(pair.client_id.as_bytes().to_vec());
    let secret = ByteString(pair.client_secret.expose().as_bytes().to_vec());
    let result = if exists {
        let patch = serde_json::json!({"data": {"clientId": id, "clientSecret": secret}});
        api.patch(name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .map(|_| ())
            .map_err(|e| (e, "patch"))
    } else {
        let obj = Secret {
            metadata: kube::api::ObjectMeta {
                name: Some(name.to_string()),
                namespace: Some(cluster.namespace.clone()),
                ..Default::default()
            },
            type_: Some("Opaque".into()),
            data: Some(
                [
                    ("clientId".to_string(), id),
                    ("clientSecret".to_string(), secret),
                ]
                .into_iter()
                .collect(),
            ),
            ..Default::default()
        };
        api.create(&PostParams::default(), &obj)
            .await
            .map(|_| ())
            .map_err(|e| (e, "create"))
    };
    result.map_err(|(e, verb)| {
        cluster.err(
            e,
            Op {
                verb,
                resource: "secrets",
            },
            Some(name),
        )
    })
}

/// `creds rotate -o json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RotateView {
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// `namespace/name` of the Secret.
    pub secret: String,
    /// Whether the Secret was created (it did not exist).
    pub created: bool,
    /// The fingerprint of the pair the Secret held before, when it held one.
    pub previous_fingerprint: Option<String>,
    /// The fingerprint of the new pair.
    pub fingerprint: String,
    /// The VPSie API the pair was validated against; `None` with `--skip-validate`.
    pub validated_against: Option<String>,
    /// Whether the controller reported the new pair loaded (`false` with `--no-wait`).
    pub loaded: bool,
    /// When the controller loaded it.
    pub loaded_at: Option<DateTime<Utc>>,
}

/// What `creds rotate` was asked.
#[derive(Debug, Clone)]
pub struct RotateOptions {
    /// Where the pair comes from.
    pub source: Source,
    /// `--client-id`.
    pub client_id: Option<String>,
    /// `--skip-validate`.
    pub skip_validate: bool,
    /// `--yes`.
    pub yes: bool,
    /// `--no-wait`.
    pub no_wait: bool,
    /// `--timeout`.
    pub timeout: Duration,
    /// `--secret-name`.
    pub secret_name: String,
}

/// Asks for the pair on the terminal: the client id (unless given), the hidden secret.
fn prompt_pair(flag_id: Option<&str>) -> Result<NewPair, PluginError> {
    let no_tty = |e: dialoguer::Error| {
        PluginError::Refused(format!(
            "cannot prompt ({e}); pass --from-env ({ENV_CLIENT_ID}, {ENV_CLIENT_SECRET}) or --stdin, with --yes"
        ))
    };
    let id = match flag_id {
        Some(f) => check_client_id(f, "--client-id")?,
        None => {
            let typed: String = dialoguer::Input::new()
                .with_prompt("VPSie client id")
                .interact_text()
                .map_err(no_tty)?;
            check_client_id(&typed, "the client id typed")?
        }
    };
    let secret = dialoguer::Password::new()
        .with_prompt("VPSie client secret (hidden)")
        .interact()
        .map_err(no_tty)?;
    let secret = check_client_secret(&secret, "the client secret typed")?;
    Ok(NewPair {
        client_id: id,
        client_secret: secret,
    })
}

/// Whether to write: `--yes`; else a prompt on a terminal (never for `--stdin`, whose stdin is
/// the data); refused otherwise.
pub fn confirm(
    yes: bool,
    can_prompt: bool,
    secret_ref: &str,
    ask: impl FnOnce() -> Result<bool, String>,
) -> Result<bool, PluginError> {
    if yes {
        return Ok(true);
    }
    if !can_prompt {
        return Err(PluginError::Refused(format!(
            "refusing to write Secret {secret_ref} without confirmation: no terminal to ask on; pass --yes to write it"
        )));
    }
    ask().map_err(|e| {
        PluginError::Refused(format!(
            "no confirmation: {e}; pass --yes to write Secret {secret_ref} without a prompt"
        ))
    })
}

/// `creds rotate`.
pub async fn rotate(
    cluster: &Cluster,
    opts: &RotateOptions,
    format: OutputFormat,
) -> Result<(), PluginError> {
    let secret_ref = format!("{}/{}", cluster.namespace, opts.secret_name);
    let terminal = common::interactive();
    let pair = match opts.source {
        Source::Env => pair_from_env(opts.client_id.as_deref(), |k| std::env::var(k).ok())?,
        Source::Stdin => {
            use std::io::Read;
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .map_err(|e| PluginError::Io("reading the credentials from stdin".into(), e))?;
            parse_stdin(&text, opts.client_id.as_deref())?
        }
        Source::Prompt => {
            if !terminal {
                return Err(PluginError::Refused(format!(
                    "stdin is not a terminal, so the credentials cannot be prompted for: pass --from-env ({ENV_CLIENT_ID}, {ENV_CLIENT_SECRET}) or --stdin (lines clientId=..., clientSecret=...), with --yes"
                )));
            }
            prompt_pair(opts.client_id.as_deref())?
        }
    };
    let new = pair.credentials();
    let fingerprint = new.fingerprint();

    let existing = get_secret(cluster, &opts.secret_name).await?;
    let previous_fingerprint = secret_credentials(&secret_ref, existing.as_ref())
        .ok()
        .map(|s| s.credentials.fingerprint());
    let base_url = base_url_of(&secret_ref, existing.as_ref())?;

    let validated_against = if opts.skip_validate {
        eprintln!("not validating the new credentials (--skip-validate)");
        None
    } else {
        let spinner = Spinner::start(format!(
            "validating the new credentials (fingerprint {fingerprint}) at {base_url}/auth/from/api..."
        ));
        let check = live_check(&base_url, &secret_ref, &new).await;
        spinner.stop();
        if !check.ok {
            return Err(validation_error(&check, &secret_ref));
        }
        eprintln!("VPSie at {base_url} accepted the new credentials (fingerprint {fingerprint})");
        Some(base_url.to_string())
    };

    let can_prompt = terminal && opts.source != Source::Stdin;
    let action = if existing.is_some() {
        "Update"
    } else {
        "Create"
    };
    let was = previous_fingerprint
        .as_deref()
        .map(|f| format!(", replacing {f}"))
        .unwrap_or_default();
    let go = confirm(opts.yes, can_prompt, &secret_ref, || {
        dialoguer::Confirm::new()
            .with_prompt(format!(
                "{action} Secret {secret_ref} with the credentials of fingerprint {fingerprint}{was}?"
            ))
            .default(false)
            .interact()
            .map_err(|e| e.to_string())
    })?;
    if !go {
        crate::outln!("not changed: Secret {secret_ref}");
        return Ok(());
    }
    write_secret(cluster, &opts.secret_name, existing.is_some(), &pair).await?;
    eprintln!(
        "Secret {secret_ref} {} (keys clientId, clientSecret; fingerprint {fingerprint})",
        if existing.is_some() {
            "updated"
        } else {
            "created"
        }
    );

    let mut view = RotateView {
        schema_version: SCHEMA_VERSION,
        secret: secret_ref.clone(),
        created: existing.is_none(),
        previous_fingerprint,
        fingerprint: fingerprint.clone(),
        validated_against,
        loaded: false,
        loaded_at: None,
    };
    if !opts.no_wait {
        let spinner = Spinner::start(format!(
            "waiting for the controller to load fingerprint {fingerprint}..."
        ));
        let done = wait_for_report(&cluster.client, &cluster.namespace, opts.timeout, |r| {
            is_loaded(r, &fingerprint)
        })
        .await;
        spinner.stop();
        match done {
            Ok(r) => {
                view.loaded = true;
                view.loaded_at = r.credentials.loaded_at;
            }
            Err(e) => {
                if let Some(refused) = cluster.refused_report_wait(e) {
                    return Err(refused);
                }
                let now = cluster.report().await.ok();
                let shows = now
                    .map(|r| {
                        format!(
                            "it reports state {} fingerprint {}",
                            state_name(r.credentials.state),
                            r.credentials.fingerprint.as_deref().unwrap_or("-")
                        )
                    })
                    .unwrap_or_else(|| "no status report".to_string());
                return Err(PluginError::Timeout(format!(
                    "Secret {secret_ref} was written, but the controller did not load fingerprint {fingerprint} within {}s ({shows}): check that it runs (`kubectl vpsie status`, `kubectl logs -n {ns} deployment/vpsie-autoscaler`), then `kubectl vpsie creds check`",
                    opts.timeout.as_secs(),
                    ns = cluster.namespace
                )));
            }
        }
    }
    match common::structured(format, &view) {
        Some(t) => crate::out!("{}", t?),
        None => crate::outln!("{}", render_rotate(&view)),
    }
    Ok(())
}

/// Whether `r` shows `fingerprint` loaded. Pure.
pub fn is_loaded(r: &StatusReport, fingerprint: &str) -> bool {
    r.credentials.state == CredentialsStatus::Loaded
        && r.credentials.fingerprint.as_deref() == Some(fingerprint)
}

fn state_name(s: CredentialsStatus) -> &'static str {
    match s {
        CredentialsStatus::Pending => "pending",
        CredentialsStatus::Loaded => "loaded",
        CredentialsStatus::Missing => "missing",
        CredentialsStatus::Invalid => "invalid",
    }
}

/// The confirmation line of a rotation. Pure.
pub fn render_rotate(v: &RotateView) -> String {
    let what = if v.created { "created" } else { "rotated" };
    let was = v
        .previous_fingerprint
        .as_deref()
        .map(|f| format!(" (was {f})"))
        .unwrap_or_default();
    let validated = match &v.validated_against {
        Some(u) => format!("validated at {u}"),
        None => "not validated".to_string(),
    };
    let loaded = if v.loaded {
        match v.loaded_at {
            Some(t) => format!(
                "loaded by the controller at {}",
                t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            ),
            None => "loaded by the controller".to_string(),
        }
    } else {
        "not waited for the controller (--no-wait)".to_string()
    };
    format!(
        "credentials {what}: Secret {} now holds fingerprint {}{was}; {validated}; {loaded}",
        v.secret, v.fingerprint
    )
}

/// `creds check -o json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckView {
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// `namespace/name` of the Secret.
    pub secret: String,
    /// The fingerprint of the Secret's pair, when usable.
    pub secret_fingerprint: Option<String>,
    /// What is wrong with the Secret.
    pub secret_problem: Option<String>,
    /// The controller's `credentials` (state, fingerprint, message); `None` without a report.
    pub loaded: Option<vpsie_reconciler::report::CredentialsReport>,
    /// Why there is no report.
    pub report_problem: Option<String>,
    /// The live login with the Secret's pair (`None` with `--no-live` or no usable Secret).
    pub live: Option<LiveCheck>,
    /// Whether everything is fine.
    pub ok: bool,
    /// What is wrong, each with the fix.
    pub problems: Vec<String>,
}

/// Judges what `creds check` read. Pure.
pub fn compute_check(
    secret_ref: &str,
    secret: Result<&VpsieSecret, &str>,
    report: Result<&StatusReport, &str>,
    live: Option<LiveCheck>,
) -> CheckView {
    let mut problems = Vec::new();
    let secret_fingerprint = secret.ok().map(|s| s.credentials.fingerprint());
    let secret_problem = secret.err().map(str::to_string);
    if let Some(p) = &secret_problem {
        problems.push(format!(
            "{p} (fix: `kubectl vpsie creds rotate` writes clientId and clientSecret)"
        ));
    }
    let loaded = report.ok().map(|r| r.credentials.clone());
    let report_problem = report.err().map(str::to_string);
    if let Some(p) = &report_problem {
        problems.push(p.clone());
    }
    if let Some(c) = &loaded {
        match c.state {
            CredentialsStatus::Loaded => {}
            s => problems.push(format!(
                "the controller's credentials are {}: {}",
                state_name(s),
                c.message.as_deref().unwrap_or("no message")
            )),
        }
        if let (Some(sf), Some(lf)) = (&secret_fingerprint, &c.fingerprint) {
            if sf != lf {
                problems.push(format!(
                    "the controller uses fingerprint {lf} but Secret {secret_ref} holds {sf}: it has not loaded the Secret yet (wait a few seconds; if it stays, check the controller's logs: a changed `url` key needs a restart)"
                ));
            }
        }
    }
    if let Some(l) = &live {
        if !l.ok {
            problems.push(format!(
                "VPSie at {} refused a login with the Secret's pair: {} (fix: `kubectl vpsie creds rotate` with working credentials)",
                l.base_url,
                l.message.as_deref().unwrap_or("no message")
            ));
        }
    }
    CheckView {
        schema_version: SCHEMA_VERSION,
        secret: secret_ref.to_string(),
        secret_fingerprint,
        secret_problem,
        loaded,
        report_problem,
        live,
        ok: problems.is_empty(),
        problems,
    }
}

/// The text of `creds check`. Pure.
pub fn render_check(v: &CheckView) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "secret:      {} {}",
        v.secret,
        match (&v.secret_fingerprint, &v.secret_problem) {
            (Some(f), _) => format!("fingerprint {f}"),
            (None, Some(p)) => p.clone(),
            (None, None) => "-".into(),
        }
    );
    let loaded = match &v.loaded {
        Some(c) => format!(
            "{} fingerprint {}{}",
            state_name(c.state),
            c.fingerprint.as_deref().unwrap_or("-"),
            c.loaded_at
                .map(|t| format!(
                    " since {}",
                    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                ))
                .unwrap_or_default()
        ),
        None => v.report_problem.clone().unwrap_or_else(|| "-".into()),
    };
    let _ = writeln!(out, "controller:  {loaded}");
    let live = match &v.live {
        Some(l) if l.ok => format!("login OK at {}", l.base_url),
        Some(l) => format!(
            "login FAILED at {}: {}",
            l.base_url,
            l.message.as_deref().unwrap_or("-")
        ),
        None => "not checked".into(),
    };
    let _ = writeln!(out, "live check:  {live}");
    if v.ok {
        let _ = writeln!(out, "credentials OK");
    } else {
        for p in &v.problems {
            let _ = writeln!(out, "problem: {p}");
        }
    }
    out
}

/// `creds check`.
pub async fn check(
    cluster: &Cluster,
    secret_name: &str,
    no_live: bool,
    format: OutputFormat,
) -> Result<(), PluginError> {
    let v = collect_check(cluster, secret_name, no_live).await?;
    match common::structured(format, &v) {
        Some(t) => crate::out!("{}", t?),
        None => crate::out!("{}", render_check(&v)),
    }
    if v.ok {
        Ok(())
    } else {
        Err(PluginError::Check(format!(
            "the credentials are not working ({} problem{}; see above)",
            v.problems.len(),
            if v.problems.len() == 1 { "" } else { "s" }
        )))
    }
}

/// Reads the Secret and the report and, unless `no_live`, logs in with the Secret's pair.
pub async fn collect_check(
    cluster: &Cluster,
    secret_name: &str,
    no_live: bool,
) -> Result<CheckView, PluginError> {
    let secret_ref = format!("{}/{secret_name}", cluster.namespace);
    let secret = get_secret(cluster, secret_name).await?;
    let parsed = secret_credentials(&secret_ref, secret.as_ref());
    let report = cluster.report().await.map_err(|e| e.to_string());
    let live = match (&parsed, no_live) {
        (Ok(s), false) => {
            let url = s.base_url_or_default();
            Some(live_check(&url, &secret_ref, &s.credentials).await)
        }
        _ => None,
    };
    Ok(compute_check(
        &secret_ref,
        parsed.as_ref().map_err(String::as_str),
        report.as_ref().map_err(String::as_str),
        live,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stdin_lines_are_read_and_bad_ones_named() {
        let p = parse_stdin(
            "# rotated today\nclientId=new-id\nclientSecret= s3cr3t-value \n",
            None,
        )
        .unwrap();
        assert_eq!(p.client_id, "new-id");
        assert_eq!(p.client_secret.expose(), "s3cr3t-value");
        assert!(!format!("{p:?}").contains("s3cr3t"));
        let p = parse_stdin("VPSIE_CLIENT_SECRET=\"x\"\n", Some("flag-id")).unwrap();
        assert_eq!(p.client_id, "flag-id");
        let e = parse_stdin("clientId=a\nclientSecret\n", None).unwrap_err();
        assert!(e.to_string().contains("stdin line 2"), "{e}");
        let e = parse_stdin("clientId=a\npassword=hunter2\n", None).unwrap_err();
        assert!(e.to_string().contains("\"password\""), "{e}");
        assert!(!e.to_string().contains("hunter2"), "{e}");
        let e = parse_stdin("clientSecret=hunter2\n", None).unwrap_err();
        assert!(e.to_string().contains("no clientId"), "{e}");
        let e = parse_stdin("clientId=a\n", None).unwrap_err();
        assert!(e.to_string().contains("no clientSecret"), "{e}");
        let e = parse_stdin("clientId=a b\nclientSecret=x\n", None).unwrap_err();
        assert!(e.to_string().contains("\"a b\""), "{e}");
        let e = parse_stdin("clientId=a\nclientSecret=  \n", None).unwrap_err();
        assert!(e.to_string().contains("client secret"), "{e}");
    }

    #[test]
    fn env_names_are_documented_in_errors() {
        let env = |vars: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                vars.iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        let p = pair_from_env(
            None,
            env(&[("VPSIE_CLIENT_ID", "i"), ("VPSIE_CLIENT_SECRET", "s")]),
        )
        .unwrap();
        assert_eq!(p.client_id, "i");
        let e = pair_from_env(None, env(&[("VPSIE_CLIENT_SECRET", "s")])).unwrap_err();
        assert!(e.to_string().contains("VPSIE_CLIENT_ID is not set"), "{e}");
        let e = pair_from_env(Some("x"), env(&[])).unwrap_err();
        assert!(e.to_string().contains("VPSIE_CLIENT_SECRET"), "{e}");
    }

    #[test]
    fn the_fingerprint_is_serves() {
        let p = NewPair {
            client_id: "a".into(),
            client_secret: SecretString::new("hunter2"),
        };
        let secret = Secret {
            data: Some(
                [("clientId", "a"), ("clientSecret", "hunter2\n")]
                    .into_iter()
                    .map(|(k, v)| (k.to_string(), ByteString(v.as_bytes().to_vec())))
                    .collect(),
            ),
            ..Default::default()
        };
        let state = vpsie_reconciler::creds::evaluate("ns/s", Some(&secret), Utc::now());
        assert_eq!(
            state.fingerprint(),
            Some(p.credentials().fingerprint().as_str())
        );
    }

    #[test]
    fn the_url_comes_from_the_secret() {
        let with = |url: &str| Secret {
            data: Some(
                [("url".to_string(), ByteString(url.as_bytes().to_vec()))]
                    .into_iter()
                    .collect(),
            ),
            ..Default::default()
        };
        assert_eq!(
            base_url_of("ns/s", None).unwrap().as_str(),
            "https://api.vpsie.com/v2"
        );
        assert_eq!(
            base_url_of("ns/s", Some(&with("http://127.0.0.1:9/v2/")))
                .unwrap()
                .as_str(),
            "http://127.0.0.1:9/v2"
        );
        let e = base_url_of("ns/s", Some(&with("http://example.com/v2"))).unwrap_err();
        assert!(e.to_string().contains("key \"url\""), "{e}");
    }

    #[test]
    fn confirmation_and_validation_errors() {
        assert!(confirm(true, false, "ns/s", || panic!("not asked")).unwrap());
        let e = confirm(false, false, "ns/s", || panic!("not asked")).unwrap_err();
        assert!(e.to_string().contains("pass --yes"), "{e}");
        assert!(!confirm(false, true, "ns/s", || Ok(false)).unwrap());
        let c = LiveCheck {
            base_url: "http://127.0.0.1:1/v2".into(),
            ok: false,
            error_type: Some("unauthorized".into()),
            message: Some("Invalid client credentials".into()),
        };
        let e = validation_error(&c, "ns/s").to_string();
        assert!(
            e.contains("refused the new credentials") && e.contains("was not changed"),
            "{e}"
        );
        assert_eq!(redact("a hunter2 b", &["hunter2".into()]), "a <redacted> b");
    }

    #[test]
    fn check_finds_each_problem() {
        let ok = compute_check("ns/s", Err("Secret ns/s not found"), Err("no report"), None);
        assert!(!ok.ok);
        assert_eq!(ok.problems.len(), 2, "{:?}", ok.problems);
        let text = render_check(&ok);
        assert!(text.contains("problem: Secret ns/s not found"), "{text}");
    }
}
