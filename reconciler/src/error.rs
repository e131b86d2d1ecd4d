//! The reconciler's one error type.

use thiserror::Error;
use vpsie_autoscaler::cloud::CloudError;

/// What a reconcile can fail with.
#[derive(Debug, Error)]
pub enum Error {
    /// The Kubernetes API refused or failed.
    #[error("Kubernetes API: {0}")]
    Kube(#[from] kube::Error),
    /// The VPSie API refused or failed.
    #[error("{0}")]
    Cloud(#[from] CloudError),
    /// An object could not be (de)serialized.
    #[error("serialization: {0}")]
    Serde(#[from] serde_json::Error),
    /// A configuration that cannot work (names the field, the value and the fix).
    #[error("{0}")]
    Config(String),
    /// A referenced object is missing.
    #[error("{0}")]
    Missing(String),
}

/// A result of the reconciler.
pub type Result<T, E = Error> = std::result::Result<T, E>;
