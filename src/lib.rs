//! Core library of `kubectl-vpsie`, the node autoscaler for Kubernetes clusters on VPSie.
//!
//! - [`api`]: the `NodeGroup` and `VPSieNode` custom resources (`autoscaler.vpsie.com/v1alpha1`).
//! - [`cloud`]: the VPSie API client (OAuth token, retries, rate limit, circuit breaker, error classes, metrics).
//! - [`clock`]: the time source shared by everything that waits or expires, so tests and the sim control time.
//! - [`scaling`]: pure decisions: resource quantities and the scheduler's filters.
//! - [`sim`]: the simulated VPSie cloud (and, later, the simulated cluster).
//! - [`yaml`]: YAML in and out, with the workspace's reader and writer settings.

pub mod api;
pub mod clock;
pub mod cloud;
pub mod scaling;
pub mod sim;
pub mod yaml;
