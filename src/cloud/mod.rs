//! The VPSie API client.
