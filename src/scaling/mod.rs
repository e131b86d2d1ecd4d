//! Pure scaling decisions: resource arithmetic, the scheduler's filters (shared by the simulated
//! scheduler, scale-up planning and scale-down checks), scale-up planning, headroom and
//! scale-down.

pub mod capacity;
pub mod fit;
pub mod headroom;
pub mod plan;
pub mod quantity;
pub mod scaledown;

pub use fit::{check, failed_scheduling_message, NodeFacts, PodRequirements, Resources, Unfit};
