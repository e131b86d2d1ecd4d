//! One module per subcommand.

pub mod bench;
pub mod breaker;
pub mod campaign;
pub mod common;
pub mod complete;
pub mod crds;
pub mod creds;
pub mod doctor;
pub mod generate;
pub mod install;
pub mod krew;
pub mod nodes;
pub mod pause;
pub mod reconcile;
pub mod scenario;
pub mod serve;
pub mod sim;
pub mod status;
pub mod why;
