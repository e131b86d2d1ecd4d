# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_kubectl_vpsie_global_optspecs
    string join \n kubeconfig= context= n/namespace= A/all-namespaces o/output= no-color v/verbose h/help V/version
end

function __fish_kubectl_vpsie_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_kubectl_vpsie_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_kubectl_vpsie_using_subcommand
    set -l cmd (__fish_kubectl_vpsie_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_needs_command" -l kubeconfig -d 'Path to the kubeconfig file to use' -r -F
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_needs_command" -l context -d 'The name of the kubeconfig context to use' -r
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_needs_command" -s n -l namespace -d 'Namespace of the autoscaler\'s objects' -r
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_needs_command" -s o -l output -d 'Output format' -r -f -a "table\t'A table for people'
wide\t'A table with more columns'
json\t'JSON, stable field names'
yaml\t'YAML, stable field names'"
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_needs_command" -s A -l all-namespaces -d 'List NodeGroups and VPSieNodes of every namespace (status, nodes); -n stays the controller\'s namespace'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_needs_command" -l no-color -d 'Disable colours (also when NO_COLOR is set)'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_needs_command" -s v -l verbose -d 'More logging (-v info, -vv debug, -vvv trace)'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_needs_command" -s V -l version -d 'Print version'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_needs_command" -f -a "crds" -d 'Print the CustomResourceDefinitions (NodeGroup, VPSieNode), or write them to a directory'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_needs_command" -f -a "sim" -d 'The demo: play a scenario in a simulated VPSie cloud and Kubernetes cluster on loopback, with the real reconciler, and sum it up'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_needs_command" -f -a "simulate" -d 'What-if: play a workload against one or more NodeGroups files and compare how fast pods got capacity and what it cost'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_needs_command" -f -a "serve" -d 'Run the reconciler (in-cluster: Deployment vpsie-autoscaler in kube-system)'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_needs_command" -f -a "bench" -d 'The end-to-end benchmark: bursts of pods over many NodeGroups in the simulator, with `serve` as its own process; writes a JSON report and a markdown table'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_needs_command" -f -a "campaign" -d 'The randomized fault and crash campaign: seeded runs in the simulator with VPSie and Kubernetes API faults and SIGKILLs of serve, each checked against the invariants'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_needs_command" -f -a "version" -d 'Print the version of this binary'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_needs_command" -f -a "completions" -d 'Print a shell completion script, or write all of them to a directory'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_needs_command" -f -a "man" -d 'Print the man page, or write one page per subcommand to a directory'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_needs_command" -f -a "status" -d 'Show the NodeGroups, their nodes, the controller\'s health and each group\'s last decision'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_needs_command" -f -a "nodes" -d 'List the VPSieNodes: phase, node, VPS, time in the phase, and the stuck ones'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_needs_command" -f -a "reconcile" -d 'Force a reconcile of a NodeGroup and wait until the controller handled it'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_needs_command" -f -a "pause" -d 'Pause autoscaling of a NodeGroup (annotation autoscaler.vpsie.com/pause=true)'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_needs_command" -f -a "resume" -d 'Resume autoscaling of a paused NodeGroup (removes autoscaler.vpsie.com/pause)'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_needs_command" -f -a "breaker" -d 'Show the VPSie API circuit breaker, or reset it'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_needs_command" -f -a "creds" -d 'Rotate or check the VPSie API credentials (Secret vpsie-secret)'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_needs_command" -f -a "doctor" -d 'Check everything the runbook checks and say what to fix (exit 1 on an error)'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_needs_command" -f -a "why" -d 'Explain why a pending pod has no node yet: each NodeGroup\'s fit, what is coming, the scheduler\'s message'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_needs_command" -f -a "__complete" -d 'Shell completion for kubectl (cobra\'s `__complete` protocol); called by kubectl_complete-vpsie'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_needs_command" -f -a "krew-manifest" -d 'Print the krew plugin manifest of this version (sha256 filled in by the release job)'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_needs_command" -f -a "install" -d 'Install the autoscaler into the cluster: CRDs, RBAC, Deployment, Service, PDB (and the ServiceMonitor and PrometheusRule when the cluster has the Prometheus Operator)'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_needs_command" -f -a "uninstall" -d 'Remove what install created (the CRDs last, after a confirmation; --keep-crds keeps them)'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand crds" -l write -d 'Write one file per CRD into this directory instead of printing them' -r -F
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand crds" -l kubeconfig -d 'Path to the kubeconfig file to use' -r -F
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand crds" -l context -d 'The name of the kubeconfig context to use' -r
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand crds" -s n -l namespace -d 'Namespace of the autoscaler\'s objects' -r
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand crds" -s o -l output -d 'Output format' -r -f -a "table\t'A table for people'
wide\t'A table with more columns'
json\t'JSON, stable field names'
yaml\t'YAML, stable field names'"
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand crds" -s A -l all-namespaces -d 'List NodeGroups and VPSieNodes of every namespace (status, nodes); -n stays the controller\'s namespace'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand crds" -l no-color -d 'Disable colours (also when NO_COLOR is set)'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand crds" -s v -l verbose -d 'More logging (-v info, -vv debug, -vvv trace)'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand crds" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand sim" -l for -d 'Run for this long (wall-clock time), then stop (e.g. 30s, 5m, 1h). Default: until Ctrl-C' -r
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand sim" -l speed -d 'How many times faster than real time the simulated world runs (default: the scenario\'s `speed`, else 1; with --no-scenario, 1)' -r
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand sim" -l scenario -d 'Play this scenario file instead of the built-in one (format: examples/scenarios/ and `kubectl-vpsie sim --help`)' -r -F
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand sim" -l report -d 'Write the summary (summary.json), the samples (samples.json) and a chart (chart.svg, chart.png) into this directory' -r -F
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand sim" -l api-port -d 'Port of the simulated Kubernetes API server on 127.0.0.1 (0 picks a free one)' -r
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand sim" -l cloud-port -d 'Port of the simulated VPSie API on 127.0.0.1 (0 picks a free one)' -r
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand sim" -l metrics-port -d 'Port of the reconciler\'s /metrics, /healthz and /readyz on 127.0.0.1 (0 picks a free one)' -r
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand sim" -l kubeconfig -d 'Path to the kubeconfig file to use' -r -F
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand sim" -l context -d 'The name of the kubeconfig context to use' -r
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand sim" -s n -l namespace -d 'Namespace of the autoscaler\'s objects' -r
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand sim" -s o -l output -d 'Output format' -r -f -a "table\t'A table for people'
wide\t'A table with more columns'
json\t'JSON, stable field names'
yaml\t'YAML, stable field names'"
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand sim" -l keep -d 'Keep the world running after the scenario (kubeconfig printed), until Ctrl-C'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand sim" -l no-scenario -d 'No scenario: the example NodeGroup production-workers and no workload, running until Ctrl-C or --for (for exploring with kubectl)'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand sim" -l no-reconciler -d 'Do not run the reconciler: only the simulated cloud and cluster'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand sim" -s A -l all-namespaces -d 'List NodeGroups and VPSieNodes of every namespace (status, nodes); -n stays the controller\'s namespace'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand sim" -l no-color -d 'Disable colours (also when NO_COLOR is set)'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand sim" -s v -l verbose -d 'More logging (-v info, -vv debug, -vvv trace)'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand sim" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand simulate" -l workload -d 'The workload: a scenario file (its offerings, workloads, faults, duration; its nodeGroups are used when no --nodegroups is given)' -r -F
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand simulate" -l nodegroups -d 'A file of NodeGroups (YAML documents separated by ---) to play the workload against; give it several times to compare' -r -F
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand simulate" -l speed -d 'Times real time (default: the workload file\'s `speed`)' -r
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand simulate" -l kubeconfig -d 'Path to the kubeconfig file to use' -r -F
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand simulate" -l context -d 'The name of the kubeconfig context to use' -r
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand simulate" -s n -l namespace -d 'Namespace of the autoscaler\'s objects' -r
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand simulate" -s o -l output -d 'Output format' -r -f -a "table\t'A table for people'
wide\t'A table with more columns'
json\t'JSON, stable field names'
yaml\t'YAML, stable field names'"
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand simulate" -s A -l all-namespaces -d 'List NodeGroups and VPSieNodes of every namespace (status, nodes); -n stays the controller\'s namespace'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand simulate" -l no-color -d 'Disable colours (also when NO_COLOR is set)'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand simulate" -s v -l verbose -d 'More logging (-v info, -vv debug, -vvv trace)'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand simulate" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand serve" -l metrics-addr -d 'Address of /metrics, /healthz and /readyz' -r
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand serve" -l secret-name -d 'The Secret with the VPSie credentials (in the watch namespace)' -r
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand serve" -l leader-elect -d 'Elect a leader on Lease vpsie-autoscaler-leader, so several replicas are safe' -r -f -a "true\t''
false\t''"
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand serve" -l lease-duration -d 'How long the Lease lasts without renewal (a new leader takes over after this)' -r
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand serve" -l orphan-grace -d 'How long a VPS tagged for this cluster may exist without a VPSieNode before it is deleted' -r
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand serve" -l watch-namespace -d 'Namespace of NodeGroups, VPSieNodes, the Secret, the Lease and the status ConfigMap' -r
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand serve" -l cluster-name -d 'Name of this cluster, in the tags of every VPS the autoscaler creates' -r
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand serve" -l batch-idle -d 'Quiet time after the last new unschedulable pod before planning a batch' -r
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand serve" -l batch-max -d 'Longest a batch of unschedulable pods waits before it is planned' -r
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand serve" -l provision-timeout -d 'Longest from a VPSieNode\'s creation to its VPS running before it is Failed' -r
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand serve" -l join-timeout -d 'Longest from the VPS running to its Node being Ready before it is Failed' -r
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand serve" -l poll-interval -d 'How often to look at a VPS or a node that is on its way' -r
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand serve" -l offering-backoff -d 'How long a group avoids an offering after a node of it failed' -r
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand serve" -l resync -d 'How often every NodeGroup is reconciled even without a change' -r
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand serve" -l scale-down-interval -d 'How often scale-down looks for unneeded nodes' -r
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand serve" -l drain-timeout -d 'Longest a node\'s drain may take (when its VPSieNode has no autoscaler.vpsie.com/drain-timeout); then the drain fails, the node is uncordoned and kept' -r
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand serve" -l max-drain-parallelism -d 'How many nodes that still have pods may be drained at once (empty nodes go in bulk)' -r
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand serve" -l vpsie-requests-per-minute -d 'Client-side limit of VPSie API calls a minute (the original\'s default, 100); raise it only as far as VPSie allows your account (429s are still obeyed). 0 turns it off' -r
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand serve" -l vpsie-rate-burst -d 'How many VPSie API calls may go out at once after a quiet spell (0 is taken as 1)' -r
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand serve" -l backend -d 'How NodeGroups without spec.backend get their nodes: vm (plain VPS joined by cloud-init) or managed-kubernetes (added to a node group of a VPSie managed cluster)' -r
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand serve" -l vpsie-cluster-id -d 'The VPSie managed-Kubernetes cluster (identifier) of NodeGroups that do not name one; unset: the account\'s only cluster' -r
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand serve" -l kubeconfig -d 'Path to the kubeconfig file to use' -r -F
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand serve" -l context -d 'The name of the kubeconfig context to use' -r
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand serve" -s o -l output -d 'Output format' -r -f -a "table\t'A table for people'
wide\t'A table with more columns'
json\t'JSON, stable field names'
yaml\t'YAML, stable field names'"
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand serve" -l evict-bare-pods -d 'Also remove nodes whose pods have no controller (they are lost, not moved); without it, such a pod keeps its node unless annotated cluster-autoscaler.kubernetes.io/safe-to-evict=true'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand serve" -l dry-run -d 'Plan and report, but never create or delete anything on VPSie'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand serve" -s A -l all-namespaces -d 'List NodeGroups and VPSieNodes of every namespace (status, nodes); -n stays the controller\'s namespace'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand serve" -l no-color -d 'Disable colours (also when NO_COLOR is set)'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand serve" -s v -l verbose -d 'More logging (-v info, -vv debug, -vvv trace)'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand serve" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand bench" -l size -d 'How big a run' -r -f -a "ci\t'4 NodeGroups, up to 240 pods, short simulated delays (seconds)'
full\t'50 NodeGroups, bursts to 1,000 / 10,000 / 30,000 pods, ~1,000 nodes (minutes)'"
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand bench" -l out -d 'Where the report goes (<out>/<size>.json and <out>/<size>.md)' -r -F
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand bench" -l baseline -d 'A report of an earlier run to compare with (e.g. bench/baseline-ci.json)' -r -F
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand bench" -l max-regression -d 'How many times further from perfect than the baseline a metric may get (plus a noise allowance) before the run fails' -r
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand bench" -l limits -d 'Which VPSie client rate limits to run serve with (default: raised for ci, both for full)' -r -f -a "default\t'serve\'s default (100 requests/min, burst 20), as an operator runs it'
raised\t'Raised to 6000/min, burst 200: what the autoscaler itself costs'
both\t'One run with each'"
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand bench" -l burst-timeout -d 'Longest one burst may take before the variant stops and reports what it measured as incomplete (default: 90s for ci; for full 15m with the raised limit, 45m with the default one)' -r
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand bench" -l kubeconfig -d 'Path to the kubeconfig file to use' -r -F
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand bench" -l context -d 'The name of the kubeconfig context to use' -r
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand bench" -s n -l namespace -d 'Namespace of the autoscaler\'s objects' -r
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand bench" -s o -l output -d 'Output format' -r -f -a "table\t'A table for people'
wide\t'A table with more columns'
json\t'JSON, stable field names'
yaml\t'YAML, stable field names'"
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand bench" -s A -l all-namespaces -d 'List NodeGroups and VPSieNodes of every namespace (status, nodes); -n stays the controller\'s namespace'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand bench" -l no-color -d 'Disable colours (also when NO_COLOR is set)'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand bench" -s v -l verbose -d 'More logging (-v info, -vv debug, -vvv trace)'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand bench" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand campaign" -l runs -d 'How many runs (default: 4 for --size ci, 100 for nightly)' -r
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand campaign" -l seed -d 'The campaign\'s base seed (default: the current time, printed); each run\'s seed derives from it' -r
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand campaign" -l run-seed -d 'Replay one run by its own seed (as the report lists it) instead of a campaign' -r
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand campaign" -l size -d 'ci: short runs with fewer faults; nightly: more load and longer fault windows' -r
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand campaign" -l out -d 'Write the markdown report here, and its JSON next to it (FILE.json)' -r -F
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand campaign" -l speed -d 'How much faster than real time the simulated cloud and cluster run (VM boots, kubelets)' -r
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand campaign" -l jobs -d 'Runs played at once (each its own simulated world and serve process)' -r
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand campaign" -l logs -d 'Keep each serve process\'s log in this directory (seed-<seed>-serve-<n>.log)' -r -F
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand campaign" -l kubeconfig -d 'Path to the kubeconfig file to use' -r -F
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand campaign" -l context -d 'The name of the kubeconfig context to use' -r
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand campaign" -s n -l namespace -d 'Namespace of the autoscaler\'s objects' -r
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand campaign" -s o -l output -d 'Output format' -r -f -a "table\t'A table for people'
wide\t'A table with more columns'
json\t'JSON, stable field names'
yaml\t'YAML, stable field names'"
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand campaign" -s A -l all-namespaces -d 'List NodeGroups and VPSieNodes of every namespace (status, nodes); -n stays the controller\'s namespace'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand campaign" -l no-color -d 'Disable colours (also when NO_COLOR is set)'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand campaign" -s v -l verbose -d 'More logging (-v info, -vv debug, -vvv trace)'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand campaign" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand version" -l kubeconfig -d 'Path to the kubeconfig file to use' -r -F
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand version" -l context -d 'The name of the kubeconfig context to use' -r
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand version" -s n -l namespace -d 'Namespace of the autoscaler\'s objects' -r
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand version" -s o -l output -d 'Output format' -r -f -a "table\t'A table for people'
wide\t'A table with more columns'
json\t'JSON, stable field names'
yaml\t'YAML, stable field names'"
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand version" -s A -l all-namespaces -d 'List NodeGroups and VPSieNodes of every namespace (status, nodes); -n stays the controller\'s namespace'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand version" -l no-color -d 'Disable colours (also when NO_COLOR is set)'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand version" -s v -l verbose -d 'More logging (-v info, -vv debug, -vvv trace)'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand version" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand completions" -l dir -d 'Write the scripts of every shell into this directory' -r -F
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand completions" -l kubeconfig -d 'Path to the kubeconfig file to use' -r -F
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand completions" -l context -d 'The name of the kubeconfig context to use' -r
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand completions" -s n -l namespace -d 'Namespace of the autoscaler\'s objects' -r
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand completions" -s o -l output -d 'Output format' -r -f -a "table\t'A table for people'
wide\t'A table with more columns'
json\t'JSON, stable field names'
yaml\t'YAML, stable field names'"
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand completions" -s A -l all-namespaces -d 'List NodeGroups and VPSieNodes of every namespace (status, nodes); -n stays the controller\'s namespace'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand completions" -l no-color -d 'Disable colours (also when NO_COLOR is set)'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand completions" -s v -l verbose -d 'More logging (-v info, -vv debug, -vvv trace)'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand completions" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand man" -l dir -d 'Write one page per command into this directory instead of printing the main page' -r -F
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand man" -l kubeconfig -d 'Path to the kubeconfig file to use' -r -F
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand man" -l context -d 'The name of the kubeconfig context to use' -r
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand man" -s n -l namespace -d 'Namespace of the autoscaler\'s objects' -r
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand man" -s o -l output -d 'Output format' -r -f -a "table\t'A table for people'
wide\t'A table with more columns'
json\t'JSON, stable field names'
yaml\t'YAML, stable field names'"
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand man" -s A -l all-namespaces -d 'List NodeGroups and VPSieNodes of every namespace (status, nodes); -n stays the controller\'s namespace'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand man" -l no-color -d 'Disable colours (also when NO_COLOR is set)'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand man" -s v -l verbose -d 'More logging (-v info, -vv debug, -vvv trace)'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand man" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand status" -l kubeconfig -d 'Path to the kubeconfig file to use' -r -F
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand status" -l context -d 'The name of the kubeconfig context to use' -r
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand status" -s n -l namespace -d 'Namespace of the autoscaler\'s objects' -r
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand status" -s o -l output -d 'Output format' -r -f -a "table\t'A table for people'
wide\t'A table with more columns'
json\t'JSON, stable field names'
yaml\t'YAML, stable field names'"
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand status" -s w -l watch -d 'Keep watching and redraw on every change (plain lines when stdout is not a terminal; one document per change with -o json|yaml)'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand status" -s A -l all-namespaces -d 'List NodeGroups and VPSieNodes of every namespace (status, nodes); -n stays the controller\'s namespace'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand status" -l no-color -d 'Disable colours (also when NO_COLOR is set)'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand status" -s v -l verbose -d 'More logging (-v info, -vv debug, -vvv trace)'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand status" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand nodes" -l drain-timeout -d 'The controller\'s drain timeout, for flagging stuck Terminating nodes (a node\'s autoscaler.vpsie.com/drain-timeout annotation wins)' -r
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand nodes" -l kubeconfig -d 'Path to the kubeconfig file to use' -r -F
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand nodes" -l context -d 'The name of the kubeconfig context to use' -r
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand nodes" -s n -l namespace -d 'Namespace of the autoscaler\'s objects' -r
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand nodes" -s o -l output -d 'Output format' -r -f -a "table\t'A table for people'
wide\t'A table with more columns'
json\t'JSON, stable field names'
yaml\t'YAML, stable field names'"
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand nodes" -s A -l all-namespaces -d 'List NodeGroups and VPSieNodes of every namespace (status, nodes); -n stays the controller\'s namespace'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand nodes" -l no-color -d 'Disable colours (also when NO_COLOR is set)'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand nodes" -s v -l verbose -d 'More logging (-v info, -vv debug, -vvv trace)'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand nodes" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand reconcile" -l timeout -d 'How long to wait for the controller (e.g. 30s, 2m)' -r
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand reconcile" -l kubeconfig -d 'Path to the kubeconfig file to use' -r -F
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand reconcile" -l context -d 'The name of the kubeconfig context to use' -r
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand reconcile" -s n -l namespace -d 'Namespace of the autoscaler\'s objects' -r
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand reconcile" -s o -l output -d 'Output format' -r -f -a "table\t'A table for people'
wide\t'A table with more columns'
json\t'JSON, stable field names'
yaml\t'YAML, stable field names'"
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand reconcile" -l no-wait -d 'Set the annotation and return without waiting for the controller'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand reconcile" -s A -l all-namespaces -d 'List NodeGroups and VPSieNodes of every namespace (status, nodes); -n stays the controller\'s namespace'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand reconcile" -l no-color -d 'Disable colours (also when NO_COLOR is set)'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand reconcile" -s v -l verbose -d 'More logging (-v info, -vv debug, -vvv trace)'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand reconcile" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand pause" -l reason -d 'Why (stored in annotation autoscaler.vpsie.com/pause-reason, shown by `status`)' -r
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand pause" -l kubeconfig -d 'Path to the kubeconfig file to use' -r -F
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand pause" -l context -d 'The name of the kubeconfig context to use' -r
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand pause" -s n -l namespace -d 'Namespace of the autoscaler\'s objects' -r
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand pause" -s o -l output -d 'Output format' -r -f -a "table\t'A table for people'
wide\t'A table with more columns'
json\t'JSON, stable field names'
yaml\t'YAML, stable field names'"
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand pause" -l all -d 'Every NodeGroup of the namespace'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand pause" -s A -l all-namespaces -d 'List NodeGroups and VPSieNodes of every namespace (status, nodes); -n stays the controller\'s namespace'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand pause" -l no-color -d 'Disable colours (also when NO_COLOR is set)'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand pause" -s v -l verbose -d 'More logging (-v info, -vv debug, -vvv trace)'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand pause" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand resume" -l kubeconfig -d 'Path to the kubeconfig file to use' -r -F
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand resume" -l context -d 'The name of the kubeconfig context to use' -r
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand resume" -s n -l namespace -d 'Namespace of the autoscaler\'s objects' -r
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand resume" -s o -l output -d 'Output format' -r -f -a "table\t'A table for people'
wide\t'A table with more columns'
json\t'JSON, stable field names'
yaml\t'YAML, stable field names'"
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand resume" -l all -d 'Every NodeGroup of the namespace'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand resume" -s A -l all-namespaces -d 'List NodeGroups and VPSieNodes of every namespace (status, nodes); -n stays the controller\'s namespace'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand resume" -l no-color -d 'Disable colours (also when NO_COLOR is set)'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand resume" -s v -l verbose -d 'More logging (-v info, -vv debug, -vvv trace)'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand resume" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand breaker; and not __fish_seen_subcommand_from status reset help" -l kubeconfig -d 'Path to the kubeconfig file to use' -r -F
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand breaker; and not __fish_seen_subcommand_from status reset help" -l context -d 'The name of the kubeconfig context to use' -r
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand breaker; and not __fish_seen_subcommand_from status reset help" -s n -l namespace -d 'Namespace of the autoscaler\'s objects' -r
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand breaker; and not __fish_seen_subcommand_from status reset help" -s o -l output -d 'Output format' -r -f -a "table\t'A table for people'
wide\t'A table with more columns'
json\t'JSON, stable field names'
yaml\t'YAML, stable field names'"
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand breaker; and not __fish_seen_subcommand_from status reset help" -s A -l all-namespaces -d 'List NodeGroups and VPSieNodes of every namespace (status, nodes); -n stays the controller\'s namespace'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand breaker; and not __fish_seen_subcommand_from status reset help" -l no-color -d 'Disable colours (also when NO_COLOR is set)'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand breaker; and not __fish_seen_subcommand_from status reset help" -s v -l verbose -d 'More logging (-v info, -vv debug, -vvv trace)'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand breaker; and not __fish_seen_subcommand_from status reset help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand breaker; and not __fish_seen_subcommand_from status reset help" -f -a "status" -d 'State, failure counts and the next half-open probe, from the controller\'s report'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand breaker; and not __fish_seen_subcommand_from status reset help" -f -a "reset" -d 'Reset the breaker (closed, failures forgotten) and wait for the controller to confirm'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand breaker; and not __fish_seen_subcommand_from status reset help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand breaker; and __fish_seen_subcommand_from status" -l kubeconfig -d 'Path to the kubeconfig file to use' -r -F
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand breaker; and __fish_seen_subcommand_from status" -l context -d 'The name of the kubeconfig context to use' -r
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand breaker; and __fish_seen_subcommand_from status" -s n -l namespace -d 'Namespace of the autoscaler\'s objects' -r
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand breaker; and __fish_seen_subcommand_from status" -s o -l output -d 'Output format' -r -f -a "table\t'A table for people'
wide\t'A table with more columns'
json\t'JSON, stable field names'
yaml\t'YAML, stable field names'"
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand breaker; and __fish_seen_subcommand_from status" -s A -l all-namespaces -d 'List NodeGroups and VPSieNodes of every namespace (status, nodes); -n stays the controller\'s namespace'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand breaker; and __fish_seen_subcommand_from status" -l no-color -d 'Disable colours (also when NO_COLOR is set)'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand breaker; and __fish_seen_subcommand_from status" -s v -l verbose -d 'More logging (-v info, -vv debug, -vvv trace)'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand breaker; and __fish_seen_subcommand_from status" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand breaker; and __fish_seen_subcommand_from reset" -l timeout -d 'How long to wait for the controller\'s acknowledgement' -r
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand breaker; and __fish_seen_subcommand_from reset" -l kubeconfig -d 'Path to the kubeconfig file to use' -r -F
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand breaker; and __fish_seen_subcommand_from reset" -l context -d 'The name of the kubeconfig context to use' -r
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand breaker; and __fish_seen_subcommand_from reset" -s n -l namespace -d 'Namespace of the autoscaler\'s objects' -r
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand breaker; and __fish_seen_subcommand_from reset" -s o -l output -d 'Output format' -r -f -a "table\t'A table for people'
wide\t'A table with more columns'
json\t'JSON, stable field names'
yaml\t'YAML, stable field names'"
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand breaker; and __fish_seen_subcommand_from reset" -s y -l yes -d 'Do not ask for confirmation (required when stdin is not a terminal)'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand breaker; and __fish_seen_subcommand_from reset" -s A -l all-namespaces -d 'List NodeGroups and VPSieNodes of every namespace (status, nodes); -n stays the controller\'s namespace'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand breaker; and __fish_seen_subcommand_from reset" -l no-color -d 'Disable colours (also when NO_COLOR is set)'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand breaker; and __fish_seen_subcommand_from reset" -s v -l verbose -d 'More logging (-v info, -vv debug, -vvv trace)'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand breaker; and __fish_seen_subcommand_from reset" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand breaker; and __fish_seen_subcommand_from help" -f -a "status" -d 'State, failure counts and the next half-open probe, from the controller\'s report'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand breaker; and __fish_seen_subcommand_from help" -f -a "reset" -d 'Reset the breaker (closed, failures forgotten) and wait for the controller to confirm'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand breaker; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand creds; and not __fish_seen_subcommand_from rotate check help" -l kubeconfig -d 'Path to the kubeconfig file to use' -r -F
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand creds; and not __fish_seen_subcommand_from rotate check help" -l context -d 'The name of the kubeconfig context to use' -r
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand creds; and not __fish_seen_subcommand_from rotate check help" -s n -l namespace -d 'Namespace of the autoscaler\'s objects' -r
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand creds; and not __fish_seen_subcommand_from rotate check help" -s o -l output -d 'Output format' -r -f -a "table\t'A table for people'
wide\t'A table with more columns'
json\t'JSON, stable field names'
yaml\t'YAML, stable field names'"
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand creds; and not __fish_seen_subcommand_from rotate check help" -s A -l all-namespaces -d 'List NodeGroups and VPSieNodes of every namespace (status, nodes); -n stays the controller\'s namespace'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand creds; and not __fish_seen_subcommand_from rotate check help" -l no-color -d 'Disable colours (also when NO_COLOR is set)'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand creds; and not __fish_seen_subcommand_from rotate check help" -s v -l verbose -d 'More logging (-v info, -vv debug, -vvv trace)'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand creds; and not __fish_seen_subcommand_from rotate check help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand creds; and not __fish_seen_subcommand_from rotate check help" -f -a "rotate" -d 'Validate a new client id/secret at the VPSie token endpoint, write them into Secret vpsie-secret and wait until the controller loaded them (no restart)'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand creds; and not __fish_seen_subcommand_from rotate check help" -f -a "check" -d 'Whether the credentials work: the Secret, what the controller loaded, and a live login'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand creds; and not __fish_seen_subcommand_from rotate check help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand creds; and __fish_seen_subcommand_from rotate" -l client-id -d 'The new client id (else prompted, or from VPSIE_CLIENT_ID / the stdin clientId line)' -r
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand creds; and __fish_seen_subcommand_from rotate" -l timeout -d 'How long to wait for the controller to load the new pair' -r
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand creds; and __fish_seen_subcommand_from rotate" -l secret-name -d 'The Secret (in the namespace of -n)' -r
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand creds; and __fish_seen_subcommand_from rotate" -l kubeconfig -d 'Path to the kubeconfig file to use' -r -F
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand creds; and __fish_seen_subcommand_from rotate" -l context -d 'The name of the kubeconfig context to use' -r
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand creds; and __fish_seen_subcommand_from rotate" -s n -l namespace -d 'Namespace of the autoscaler\'s objects' -r
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand creds; and __fish_seen_subcommand_from rotate" -s o -l output -d 'Output format' -r -f -a "table\t'A table for people'
wide\t'A table with more columns'
json\t'JSON, stable field names'
yaml\t'YAML, stable field names'"
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand creds; and __fish_seen_subcommand_from rotate" -l from-env -d 'Read VPSIE_CLIENT_ID and VPSIE_CLIENT_SECRET from the environment'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand creds; and __fish_seen_subcommand_from rotate" -l stdin -d 'Read lines `clientId=ID` and `clientSecret=SECRET` from stdin'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand creds; and __fish_seen_subcommand_from rotate" -l skip-validate -d 'Do not log in with the new pair before writing it'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand creds; and __fish_seen_subcommand_from rotate" -s y -l yes -d 'Do not ask for confirmation (required when there is no terminal, and with --stdin)'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand creds; and __fish_seen_subcommand_from rotate" -l no-wait -d 'Write the Secret and return without waiting for the controller'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand creds; and __fish_seen_subcommand_from rotate" -s A -l all-namespaces -d 'List NodeGroups and VPSieNodes of every namespace (status, nodes); -n stays the controller\'s namespace'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand creds; and __fish_seen_subcommand_from rotate" -l no-color -d 'Disable colours (also when NO_COLOR is set)'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand creds; and __fish_seen_subcommand_from rotate" -s v -l verbose -d 'More logging (-v info, -vv debug, -vvv trace)'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand creds; and __fish_seen_subcommand_from rotate" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand creds; and __fish_seen_subcommand_from check" -l secret-name -d 'The Secret (in the namespace of -n)' -r
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand creds; and __fish_seen_subcommand_from check" -l kubeconfig -d 'Path to the kubeconfig file to use' -r -F
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand creds; and __fish_seen_subcommand_from check" -l context -d 'The name of the kubeconfig context to use' -r
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand creds; and __fish_seen_subcommand_from check" -s n -l namespace -d 'Namespace of the autoscaler\'s objects' -r
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand creds; and __fish_seen_subcommand_from check" -s o -l output -d 'Output format' -r -f -a "table\t'A table for people'
wide\t'A table with more columns'
json\t'JSON, stable field names'
yaml\t'YAML, stable field names'"
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand creds; and __fish_seen_subcommand_from check" -l no-live -d 'Do not log in to VPSie with the Secret\'s pair (only compare with the controller\'s report)'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand creds; and __fish_seen_subcommand_from check" -s A -l all-namespaces -d 'List NodeGroups and VPSieNodes of every namespace (status, nodes); -n stays the controller\'s namespace'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand creds; and __fish_seen_subcommand_from check" -l no-color -d 'Disable colours (also when NO_COLOR is set)'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand creds; and __fish_seen_subcommand_from check" -s v -l verbose -d 'More logging (-v info, -vv debug, -vvv trace)'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand creds; and __fish_seen_subcommand_from check" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand creds; and __fish_seen_subcommand_from help" -f -a "rotate" -d 'Validate a new client id/secret at the VPSie token endpoint, write them into Secret vpsie-secret and wait until the controller loaded them (no restart)'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand creds; and __fish_seen_subcommand_from help" -f -a "check" -d 'Whether the credentials work: the Secret, what the controller loaded, and a live login'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand creds; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand doctor" -l pending-for -d 'Flag pods unschedulable for longer than this' -r
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand doctor" -l drain-timeout -d 'The controller\'s drain timeout, for flagging stuck Terminating nodes' -r
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand doctor" -l secret-name -d 'The Secret (in the namespace of -n)' -r
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand doctor" -l kubeconfig -d 'Path to the kubeconfig file to use' -r -F
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand doctor" -l context -d 'The name of the kubeconfig context to use' -r
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand doctor" -s n -l namespace -d 'Namespace of the autoscaler\'s objects' -r
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand doctor" -s o -l output -d 'Output format' -r -f -a "table\t'A table for people'
wide\t'A table with more columns'
json\t'JSON, stable field names'
yaml\t'YAML, stable field names'"
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand doctor" -l no-live -d 'Do not log in to VPSie with the Secret\'s pair'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand doctor" -s A -l all-namespaces -d 'List NodeGroups and VPSieNodes of every namespace (status, nodes); -n stays the controller\'s namespace'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand doctor" -l no-color -d 'Disable colours (also when NO_COLOR is set)'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand doctor" -s v -l verbose -d 'More logging (-v info, -vv debug, -vvv trace)'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand doctor" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand why" -l pod-namespace -d 'Namespace of the pod (default: default). -n is the autoscaler\'s namespace' -r
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand why" -l kubeconfig -d 'Path to the kubeconfig file to use' -r -F
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand why" -l context -d 'The name of the kubeconfig context to use' -r
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand why" -s n -l namespace -d 'Namespace of the autoscaler\'s objects' -r
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand why" -s o -l output -d 'Output format' -r -f -a "table\t'A table for people'
wide\t'A table with more columns'
json\t'JSON, stable field names'
yaml\t'YAML, stable field names'"
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand why" -s A -l all-namespaces -d 'List NodeGroups and VPSieNodes of every namespace (status, nodes); -n stays the controller\'s namespace'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand why" -l no-color -d 'Disable colours (also when NO_COLOR is set)'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand why" -s v -l verbose -d 'More logging (-v info, -vv debug, -vvv trace)'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand why" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand __complete" -l kubeconfig -d 'Path to the kubeconfig file to use' -r -F
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand __complete" -l context -d 'The name of the kubeconfig context to use' -r
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand __complete" -s n -l namespace -d 'Namespace of the autoscaler\'s objects' -r
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand __complete" -s o -l output -d 'Output format' -r -f -a "table\t'A table for people'
wide\t'A table with more columns'
json\t'JSON, stable field names'
yaml\t'YAML, stable field names'"
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand __complete" -s A -l all-namespaces -d 'List NodeGroups and VPSieNodes of every namespace (status, nodes); -n stays the controller\'s namespace'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand __complete" -l no-color -d 'Disable colours (also when NO_COLOR is set)'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand __complete" -s v -l verbose -d 'More logging (-v info, -vv debug, -vvv trace)'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand __complete" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand krew-manifest" -l archives -d 'Fill in each platform\'s sha256 from the release archives in this directory' -r -F
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand krew-manifest" -l write -d 'Write the manifest to this file instead of printing it' -r -F
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand krew-manifest" -l kubeconfig -d 'Path to the kubeconfig file to use' -r -F
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand krew-manifest" -l context -d 'The name of the kubeconfig context to use' -r
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand krew-manifest" -s n -l namespace -d 'Namespace of the autoscaler\'s objects' -r
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand krew-manifest" -s o -l output -d 'Output format' -r -f -a "table\t'A table for people'
wide\t'A table with more columns'
json\t'JSON, stable field names'
yaml\t'YAML, stable field names'"
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand krew-manifest" -s A -l all-namespaces -d 'List NodeGroups and VPSieNodes of every namespace (status, nodes); -n stays the controller\'s namespace'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand krew-manifest" -l no-color -d 'Disable colours (also when NO_COLOR is set)'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand krew-manifest" -s v -l verbose -d 'More logging (-v info, -vv debug, -vvv trace)'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand krew-manifest" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand install" -l version -d 'The image tag of kubectl-vpsie to run (default: this binary\'s version)' -r
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand install" -l timeout -d 'How long to wait for the CRDs and the Deployment\'s pods (e.g. 2m)' -r
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand install" -l kubeconfig -d 'Path to the kubeconfig file to use' -r -F
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand install" -l context -d 'The name of the kubeconfig context to use' -r
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand install" -s n -l namespace -d 'Namespace of the autoscaler\'s objects' -r
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand install" -s o -l output -d 'Output format' -r -f -a "table\t'A table for people'
wide\t'A table with more columns'
json\t'JSON, stable field names'
yaml\t'YAML, stable field names'"
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand install" -l dry-run -d 'Send nothing: list what would be applied (with -o yaml|json: print the manifests)'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand install" -l no-wait -d 'Return once everything is applied, without waiting for the Deployment\'s pods'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand install" -s A -l all-namespaces -d 'List NodeGroups and VPSieNodes of every namespace (status, nodes); -n stays the controller\'s namespace'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand install" -l no-color -d 'Disable colours (also when NO_COLOR is set)'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand install" -s v -l verbose -d 'More logging (-v info, -vv debug, -vvv trace)'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand install" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand uninstall" -l timeout -d 'How long to wait for the controller\'s pods and the CRDs to go' -r
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand uninstall" -l kubeconfig -d 'Path to the kubeconfig file to use' -r -F
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand uninstall" -l context -d 'The name of the kubeconfig context to use' -r
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand uninstall" -s n -l namespace -d 'Namespace of the autoscaler\'s objects' -r
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand uninstall" -s o -l output -d 'Output format' -r -f -a "table\t'A table for people'
wide\t'A table with more columns'
json\t'JSON, stable field names'
yaml\t'YAML, stable field names'"
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand uninstall" -s y -l yes -d 'Do not ask before deleting the CRDs (required without a terminal, unless --keep-crds)'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand uninstall" -l keep-crds -d 'Keep the CRDs, and so every NodeGroup and VPSieNode'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand uninstall" -l force -d 'Delete the CRDs even though VPSieNodes exist (their VPS are left running, unmanaged)'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand uninstall" -s A -l all-namespaces -d 'List NodeGroups and VPSieNodes of every namespace (status, nodes); -n stays the controller\'s namespace'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand uninstall" -l no-color -d 'Disable colours (also when NO_COLOR is set)'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand uninstall" -s v -l verbose -d 'More logging (-v info, -vv debug, -vvv trace)'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand uninstall" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand help; and not __fish_seen_subcommand_from crds sim simulate serve bench campaign version completions man status nodes reconcile pause resume breaker creds doctor why __complete krew-manifest install uninstall help" -f -a "crds" -d 'Print the CustomResourceDefinitions (NodeGroup, VPSieNode), or write them to a directory'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand help; and not __fish_seen_subcommand_from crds sim simulate serve bench campaign version completions man status nodes reconcile pause resume breaker creds doctor why __complete krew-manifest install uninstall help" -f -a "sim" -d 'The demo: play a scenario in a simulated VPSie cloud and Kubernetes cluster on loopback, with the real reconciler, and sum it up'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand help; and not __fish_seen_subcommand_from crds sim simulate serve bench campaign version completions man status nodes reconcile pause resume breaker creds doctor why __complete krew-manifest install uninstall help" -f -a "simulate" -d 'What-if: play a workload against one or more NodeGroups files and compare how fast pods got capacity and what it cost'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand help; and not __fish_seen_subcommand_from crds sim simulate serve bench campaign version completions man status nodes reconcile pause resume breaker creds doctor why __complete krew-manifest install uninstall help" -f -a "serve" -d 'Run the reconciler (in-cluster: Deployment vpsie-autoscaler in kube-system)'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand help; and not __fish_seen_subcommand_from crds sim simulate serve bench campaign version completions man status nodes reconcile pause resume breaker creds doctor why __complete krew-manifest install uninstall help" -f -a "bench" -d 'The end-to-end benchmark: bursts of pods over many NodeGroups in the simulator, with `serve` as its own process; writes a JSON report and a markdown table'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand help; and not __fish_seen_subcommand_from crds sim simulate serve bench campaign version completions man status nodes reconcile pause resume breaker creds doctor why __complete krew-manifest install uninstall help" -f -a "campaign" -d 'The randomized fault and crash campaign: seeded runs in the simulator with VPSie and Kubernetes API faults and SIGKILLs of serve, each checked against the invariants'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand help; and not __fish_seen_subcommand_from crds sim simulate serve bench campaign version completions man status nodes reconcile pause resume breaker creds doctor why __complete krew-manifest install uninstall help" -f -a "version" -d 'Print the version of this binary'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand help; and not __fish_seen_subcommand_from crds sim simulate serve bench campaign version completions man status nodes reconcile pause resume breaker creds doctor why __complete krew-manifest install uninstall help" -f -a "completions" -d 'Print a shell completion script, or write all of them to a directory'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand help; and not __fish_seen_subcommand_from crds sim simulate serve bench campaign version completions man status nodes reconcile pause resume breaker creds doctor why __complete krew-manifest install uninstall help" -f -a "man" -d 'Print the man page, or write one page per subcommand to a directory'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand help; and not __fish_seen_subcommand_from crds sim simulate serve bench campaign version completions man status nodes reconcile pause resume breaker creds doctor why __complete krew-manifest install uninstall help" -f -a "status" -d 'Show the NodeGroups, their nodes, the controller\'s health and each group\'s last decision'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand help; and not __fish_seen_subcommand_from crds sim simulate serve bench campaign version completions man status nodes reconcile pause resume breaker creds doctor why __complete krew-manifest install uninstall help" -f -a "nodes" -d 'List the VPSieNodes: phase, node, VPS, time in the phase, and the stuck ones'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand help; and not __fish_seen_subcommand_from crds sim simulate serve bench campaign version completions man status nodes reconcile pause resume breaker creds doctor why __complete krew-manifest install uninstall help" -f -a "reconcile" -d 'Force a reconcile of a NodeGroup and wait until the controller handled it'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand help; and not __fish_seen_subcommand_from crds sim simulate serve bench campaign version completions man status nodes reconcile pause resume breaker creds doctor why __complete krew-manifest install uninstall help" -f -a "pause" -d 'Pause autoscaling of a NodeGroup (annotation autoscaler.vpsie.com/pause=true)'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand help; and not __fish_seen_subcommand_from crds sim simulate serve bench campaign version completions man status nodes reconcile pause resume breaker creds doctor why __complete krew-manifest install uninstall help" -f -a "resume" -d 'Resume autoscaling of a paused NodeGroup (removes autoscaler.vpsie.com/pause)'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand help; and not __fish_seen_subcommand_from crds sim simulate serve bench campaign version completions man status nodes reconcile pause resume breaker creds doctor why __complete krew-manifest install uninstall help" -f -a "breaker" -d 'Show the VPSie API circuit breaker, or reset it'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand help; and not __fish_seen_subcommand_from crds sim simulate serve bench campaign version completions man status nodes reconcile pause resume breaker creds doctor why __complete krew-manifest install uninstall help" -f -a "creds" -d 'Rotate or check the VPSie API credentials (Secret vpsie-secret)'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand help; and not __fish_seen_subcommand_from crds sim simulate serve bench campaign version completions man status nodes reconcile pause resume breaker creds doctor why __complete krew-manifest install uninstall help" -f -a "doctor" -d 'Check everything the runbook checks and say what to fix (exit 1 on an error)'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand help; and not __fish_seen_subcommand_from crds sim simulate serve bench campaign version completions man status nodes reconcile pause resume breaker creds doctor why __complete krew-manifest install uninstall help" -f -a "why" -d 'Explain why a pending pod has no node yet: each NodeGroup\'s fit, what is coming, the scheduler\'s message'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand help; and not __fish_seen_subcommand_from crds sim simulate serve bench campaign version completions man status nodes reconcile pause resume breaker creds doctor why __complete krew-manifest install uninstall help" -f -a "__complete" -d 'Shell completion for kubectl (cobra\'s `__complete` protocol); called by kubectl_complete-vpsie'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand help; and not __fish_seen_subcommand_from crds sim simulate serve bench campaign version completions man status nodes reconcile pause resume breaker creds doctor why __complete krew-manifest install uninstall help" -f -a "krew-manifest" -d 'Print the krew plugin manifest of this version (sha256 filled in by the release job)'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand help; and not __fish_seen_subcommand_from crds sim simulate serve bench campaign version completions man status nodes reconcile pause resume breaker creds doctor why __complete krew-manifest install uninstall help" -f -a "install" -d 'Install the autoscaler into the cluster: CRDs, RBAC, Deployment, Service, PDB (and the ServiceMonitor and PrometheusRule when the cluster has the Prometheus Operator)'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand help; and not __fish_seen_subcommand_from crds sim simulate serve bench campaign version completions man status nodes reconcile pause resume breaker creds doctor why __complete krew-manifest install uninstall help" -f -a "uninstall" -d 'Remove what install created (the CRDs last, after a confirmation; --keep-crds keeps them)'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand help; and not __fish_seen_subcommand_from crds sim simulate serve bench campaign version completions man status nodes reconcile pause resume breaker creds doctor why __complete krew-manifest install uninstall help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand help; and __fish_seen_subcommand_from breaker" -f -a "status" -d 'State, failure counts and the next half-open probe, from the controller\'s report'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand help; and __fish_seen_subcommand_from breaker" -f -a "reset" -d 'Reset the breaker (closed, failures forgotten) and wait for the controller to confirm'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand help; and __fish_seen_subcommand_from creds" -f -a "rotate" -d 'Validate a new client id/secret at the VPSie token endpoint, write them into Secret vpsie-secret and wait until the controller loaded them (no restart)'
complete -c kubectl-vpsie -n "__fish_kubectl_vpsie_using_subcommand help; and __fish_seen_subcommand_from creds" -f -a "check" -d 'Whether the credentials work: the Secret, what the controller loaded, and a live login'
