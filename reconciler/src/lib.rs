//! The in-cluster reconciler of kubectl-vpsie (serve mode): controllers and the serve runtime
//! (metrics and health HTTP, leader election, status report).

pub mod creds;
pub mod http;
pub mod leader;
pub mod metrics;
pub mod report;
