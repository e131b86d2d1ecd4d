//! Headroom: `scaleUpPolicy.cpuThreshold` / `memoryThreshold` as a proactive scale-up — a pure
//! function.
//!
//! When the pods on a NodeGroup's Ready nodes request at least the threshold (percent) of the
//! group's allocatable cpu or memory (nodes on their way count as allocatable already), the
//! group grows by the fewest nodes of its offering that bring both below the thresholds, so
//! the next pods start on a node that is already there instead of waiting for a VPS to boot.
//! Pending pods are scale-up's business; headroom only looks at what runs. A threshold of 0
//! turns headroom off for that resource (0% would grow the group to its maximum).
//!
//! Scale-down asks [`exceeds_after_removal`] before removing a node, so the two never undo
//! each other (a node added for headroom is not taken away as unneeded).

use super::fit::Resources;

/// A group's headroom inputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct HeadroomInput {
    /// What the pods on the group's Ready nodes request.
    pub requested: Resources,
    /// The allocatable of the group's Ready nodes.
    pub allocatable: Resources,
    /// The allocatable of the group's nodes on their way.
    pub incoming: Resources,
    /// `scaleUpPolicy.cpuThreshold`, percent.
    pub cpu_threshold: i32,
    /// `scaleUpPolicy.memoryThreshold`, percent.
    pub memory_threshold: i32,
    /// What one new node of the chosen offering adds for pods (allocatable less DaemonSet
    /// overhead).
    pub per_node: Resources,
    /// How many nodes the group may still add (maxNodes less its current size).
    pub room: u32,
}

/// The verdict.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Headroom {
    /// Requested cpu, percent of allocatable (Ready and incoming).
    pub cpu_percent: f64,
    /// Requested memory likewise.
    pub memory_percent: f64,
    /// Nodes to add (0: below the thresholds, or no room).
    pub add: u32,
    /// Nodes that would be needed but exceed the room.
    pub short: u32,
}

fn percent(used: i64, of: i64) -> f64 {
    if of <= 0 {
        0.0
    } else {
        used as f64 * 100.0 / of as f64
    }
}

/// Whether `used` of `of` reaches a threshold (0 = off).
fn reaches(used: i64, of: i64, threshold: i32) -> bool {
    threshold > 0 && of > 0 && percent(used, of) >= f64::from(threshold)
}

/// How many nodes the group should add for headroom.
pub fn headroom(input: &HeadroomInput) -> Headroom {
    let total = input.allocatable.plus(input.incoming);
    let (cpu, mem) = (
        percent(input.requested.cpu_millis, total.cpu_millis),
        percent(input.requested.memory_bytes, total.memory_bytes),
    );
    let over = |t: Resources| {
        reaches(
            input.requested.cpu_millis,
            t.cpu_millis,
            input.cpu_threshold,
        ) || reaches(
            input.requested.memory_bytes,
            t.memory_bytes,
            input.memory_threshold,
        )
    };
    let mut verdict = Headroom {
        cpu_percent: cpu,
        memory_percent: mem,
        add: 0,
        short: 0,
    };
    // no Ready node yet, or a new node adds nothing: nothing to reason about
    if input.allocatable.cpu_millis <= 0
        || (input.per_node.cpu_millis <= 0 && input.per_node.memory_bytes <= 0)
        || !over(total)
    {
        return verdict;
    }
    let mut needed = 0u32;
    let mut grown = total;
    // bounded: each step adds a node; a group is never larger than i32::MAX nodes
    while over(grown) && needed < 1000 {
        needed += 1;
        grown = grown.plus(input.per_node);
    }
    verdict.add = needed.min(input.room);
    verdict.short = needed - verdict.add;
    verdict
}

/// Whether removing a node that offers `removed` would bring the group to its scale-up
/// thresholds (`requested` is assumed to stay in the group, its pods moving to the group's
/// other nodes; with no node left, they moved elsewhere and nothing is exceeded).
pub fn exceeds_after_removal(
    requested: Resources,
    allocatable: Resources,
    removed: Resources,
    cpu_threshold: i32,
    memory_threshold: i32,
) -> bool {
    let left = allocatable.minus(removed);
    reaches(requested.cpu_millis, left.cpu_millis, cpu_threshold)
        || reaches(requested.memory_bytes, left.memory_bytes, memory_threshold)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scaling::capacity::allocatable;

    const GI: i64 = 1 << 30;

    fn input(cpu_used: i64, nodes: i64) -> HeadroomInput {
        let node = allocatable(4, 8192);
        HeadroomInput {
            requested: Resources::new(cpu_used, GI, 10),
            allocatable: Resources::new(
                node.cpu_millis * nodes,
                node.memory_bytes * nodes,
                node.pods * nodes,
            ),
            incoming: Resources::default(),
            cpu_threshold: 80,
            memory_threshold: 80,
            per_node: node,
            room: 10,
        }
    }

    #[test]
    fn adds_the_fewest_nodes_that_bring_requests_below_the_thresholds() {
        let node = allocatable(4, 8192);
        // two medium nodes (2 x 3900m) with 7000m requested: 90% -> one more node: 60%
        let h = headroom(&input(7000, 2));
        assert_eq!(h.add, 1);
        assert!((h.cpu_percent - 7000.0 * 100.0 / (2.0 * node.cpu_millis as f64)).abs() < 1e-9);
        // below: nothing
        assert_eq!(headroom(&input(5000, 2)).add, 0);
        // far above (a burst that just landed on big nodes): several
        let mut big = input(7000, 2);
        big.per_node = Resources::new(500, GI, 10);
        assert_eq!(headroom(&big).add, 2);
        // memory counts as well
        let mut mem = input(100, 2);
        mem.requested.memory_bytes = node.memory_bytes * 2 * 9 / 10;
        assert_eq!(headroom(&mem).add, 1);
    }

    #[test]
    fn nodes_on_their_way_room_and_off_switches_count() {
        let mut coming = input(7000, 2);
        coming.incoming = allocatable(4, 8192);
        assert_eq!(
            headroom(&coming).add,
            0,
            "the node on its way is the headroom"
        );
        let mut full = input(7000, 2);
        full.room = 0;
        let h = headroom(&full);
        assert_eq!((h.add, h.short), (0, 1));
        let mut off = input(7000, 2);
        off.cpu_threshold = 0;
        off.memory_threshold = 0;
        assert_eq!(headroom(&off).add, 0, "0 turns headroom off");
        assert_eq!(
            headroom(&input(7000, 0)).add,
            0,
            "no Ready node: scale-up's business"
        );
    }

    #[test]
    fn scale_down_never_undoes_headroom() {
        let node = allocatable(4, 8192);
        let three = Resources::new(node.cpu_millis * 3, node.memory_bytes * 3, 330);
        // 7000m on three nodes is 60%; on two it would be 90%
        assert!(exceeds_after_removal(
            Resources::new(7000, GI, 5),
            three,
            node,
            80,
            80
        ));
        assert!(!exceeds_after_removal(
            Resources::new(4000, GI, 5),
            three,
            node,
            80,
            80
        ));
        // off
        assert!(!exceeds_after_removal(
            Resources::new(7000, GI, 5),
            three,
            node,
            0,
            0
        ));
        // the last node: its pods left the group (the reschedule simulation placed them)
        assert!(!exceeds_after_removal(
            Resources::new(100, GI, 1),
            node,
            node,
            80,
            80
        ));
    }
}
