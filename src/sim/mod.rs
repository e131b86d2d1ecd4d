//! The simulated world: a VPSie cloud (and, later, a Kubernetes cluster) on loopback.

pub mod apiserver;
pub mod campaign;
pub mod cloud;
pub mod cluster;
pub mod rbac;
pub mod scenario;
pub mod world;
