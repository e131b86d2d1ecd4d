//! The simulated VPSie cloud.
