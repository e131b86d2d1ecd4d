//! One module per subcommand.

pub mod crds;
pub mod generate;
pub mod serve;
pub mod sim;
