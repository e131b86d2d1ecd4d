//! Pure scaling decisions: resource arithmetic and the scheduler's filters, shared by the
//! simulated scheduler, scale-up planning and scale-down checks.

pub mod fit;
pub mod quantity;

pub use fit::{check, failed_scheduling_message, NodeFacts, PodRequirements, Resources, Unfit};
