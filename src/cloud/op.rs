//! The named operations of the VPSie API client: the `method` label of the metrics and the name
//! that error messages use.

use std::fmt;

/// One kind of call to the VPSie API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub enum Operation {
    /// `POST /auth/from/api`: exchange the client id and secret for an access token.
    Login,
    /// `GET /health`.
    Health,
    /// `GET /offerings`.
    ListOfferings,
    /// `GET /offerings/{id}`.
    GetOffering,
    /// `GET /datacenters`.
    ListDatacenters,
    /// `GET /images`.
    ListImages,
    /// `GET /vm?page=N&per_page=M` (every page).
    ListVMs,
    /// `GET /vm/{id}`.
    GetVM,
    /// `POST /vm`.
    CreateVM,
    /// `DELETE /vm/{id}`.
    DeleteVM,
}

impl Operation {
    /// Every operation, in a stable order.
    pub const ALL: [Operation; 10] = [
        Operation::Login,
        Operation::Health,
        Operation::ListOfferings,
        Operation::GetOffering,
        Operation::ListDatacenters,
        Operation::ListImages,
        Operation::ListVMs,
        Operation::GetVM,
        Operation::CreateVM,
        Operation::DeleteVM,
    ];

    /// The name used as the `method` metric label and in messages, e.g. `CreateVM`.
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Login => "Login",
            Operation::Health => "Health",
            Operation::ListOfferings => "ListOfferings",
            Operation::GetOffering => "GetOffering",
            Operation::ListDatacenters => "ListDatacenters",
            Operation::ListImages => "ListImages",
            Operation::ListVMs => "ListVMs",
            Operation::GetVM => "GetVM",
            Operation::CreateVM => "CreateVM",
            Operation::DeleteVM => "DeleteVM",
        }
    }

    /// Whether repeating the call cannot do anything twice (reads, deletes and the login), so
    /// it may be retried after a network error or a 5xx. `CreateVM` is not: a retry after an
    /// ambiguous failure could create a second VM.
    pub fn is_idempotent(self) -> bool {
        !matches!(self, Operation::CreateVM)
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
