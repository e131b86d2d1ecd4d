//! Kubernetes event reasons of the API reference, with their event types, so the reconciler
//! emits and the plugin filters exactly the same names.

use std::fmt;

/// Kubernetes event type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EventType {
    /// Routine: `Normal`.
    Normal,
    /// Needs attention: `Warning`.
    Warning,
}

impl EventType {
    /// The wire name (`Normal` or `Warning`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Normal => "Normal",
            Self::Warning => "Warning",
        }
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An event reason of the API reference (NodeGroup and VPSieNode events).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EventReason {
    /// NodeGroup is increasing node count (Normal).
    ScalingUp,
    /// NodeGroup is decreasing node count (Normal).
    ScalingDown,
    /// Cannot scale beyond maxNodes limit (Warning).
    ScaleLimitReached,
    /// Failed to provision a new node / create a VPS (Warning; both kinds).
    ProvisioningFailed,
    /// NodeGroup configuration is invalid (Warning).
    InvalidConfiguration,
    /// VPS successfully created on VPSie (Normal).
    VpsCreated,
    /// Node joined Kubernetes cluster (Normal).
    NodeJoined,
    /// Node is ready to accept workloads (Normal).
    NodeReady,
    /// Node termination initiated (Normal).
    Terminating,
    /// Node failed to join cluster (Warning).
    JoinFailed,
    /// Failed to drain node before termination (Warning).
    DrainFailed,
}

impl EventReason {
    /// Every reason.
    pub const ALL: [EventReason; 11] = [
        Self::ScalingUp,
        Self::ScalingDown,
        Self::ScaleLimitReached,
        Self::ProvisioningFailed,
        Self::InvalidConfiguration,
        Self::VpsCreated,
        Self::NodeJoined,
        Self::NodeReady,
        Self::Terminating,
        Self::JoinFailed,
        Self::DrainFailed,
    ];

    /// The reason exactly as the API reference writes it (e.g. `VPSCreated`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ScalingUp => "ScalingUp",
            Self::ScalingDown => "ScalingDown",
            Self::ScaleLimitReached => "ScaleLimitReached",
            Self::ProvisioningFailed => "ProvisioningFailed",
            Self::InvalidConfiguration => "InvalidConfiguration",
            Self::VpsCreated => "VPSCreated",
            Self::NodeJoined => "NodeJoined",
            Self::NodeReady => "NodeReady",
            Self::Terminating => "Terminating",
            Self::JoinFailed => "JoinFailed",
            Self::DrainFailed => "DrainFailed",
        }
    }

    /// The event type the API reference gives this reason.
    pub fn event_type(self) -> EventType {
        match self {
            Self::ScaleLimitReached
            | Self::ProvisioningFailed
            | Self::InvalidConfiguration
            | Self::JoinFailed
            | Self::DrainFailed => EventType::Warning,
            Self::ScalingUp
            | Self::ScalingDown
            | Self::VpsCreated
            | Self::NodeJoined
            | Self::NodeReady
            | Self::Terminating => EventType::Normal,
        }
    }
}

impl fmt::Display for EventReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_match_the_api_reference() {
        let warnings: Vec<&str> = EventReason::ALL
            .iter()
            .filter(|r| r.event_type() == EventType::Warning)
            .map(|r| r.as_str())
            .collect();
        assert_eq!(
            warnings,
            [
                "ScaleLimitReached",
                "ProvisioningFailed",
                "InvalidConfiguration",
                "JoinFailed",
                "DrainFailed"
            ]
        );
        assert_eq!(EventReason::VpsCreated.to_string(), "VPSCreated");
        assert_eq!(EventType::Warning.to_string(), "Warning");
    }
}
