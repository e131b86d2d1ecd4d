//! Custom resources of `autoscaler.vpsie.com/v1alpha1`.
