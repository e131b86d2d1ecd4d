//! The simulated cloud's state and the decisions taken on it. Time comes in as an argument, so
//! everything here is deterministic and testable without a server.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use chrono::{DateTime, Utc};
use rand::rngs::StdRng;
use rand::SeedableRng;
use serde::Serialize;
use uuid::Uuid;

use super::catalogue::Catalogue;
use super::config::SimCloudConfig;
use super::faults::FaultRule;
use super::log::RequestLog;
use super::vm::{ipv6_for, CreateVm, IpAllocator, VmRecord, VmStatus};
use super::wire::ApiError;

/// The first VM id handed out.
pub const FIRST_VM_ID: u64 = 1001;
/// Lifetime of refresh tokens.
pub const REFRESH_TTL: Duration = Duration::from_secs(30 * 24 * 3600);

/// An account as the admin API shows it (never the secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AccountInfo {
    /// Client id.
    pub client_id: String,
    /// Whether it was revoked.
    pub revoked: bool,
}

struct Account {
    secret: String,
    revoked: bool,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum TokenKind {
    Access,
    Refresh,
}

struct Issued {
    principal: String,
    expires: DateTime<Utc>,
    kind: TokenKind,
}

/// A token pair handed out by a login.
#[derive(Clone)]
pub struct LoginTokens {
    /// Access token.
    pub access: String,
    /// Its expiry.
    pub access_expires: DateTime<Utc>,
    /// Refresh token.
    pub refresh: String,
    /// Its expiry.
    pub refresh_expires: DateTime<Utc>,
}

/// The whole state, behind one `std::sync::Mutex` (never held across an await).
pub struct State {
    pub(crate) catalogue: Catalogue,
    accounts: BTreeMap<String, Account>,
    static_tokens: HashMap<String, String>,
    tokens: HashMap<String, Issued>,
    vms: BTreeMap<u64, VmRecord>,
    user_data: HashMap<u64, String>,
    next_id: u64,
    ips: IpAllocator,
    pub(crate) boot_time: Duration,
    token_ttl: Duration,
    pub(crate) max_vms: usize,
    pub(crate) fail_next_boots: u32,
    pub(crate) faults: Vec<FaultRule>,
    pub(crate) rng: StdRng,
    pub(crate) log: RequestLog,
}

fn add(t: DateTime<Utc>, d: Duration) -> DateTime<Utc> {
    t + chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}

impl State {
    /// The initial state for a (validated) config.
    pub fn new(config: &SimCloudConfig, catalogue: Catalogue) -> Self {
        Self {
            catalogue,
            accounts: config
                .accounts
                .iter()
                .map(|c| {
                    (
                        c.client_id.clone(),
                        Account {
                            secret: c.client_secret.clone(),
                            revoked: false,
                        },
                    )
                })
                .collect(),
            static_tokens: config
                .static_tokens
                .iter()
                .map(|t| (t.token.clone(), t.principal.clone()))
                .collect(),
            tokens: HashMap::new(),
            vms: BTreeMap::new(),
            user_data: HashMap::new(),
            next_id: FIRST_VM_ID,
            ips: IpAllocator::default(),
            boot_time: config.boot_time,
            token_ttl: config.token_ttl,
            max_vms: config.max_vms,
            fail_next_boots: 0,
            faults: Vec::new(),
            rng: StdRng::seed_from_u64(config.fault_seed),
            log: RequestLog::default(),
        }
    }

    /// Checks credentials and issues a token pair.
    pub fn login(
        &mut self,
        client_id: &str,
        secret: &str,
        now: DateTime<Utc>,
    ) -> Option<LoginTokens> {
        let account = self.accounts.get(client_id)?;
        if account.revoked || account.secret != secret {
            return None;
        }
        let tokens = LoginTokens {
            access: format!("sim-at-{}", Uuid::new_v4().simple()),
            access_expires: add(now, self.token_ttl),
            refresh: format!("sim-rt-{}", Uuid::new_v4().simple()),
            refresh_expires: add(now, REFRESH_TTL),
        };
        for (token, expires, kind) in [
            (&tokens.access, tokens.access_expires, TokenKind::Access),
            (&tokens.refresh, tokens.refresh_expires, TokenKind::Refresh),
        ] {
            self.tokens.insert(
                token.clone(),
                Issued {
                    principal: client_id.to_owned(),
                    expires,
                    kind,
                },
            );
        }
        // Forget long-dead tokens so the map does not grow without bound.
        self.tokens.retain(|_, t| add(t.expires, REFRESH_TTL) > now);
        Some(tokens)
    }

    /// The client id a bearer token acts as, or the 401 to answer.
    pub fn authenticate(
        &self,
        bearer: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<String, ApiError> {
        let token = bearer.ok_or_else(|| {
            ApiError::unauthorized("Missing bearer token: send `Authorization: Bearer <access token>` from POST /auth/from/api")
        })?;
        let principal = if let Some(p) = self.static_tokens.get(token) {
            p.clone()
        } else {
            match self.tokens.get(token) {
                Some(t) if t.kind == TokenKind::Access => {
                    if now >= t.expires {
                        return Err(ApiError::unauthorized(
                            "Access token expired: log in again with POST /auth/from/api",
                        ));
                    }
                    t.principal.clone()
                }
                _ => {
                    return Err(ApiError::unauthorized(
                        "Invalid access token: log in with POST /auth/from/api",
                    ))
                }
            }
        };
        if self.accounts.get(&principal).is_some_and(|a| a.revoked) {
            return Err(ApiError::unauthorized(format!(
                "Account {principal} is revoked: use other credentials"
            )));
        }
        Ok(principal)
    }

    /// The principal of a token without checking expiry (for the request log).
    pub fn principal_of(&self, bearer: &str) -> Option<String> {
        self.static_tokens
            .get(bearer)
            .cloned()
            .or_else(|| self.tokens.get(bearer).map(|t| t.principal.clone()))
    }

    /// Makes every issued access token expire at `now`. Static tokens are not affected.
    pub fn expire_tokens(&mut self, now: DateTime<Utc>) {
        for t in self.tokens.values_mut() {
            if t.kind == TokenKind::Access && t.expires > now {
                t.expires = now;
            }
        }
    }

    /// Adds an account or replaces its secret (and un-revokes it).
    pub fn add_account(&mut self, client_id: &str, secret: &str) {
        self.accounts.insert(
            client_id.to_owned(),
            Account {
                secret: secret.to_owned(),
                revoked: false,
            },
        );
    }

    /// Revokes an account: it cannot log in and its tokens stop working. False if unknown.
    pub fn revoke_account(&mut self, client_id: &str) -> bool {
        match self.accounts.get_mut(client_id) {
            Some(a) => {
                a.revoked = true;
                true
            }
            None => false,
        }
    }

    /// Adds a static token acting as `principal`.
    pub fn add_static_token(&mut self, token: &str, principal: &str) {
        self.static_tokens
            .insert(token.to_owned(), principal.to_owned());
    }

    /// The accounts, by id only.
    pub fn accounts(&self) -> Vec<AccountInfo> {
        self.accounts
            .iter()
            .map(|(id, a)| AccountInfo {
                client_id: id.clone(),
                revoked: a.revoked,
            })
            .collect()
    }

    /// Validates a create request against the catalogue and the quota, then creates the VM.
    pub fn create_vm(
        &mut self,
        req: CreateVm,
        principal: Option<String>,
        now: DateTime<Utc>,
    ) -> Result<VmRecord, ApiError> {
        let offering = self
            .catalogue
            .offering(&req.offering_id)
            .filter(|o| o.available)
            .ok_or_else(|| {
                ApiError::not_found(format!("Instance type not available: {}", req.offering_id))
            })?;
        let dc = self
            .catalogue
            .datacenter(&req.datacenter_id)
            .filter(|d| d.available)
            .ok_or_else(|| {
                ApiError::not_found(format!("Datacenter not found: {}", req.datacenter_id))
            })?;
        if !offering.sold_in(&dc.id) {
            return Err(ApiError::not_found(format!(
                "Instance type not available: {} in datacenter {}",
                offering.id, dc.id
            )));
        }
        let image = self
            .catalogue
            .image(&req.os_image_id)
            .filter(|i| i.available)
            .ok_or_else(|| ApiError::not_found(format!("Image not found: {}", req.os_image_id)))?;
        if image.min_disk > offering.disk {
            return Err(ApiError::bad_request(format!(
                "field `os_image_id` = {} needs a {} GB disk but offering {} has {} GB: pick a larger offering",
                image.id, image.min_disk, offering.id, offering.disk
            )));
        }
        let live = self.live_count();
        if live >= self.max_vms {
            return Err(ApiError {
                error: "quota_exceeded",
                ..ApiError::bad_request(format!(
                    "Insufficient VPSie quota: {live} of {} VMs in use",
                    self.max_vms
                ))
            });
        }
        let ip = self.ips.allocate().ok_or_else(|| {
            ApiError::new(
                503,
                "No IPv4 address left in the simulated pools: delete VMs first",
            )
        })?;
        let id = self.next_id;
        self.next_id += 1;
        let boot_fails = self.fail_next_boots > 0;
        self.fail_next_boots = self.fail_next_boots.saturating_sub(1);
        let vm = VmRecord {
            id,
            identifier: Uuid::new_v4(),
            name: req.name,
            hostname: req.hostname,
            status: VmStatus::Creating,
            offering_id: offering.id.clone(),
            boxsize_id: offering.boxsize_id.unwrap_or(0),
            datacenter_id: dc.id.clone(),
            os_image_id: image.id.clone(),
            os_name: image.distribution.clone(),
            os_version: image.version.clone(),
            cpu: offering.cpu,
            ram: offering.ram,
            ssd: offering.disk,
            traffic: offering.bandwidth,
            default_ip: ip,
            default_ipv6: ipv6_for(id),
            tags: req.tags,
            notes: req.notes,
            ssh_key_ids: req.ssh_key_ids,
            project_id: req.project_id,
            resource_identifier: req.resource_identifier,
            user_data_bytes: req.user_data.len(),
            created_by: principal,
            created_on: now,
            boots_at: add(now, self.boot_time),
            boot_fails,
            powered_off: false,
            last_action: None,
            deleted_at: None,
        };
        let mut vm = vm;
        vm.status = vm.status_at(now);
        self.user_data.insert(id, req.user_data);
        self.vms.insert(id, vm.clone());
        Ok(vm)
    }

    /// Number of live (not deleted) VMs.
    pub fn live_count(&self) -> usize {
        self.vms.values().filter(|v| v.deleted_at.is_none()).count()
    }

    /// A live VM.
    pub fn live_vm(&self, id: u64) -> Option<&VmRecord> {
        self.vms.get(&id).filter(|v| v.deleted_at.is_none())
    }

    fn live_vm_mut(&mut self, id: u64) -> Result<&mut VmRecord, ApiError> {
        self.vms
            .get_mut(&id)
            .filter(|v| v.deleted_at.is_none())
            .ok_or_else(|| ApiError::not_found(format!("VM not found: {id}")))
    }

    /// Live VMs, by id.
    pub fn live_vms(&self) -> Vec<VmRecord> {
        self.vms
            .values()
            .filter(|v| v.deleted_at.is_none())
            .cloned()
            .collect()
    }

    /// Every VM ever created, deleted ones included, by id.
    pub fn history(&self) -> Vec<VmRecord> {
        self.vms.values().cloned().collect()
    }

    /// The user data a VM was created with.
    pub fn user_data(&self, id: u64) -> Option<String> {
        self.user_data.get(&id).cloned()
    }

    /// Deletes a live VM, releasing its address.
    pub fn delete_vm(&mut self, id: u64, now: DateTime<Utc>) -> Result<VmRecord, ApiError> {
        let vm = self.live_vm_mut(id)?;
        vm.deleted_at = Some(now);
        vm.status = VmStatus::Deleted;
        let vm = vm.clone();
        self.ips.release(vm.default_ip);
        self.user_data.remove(&id);
        Ok(vm)
    }

    /// Applies a power action (`start`, `stop`, `restart`).
    pub fn vm_action(
        &mut self,
        id: u64,
        action: &str,
        now: DateTime<Utc>,
    ) -> Result<VmRecord, ApiError> {
        let vm = self.live_vm_mut(id)?;
        let status = vm.status_at(now);
        if matches!(status, VmStatus::Creating | VmStatus::Failed) {
            return Err(ApiError::new(
                409,
                format!(
                    "VM {id} is {}: power actions need a booted VM",
                    status.as_str()
                ),
            ));
        }
        match action {
            "start" | "restart" => vm.powered_off = false,
            "stop" => vm.powered_off = true,
            other => {
                return Err(ApiError::bad_request(format!(
                    "field `action` = {other:?} is not supported: use start, stop or restart"
                )))
            }
        }
        vm.last_action = Some(now);
        vm.status = vm.status_at(now);
        Ok(vm.clone())
    }

    /// Overrides the boot of one VM: it finishes `boot_time` after creation, and fails if `fail`.
    pub fn set_vm_boot(
        &mut self,
        id: u64,
        boot_time: Option<Duration>,
        fail: Option<bool>,
    ) -> bool {
        match self.vms.get_mut(&id).filter(|v| v.deleted_at.is_none()) {
            Some(vm) => {
                if let Some(d) = boot_time {
                    vm.boots_at = add(vm.created_on, d);
                }
                if let Some(f) = fail {
                    vm.boot_fails = f;
                }
                true
            }
            None => false,
        }
    }

    /// Updates each live VM's observed status to the one at `now`; true if any changed.
    pub fn observe(&mut self, now: DateTime<Utc>) -> bool {
        let mut changed = false;
        for vm in self.vms.values_mut().filter(|v| v.deleted_at.is_none()) {
            let s = vm.status_at(now);
            if s != vm.status {
                vm.status = s;
                changed = true;
            }
        }
        changed
    }

    /// The earliest boot still pending after `now`.
    pub fn next_boot(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.vms
            .values()
            .filter(|v| v.deleted_at.is_none() && v.boots_at > now)
            .map(|v| v.boots_at)
            .min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::cloud::config::{DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET};

    fn state() -> State {
        let cfg = SimCloudConfig::default();
        State::new(&cfg, cfg.catalogue.clone())
    }

    fn req() -> CreateVm {
        CreateVm {
            name: "n1".into(),
            hostname: "n1".into(),
            offering_id: "small-2cpu-4gb".into(),
            datacenter_id: "dc-us-east-1".into(),
            os_image_id: "ubuntu-22.04-lts".into(),
            ..CreateVm::default()
        }
    }

    #[test]
    fn login_and_token_expiry() {
        let mut s = state();
        let now = Utc::now();
        assert!(s.login(DEFAULT_CLIENT_ID, "wrong", now).is_none());
        let t = s
            .login(DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, now)
            .expect("login");
        assert_eq!(
            s.authenticate(Some(&t.access), now).as_deref(),
            Ok(DEFAULT_CLIENT_ID)
        );
        assert!(
            s.authenticate(Some(&t.refresh), now).is_err(),
            "refresh token is no bearer"
        );
        let later = now + chrono::Duration::seconds(3600);
        let err = s.authenticate(Some(&t.access), later).expect_err("expired");
        assert!(err.message.contains("expired"));
        s.revoke_account(DEFAULT_CLIENT_ID);
        assert!(s.authenticate(Some(&t.access), now).is_err());
        assert!(s
            .login(DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, now)
            .is_none());
    }

    #[test]
    fn boot_lifecycle_and_failure_injection() {
        let mut s = state();
        let now = Utc::now();
        s.fail_next_boots = 1;
        let a = s.create_vm(req(), None, now).expect("a");
        let b = s.create_vm(req(), None, now).expect("b");
        assert_eq!((a.id, b.id), (FIRST_VM_ID, FIRST_VM_ID + 1));
        assert_ne!(a.default_ip, b.default_ip);
        assert_eq!(a.status, VmStatus::Creating);
        let later = now + chrono::Duration::seconds(8);
        assert!(s.observe(later));
        assert_eq!(s.live_vm(a.id).map(|v| v.status), Some(VmStatus::Failed));
        assert_eq!(s.live_vm(b.id).map(|v| v.status), Some(VmStatus::Running));
        assert!(!s.observe(later));
        let stopped = s.vm_action(b.id, "stop", later).expect("stop");
        assert_eq!(stopped.status, VmStatus::Stopped);
        assert_eq!(
            s.vm_action(a.id, "start", later)
                .expect_err("failed")
                .status,
            409
        );
        s.delete_vm(a.id, later).expect("delete");
        assert_eq!(s.delete_vm(a.id, later).expect_err("gone").status, 404);
        assert_eq!(s.history().len(), 2);
        assert_eq!(s.live_count(), 1);
    }

    #[test]
    fn quota_and_catalogue_errors() {
        let mut s = state();
        let now = Utc::now();
        s.max_vms = 1;
        s.create_vm(req(), None, now).expect("first");
        let err = s.create_vm(req(), None, now).expect_err("quota");
        assert_eq!((err.status, err.error), (400, "quota_exceeded"));
        assert!(err.message.starts_with("Insufficient VPSie quota"));
        s.max_vms = 10;
        let mut r = req();
        r.offering_id = "nope".into();
        let err = s.create_vm(r, None, now).expect_err("offering");
        assert_eq!(err.message, "Instance type not available: nope");
        let mut r = req();
        r.datacenter_id = "dc-x".into();
        assert_eq!(
            s.create_vm(r, None, now).expect_err("dc").message,
            "Datacenter not found: dc-x"
        );
    }
}
