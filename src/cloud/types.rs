//! The JSON shapes of the VPSie API v2, as the real API and the simulated cloud speak them.
//!
//! Decoding is tolerant: optional fields may be missing or `null`, unknown fields are ignored,
//! and numbers may arrive as strings (and ids as numbers) where the real API is known to vary.

use serde::{Deserialize, Serialize};

use super::lenient;

/// A virtual machine (`GET /vm/{id}`, items of `GET /vm`, answer of `POST /vm`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Vps {
    /// Numeric id, used in `/vm/{id}`.
    #[serde(deserialize_with = "lenient::i64_req")]
    pub id: i64,
    /// UUID of the VM.
    #[serde(default, deserialize_with = "lenient::string_opt")]
    pub identifier: Option<String>,
    /// Display name.
    #[serde(default, deserialize_with = "lenient::string_opt")]
    pub name: Option<String>,
    /// Hostname (the autoscaler's deterministic node name).
    #[serde(default, deserialize_with = "lenient::string_opt")]
    pub hostname: Option<String>,
    /// `running`, `stopped`, `suspended`, a creating/provisioning status, ...
    #[serde(default, deserialize_with = "lenient::string_opt")]
    pub status: Option<String>,
    /// CPU cores.
    #[serde(default, deserialize_with = "lenient::i64_opt")]
    pub cpu: Option<i64>,
    /// Memory in MB.
    #[serde(default, deserialize_with = "lenient::i64_opt")]
    pub ram: Option<i64>,
    /// Disk in GB.
    #[serde(default, deserialize_with = "lenient::i64_opt")]
    pub ssd: Option<i64>,
    /// Bandwidth in GB.
    #[serde(default, deserialize_with = "lenient::i64_opt")]
    pub traffic: Option<i64>,
    /// Public IPv4 address.
    #[serde(default, deserialize_with = "lenient::string_opt")]
    pub default_ip: Option<String>,
    /// Public IPv6 address.
    #[serde(default, deserialize_with = "lenient::string_opt")]
    pub default_ipv6: Option<String>,
    /// The offering (box size) id.
    #[serde(default, deserialize_with = "lenient::string_opt")]
    pub boxsize_id: Option<String>,
    /// The datacenter id.
    #[serde(default, deserialize_with = "lenient::string_opt")]
    pub datacenter_id: Option<String>,
    /// OS name.
    #[serde(default, deserialize_with = "lenient::string_opt")]
    pub os_name: Option<String>,
    /// OS version.
    #[serde(default, deserialize_with = "lenient::string_opt")]
    pub os_version: Option<String>,
    /// Creation time as the API writes it.
    #[serde(default, deserialize_with = "lenient::string_opt")]
    pub created_on: Option<String>,
    /// Last update time as the API writes it.
    #[serde(default, deserialize_with = "lenient::string_opt")]
    pub last_updated: Option<String>,
    /// Tags.
    #[serde(default, deserialize_with = "lenient::string_list")]
    pub tags: Vec<String>,
    /// Free text notes.
    #[serde(default, deserialize_with = "lenient::string_opt")]
    pub notes: Option<String>,
}

impl Vps {
    /// Whether the VM carries `tag`.
    pub fn has_tag(&self, tag: &str) -> bool {
        self.tags.iter().any(|t| t == tag)
    }

    /// The VM's lifecycle phase, from its `status` text.
    pub fn phase(&self) -> VmPhase {
        VmPhase::from_status(self.status.as_deref().unwrap_or(""))
    }
}

/// What a VM's `status` means to the autoscaler.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum VmPhase {
    /// Being created (`creating`, `provisioning`, `pending`, `building`, `installing`, `new`).
    Provisioning,
    /// `running` / `active`.
    Running,
    /// Powered off or suspended (`stopped`, `suspended`, `paused`, `shutoff`, `off`).
    Stopped,
    /// Creation failed (`failed`, `error`).
    Failed,
    /// Being deleted or gone (`deleting`, `deleted`, `terminated`, `destroyed`).
    Deleting,
    /// Anything else (kept, not acted on).
    Unknown,
}

impl VmPhase {
    /// Classifies a status text (case and surrounding space ignored).
    pub fn from_status(status: &str) -> VmPhase {
        match status.trim().to_ascii_lowercase().as_str() {
            "creating" | "provisioning" | "pending" | "building" | "installing" | "new" => {
                VmPhase::Provisioning
            }
            "running" | "active" => VmPhase::Running,
            "stopped" | "suspended" | "paused" | "shutoff" | "off" => VmPhase::Stopped,
            "failed" | "error" => VmPhase::Failed,
            "deleting" | "deleted" | "terminated" | "destroyed" => VmPhase::Deleting,
            _ => VmPhase::Unknown,
        }
    }
}

/// The body of `POST /vm`. `Debug` hides the password.
#[derive(Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct CreateVpsRequest {
    /// Display name.
    pub name: String,
    /// Hostname; the autoscaler makes it deterministic so a create can be checked afterwards.
    pub hostname: String,
    /// Offering (instance type) id.
    pub offering_id: String,
    /// Datacenter id.
    pub datacenter_id: String,
    /// OS image id.
    pub os_image_id: String,
    /// SSH key ids.
    #[serde(default)]
    pub ssh_key_ids: Vec<String>,
    /// Tags.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Notes.
    #[serde(default)]
    pub notes: String,
    /// cloud-init user data.
    #[serde(default)]
    pub user_data: String,
    /// Root password (not logged; `Debug` hides it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    /// Project id.
    #[serde(default, rename = "projectId", skip_serializing_if = "Option::is_none")]
    pub project_id: Option<String>,
    /// Resource identifier.
    #[serde(
        default,
        rename = "resourceIdentifier",
        skip_serializing_if = "Option::is_none"
    )]
    pub resource_identifier: Option<String>,
}

impl std::fmt::Debug for CreateVpsRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreateVpsRequest")
            .field("name", &self.name)
            .field("hostname", &self.hostname)
            .field("offering_id", &self.offering_id)
            .field("datacenter_id", &self.datacenter_id)
            .field("os_image_id", &self.os_image_id)
            .field("ssh_key_ids", &self.ssh_key_ids)
            .field("tags", &self.tags)
            .field("notes", &self.notes)
            .field("user_data_bytes", &self.user_data.len())
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("project_id", &self.project_id)
            .field("resource_identifier", &self.resource_identifier)
            .finish()
    }
}

/// An instance type (`GET /offerings`, `GET /offerings/{id}`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Offering {
    /// Id, e.g. `small-2cpu-4gb`.
    #[serde(deserialize_with = "lenient::string_req")]
    pub id: String,
    /// Display name.
    #[serde(default, deserialize_with = "lenient::string_opt")]
    pub name: Option<String>,
    /// CPU cores.
    #[serde(default, deserialize_with = "lenient::i64_opt")]
    pub cpu: Option<i64>,
    /// Memory in MB.
    #[serde(default, deserialize_with = "lenient::i64_opt")]
    pub ram: Option<i64>,
    /// Disk in GB.
    #[serde(default, deserialize_with = "lenient::i64_opt")]
    pub disk: Option<i64>,
    /// Bandwidth in GB.
    #[serde(default, deserialize_with = "lenient::i64_opt")]
    pub bandwidth: Option<i64>,
    /// Monthly price in USD.
    #[serde(default, deserialize_with = "lenient::f64_opt")]
    pub price: Option<f64>,
    /// Hourly price in USD.
    #[serde(default, deserialize_with = "lenient::f64_opt")]
    pub hourly_price: Option<f64>,
    /// Whether it can be ordered now.
    #[serde(default, deserialize_with = "lenient::bool_opt")]
    pub available: Option<bool>,
    /// The datacenter it is offered in.
    #[serde(default, deserialize_with = "lenient::string_opt")]
    pub datacenter_id: Option<String>,
    /// Category.
    #[serde(default, deserialize_with = "lenient::string_opt")]
    pub category: Option<String>,
}

/// A datacenter (`GET /datacenters`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Datacenter {
    /// Id, e.g. `dc-us-east-1`.
    #[serde(deserialize_with = "lenient::string_req")]
    pub id: String,
    /// Display name.
    #[serde(default, deserialize_with = "lenient::string_opt")]
    pub name: Option<String>,
    /// Short code.
    #[serde(default, deserialize_with = "lenient::string_opt")]
    pub code: Option<String>,
    /// Country.
    #[serde(default, deserialize_with = "lenient::string_opt")]
    pub country: Option<String>,
    /// City.
    #[serde(default, deserialize_with = "lenient::string_opt")]
    pub city: Option<String>,
    /// Continent.
    #[serde(default, deserialize_with = "lenient::string_opt")]
    pub continent: Option<String>,
    /// Whether it accepts new VMs.
    #[serde(default, deserialize_with = "lenient::bool_opt")]
    pub available: Option<bool>,
    /// Whether VPSie features it.
    #[serde(default, deserialize_with = "lenient::bool_opt")]
    pub featured_dc: Option<bool>,
}

/// An OS image (`GET /images`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OsImage {
    /// Id, e.g. `ubuntu-22.04-lts`.
    #[serde(deserialize_with = "lenient::string_req")]
    pub id: String,
    /// Display name.
    #[serde(default, deserialize_with = "lenient::string_opt")]
    pub name: Option<String>,
    /// Version.
    #[serde(default, deserialize_with = "lenient::string_opt")]
    pub version: Option<String>,
    /// Distribution.
    #[serde(default, deserialize_with = "lenient::string_opt")]
    pub distribution: Option<String>,
    /// Architecture.
    #[serde(default, deserialize_with = "lenient::string_opt")]
    pub architecture: Option<String>,
    /// Minimum disk in GB.
    #[serde(default, deserialize_with = "lenient::i64_opt")]
    pub min_disk: Option<i64>,
    /// Whether it can be used now.
    #[serde(default, deserialize_with = "lenient::bool_opt")]
    pub available: Option<bool>,
}

/// The paging block of a list answer.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Pagination {
    /// Items in all pages.
    #[serde(default, deserialize_with = "lenient::i64_opt")]
    pub total: Option<i64>,
    /// Items in this page.
    #[serde(default, deserialize_with = "lenient::i64_opt")]
    pub count: Option<i64>,
    /// Page size.
    #[serde(default, deserialize_with = "lenient::i64_opt")]
    pub per_page: Option<i64>,
    /// This page, from 1.
    #[serde(default, deserialize_with = "lenient::i64_opt")]
    pub current_page: Option<i64>,
    /// Number of pages.
    #[serde(default, deserialize_with = "lenient::i64_opt")]
    pub total_pages: Option<i64>,
}

/// The list envelope `{"data": [...], "pagination": {...}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ListResponse<T> {
    /// The items of this page.
    pub data: Vec<T>,
    /// Paging; absent means a single page.
    #[serde(default)]
    pub pagination: Option<Pagination>,
}

/// A token with its expiry, as in the login answer.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct TokenInfo {
    /// The token (never printed: `Debug` hides it).
    #[serde(deserialize_with = "lenient::string_req")]
    pub token: String,
    /// RFC 3339 expiry, when given.
    #[serde(default, deserialize_with = "lenient::string_opt")]
    pub expires: Option<String>,
}

impl std::fmt::Debug for TokenInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenInfo")
            .field("token", &"<redacted>")
            .field("expires", &self.expires)
            .finish()
    }
}

/// The answer of `POST /auth/from/api`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoginResponse {
    /// `true` means refused.
    #[serde(default, deserialize_with = "lenient::bool_opt")]
    pub error: Option<bool>,
    /// Status code the API reports.
    #[serde(default, deserialize_with = "lenient::i64_opt")]
    pub code: Option<i64>,
    /// Message.
    #[serde(default, deserialize_with = "lenient::string_opt")]
    pub message: Option<String>,
    /// The access token.
    #[serde(rename = "accessToken", default)]
    pub access_token: Option<TokenInfo>,
    /// The refresh token (unused: the client logs in again).
    #[serde(rename = "refreshToken", default)]
    pub refresh_token: Option<TokenInfo>,
}

/// An error body: `{"error": "<short>", "message": "...", "code": N}`, or the envelope
/// `{"error": true, "code": N, "message": "...", "data": ...}`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ErrorBody {
    /// The short error name (`quota_exceeded`, `not_found`, ...), or `"true"` from the envelope.
    #[serde(default, deserialize_with = "lenient::string_opt")]
    pub error: Option<String>,
    /// The human message.
    #[serde(default, deserialize_with = "lenient::string_opt")]
    pub message: Option<String>,
    /// The code the API reports.
    #[serde(default, deserialize_with = "lenient::i64_opt")]
    pub code: Option<i64>,
}

/// The envelope some endpoints wrap every answer in: `{"error": bool, "code", "message", "data"}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope<T> {
    /// `true` means the call failed.
    #[serde(default, deserialize_with = "lenient::bool_opt")]
    pub error: Option<bool>,
    /// Code.
    #[serde(default, deserialize_with = "lenient::i64_opt")]
    pub code: Option<i64>,
    /// Message.
    #[serde(default, deserialize_with = "lenient::string_opt")]
    pub message: Option<String>,
    /// The payload.
    pub data: Option<T>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_request_wire_names() {
        let mut req = CreateVpsRequest {
            name: "n".into(),
            hostname: "h".into(),
            offering_id: "small-2cpu-4gb".into(),
            datacenter_id: "dc-us-east-1".into(),
            os_image_id: "ubuntu-22.04-lts".into(),
            ssh_key_ids: vec!["k1".into()],
            tags: vec!["t".into()],
            notes: "x".into(),
            user_data: "#cloud-config\njoin-token: abc.def".into(),
            ..CreateVpsRequest::default()
        };
        let v = serde_json::to_value(&req).expect("serializes");
        let keys: Vec<&str> = v
            .as_object()
            .expect("object")
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            keys,
            [
                "datacenter_id",
                "hostname",
                "name",
                "notes",
                "offering_id",
                "os_image_id",
                "ssh_key_ids",
                "tags",
                "user_data"
            ]
        );
        req.password = Some("pw-secret".into());
        req.project_id = Some("p1".into());
        req.resource_identifier = Some("r1".into());
        let v = serde_json::to_value(&req).expect("serializes");
        assert_eq!(v["projectId"], "p1");
        assert_eq!(v["resourceIdentifier"], "r1");
        assert_eq!(v["password"], "pw-secret");
        let dbg = format!("{req:?}");
        assert!(
            !dbg.contains("pw-secret") && !dbg.contains("abc.def"),
            "{dbg}"
        );
    }

    #[test]
    fn vps_with_only_an_id() {
        let v: Vps = serde_json::from_str(r#"{"id": 5}"#).expect("minimal");
        assert_eq!(v.id, 5);
        assert!(v.tags.is_empty());
        assert!(!v.has_tag("x"));
        let v: Vps =
            serde_json::from_str(r#"{"id": 5.0, "tags": "a, b,,c", "ram": "2048.0", "cpu": true}"#)
                .expect("odd");
        assert_eq!(v.id, 5);
        assert_eq!(v.tags, ["a", "b", "c"]);
        assert!(v.has_tag("b"));
        assert_eq!(v.ram, Some(2048));
        assert_eq!(v.cpu, None);
        for bad in [
            r#"{"id": "x"}"#,
            r#"{"id": 1.5}"#,
            r#"{"id": null}"#,
            r#"{}"#,
            "[]",
        ] {
            assert!(serde_json::from_str::<Vps>(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn lenient_numbers_and_bools() {
        let o: Offering = serde_json::from_str(
            r#"{"id": 12, "price": "9.99", "hourly_price": "n/a", "available": "yes", "disk": "80", "bandwidth": 1e3}"#,
        )
        .expect("offering");
        assert_eq!(o.id, "12");
        assert_eq!(o.price, Some(9.99));
        assert_eq!(o.hourly_price, None);
        assert_eq!(o.available, Some(true));
        assert_eq!(o.disk, Some(80));
        assert_eq!(o.bandwidth, Some(1000));
        let d: Datacenter =
            serde_json::from_str(r#"{"id": "dc", "available": 0, "featured_dc": "maybe"}"#)
                .expect("dc");
        assert_eq!(d.available, Some(false));
        assert_eq!(d.featured_dc, None);
        let i: OsImage = serde_json::from_str(r#"{"id": "img", "min_disk": "20", "unknown": [1]}"#)
            .expect("img");
        assert_eq!(i.min_disk, Some(20));
        assert!(serde_json::from_str::<Offering>(r#"{"id": {"a": 1}}"#).is_err());
    }

    #[test]
    fn phases() {
        for (status, phase) in [
            ("creating", VmPhase::Provisioning),
            (" Running ", VmPhase::Running),
            ("stopped", VmPhase::Stopped),
            ("suspended", VmPhase::Stopped),
            ("failed", VmPhase::Failed),
            ("deleted", VmPhase::Deleting),
            ("", VmPhase::Unknown),
            ("weird", VmPhase::Unknown),
        ] {
            assert_eq!(VmPhase::from_status(status), phase, "{status:?}");
        }
        let v: Vps = serde_json::from_str(r#"{"id": 1, "status": "running"}"#).expect("vps");
        assert_eq!(v.phase(), VmPhase::Running);
        let v: Vps = serde_json::from_str(r#"{"id": 1}"#).expect("vps");
        assert_eq!(v.phase(), VmPhase::Unknown);
    }

    #[test]
    fn token_info_debug_is_redacted() {
        let t = TokenInfo {
            token: "tok-zzz".into(),
            expires: None,
        };
        assert!(!format!("{t:?}").contains("tok-zzz"));
        let l: LoginResponse = serde_json::from_str(
            r#"{"accessToken": {"token": "tok-zzz"}, "refreshToken": {"token": "ref-yyy"}}"#,
        )
        .expect("login");
        let dbg = format!("{l:?}");
        assert!(
            !dbg.contains("tok-zzz") && !dbg.contains("ref-yyy"),
            "{dbg}"
        );
    }
}
