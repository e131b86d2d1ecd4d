//! Simulated VMs: their records, status lifecycle, addresses and the validation of create
//! requests. Everything here is pure (time comes in as an argument).

use std::collections::HashSet;
use std::net::{Ipv4Addr, Ipv6Addr};

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Map, Value};
use uuid::Uuid;

/// The status a VPS reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum VmStatus {
    /// Still booting.
    Creating,
    /// Booted and powered on.
    Running,
    /// Powered off through the `stop` action.
    Stopped,
    /// The boot failed.
    Failed,
    /// Deleted (only seen in the history).
    Deleted,
}

impl VmStatus {
    /// The wire value (`creating`, `running`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            VmStatus::Creating => "creating",
            VmStatus::Running => "running",
            VmStatus::Stopped => "stopped",
            VmStatus::Failed => "failed",
            VmStatus::Deleted => "deleted",
        }
    }
}

/// Everything the sim knows about one VM, live or deleted. Holds no secret: the `user_data`
/// (which carries join tokens) and the password are kept elsewhere.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VmRecord {
    /// Numeric id (increasing, never reused).
    pub id: u64,
    /// UUID.
    pub identifier: Uuid,
    /// Name.
    pub name: String,
    /// Hostname.
    pub hostname: String,
    /// Status as of the last observation (see [`VmRecord::status_at`]).
    pub status: VmStatus,
    /// The offering id.
    pub offering_id: String,
    /// The offering's numeric box-size id.
    pub boxsize_id: u64,
    /// Datacenter.
    pub datacenter_id: String,
    /// Image id.
    pub os_image_id: String,
    /// Image distribution.
    pub os_name: String,
    /// Image version.
    pub os_version: String,
    /// Cores.
    pub cpu: u32,
    /// Memory in MB.
    pub ram: u64,
    /// Disk in GB.
    pub ssd: u64,
    /// Traffic in GB.
    pub traffic: u64,
    /// IPv4 address.
    pub default_ip: Ipv4Addr,
    /// IPv6 address.
    pub default_ipv6: Ipv6Addr,
    /// Tags.
    pub tags: Vec<String>,
    /// Notes.
    pub notes: String,
    /// SSH key ids.
    pub ssh_key_ids: Vec<String>,
    /// Project id, if given.
    pub project_id: Option<String>,
    /// Resource identifier, if given.
    pub resource_identifier: Option<String>,
    /// Size of the cloud-init user data in bytes.
    pub user_data_bytes: usize,
    /// The client id that created it.
    pub created_by: Option<String>,
    /// Creation time.
    pub created_on: DateTime<Utc>,
    /// When the boot finishes.
    pub boots_at: DateTime<Utc>,
    /// Whether the boot ends in `failed`.
    pub boot_fails: bool,
    /// Whether it was stopped by an action.
    pub powered_off: bool,
    /// Time of the last action (start/stop/restart).
    pub last_action: Option<DateTime<Utc>>,
    /// Deletion time.
    pub deleted_at: Option<DateTime<Utc>>,
}

impl VmRecord {
    /// The status at `now`: `creating` until `boots_at`, then `failed` or `running`/`stopped`.
    pub fn status_at(&self, now: DateTime<Utc>) -> VmStatus {
        if self.deleted_at.is_some() {
            VmStatus::Deleted
        } else if now < self.boots_at {
            VmStatus::Creating
        } else if self.boot_fails {
            VmStatus::Failed
        } else if self.powered_off {
            VmStatus::Stopped
        } else {
            VmStatus::Running
        }
    }

    /// The last time anything about it changed, as of `now`.
    pub fn last_updated_at(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        let mut t = self.created_on;
        if now >= self.boots_at {
            t = t.max(self.boots_at);
        }
        if let Some(a) = self.last_action {
            t = t.max(a);
        }
        if let Some(d) = self.deleted_at {
            t = t.max(d);
        }
        t
    }

    /// The VPS JSON object as the API returns it, at `now`.
    pub fn to_wire(&self, now: DateTime<Utc>) -> Value {
        serde_json::json!({
            "id": self.id,
            "identifier": self.identifier.to_string(),
            "name": self.name,
            "hostname": self.hostname,
            "status": self.status_at(now).as_str(),
            "cpu": self.cpu,
            "ram": self.ram,
            "ssd": self.ssd,
            "traffic": self.traffic,
            "default_ip": self.default_ip.to_string(),
            "default_ipv6": self.default_ipv6.to_string(),
            "boxsize_id": self.boxsize_id,
            "offering_id": self.offering_id,
            "datacenter_id": self.datacenter_id,
            "os_image_id": self.os_image_id,
            "os_name": self.os_name,
            "os_version": self.os_version,
            "created_on": self.created_on.to_rfc3339(),
            "last_updated": self.last_updated_at(now).to_rfc3339(),
            "tags": self.tags,
            "notes": self.notes,
        })
    }
}

/// A validated `POST /vm` body.
#[derive(Clone, PartialEq, Default)]
pub struct CreateVm {
    /// `name`
    pub name: String,
    /// `hostname`
    pub hostname: String,
    /// `offering_id`
    pub offering_id: String,
    /// `datacenter_id`
    pub datacenter_id: String,
    /// `os_image_id`
    pub os_image_id: String,
    /// `ssh_key_ids`
    pub ssh_key_ids: Vec<String>,
    /// `tags`
    pub tags: Vec<String>,
    /// `notes`
    pub notes: String,
    /// `user_data` (may hold join tokens: never logged)
    pub user_data: String,
    /// `password` (never logged)
    pub password: Option<String>,
    /// `projectId`
    pub project_id: Option<String>,
    /// `resourceIdentifier`
    pub resource_identifier: Option<String>,
}

impl std::fmt::Debug for CreateVm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreateVm")
            .field("name", &self.name)
            .field("hostname", &self.hostname)
            .field("offering_id", &self.offering_id)
            .field("datacenter_id", &self.datacenter_id)
            .field("os_image_id", &self.os_image_id)
            .field("tags", &self.tags)
            .field(
                "user_data",
                &format_args!("<{} bytes>", self.user_data.len()),
            )
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .finish_non_exhaustive()
    }
}

/// Parses a `POST /vm` JSON body; the error names the field, what was wrong and the fix.
pub fn parse_create(body: &Value) -> Result<CreateVm, String> {
    let obj = body.as_object().ok_or_else(|| {
        format!(
            "the body must be a JSON object (CreateVPS), got {}",
            kind(body)
        )
    })?;
    let vm = CreateVm {
        name: required_str(obj, "name")?,
        hostname: required_str(obj, "hostname")?,
        offering_id: required_str(obj, "offering_id")?,
        datacenter_id: required_str(obj, "datacenter_id")?,
        os_image_id: required_str(obj, "os_image_id")?,
        ssh_key_ids: str_list(obj, "ssh_key_ids")?,
        tags: str_list(obj, "tags")?,
        notes: optional_str(obj, "notes")?.unwrap_or_default(),
        user_data: optional_str(obj, "user_data")?.unwrap_or_default(),
        password: optional_str(obj, "password")?,
        project_id: optional_id(obj, "projectId")?,
        resource_identifier: optional_str(obj, "resourceIdentifier")?,
    };
    check_hostname(&vm.hostname)?;
    if vm.name.len() > 253 {
        return Err(format!(
            "field `name` is {} characters long: use at most 253",
            vm.name.len()
        ));
    }
    Ok(vm)
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn optional_str(obj: &Map<String, Value>, field: &str) -> Result<Option<String>, String> {
    match obj.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(format!(
            "field `{field}` must be a string, got {}",
            kind(other)
        )),
    }
}

fn optional_id(obj: &Map<String, Value>, field: &str) -> Result<Option<String>, String> {
    match obj.get(field) {
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        _ => optional_str(obj, field),
    }
}

fn required_str(obj: &Map<String, Value>, field: &str) -> Result<String, String> {
    match optional_str(obj, field)? {
        Some(s) if !s.trim().is_empty() => Ok(s),
        Some(_) => Err(format!("field `{field}` is empty: give a non-empty string")),
        None => Err(format!("missing required field `{field}`")),
    }
}

fn str_list(obj: &Map<String, Value>, field: &str) -> Result<Vec<String>, String> {
    match obj.get(field) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, v)| match v {
                Value::String(s) => Ok(s.clone()),
                Value::Number(n) => Ok(n.to_string()),
                other => Err(format!(
                    "field `{field}[{i}]` must be a string, got {}",
                    kind(other)
                )),
            })
            .collect(),
        Some(other) => Err(format!(
            "field `{field}` must be an array of strings, got {}",
            kind(other)
        )),
    }
}

/// Checks an RFC 1123 hostname.
pub fn check_hostname(h: &str) -> Result<(), String> {
    let ok_label = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    if h.len() > 253 || !h.split('.').all(ok_label) {
        return Err(format!(
            "field `hostname` = {h:?} is not a valid hostname: use letters, digits and '-' in dot-separated labels of 1-63 characters"
        ));
    }
    Ok(())
}

/// The IPv4 ranges handed out, in order: the three documentation ranges (RFC 5737), then the
/// benchmarking range 198.18.0.0/15 (RFC 2544) for large simulations.
const POOLS: [(Ipv4Addr, u8); 4] = [
    (Ipv4Addr::new(192, 0, 2, 0), 24),
    (Ipv4Addr::new(198, 51, 100, 0), 24),
    (Ipv4Addr::new(203, 0, 113, 0), 24),
    (Ipv4Addr::new(198, 18, 0, 0), 15),
];

/// Hands out unique IPv4 addresses, round-robin, so a released address is reused only after
/// every other one was handed out.
#[derive(Debug, Clone, Default)]
pub struct IpAllocator {
    next: u64,
    in_use: HashSet<Ipv4Addr>,
}

fn pool_size() -> u64 {
    POOLS.iter().map(|(_, len)| usable(*len)).sum()
}

fn usable(len: u8) -> u64 {
    (1u64 << (32 - len)) - 2
}

fn nth_address(mut n: u64) -> Ipv4Addr {
    for (base, len) in POOLS {
        let size = usable(len);
        if n < size {
            // Skip the network address (.0).
            return Ipv4Addr::from(u32::from(base) + n as u32 + 1);
        }
        n -= size;
    }
    Ipv4Addr::UNSPECIFIED
}

impl IpAllocator {
    /// A free address, or `None` when every address is in use.
    pub fn allocate(&mut self) -> Option<Ipv4Addr> {
        let size = pool_size();
        for _ in 0..size {
            let ip = nth_address(self.next % size);
            self.next = self.next.wrapping_add(1);
            if self.in_use.insert(ip) {
                return Some(ip);
            }
        }
        None
    }

    /// Returns an address to the pool.
    pub fn release(&mut self, ip: Ipv4Addr) {
        self.in_use.remove(&ip);
    }
}

/// The IPv6 address of VM `id`: 2001:db8::/32 (RFC 3849) with the id in the low bits.
pub fn ipv6_for(id: u64) -> Ipv6Addr {
    Ipv6Addr::from((0x2001_0db8u128 << 96) | u128::from(id))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn addresses_are_unique_and_documentation_ranges_first() {
        let mut a = IpAllocator::default();
        let first = a.allocate().expect("ip");
        assert_eq!(first, Ipv4Addr::new(192, 0, 2, 1));
        let mut seen = HashSet::from([first]);
        for _ in 0..800 {
            assert!(seen.insert(a.allocate().expect("ip")));
        }
        assert!(seen.contains(&Ipv4Addr::new(198, 51, 100, 1)));
        assert!(seen.contains(&Ipv4Addr::new(203, 0, 113, 254)));
        assert!(!seen.contains(&Ipv4Addr::new(192, 0, 2, 255)));
    }

    #[test]
    fn ipv6_is_in_the_documentation_prefix() {
        assert_eq!(ipv6_for(1001).to_string(), "2001:db8::3e9");
    }

    #[test]
    fn create_body_errors_name_the_field() {
        let base = json!({"name": "n", "hostname": "n", "offering_id": "o",
                          "datacenter_id": "d", "os_image_id": "i"});
        assert!(parse_create(&base).is_ok());
        for (field, bad, needle) in [
            (
                "offering_id",
                json!(null),
                "missing required field `offering_id`",
            ),
            ("name", json!(""), "`name` is empty"),
            ("tags", json!("x"), "`tags` must be an array"),
            ("tags", json!(["a", {}]), "`tags[1]`"),
            ("hostname", json!("bad_host"), "`hostname`"),
            ("notes", json!(3), "`notes` must be a string"),
        ] {
            let mut body = base.clone();
            body[field] = bad;
            let err = parse_create(&body).expect_err(field);
            assert!(err.contains(needle), "{field}: {err}");
        }
        assert!(parse_create(&json!([1]))
            .expect_err("array")
            .contains("JSON object"));
    }

    #[test]
    fn debug_of_create_hides_user_data_and_password() {
        let vm = CreateVm {
            user_data: "join-token-abc".into(),
            password: Some("hunter2".into()),
            ..CreateVm::default()
        };
        let shown = format!("{vm:?}");
        assert!(
            !shown.contains("join-token-abc") && !shown.contains("hunter2"),
            "{shown}"
        );
    }
}
