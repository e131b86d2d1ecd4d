//! The credential source of the serve runtime: the Secret `kube-system/vpsie-secret` (keys
//! `clientId` and `clientSecret`, or `token`; optional `url`), watched so that a rotated Secret
//! is picked up without a restart.
//!
//! - [`CredentialsWatcher::spawn`] runs a kube-runtime `watcher` on that one Secret (field
//!   selector `metadata.name=<name>`) and publishes a [`CredentialsState`] on a
//!   `tokio::sync::watch` channel: [`CredentialsState::Loaded`], [`CredentialsState::Missing`],
//!   [`CredentialsState::Invalid`] (and [`CredentialsState::Pending`] until the first list
//!   answered).
//! - [`apply_to`] hands a loaded state to a [`VpsieClient`] when its fingerprint differs from
//!   the client's (which drops the cached access token), and logs the new fingerprint — never
//!   the secret.
//!
//! Rotation, as the runbook does it:
//!
//! ```text
//! kubectl create secret generic vpsie-secret -n kube-system \
//!   --from-literal=clientId=... --from-literal=clientSecret=... \
//!   --dry-run=client -o yaml | kubectl apply -f -
//! ```
//!
//! Every state's `Debug` and `Display` are free of secrets: [`VpsieSecret`]'s own `Debug`
//! redacts them, and the messages name keys, never values.

use std::fmt;

use chrono::{DateTime, SecondsFormat, Utc};
use futures::StreamExt;
use k8s_openapi::api::core::v1::Secret;
use kube::runtime::watcher::{self, Event};
use kube::runtime::WatchStreamExt;
use kube::Api;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use vpsie_autoscaler::clock::SharedClock;
use vpsie_autoscaler::cloud::{VpsieClient, VpsieSecret};

/// What the watcher knows about the Secret.
#[derive(Clone, PartialEq)]
pub enum CredentialsState {
    /// The first list has not answered yet.
    Pending {
        /// When the watcher started.
        since: DateTime<Utc>,
        /// Why the Secret could not be read so far (e.g. RBAC forbids reading it).
        last_error: Option<String>,
    },
    /// The Secret holds usable credentials.
    Loaded {
        /// The parsed Secret (its `Debug` shows no secret).
        secret: VpsieSecret,
        /// [`vpsie_autoscaler::cloud::Credentials::fingerprint`] of the credentials.
        fingerprint: String,
        /// When this version of the Secret was seen.
        loaded_at: DateTime<Utc>,
        /// The Secret's `metadata.resourceVersion`.
        resource_version: String,
    },
    /// The Secret does not exist.
    Missing {
        /// Since when it is absent (as seen by this watcher).
        since: DateTime<Utc>,
        /// `namespace/name` of the Secret, for the message.
        secret_ref: String,
    },
    /// The Secret exists but cannot be used (a key is missing, empty or not text, a bad `url`).
    Invalid {
        /// What is wrong, naming the key and the fix.
        error: String,
        /// When this version of the Secret was seen.
        since: DateTime<Utc>,
    },
}

impl CredentialsState {
    /// `pending`, `loaded`, `missing` or `invalid` (the status report's `credentials.state`).
    pub fn kind(&self) -> &'static str {
        match self {
            CredentialsState::Pending { .. } => "pending",
            CredentialsState::Loaded { .. } => "loaded",
            CredentialsState::Missing { .. } => "missing",
            CredentialsState::Invalid { .. } => "invalid",
        }
    }

    /// The fingerprint, when loaded.
    pub fn fingerprint(&self) -> Option<&str> {
        match self {
            CredentialsState::Loaded { fingerprint, .. } => Some(fingerprint),
            _ => None,
        }
    }

    /// What an operator should read: `None` when loaded, else what is wrong and the fix.
    pub fn message(&self) -> Option<String> {
        match self {
            CredentialsState::Loaded { .. } => None,
            CredentialsState::Pending {
                last_error: None, ..
            } => Some("the Secret has not been read yet (waiting for the API server)".to_string()),
            CredentialsState::Pending {
                last_error: Some(e),
                ..
            } => Some(format!(
                "the Secret cannot be read: {e}; check that the API server is reachable and that the autoscaler's ServiceAccount may get, list and watch Secrets in its namespace"
            )),
            CredentialsState::Missing { secret_ref, .. } => Some(missing_message(secret_ref)),
            CredentialsState::Invalid { error, .. } => Some(error.clone()),
        }
    }
}

/// The message of a missing Secret.
pub fn missing_message(secret_ref: &str) -> String {
    format!("Secret {secret_ref} not found: create it with keys clientId and clientSecret")
}

fn ts(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

impl fmt::Debug for CredentialsState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CredentialsState::Pending { since, last_error } => f
                .debug_struct("Pending")
                .field("since", since)
                .field("last_error", last_error)
                .finish(),
            CredentialsState::Loaded {
                secret,
                fingerprint,
                loaded_at,
                resource_version,
            } => f
                .debug_struct("Loaded")
                .field("kind", &secret.credentials.kind())
                .field("fingerprint", fingerprint)
                .field("base_url", &secret.base_url_or_default().as_str())
                .field("loaded_at", loaded_at)
                .field("resource_version", resource_version)
                .finish(),
            CredentialsState::Missing { since, secret_ref } => f
                .debug_struct("Missing")
                .field("since", since)
                .field("secret_ref", secret_ref)
                .finish(),
            CredentialsState::Invalid { error, since } => f
                .debug_struct("Invalid")
                .field("error", error)
                .field("since", since)
                .finish(),
        }
    }
}

impl fmt::Display for CredentialsState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CredentialsState::Pending { since, .. } => write!(
                f,
                "pending since {}: {}",
                ts(since),
                self.message().unwrap_or_default()
            ),
            CredentialsState::Loaded {
                fingerprint,
                loaded_at,
                ..
            } => write!(f, "loaded (fingerprint {fingerprint}) at {}", ts(loaded_at)),
            CredentialsState::Missing { since, secret_ref } => write!(
                f,
                "missing since {}: {}",
                ts(since),
                missing_message(secret_ref)
            ),
            CredentialsState::Invalid { error, since } => {
                write!(f, "invalid since {}: {error}", ts(since))
            }
        }
    }
}

/// Turns one version of the Secret (or its absence) into a state. Pure.
pub fn evaluate(secret_ref: &str, secret: Option<&Secret>, now: DateTime<Utc>) -> CredentialsState {
    let Some(secret) = secret else {
        return CredentialsState::Missing {
            since: now,
            secret_ref: secret_ref.to_string(),
        };
    };
    let empty = Default::default();
    let data = secret.data.as_ref().unwrap_or(&empty);
    match VpsieSecret::from_byte_strings(secret_ref, data) {
        Ok(parsed) => CredentialsState::Loaded {
            fingerprint: parsed.credentials.fingerprint(),
            secret: parsed,
            loaded_at: now,
            resource_version: secret.metadata.resource_version.clone().unwrap_or_default(),
        },
        Err(e) => CredentialsState::Invalid {
            error: e.to_string(),
            since: now,
        },
    }
}

/// Whether `next` says something new compared to `prev` (a re-list of the same Secret version,
/// or the same absence, is not new, so `since`/`loaded_at` keep their first value).
fn is_news(prev: &CredentialsState, next: &CredentialsState) -> bool {
    match (prev, next) {
        (CredentialsState::Missing { .. }, CredentialsState::Missing { .. }) => false,
        (
            CredentialsState::Loaded {
                fingerprint: a,
                secret: sa,
                ..
            },
            CredentialsState::Loaded {
                fingerprint: b,
                secret: sb,
                ..
            },
        ) => a != b || sa.base_url != sb.base_url,
        (
            CredentialsState::Invalid { error: a, .. },
            CredentialsState::Invalid { error: b, .. },
        ) => a != b,
        _ => true,
    }
}

/// The running watcher: read the state with [`CredentialsHandle::subscribe`]. Dropping the
/// handle stops the watcher.
#[derive(Debug)]
pub struct CredentialsHandle {
    rx: watch::Receiver<CredentialsState>,
    task: JoinHandle<()>,
}

impl CredentialsHandle {
    /// A receiver of the state (`changed()` fires on each new state).
    pub fn subscribe(&self) -> watch::Receiver<CredentialsState> {
        self.rx.clone()
    }

    /// The current state.
    pub fn current(&self) -> CredentialsState {
        self.rx.borrow().clone()
    }

    /// Stops the watcher.
    pub fn stop(&self) {
        self.task.abort();
    }
}

impl Drop for CredentialsHandle {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Watches the VPSie Secret.
#[derive(Debug)]
pub struct CredentialsWatcher;

impl CredentialsWatcher {
    /// Starts watching Secret `namespace/secret_name` (normally `kube-system/vpsie-secret`).
    /// `clock` stamps `loaded_at`/`since`. Watch errors (API server unreachable, RBAC) are
    /// logged and retried with kube-runtime's default backoff; the last known state stays.
    pub fn spawn(
        client: kube::Client,
        namespace: &str,
        secret_name: &str,
        clock: SharedClock,
    ) -> CredentialsHandle {
        let secret_ref = format!("{namespace}/{secret_name}");
        let (tx, rx) = watch::channel(CredentialsState::Pending {
            since: clock.now(),
            last_error: None,
        });
        let api: Api<Secret> = Api::namespaced(client, namespace);
        let config = watcher::Config::default().fields(&format!("metadata.name={secret_name}"));
        let name = secret_name.to_string();
        let task = tokio::spawn(async move {
            let stream = watcher::watcher(api, config).default_backoff();
            futures::pin_mut!(stream);
            let mut listed: Option<Secret> = None;
            let publish = |next: CredentialsState| {
                tx.send_if_modified(|cur| {
                    if is_news(cur, &next) {
                        match &next {
                            CredentialsState::Loaded { fingerprint, .. } => {
                                tracing::info!(secret = %secret_ref, fingerprint = %fingerprint, "VPSie Secret read (fingerprint {fingerprint})")
                            }
                            other => {
                                tracing::warn!(secret = %secret_ref, state = other.kind(), "VPSie Secret unusable: {}", other.message().unwrap_or_default())
                            }
                        }
                        *cur = next;
                        true
                    } else {
                        false
                    }
                });
            };
            while let Some(event) = stream.next().await {
                match event {
                    Ok(Event::Init) => listed = None,
                    Ok(Event::InitApply(s)) => {
                        if s.metadata.name.as_deref() == Some(name.as_str()) {
                            listed = Some(s);
                        }
                    }
                    Ok(Event::InitDone) => {
                        publish(evaluate(&secret_ref, listed.take().as_ref(), clock.now()))
                    }
                    Ok(Event::Apply(s)) => {
                        if s.metadata.name.as_deref() == Some(name.as_str()) {
                            publish(evaluate(&secret_ref, Some(&s), clock.now()))
                        }
                    }
                    Ok(Event::Delete(s)) => {
                        if s.metadata.name.as_deref() == Some(name.as_str()) {
                            publish(evaluate(&secret_ref, None, clock.now()))
                        }
                    }
                    Err(e) => {
                        tracing::warn!(secret = %secret_ref, error = %e, "watching the VPSie Secret failed; retrying");
                        // Before the first read, say why nothing is known yet.
                        tx.send_if_modified(|cur| match cur {
                            CredentialsState::Pending { last_error, .. } => {
                                let text = e.to_string();
                                let changed = last_error.as_deref() != Some(text.as_str());
                                *last_error = Some(text);
                                changed
                            }
                            _ => false,
                        });
                    }
                }
            }
        });
        CredentialsHandle { rx, task }
    }
}

/// What [`apply_to`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApplyOutcome {
    /// The client now uses the credentials with this fingerprint (its token was dropped).
    Applied {
        /// The new fingerprint.
        fingerprint: String,
    },
    /// The client already uses these credentials.
    Unchanged,
    /// The client keeps the credentials it has, for this reason (Secret missing, invalid, not
    /// read yet, or pointing at another API URL).
    Kept {
        /// Why, for an operator.
        reason: String,
    },
}

/// Gives `state`'s credentials to `client` when they differ from the ones it uses. A Secret
/// whose `url` differs from the client's base URL is not applied (the new credentials would go
/// to the old endpoint): the outcome says to restart. Logs at info
/// `VPSie credentials loaded (fingerprint …)` on a change.
pub fn apply_to(client: &VpsieClient, state: &CredentialsState) -> ApplyOutcome {
    let CredentialsState::Loaded {
        secret,
        fingerprint,
        ..
    } = state
    else {
        return ApplyOutcome::Kept {
            reason: format!(
                "keeping the credentials in use (fingerprint {}): {}",
                client.credentials_fingerprint(),
                state.message().unwrap_or_default()
            ),
        };
    };
    let wanted = secret.base_url_or_default();
    if wanted.as_str() != client.base_url().as_str() {
        let reason = format!(
            "the Secret's url changed from {} to {}: restart the autoscaler (kubectl rollout restart deployment/vpsie-autoscaler -n kube-system) to use it; keeping the credentials in use",
            client.base_url(),
            wanted
        );
        tracing::warn!("{reason}");
        return ApplyOutcome::Kept { reason };
    }
    if client.credentials_fingerprint() == *fingerprint {
        return ApplyOutcome::Unchanged;
    }
    client.set_credentials(secret.credentials.clone());
    tracing::info!(fingerprint = %fingerprint, "VPSie credentials loaded (fingerprint {fingerprint})");
    ApplyOutcome::Applied {
        fingerprint: fingerprint.clone(),
    }
}

/// Keeps `client` on the Secret's credentials: applies the current state, then every new
/// one ([`apply_to`]), until the watcher stops. The serve runtime runs this next to the
/// watcher.
pub fn follow(mut rx: watch::Receiver<CredentialsState>, client: VpsieClient) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let state = rx.borrow_and_update().clone();
            if let ApplyOutcome::Kept { reason } = apply_to(&client, &state) {
                if !matches!(state, CredentialsState::Pending { .. }) {
                    tracing::warn!("{reason}");
                }
            }
            if rx.changed().await.is_err() {
                break;
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::ByteString;

    fn secret(pairs: &[(&str, &str)], rv: &str) -> Secret {
        Secret {
            metadata: kube::api::ObjectMeta {
                name: Some("vpsie-secret".into()),
                resource_version: Some(rv.into()),
                ..Default::default()
            },
            data: Some(
                pairs
                    .iter()
                    .map(|(k, v)| (k.to_string(), ByteString(v.as_bytes().to_vec())))
                    .collect(),
            ),
            ..Default::default()
        }
    }

    #[test]
    fn evaluates_each_case() {
        let now = Utc::now();
        let r = "kube-system/vpsie-secret";
        let s = evaluate(
            r,
            Some(&secret(
                &[("clientId", "a"), ("clientSecret", "hunter2")],
                "7",
            )),
            now,
        );
        assert_eq!(s.kind(), "loaded");
        assert_eq!(s.fingerprint().map(str::len), Some(12));
        assert!(!format!("{s:?}{s}").contains("hunter2"));
        let m = evaluate(r, None, now);
        assert_eq!(
            m.message().as_deref(),
            Some("Secret kube-system/vpsie-secret not found: create it with keys clientId and clientSecret")
        );
        let i = evaluate(r, Some(&secret(&[("clientId", "a")], "8")), now);
        assert_eq!(i.kind(), "invalid");
        assert!(i.message().unwrap_or_default().contains("clientSecret"));
    }

    #[test]
    fn relisting_the_same_version_is_not_news() {
        let now = Utc::now();
        let r = "ns/s";
        let a = evaluate(r, Some(&secret(&[("token", "t")], "1")), now);
        let b = evaluate(
            r,
            Some(&secret(&[("token", "t")], "2")),
            now + chrono::Duration::seconds(5),
        );
        assert!(!is_news(&a, &b));
        let c = evaluate(r, Some(&secret(&[("token", "u")], "3")), now);
        assert!(is_news(&a, &c));
        assert!(!is_news(&evaluate(r, None, now), &evaluate(r, None, now)));
        assert!(is_news(&a, &evaluate(r, None, now)));
    }
}
