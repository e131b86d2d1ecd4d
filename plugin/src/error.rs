//! The plugin's errors: each one line an operator can act on.

use thiserror::Error;

/// Everything a command can fail with.
#[derive(Debug, Error)]
pub enum PluginError {
    /// A file or terminal operation failed.
    #[error("{0}: {1}")]
    Io(String, #[source] std::io::Error),

    /// The configuration (flags, Secret, kubeconfig) is not usable.
    #[error("{0}")]
    Config(String),

    /// The simulated world failed to start or run.
    #[error("simulator: {0}")]
    Sim(String),

    /// The Kubernetes API server cannot be reached.
    #[error("cannot reach the Kubernetes API server at {url}: {problem}; check that the cluster is up and that --kubeconfig/--context point at it (`kubectl cluster-info`), or start one with `kubectl vpsie sim`")]
    Unreachable {
        /// The server URL from the kubeconfig.
        url: String,
        /// The client's error chain, on one line.
        problem: String,
    },

    /// The NodeGroup/VPSieNode CRDs are not installed.
    #[error("the {resource} CRD (autoscaler.vpsie.com/v1alpha1) is not installed in this cluster: install the CRDs with `kubectl-vpsie crds | kubectl apply -f -` (or `kubectl apply -f deploy/crds/`)")]
    CrdsMissing {
        /// `nodegroups` or `vpsienodes`.
        resource: &'static str,
    },

    /// RBAC refused a request (403).
    #[error("forbidden: cannot {verb} {resource} in namespace {namespace} ({message}); ask your cluster admin for RBAC access, check with `kubectl auth can-i {verb} {resource} -n {namespace}`")]
    Forbidden {
        /// `get`, `list`, `watch`, `patch`.
        verb: &'static str,
        /// The resource (`nodegroups`, `configmaps/vpsie-autoscaler-status`).
        resource: String,
        /// The namespace.
        namespace: String,
        /// The server's message.
        message: String,
    },

    /// A named object does not exist.
    #[error("{kind} {name:?} not found in namespace {namespace}: list them with `kubectl get {short} -n {namespace}`, or pass -n NAMESPACE")]
    NotFound {
        /// `NodeGroup`.
        kind: &'static str,
        /// `ng`.
        short: &'static str,
        /// The name asked for.
        name: String,
        /// The namespace.
        namespace: String,
    },

    /// The controller has not published its status report.
    #[error("the autoscaler controller is not running or not publishing its status (ConfigMap {namespace}/vpsie-autoscaler-status not found): check `kubectl get deployment vpsie-autoscaler -n {namespace}` and its logs (`kubectl logs -n {namespace} deployment/vpsie-autoscaler`)")]
    ControllerAbsent {
        /// The namespace looked in.
        namespace: String,
    },

    /// The status report exists but cannot be used (its own message says what to do).
    #[error("{0}")]
    Report(String),

    /// Waiting for the controller took too long.
    #[error("{0}")]
    Timeout(String),

    /// The command refused to act (a confirmation is required).
    #[error("{0}")]
    Refused(String),

    /// Another API failure.
    #[error("{0}")]
    Api(String),

    /// A check (`creds check`, `doctor`) found problems; they were printed above.
    #[error("{0}")]
    Check(String),
}
