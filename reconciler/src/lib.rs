//! The in-cluster reconciler of kubectl-vpsie (serve mode).
