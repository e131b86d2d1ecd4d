//! What a VPS of a given size offers to pods once it is a Kubernetes node.
//!
//! A kubelet reserves part of the machine for the system and keeps an eviction threshold, so a
//! node's allocatable is less than the VM's size. The simulated kubelet reports exactly this,
//! and the planner plans with exactly this, so a planned pod always fits the node that comes.

use super::fit::Resources;

/// CPU the kubelet reserves for the system, in millicores.
pub const RESERVED_CPU_MILLIS: i64 = 100;
/// Memory the kubelet reserves (system + kube reserved, 256 MiB) plus the hard eviction
/// threshold (100 MiB), in bytes.
pub const RESERVED_MEMORY_BYTES: i64 = (256 + 100) << 20;
/// Pods a node accepts (the kubelet's default `maxPods`).
pub const MAX_PODS: i64 = 110;

/// The capacity of a VM with `cpu_cores` cores and `memory_mb` MiB of memory.
pub fn capacity(cpu_cores: i64, memory_mb: i64) -> Resources {
    Resources::new(
        cpu_cores.saturating_mul(1000),
        memory_mb.saturating_mul(1 << 20),
        MAX_PODS,
    )
}

/// The allocatable resources of a node on a VM with `cpu_cores` cores and `memory_mb` MiB.
pub fn allocatable(cpu_cores: i64, memory_mb: i64) -> Resources {
    let cap = capacity(cpu_cores, memory_mb);
    Resources::new(
        (cap.cpu_millis - RESERVED_CPU_MILLIS).max(0),
        (cap.memory_bytes - RESERVED_MEMORY_BYTES).max(0),
        MAX_PODS,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allocatable_keeps_the_reserve() {
        assert_eq!(
            allocatable(2, 4096),
            Resources::new(1900, (4096 - 356) << 20, 110)
        );
        assert_eq!(allocatable(0, 100), Resources::new(0, 0, 110));
    }
}
