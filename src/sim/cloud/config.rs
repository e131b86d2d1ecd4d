//! How to start a simulated cloud: [`SimCloudConfig`], its accounts and credentials.

use std::fmt;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use crate::clock::{self, SharedClock};

use super::catalogue::Catalogue;

/// The client id of the default account.
pub const DEFAULT_CLIENT_ID: &str = "sim-client-id";
/// The client secret of the default account.
pub const DEFAULT_CLIENT_SECRET: &str = "sim-client-secret";

/// An OAuth-style client id and secret. `Debug` hides the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The client id (not secret).
    pub client_id: String,
    /// The client secret.
    pub client_secret: String,
}

impl Credentials {
    /// Credentials from an id and a secret.
    pub fn new(client_id: impl Into<String>, client_secret: impl Into<String>) -> Self {
        Self {
            client_id: client_id.into(),
            client_secret: client_secret.into(),
        }
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("client_id", &self.client_id)
            .field("client_secret", &"<redacted>")
            .finish()
    }
}

/// A static API token (never refreshed, never expires unless its principal is revoked).
/// `Debug` hides the token.
#[derive(Clone, PartialEq, Eq)]
pub struct StaticToken {
    /// The bearer token.
    pub token: String,
    /// The account (client id) it acts as; shown in the request log.
    pub principal: String,
}

impl fmt::Debug for StaticToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StaticToken")
            .field("token", &"<redacted>")
            .field("principal", &self.principal)
            .finish()
    }
}

/// Settings of a simulated cloud. Start from [`SimCloudConfig::default`] and chain the `with_*`
/// setters.
#[derive(Clone)]
pub struct SimCloudConfig {
    /// The time source (default: the system clock).
    pub clock: SharedClock,
    /// How long a new VM stays `creating` before it is `running` (default 8 s).
    pub boot_time: Duration,
    /// Lifetime of access tokens (default 1 h).
    pub token_ttl: Duration,
    /// Accounts that can log in; the first one is the default account (default:
    /// `sim-client-id` / `sim-client-secret`).
    pub accounts: Vec<Credentials>,
    /// Static API tokens (default: none).
    pub static_tokens: Vec<StaticToken>,
    /// What is for sale (default: [`Catalogue::default`]).
    pub catalogue: Catalogue,
    /// Maximum number of live VMs (default 1000).
    pub max_vms: usize,
    /// Seed of the fault RNG, so probabilistic faults are reproducible (default 0).
    pub fault_seed: u64,
    /// Where to listen (default 127.0.0.1:0, a free port). Must be a loopback address.
    pub bind: SocketAddr,
}

impl Default for SimCloudConfig {
    fn default() -> Self {
        Self {
            clock: clock::system(),
            boot_time: Duration::from_secs(8),
            token_ttl: Duration::from_secs(3600),
            accounts: vec![Credentials::new(DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET)],
            static_tokens: Vec::new(),
            catalogue: Catalogue::default(),
            max_vms: 1000,
            fault_seed: 0,
            bind: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
        }
    }
}

impl fmt::Debug for SimCloudConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SimCloudConfig")
            .field("clock", &self.clock)
            .field("boot_time", &self.boot_time)
            .field("token_ttl", &self.token_ttl)
            .field("accounts", &self.accounts)
            .field("static_tokens", &self.static_tokens)
            .field("catalogue", &self.catalogue)
            .field("max_vms", &self.max_vms)
            .field("fault_seed", &self.fault_seed)
            .field("bind", &self.bind)
            .finish()
    }
}

impl SimCloudConfig {
    /// Uses `clock` as the time source.
    pub fn with_clock(mut self, clock: SharedClock) -> Self {
        self.clock = clock;
        self
    }

    /// Sets the boot time of new VMs.
    pub fn with_boot_time(mut self, boot_time: Duration) -> Self {
        self.boot_time = boot_time;
        self
    }

    /// Sets the access-token lifetime.
    pub fn with_token_ttl(mut self, ttl: Duration) -> Self {
        self.token_ttl = ttl;
        self
    }

    /// Replaces the accounts (the first becomes the default account).
    pub fn with_accounts(mut self, accounts: Vec<Credentials>) -> Self {
        self.accounts = accounts;
        self
    }

    /// Adds an account.
    pub fn with_account(mut self, client_id: impl Into<String>, secret: impl Into<String>) -> Self {
        self.accounts.push(Credentials::new(client_id, secret));
        self
    }

    /// Adds a static API token acting as `principal`.
    pub fn with_static_token(
        mut self,
        token: impl Into<String>,
        principal: impl Into<String>,
    ) -> Self {
        self.static_tokens.push(StaticToken {
            token: token.into(),
            principal: principal.into(),
        });
        self
    }

    /// Replaces the catalogue.
    pub fn with_catalogue(mut self, catalogue: Catalogue) -> Self {
        self.catalogue = catalogue;
        self
    }

    /// Sets the maximum number of live VMs.
    pub fn with_max_vms(mut self, max_vms: usize) -> Self {
        self.max_vms = max_vms;
        self
    }

    /// Seeds the fault RNG.
    pub fn with_fault_seed(mut self, seed: u64) -> Self {
        self.fault_seed = seed;
        self
    }

    /// Listens on `bind` (must be loopback).
    pub fn with_bind(mut self, bind: SocketAddr) -> Self {
        self.bind = bind;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_secrets() {
        let cfg = SimCloudConfig::default().with_static_token("tok-very-secret", "svc");
        let shown = format!("{cfg:?}");
        assert!(!shown.contains(DEFAULT_CLIENT_SECRET), "{shown}");
        assert!(!shown.contains("tok-very-secret"), "{shown}");
        assert!(shown.contains(DEFAULT_CLIENT_ID));
    }
}
