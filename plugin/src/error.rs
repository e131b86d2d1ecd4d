//! The plugin's errors: each one line an operator can act on.

use thiserror::Error;

/// Everything a command can fail with.
#[derive(Debug, Error)]
pub enum PluginError {
    /// A file or terminal operation failed.
    #[error("{0}: {1}")]
    Io(String, #[source] std::io::Error),

    /// The configuration (flags, Secret, kubeconfig) is not usable.
    #[error("{0}")]
    Config(String),

    /// The simulated world failed to start or run.
    #[error("simulator: {0}")]
    Sim(String),
}
