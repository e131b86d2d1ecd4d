//! The VPSie API client.
//!
//! - [`client::VpsieClient`]: the client (OAuth token, retries, rate limit, circuit breaker,
//!   metrics); every operation returns [`CloudError`] with an [`ErrorClass`].
//! - [`types`]: the API's JSON shapes; [`decode`]: pure answer decoding and classification.
//! - [`credentials`]: the Secret's credentials and the base URL rule.
//! - [`breaker`], [`ratelimit`], [`retry`]: the pure policies, driven by the [`crate::clock`].
//! - [`metrics`]: the `vpsie_api_*` Prometheus metrics.
//!
//! Typical use (the reconciler reads the Secret, the plugin builds one client per process):
//!
//! ```text
//! let secret = VpsieSecret::from_byte_strings("kube-system/vpsie-secret", &secret.data)?;
//! let client = VpsieClient::from_secret(secret, ClientConfig::default(), clock, CloudMetrics::new(&mut registry))?;
//! let vm = client.create_vm(&CreateVpsRequest { hostname: deterministic_name, .. }).await?;
//! match client.get_vm(vm.id).await {
//!     Err(e) if e.class() == ErrorClass::NotFound => { /* gone */ }
//!     other => ...,
//! }
//! client.delete_vm(vm.id).await?;            // 404 = already gone = Ok
//! client.set_credentials(new_credentials);    // Secret rotated: drops the cached token
//! ```
//!
//! Errors: [`CloudError::class`] is the `error_type` label; [`CloudError::is_retryable`] says
//! whether to requeue; [`CloudError::retry_after`] how long; messages are for operators.

pub mod breaker;
pub mod client;
pub mod credentials;
pub mod decode;
pub mod error;
pub mod k8s;
mod lenient;
pub mod metrics;
pub mod op;
pub mod ratelimit;
pub mod retry;
pub mod token;
pub mod types;

pub use breaker::{BreakerConfig, BreakerSnapshot, BreakerState};
pub use client::{ClientConfig, CredentialCheck, VpsieClient};
pub use credentials::{
    base_url_from_secret, BaseUrl, Credentials, SecretString, VpsieSecret, DEFAULT_BASE_URL,
    DEFAULT_SECRET_REF,
};
pub use error::{CloudError, ErrorClass};
pub use k8s::{AddedNode, K8sCluster, K8sNode, K8sNodeGroup, K8sOffer};
pub use metrics::CloudMetrics;
pub use op::Operation;
pub use ratelimit::{RateLimitConfig, RateLimitSnapshot};
pub use retry::{Jitter, RetryPolicy};
pub use types::{
    CreateVpsRequest, Datacenter, ListResponse, Offering, OsImage, Pagination, VmPhase, Vps,
};
