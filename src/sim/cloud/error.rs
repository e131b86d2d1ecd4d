//! The one error type of the simulated cloud's Rust API.

use std::net::SocketAddr;

use super::catalogue::CatalogueError;

/// What can go wrong when starting or steering the simulated cloud from Rust.
///
/// Messages name the field, the offending value and the fix. They never contain a client secret
/// or a token.
#[derive(Debug, thiserror::Error)]
pub enum SimCloudError {
    /// The configured catalogue is invalid.
    #[error("invalid sim cloud catalogue: {0}")]
    Catalogue(#[from] CatalogueError),

    /// A configuration value is invalid.
    #[error("invalid sim cloud config: field `{field}` = {value}: {fix}")]
    InvalidConfig {
        /// The field.
        field: &'static str,
        /// The rejected value (never a secret).
        value: String,
        /// How to fix it.
        fix: &'static str,
    },

    /// A fault rule is invalid.
    #[error("invalid fault rule: field `{field}` = {value}: {fix}")]
    InvalidFault {
        /// The field.
        field: &'static str,
        /// The rejected value.
        value: String,
        /// How to fix it.
        fix: &'static str,
    },

    /// The sim refuses to listen on a non-loopback address (its admin API has no auth).
    #[error("refusing to bind the sim cloud to {0}: it serves an unauthenticated admin API, so use a loopback address such as 127.0.0.1:0")]
    NotLoopback(SocketAddr),

    /// Binding the listening socket failed.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },

    /// No account with this client id exists.
    #[error("unknown account `{0}`: add it first with add_account")]
    UnknownAccount(String),

    /// No VM with this id exists (or it was deleted).
    #[error("unknown VM id {0}: list live VMs with vms()")]
    UnknownVm(u64),
    /// A VM the cloud refused to create (catalogue, quota), as its API would have answered.
    #[error("the sim cloud refused the VM ({status}): {message}")]
    Refused {
        /// The HTTP status the API would answer.
        status: u16,
        /// Its message.
        message: String,
    },
}
