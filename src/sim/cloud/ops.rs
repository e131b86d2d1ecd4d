//! Names of the API operations, as the request log, the counters and fault matchers use them.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// One VPSie API operation (the names match the client's metric labels, e.g. `CreateVM`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Operation {
    /// `POST /auth/from/api`
    Login,
    /// `GET /health`
    Health,
    /// `GET /vm`
    ListVMs,
    /// `POST /vm`
    CreateVM,
    /// `GET /vm/{id}`
    GetVM,
    /// `DELETE /vm/{id}`
    DeleteVM,
    /// `POST /vm/{id}/action`
    VMAction,
    /// `GET /offerings`
    ListOfferings,
    /// `GET /offerings/{id}`
    GetOffering,
    /// `GET /datacenters`
    ListDatacenters,
    /// `GET /images`
    ListImages,
    /// Anything else under the base path.
    Unknown,
}

impl Operation {
    /// Every operation, in declaration order.
    pub const ALL: [Operation; 12] = [
        Operation::Login,
        Operation::Health,
        Operation::ListVMs,
        Operation::CreateVM,
        Operation::GetVM,
        Operation::DeleteVM,
        Operation::VMAction,
        Operation::ListOfferings,
        Operation::GetOffering,
        Operation::ListDatacenters,
        Operation::ListImages,
        Operation::Unknown,
    ];

    /// The name (`CreateVM`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Operation::Login => "Login",
            Operation::Health => "Health",
            Operation::ListVMs => "ListVMs",
            Operation::CreateVM => "CreateVM",
            Operation::GetVM => "GetVM",
            Operation::DeleteVM => "DeleteVM",
            Operation::VMAction => "VMAction",
            Operation::ListOfferings => "ListOfferings",
            Operation::GetOffering => "GetOffering",
            Operation::ListDatacenters => "ListDatacenters",
            Operation::ListImages => "ListImages",
            Operation::Unknown => "Unknown",
        }
    }

    /// Whether the operation needs a bearer token (everything but login and health).
    pub fn needs_auth(self) -> bool {
        !matches!(self, Operation::Login | Operation::Health)
    }

    /// Which operation `method` on `path` (relative to the base path, e.g. `/vm/3`) is.
    pub fn classify(method: &str, path: &str) -> Operation {
        let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
        match (method.to_ascii_uppercase().as_str(), segments.as_slice()) {
            ("POST", ["auth", "from", "api"]) => Operation::Login,
            ("GET", ["health"]) => Operation::Health,
            ("GET", ["vm"]) => Operation::ListVMs,
            ("POST", ["vm"]) => Operation::CreateVM,
            ("GET", ["vm", _]) => Operation::GetVM,
            ("DELETE", ["vm", _]) => Operation::DeleteVM,
            ("POST", ["vm", _, "action"]) => Operation::VMAction,
            ("GET", ["offerings"]) => Operation::ListOfferings,
            ("GET", ["offerings", _]) => Operation::GetOffering,
            ("GET", ["datacenters"]) => Operation::ListDatacenters,
            ("GET", ["images"]) => Operation::ListImages,
            _ => Operation::Unknown,
        }
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Operation {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Operation::ALL
            .into_iter()
            .find(|op| op.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| {
                let names: Vec<&str> = Operation::ALL.iter().map(|o| o.name()).collect();
                format!("unknown operation `{s}`: use one of {}", names.join(", "))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_every_route() {
        assert_eq!(
            Operation::classify("POST", "/auth/from/api"),
            Operation::Login
        );
        assert_eq!(Operation::classify("GET", "/health"), Operation::Health);
        assert_eq!(Operation::classify("GET", "/vm"), Operation::ListVMs);
        assert_eq!(Operation::classify("POST", "/vm"), Operation::CreateVM);
        assert_eq!(Operation::classify("GET", "/vm/12"), Operation::GetVM);
        assert_eq!(Operation::classify("DELETE", "/vm/12"), Operation::DeleteVM);
        assert_eq!(
            Operation::classify("POST", "/vm/12/action"),
            Operation::VMAction
        );
        assert_eq!(
            Operation::classify("GET", "/offerings"),
            Operation::ListOfferings
        );
        assert_eq!(
            Operation::classify("GET", "/offerings/x"),
            Operation::GetOffering
        );
        assert_eq!(
            Operation::classify("GET", "/datacenters"),
            Operation::ListDatacenters
        );
        assert_eq!(Operation::classify("GET", "/images"), Operation::ListImages);
        assert_eq!(Operation::classify("PUT", "/vm"), Operation::Unknown);
        assert_eq!(Operation::classify("GET", "/nope"), Operation::Unknown);
    }

    #[test]
    fn parses_names_and_rejects_unknown_ones() {
        assert_eq!("createvm".parse::<Operation>(), Ok(Operation::CreateVM));
        let err = "Frobnicate".parse::<Operation>().expect_err("unknown");
        assert!(
            err.contains("Frobnicate") && err.contains("CreateVM"),
            "{err}"
        );
        for op in Operation::ALL {
            assert_eq!(op.name().parse::<Operation>(), Ok(op));
        }
    }
}
