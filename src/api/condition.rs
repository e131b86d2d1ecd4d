//! The status of a condition (`True`, `False`, `Unknown`), shared by both resources.

use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Status of a condition, as Kubernetes' `corev1.ConditionStatus`.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, Hash, JsonSchema)]
pub enum ConditionStatus {
    /// The condition holds.
    True,
    /// The condition does not hold.
    False,
    /// Not known yet.
    #[default]
    Unknown,
}

impl ConditionStatus {
    /// The wire name (`True`, `False`, `Unknown`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::True => "True",
            Self::False => "False",
            Self::Unknown => "Unknown",
        }
    }
}

impl From<bool> for ConditionStatus {
    fn from(b: bool) -> Self {
        if b {
            Self::True
        } else {
            Self::False
        }
    }
}

impl fmt::Display for ConditionStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The fields every condition type of this API has, so both resources share one update rule.
pub trait Condition {
    /// `type`.
    fn type_(&self) -> &str;
    /// `status`.
    fn status(&self) -> ConditionStatus;
    /// Copies reason and message from `new`; returns whether either changed.
    fn refresh_from(&mut self, new: Self) -> bool;
}

/// Inserts or updates `new` in `conditions`. When the status does not change, the existing
/// `lastTransitionTime` is kept (only reason and message are refreshed), as Kubernetes
/// conventions require. Returns whether anything changed.
pub fn set_condition<C: Condition>(conditions: &mut Vec<C>, new: C) -> bool {
    match conditions.iter_mut().find(|c| c.type_() == new.type_()) {
        Some(existing) if existing.status() == new.status() => existing.refresh_from(new),
        Some(existing) => {
            *existing = new;
            true
        }
        None => {
            conditions.push(new);
            true
        }
    }
}

macro_rules! impl_condition {
    ($t:ty) => {
        impl $crate::api::condition::Condition for $t {
            fn type_(&self) -> &str {
                &self.type_
            }
            fn status(&self) -> $crate::api::condition::ConditionStatus {
                self.status
            }
            fn refresh_from(&mut self, new: Self) -> bool {
                let changed = self.reason != new.reason || self.message != new.message;
                self.reason = new.reason;
                self.message = new.message;
                changed
            }
        }
    };
}
pub(crate) use impl_condition;
