//! The in-cluster reconciler of kubectl-vpsie (serve mode): controllers and the serve runtime
//! (metrics and health HTTP, leader election, status report).

pub mod config;
pub mod context;
pub mod creds;
pub mod drain;
pub mod error;
pub mod events;
pub mod gc;
pub mod headroom;
pub mod http;
pub mod leader;
pub mod lifecycle;
pub mod managed;
pub mod metrics;
pub mod nodegroup;
pub mod pods;
pub mod podstore;
pub mod report;
pub mod runtime;
pub mod scaledown;
pub mod scaleup;
pub mod serve;
pub mod trim;
pub mod vpsienode;
