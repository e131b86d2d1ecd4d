
using namespace System.Management.Automation
using namespace System.Management.Automation.Language

Register-ArgumentCompleter -Native -CommandName 'kubectl-vpsie' -ScriptBlock {
    param($wordToComplete, $commandAst, $cursorPosition)

    $commandElements = $commandAst.CommandElements
    $command = @(
        'kubectl-vpsie'
        for ($i = 1; $i -lt $commandElements.Count; $i++) {
            $element = $commandElements[$i]
            if ($element -isnot [StringConstantExpressionAst] -or
                $element.StringConstantType -ne [StringConstantType]::BareWord -or
                $element.Value.StartsWith('-') -or
                $element.Value -eq $wordToComplete) {
                break
        }
        $element.Value
    }) -join ';'

    $completions = @(switch ($command) {
        'kubectl-vpsie' {
            [CompletionResult]::new('--kubeconfig', '--kubeconfig', [CompletionResultType]::ParameterName, 'Path to the kubeconfig file to use')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'The name of the kubeconfig context to use')
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'Namespace of the autoscaler''s objects')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'Namespace of the autoscaler''s objects')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('-A', '-A ', [CompletionResultType]::ParameterName, 'List NodeGroups and VPSieNodes of every namespace (status, nodes); -n stays the controller''s namespace')
            [CompletionResult]::new('--all-namespaces', '--all-namespaces', [CompletionResultType]::ParameterName, 'List NodeGroups and VPSieNodes of every namespace (status, nodes); -n stays the controller''s namespace')
            [CompletionResult]::new('--no-color', '--no-color', [CompletionResultType]::ParameterName, 'Disable colours (also when NO_COLOR is set)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More logging (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More logging (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('crds', 'crds', [CompletionResultType]::ParameterValue, 'Print the CustomResourceDefinitions (NodeGroup, VPSieNode), or write them to a directory')
            [CompletionResult]::new('sim', 'sim', [CompletionResultType]::ParameterValue, 'The demo: play a scenario in a simulated VPSie cloud and Kubernetes cluster on loopback, with the real reconciler, and sum it up')
            [CompletionResult]::new('simulate', 'simulate', [CompletionResultType]::ParameterValue, 'What-if: play a workload against one or more NodeGroups files and compare how fast pods got capacity and what it cost')
            [CompletionResult]::new('serve', 'serve', [CompletionResultType]::ParameterValue, 'Run the reconciler (in-cluster: Deployment vpsie-autoscaler in kube-system)')
            [CompletionResult]::new('bench', 'bench', [CompletionResultType]::ParameterValue, 'The end-to-end benchmark: bursts of pods over many NodeGroups in the simulator, with `serve` as its own process; writes a JSON report and a markdown table')
            [CompletionResult]::new('campaign', 'campaign', [CompletionResultType]::ParameterValue, 'The randomized fault and crash campaign: seeded runs in the simulator with VPSie and Kubernetes API faults and SIGKILLs of serve, each checked against the invariants')
            [CompletionResult]::new('version', 'version', [CompletionResultType]::ParameterValue, 'Print the version of this binary')
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Print a shell completion script, or write all of them to a directory')
            [CompletionResult]::new('man', 'man', [CompletionResultType]::ParameterValue, 'Print the man page, or write one page per subcommand to a directory')
            [CompletionResult]::new('status', 'status', [CompletionResultType]::ParameterValue, 'Show the NodeGroups, their nodes, the controller''s health and each group''s last decision')
            [CompletionResult]::new('nodes', 'nodes', [CompletionResultType]::ParameterValue, 'List the VPSieNodes: phase, node, VPS, time in the phase, and the stuck ones')
            [CompletionResult]::new('reconcile', 'reconcile', [CompletionResultType]::ParameterValue, 'Force a reconcile of a NodeGroup and wait until the controller handled it')
            [CompletionResult]::new('pause', 'pause', [CompletionResultType]::ParameterValue, 'Pause autoscaling of a NodeGroup (annotation autoscaler.vpsie.com/pause=true)')
            [CompletionResult]::new('resume', 'resume', [CompletionResultType]::ParameterValue, 'Resume autoscaling of a paused NodeGroup (removes autoscaler.vpsie.com/pause)')
            [CompletionResult]::new('breaker', 'breaker', [CompletionResultType]::ParameterValue, 'Show the VPSie API circuit breaker, or reset it')
            [CompletionResult]::new('creds', 'creds', [CompletionResultType]::ParameterValue, 'Rotate or check the VPSie API credentials (Secret vpsie-secret)')
            [CompletionResult]::new('doctor', 'doctor', [CompletionResultType]::ParameterValue, 'Check everything the runbook checks and say what to fix (exit 1 on an error)')
            [CompletionResult]::new('why', 'why', [CompletionResultType]::ParameterValue, 'Explain why a pending pod has no node yet: each NodeGroup''s fit, what is coming, the scheduler''s message')
            [CompletionResult]::new('__complete', '__complete', [CompletionResultType]::ParameterValue, 'Shell completion for kubectl (cobra''s `__complete` protocol); called by kubectl_complete-vpsie')
            [CompletionResult]::new('krew-manifest', 'krew-manifest', [CompletionResultType]::ParameterValue, 'Print the krew plugin manifest of this version (sha256 filled in by the release job)')
            [CompletionResult]::new('install', 'install', [CompletionResultType]::ParameterValue, 'Install the autoscaler into the cluster: CRDs, RBAC, Deployment, Service, PDB (and the ServiceMonitor and PrometheusRule when the cluster has the Prometheus Operator)')
            [CompletionResult]::new('uninstall', 'uninstall', [CompletionResultType]::ParameterValue, 'Remove what install created (the CRDs last, after a confirmation; --keep-crds keeps them)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'kubectl-vpsie;crds' {
            [CompletionResult]::new('--write', '--write', [CompletionResultType]::ParameterName, 'Write one file per CRD into this directory instead of printing them')
            [CompletionResult]::new('--kubeconfig', '--kubeconfig', [CompletionResultType]::ParameterName, 'Path to the kubeconfig file to use')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'The name of the kubeconfig context to use')
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'Namespace of the autoscaler''s objects')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'Namespace of the autoscaler''s objects')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('-A', '-A ', [CompletionResultType]::ParameterName, 'List NodeGroups and VPSieNodes of every namespace (status, nodes); -n stays the controller''s namespace')
            [CompletionResult]::new('--all-namespaces', '--all-namespaces', [CompletionResultType]::ParameterName, 'List NodeGroups and VPSieNodes of every namespace (status, nodes); -n stays the controller''s namespace')
            [CompletionResult]::new('--no-color', '--no-color', [CompletionResultType]::ParameterName, 'Disable colours (also when NO_COLOR is set)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More logging (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More logging (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'kubectl-vpsie;sim' {
            [CompletionResult]::new('--for', '--for', [CompletionResultType]::ParameterName, 'Run for this long (wall-clock time), then stop (e.g. 30s, 5m, 1h). Default: until Ctrl-C')
            [CompletionResult]::new('--speed', '--speed', [CompletionResultType]::ParameterName, 'How many times faster than real time the simulated world runs (default: the scenario''s `speed`, else 1; with --no-scenario, 1)')
            [CompletionResult]::new('--scenario', '--scenario', [CompletionResultType]::ParameterName, 'Play this scenario file instead of the built-in one (format: examples/scenarios/ and `kubectl-vpsie sim --help`)')
            [CompletionResult]::new('--report', '--report', [CompletionResultType]::ParameterName, 'Write the summary (summary.json), the samples (samples.json) and a chart (chart.svg, chart.png) into this directory')
            [CompletionResult]::new('--api-port', '--api-port', [CompletionResultType]::ParameterName, 'Port of the simulated Kubernetes API server on 127.0.0.1 (0 picks a free one)')
            [CompletionResult]::new('--cloud-port', '--cloud-port', [CompletionResultType]::ParameterName, 'Port of the simulated VPSie API on 127.0.0.1 (0 picks a free one)')
            [CompletionResult]::new('--metrics-port', '--metrics-port', [CompletionResultType]::ParameterName, 'Port of the reconciler''s /metrics, /healthz and /readyz on 127.0.0.1 (0 picks a free one)')
            [CompletionResult]::new('--kubeconfig', '--kubeconfig', [CompletionResultType]::ParameterName, 'Path to the kubeconfig file to use')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'The name of the kubeconfig context to use')
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'Namespace of the autoscaler''s objects')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'Namespace of the autoscaler''s objects')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--keep', '--keep', [CompletionResultType]::ParameterName, 'Keep the world running after the scenario (kubeconfig printed), until Ctrl-C')
            [CompletionResult]::new('--no-scenario', '--no-scenario', [CompletionResultType]::ParameterName, 'No scenario: the example NodeGroup production-workers and no workload, running until Ctrl-C or --for (for exploring with kubectl)')
            [CompletionResult]::new('--no-reconciler', '--no-reconciler', [CompletionResultType]::ParameterName, 'Do not run the reconciler: only the simulated cloud and cluster')
            [CompletionResult]::new('-A', '-A ', [CompletionResultType]::ParameterName, 'List NodeGroups and VPSieNodes of every namespace (status, nodes); -n stays the controller''s namespace')
            [CompletionResult]::new('--all-namespaces', '--all-namespaces', [CompletionResultType]::ParameterName, 'List NodeGroups and VPSieNodes of every namespace (status, nodes); -n stays the controller''s namespace')
            [CompletionResult]::new('--no-color', '--no-color', [CompletionResultType]::ParameterName, 'Disable colours (also when NO_COLOR is set)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More logging (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More logging (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'kubectl-vpsie;simulate' {
            [CompletionResult]::new('--workload', '--workload', [CompletionResultType]::ParameterName, 'The workload: a scenario file (its offerings, workloads, faults, duration; its nodeGroups are used when no --nodegroups is given)')
            [CompletionResult]::new('--nodegroups', '--nodegroups', [CompletionResultType]::ParameterName, 'A file of NodeGroups (YAML documents separated by ---) to play the workload against; give it several times to compare')
            [CompletionResult]::new('--speed', '--speed', [CompletionResultType]::ParameterName, 'Times real time (default: the workload file''s `speed`)')
            [CompletionResult]::new('--kubeconfig', '--kubeconfig', [CompletionResultType]::ParameterName, 'Path to the kubeconfig file to use')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'The name of the kubeconfig context to use')
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'Namespace of the autoscaler''s objects')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'Namespace of the autoscaler''s objects')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('-A', '-A ', [CompletionResultType]::ParameterName, 'List NodeGroups and VPSieNodes of every namespace (status, nodes); -n stays the controller''s namespace')
            [CompletionResult]::new('--all-namespaces', '--all-namespaces', [CompletionResultType]::ParameterName, 'List NodeGroups and VPSieNodes of every namespace (status, nodes); -n stays the controller''s namespace')
            [CompletionResult]::new('--no-color', '--no-color', [CompletionResultType]::ParameterName, 'Disable colours (also when NO_COLOR is set)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More logging (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More logging (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'kubectl-vpsie;serve' {
            [CompletionResult]::new('--metrics-addr', '--metrics-addr', [CompletionResultType]::ParameterName, 'Address of /metrics, /healthz and /readyz')
            [CompletionResult]::new('--secret-name', '--secret-name', [CompletionResultType]::ParameterName, 'The Secret with the VPSie credentials (in the watch namespace)')
            [CompletionResult]::new('--leader-elect', '--leader-elect', [CompletionResultType]::ParameterName, 'Elect a leader on Lease vpsie-autoscaler-leader, so several replicas are safe')
            [CompletionResult]::new('--lease-duration', '--lease-duration', [CompletionResultType]::ParameterName, 'How long the Lease lasts without renewal (a new leader takes over after this)')
            [CompletionResult]::new('--orphan-grace', '--orphan-grace', [CompletionResultType]::ParameterName, 'How long a VPS tagged for this cluster may exist without a VPSieNode before it is deleted')
            [CompletionResult]::new('--watch-namespace', '--watch-namespace', [CompletionResultType]::ParameterName, 'Namespace of NodeGroups, VPSieNodes, the Secret, the Lease and the status ConfigMap')
            [CompletionResult]::new('--cluster-name', '--cluster-name', [CompletionResultType]::ParameterName, 'Name of this cluster, in the tags of every VPS the autoscaler creates')
            [CompletionResult]::new('--batch-idle', '--batch-idle', [CompletionResultType]::ParameterName, 'Quiet time after the last new unschedulable pod before planning a batch')
            [CompletionResult]::new('--batch-max', '--batch-max', [CompletionResultType]::ParameterName, 'Longest a batch of unschedulable pods waits before it is planned')
            [CompletionResult]::new('--provision-timeout', '--provision-timeout', [CompletionResultType]::ParameterName, 'Longest from a VPSieNode''s creation to its VPS running before it is Failed')
            [CompletionResult]::new('--join-timeout', '--join-timeout', [CompletionResultType]::ParameterName, 'Longest from the VPS running to its Node being Ready before it is Failed')
            [CompletionResult]::new('--poll-interval', '--poll-interval', [CompletionResultType]::ParameterName, 'How often to look at a VPS or a node that is on its way')
            [CompletionResult]::new('--offering-backoff', '--offering-backoff', [CompletionResultType]::ParameterName, 'How long a group avoids an offering after a node of it failed')
            [CompletionResult]::new('--resync', '--resync', [CompletionResultType]::ParameterName, 'How often every NodeGroup is reconciled even without a change')
            [CompletionResult]::new('--scale-down-interval', '--scale-down-interval', [CompletionResultType]::ParameterName, 'How often scale-down looks for unneeded nodes')
            [CompletionResult]::new('--drain-timeout', '--drain-timeout', [CompletionResultType]::ParameterName, 'Longest a node''s drain may take (when its VPSieNode has no autoscaler.vpsie.com/drain-timeout); then the drain fails, the node is uncordoned and kept')
            [CompletionResult]::new('--max-drain-parallelism', '--max-drain-parallelism', [CompletionResultType]::ParameterName, 'How many nodes that still have pods may be drained at once (empty nodes go in bulk)')
            [CompletionResult]::new('--vpsie-requests-per-minute', '--vpsie-requests-per-minute', [CompletionResultType]::ParameterName, 'Client-side limit of VPSie API calls a minute (the original''s default, 100); raise it only as far as VPSie allows your account (429s are still obeyed). 0 turns it off')
            [CompletionResult]::new('--vpsie-rate-burst', '--vpsie-rate-burst', [CompletionResultType]::ParameterName, 'How many VPSie API calls may go out at once after a quiet spell (0 is taken as 1)')
            [CompletionResult]::new('--backend', '--backend', [CompletionResultType]::ParameterName, 'How NodeGroups without spec.backend get their nodes: vm (plain VPS joined by cloud-init) or managed-kubernetes (added to a node group of a VPSie managed cluster)')
            [CompletionResult]::new('--vpsie-cluster-id', '--vpsie-cluster-id', [CompletionResultType]::ParameterName, 'The VPSie managed-Kubernetes cluster (identifier) of NodeGroups that do not name one; unset: the account''s only cluster')
            [CompletionResult]::new('--kubeconfig', '--kubeconfig', [CompletionResultType]::ParameterName, 'Path to the kubeconfig file to use')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'The name of the kubeconfig context to use')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--evict-bare-pods', '--evict-bare-pods', [CompletionResultType]::ParameterName, 'Also remove nodes whose pods have no controller (they are lost, not moved); without it, such a pod keeps its node unless annotated cluster-autoscaler.kubernetes.io/safe-to-evict=true')
            [CompletionResult]::new('--dry-run', '--dry-run', [CompletionResultType]::ParameterName, 'Plan and report, but never create or delete anything on VPSie')
            [CompletionResult]::new('-A', '-A ', [CompletionResultType]::ParameterName, 'List NodeGroups and VPSieNodes of every namespace (status, nodes); -n stays the controller''s namespace')
            [CompletionResult]::new('--all-namespaces', '--all-namespaces', [CompletionResultType]::ParameterName, 'List NodeGroups and VPSieNodes of every namespace (status, nodes); -n stays the controller''s namespace')
            [CompletionResult]::new('--no-color', '--no-color', [CompletionResultType]::ParameterName, 'Disable colours (also when NO_COLOR is set)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More logging (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More logging (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'kubectl-vpsie;bench' {
            [CompletionResult]::new('--size', '--size', [CompletionResultType]::ParameterName, 'How big a run')
            [CompletionResult]::new('--out', '--out', [CompletionResultType]::ParameterName, 'Where the report goes (<out>/<size>.json and <out>/<size>.md)')
            [CompletionResult]::new('--baseline', '--baseline', [CompletionResultType]::ParameterName, 'A report of an earlier run to compare with (e.g. bench/baseline-ci.json)')
            [CompletionResult]::new('--max-regression', '--max-regression', [CompletionResultType]::ParameterName, 'How many times further from perfect than the baseline a metric may get (plus a noise allowance) before the run fails')
            [CompletionResult]::new('--limits', '--limits', [CompletionResultType]::ParameterName, 'Which VPSie client rate limits to run serve with (default: raised for ci, both for full)')
            [CompletionResult]::new('--burst-timeout', '--burst-timeout', [CompletionResultType]::ParameterName, 'Longest one burst may take before the variant stops and reports what it measured as incomplete (default: 90s for ci; for full 15m with the raised limit, 45m with the default one)')
            [CompletionResult]::new('--kubeconfig', '--kubeconfig', [CompletionResultType]::ParameterName, 'Path to the kubeconfig file to use')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'The name of the kubeconfig context to use')
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'Namespace of the autoscaler''s objects')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'Namespace of the autoscaler''s objects')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('-A', '-A ', [CompletionResultType]::ParameterName, 'List NodeGroups and VPSieNodes of every namespace (status, nodes); -n stays the controller''s namespace')
            [CompletionResult]::new('--all-namespaces', '--all-namespaces', [CompletionResultType]::ParameterName, 'List NodeGroups and VPSieNodes of every namespace (status, nodes); -n stays the controller''s namespace')
            [CompletionResult]::new('--no-color', '--no-color', [CompletionResultType]::ParameterName, 'Disable colours (also when NO_COLOR is set)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More logging (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More logging (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'kubectl-vpsie;campaign' {
            [CompletionResult]::new('--runs', '--runs', [CompletionResultType]::ParameterName, 'How many runs (default: 4 for --size ci, 100 for nightly)')
            [CompletionResult]::new('--seed', '--seed', [CompletionResultType]::ParameterName, 'The campaign''s base seed (default: the current time, printed); each run''s seed derives from it')
            [CompletionResult]::new('--run-seed', '--run-seed', [CompletionResultType]::ParameterName, 'Replay one run by its own seed (as the report lists it) instead of a campaign')
            [CompletionResult]::new('--size', '--size', [CompletionResultType]::ParameterName, 'ci: short runs with fewer faults; nightly: more load and longer fault windows')
            [CompletionResult]::new('--out', '--out', [CompletionResultType]::ParameterName, 'Write the markdown report here, and its JSON next to it (FILE.json)')
            [CompletionResult]::new('--speed', '--speed', [CompletionResultType]::ParameterName, 'How much faster than real time the simulated cloud and cluster run (VM boots, kubelets)')
            [CompletionResult]::new('--jobs', '--jobs', [CompletionResultType]::ParameterName, 'Runs played at once (each its own simulated world and serve process)')
            [CompletionResult]::new('--logs', '--logs', [CompletionResultType]::ParameterName, 'Keep each serve process''s log in this directory (seed-<seed>-serve-<n>.log)')
            [CompletionResult]::new('--kubeconfig', '--kubeconfig', [CompletionResultType]::ParameterName, 'Path to the kubeconfig file to use')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'The name of the kubeconfig context to use')
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'Namespace of the autoscaler''s objects')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'Namespace of the autoscaler''s objects')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('-A', '-A ', [CompletionResultType]::ParameterName, 'List NodeGroups and VPSieNodes of every namespace (status, nodes); -n stays the controller''s namespace')
            [CompletionResult]::new('--all-namespaces', '--all-namespaces', [CompletionResultType]::ParameterName, 'List NodeGroups and VPSieNodes of every namespace (status, nodes); -n stays the controller''s namespace')
            [CompletionResult]::new('--no-color', '--no-color', [CompletionResultType]::ParameterName, 'Disable colours (also when NO_COLOR is set)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More logging (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More logging (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'kubectl-vpsie;version' {
            [CompletionResult]::new('--kubeconfig', '--kubeconfig', [CompletionResultType]::ParameterName, 'Path to the kubeconfig file to use')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'The name of the kubeconfig context to use')
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'Namespace of the autoscaler''s objects')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'Namespace of the autoscaler''s objects')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('-A', '-A ', [CompletionResultType]::ParameterName, 'List NodeGroups and VPSieNodes of every namespace (status, nodes); -n stays the controller''s namespace')
            [CompletionResult]::new('--all-namespaces', '--all-namespaces', [CompletionResultType]::ParameterName, 'List NodeGroups and VPSieNodes of every namespace (status, nodes); -n stays the controller''s namespace')
            [CompletionResult]::new('--no-color', '--no-color', [CompletionResultType]::ParameterName, 'Disable colours (also when NO_COLOR is set)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More logging (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More logging (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'kubectl-vpsie;completions' {
            [CompletionResult]::new('--dir', '--dir', [CompletionResultType]::ParameterName, 'Write the scripts of every shell into this directory')
            [CompletionResult]::new('--kubeconfig', '--kubeconfig', [CompletionResultType]::ParameterName, 'Path to the kubeconfig file to use')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'The name of the kubeconfig context to use')
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'Namespace of the autoscaler''s objects')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'Namespace of the autoscaler''s objects')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('-A', '-A ', [CompletionResultType]::ParameterName, 'List NodeGroups and VPSieNodes of every namespace (status, nodes); -n stays the controller''s namespace')
            [CompletionResult]::new('--all-namespaces', '--all-namespaces', [CompletionResultType]::ParameterName, 'List NodeGroups and VPSieNodes of every namespace (status, nodes); -n stays the controller''s namespace')
            [CompletionResult]::new('--no-color', '--no-color', [CompletionResultType]::ParameterName, 'Disable colours (also when NO_COLOR is set)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More logging (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More logging (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'kubectl-vpsie;man' {
            [CompletionResult]::new('--dir', '--dir', [CompletionResultType]::ParameterName, 'Write one page per command into this directory instead of printing the main page')
            [CompletionResult]::new('--kubeconfig', '--kubeconfig', [CompletionResultType]::ParameterName, 'Path to the kubeconfig file to use')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'The name of the kubeconfig context to use')
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'Namespace of the autoscaler''s objects')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'Namespace of the autoscaler''s objects')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('-A', '-A ', [CompletionResultType]::ParameterName, 'List NodeGroups and VPSieNodes of every namespace (status, nodes); -n stays the controller''s namespace')
            [CompletionResult]::new('--all-namespaces', '--all-namespaces', [CompletionResultType]::ParameterName, 'List NodeGroups and VPSieNodes of every namespace (status, nodes); -n stays the controller''s namespace')
            [CompletionResult]::new('--no-color', '--no-color', [CompletionResultType]::ParameterName, 'Disable colours (also when NO_COLOR is set)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More logging (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More logging (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'kubectl-vpsie;status' {
            [CompletionResult]::new('--kubeconfig', '--kubeconfig', [CompletionResultType]::ParameterName, 'Path to the kubeconfig file to use')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'The name of the kubeconfig context to use')
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'Namespace of the autoscaler''s objects')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'Namespace of the autoscaler''s objects')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('-w', '-w', [CompletionResultType]::ParameterName, 'Keep watching and redraw on every change (plain lines when stdout is not a terminal; one document per change with -o json|yaml)')
            [CompletionResult]::new('--watch', '--watch', [CompletionResultType]::ParameterName, 'Keep watching and redraw on every change (plain lines when stdout is not a terminal; one document per change with -o json|yaml)')
            [CompletionResult]::new('-A', '-A ', [CompletionResultType]::ParameterName, 'List NodeGroups and VPSieNodes of every namespace (status, nodes); -n stays the controller''s namespace')
            [CompletionResult]::new('--all-namespaces', '--all-namespaces', [CompletionResultType]::ParameterName, 'List NodeGroups and VPSieNodes of every namespace (status, nodes); -n stays the controller''s namespace')
            [CompletionResult]::new('--no-color', '--no-color', [CompletionResultType]::ParameterName, 'Disable colours (also when NO_COLOR is set)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More logging (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More logging (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'kubectl-vpsie;nodes' {
            [CompletionResult]::new('--drain-timeout', '--drain-timeout', [CompletionResultType]::ParameterName, 'The controller''s drain timeout, for flagging stuck Terminating nodes (a node''s autoscaler.vpsie.com/drain-timeout annotation wins)')
            [CompletionResult]::new('--kubeconfig', '--kubeconfig', [CompletionResultType]::ParameterName, 'Path to the kubeconfig file to use')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'The name of the kubeconfig context to use')
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'Namespace of the autoscaler''s objects')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'Namespace of the autoscaler''s objects')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('-A', '-A ', [CompletionResultType]::ParameterName, 'List NodeGroups and VPSieNodes of every namespace (status, nodes); -n stays the controller''s namespace')
            [CompletionResult]::new('--all-namespaces', '--all-namespaces', [CompletionResultType]::ParameterName, 'List NodeGroups and VPSieNodes of every namespace (status, nodes); -n stays the controller''s namespace')
            [CompletionResult]::new('--no-color', '--no-color', [CompletionResultType]::ParameterName, 'Disable colours (also when NO_COLOR is set)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More logging (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More logging (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'kubectl-vpsie;reconcile' {
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'How long to wait for the controller (e.g. 30s, 2m)')
            [CompletionResult]::new('--kubeconfig', '--kubeconfig', [CompletionResultType]::ParameterName, 'Path to the kubeconfig file to use')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'The name of the kubeconfig context to use')
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'Namespace of the autoscaler''s objects')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'Namespace of the autoscaler''s objects')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--no-wait', '--no-wait', [CompletionResultType]::ParameterName, 'Set the annotation and return without waiting for the controller')
            [CompletionResult]::new('-A', '-A ', [CompletionResultType]::ParameterName, 'List NodeGroups and VPSieNodes of every namespace (status, nodes); -n stays the controller''s namespace')
            [CompletionResult]::new('--all-namespaces', '--all-namespaces', [CompletionResultType]::ParameterName, 'List NodeGroups and VPSieNodes of every namespace (status, nodes); -n stays the controller''s namespace')
            [CompletionResult]::new('--no-color', '--no-color', [CompletionResultType]::ParameterName, 'Disable colours (also when NO_COLOR is set)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More logging (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More logging (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'kubectl-vpsie;pause' {
            [CompletionResult]::new('--reason', '--reason', [CompletionResultType]::ParameterName, 'Why (stored in annotation autoscaler.vpsie.com/pause-reason, shown by `status`)')
            [CompletionResult]::new('--kubeconfig', '--kubeconfig', [CompletionResultType]::ParameterName, 'Path to the kubeconfig file to use')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'The name of the kubeconfig context to use')
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'Namespace of the autoscaler''s objects')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'Namespace of the autoscaler''s objects')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--all', '--all', [CompletionResultType]::ParameterName, 'Every NodeGroup of the namespace')
            [CompletionResult]::new('-A', '-A ', [CompletionResultType]::ParameterName, 'List NodeGroups and VPSieNodes of every namespace (status, nodes); -n stays the controller''s namespace')
            [CompletionResult]::new('--all-namespaces', '--all-namespaces', [CompletionResultType]::ParameterName, 'List NodeGroups and VPSieNodes of every namespace (status, nodes); -n stays the controller''s namespace')
            [CompletionResult]::new('--no-color', '--no-color', [CompletionResultType]::ParameterName, 'Disable colours (also when NO_COLOR is set)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More logging (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More logging (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'kubectl-vpsie;resume' {
            [CompletionResult]::new('--kubeconfig', '--kubeconfig', [CompletionResultType]::ParameterName, 'Path to the kubeconfig file to use')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'The name of the kubeconfig context to use')
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'Namespace of the autoscaler''s objects')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'Namespace of the autoscaler''s objects')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--all', '--all', [CompletionResultType]::ParameterName, 'Every NodeGroup of the namespace')
            [CompletionResult]::new('-A', '-A ', [CompletionResultType]::ParameterName, 'List NodeGroups and VPSieNodes of every namespace (status, nodes); -n stays the controller''s namespace')
            [CompletionResult]::new('--all-namespaces', '--all-namespaces', [CompletionResultType]::ParameterName, 'List NodeGroups and VPSieNodes of every namespace (status, nodes); -n stays the controller''s namespace')
            [CompletionResult]::new('--no-color', '--no-color', [CompletionResultType]::ParameterName, 'Disable colours (also when NO_COLOR is set)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More logging (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More logging (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'kubectl-vpsie;breaker' {
            [CompletionResult]::new('--kubeconfig', '--kubeconfig', [CompletionResultType]::ParameterName, 'Path to the kubeconfig file to use')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'The name of the kubeconfig context to use')
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'Namespace of the autoscaler''s objects')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'Namespace of the autoscaler''s objects')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('-A', '-A ', [CompletionResultType]::ParameterName, 'List NodeGroups and VPSieNodes of every namespace (status, nodes); -n stays the controller''s namespace')
            [CompletionResult]::new('--all-namespaces', '--all-namespaces', [CompletionResultType]::ParameterName, 'List NodeGroups and VPSieNodes of every namespace (status, nodes); -n stays the controller''s namespace')
            [CompletionResult]::new('--no-color', '--no-color', [CompletionResultType]::ParameterName, 'Disable colours (also when NO_COLOR is set)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More logging (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More logging (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('status', 'status', [CompletionResultType]::ParameterValue, 'State, failure counts and the next half-open probe, from the controller''s report')
            [CompletionResult]::new('reset', 'reset', [CompletionResultType]::ParameterValue, 'Reset the breaker (closed, failures forgotten) and wait for the controller to confirm')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'kubectl-vpsie;breaker;status' {
            [CompletionResult]::new('--kubeconfig', '--kubeconfig', [CompletionResultType]::ParameterName, 'Path to the kubeconfig file to use')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'The name of the kubeconfig context to use')
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'Namespace of the autoscaler''s objects')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'Namespace of the autoscaler''s objects')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('-A', '-A ', [CompletionResultType]::ParameterName, 'List NodeGroups and VPSieNodes of every namespace (status, nodes); -n stays the controller''s namespace')
            [CompletionResult]::new('--all-namespaces', '--all-namespaces', [CompletionResultType]::ParameterName, 'List NodeGroups and VPSieNodes of every namespace (status, nodes); -n stays the controller''s namespace')
            [CompletionResult]::new('--no-color', '--no-color', [CompletionResultType]::ParameterName, 'Disable colours (also when NO_COLOR is set)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More logging (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More logging (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'kubectl-vpsie;breaker;reset' {
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'How long to wait for the controller''s acknowledgement')
            [CompletionResult]::new('--kubeconfig', '--kubeconfig', [CompletionResultType]::ParameterName, 'Path to the kubeconfig file to use')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'The name of the kubeconfig context to use')
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'Namespace of the autoscaler''s objects')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'Namespace of the autoscaler''s objects')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Do not ask for confirmation (required when stdin is not a terminal)')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Do not ask for confirmation (required when stdin is not a terminal)')
            [CompletionResult]::new('-A', '-A ', [CompletionResultType]::ParameterName, 'List NodeGroups and VPSieNodes of every namespace (status, nodes); -n stays the controller''s namespace')
            [CompletionResult]::new('--all-namespaces', '--all-namespaces', [CompletionResultType]::ParameterName, 'List NodeGroups and VPSieNodes of every namespace (status, nodes); -n stays the controller''s namespace')
            [CompletionResult]::new('--no-color', '--no-color', [CompletionResultType]::ParameterName, 'Disable colours (also when NO_COLOR is set)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More logging (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More logging (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'kubectl-vpsie;breaker;help' {
            [CompletionResult]::new('status', 'status', [CompletionResultType]::ParameterValue, 'State, failure counts and the next half-open probe, from the controller''s report')
            [CompletionResult]::new('reset', 'reset', [CompletionResultType]::ParameterValue, 'Reset the breaker (closed, failures forgotten) and wait for the controller to confirm')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'kubectl-vpsie;breaker;help;status' {
            break
        }
        'kubectl-vpsie;breaker;help;reset' {
            break
        }
        'kubectl-vpsie;breaker;help;help' {
            break
        }
        'kubectl-vpsie;creds' {
            [CompletionResult]::new('--kubeconfig', '--kubeconfig', [CompletionResultType]::ParameterName, 'Path to the kubeconfig file to use')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'The name of the kubeconfig context to use')
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'Namespace of the autoscaler''s objects')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'Namespace of the autoscaler''s objects')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('-A', '-A ', [CompletionResultType]::ParameterName, 'List NodeGroups and VPSieNodes of every namespace (status, nodes); -n stays the controller''s namespace')
            [CompletionResult]::new('--all-namespaces', '--all-namespaces', [CompletionResultType]::ParameterName, 'List NodeGroups and VPSieNodes of every namespace (status, nodes); -n stays the controller''s namespace')
            [CompletionResult]::new('--no-color', '--no-color', [CompletionResultType]::ParameterName, 'Disable colours (also when NO_COLOR is set)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More logging (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More logging (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('rotate', 'rotate', [CompletionResultType]::ParameterValue, 'Validate a new client id/secret at the VPSie token endpoint, write them into Secret vpsie-secret and wait until the controller loaded them (no restart)')
            [CompletionResult]::new('check', 'check', [CompletionResultType]::ParameterValue, 'Whether the credentials work: the Secret, what the controller loaded, and a live login')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'kubectl-vpsie;creds;rotate' {
            [CompletionResult]::new('--client-id', '--client-id', [CompletionResultType]::ParameterName, 'The new client id (else prompted, or from VPSIE_CLIENT_ID / the stdin clientId line)')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'How long to wait for the controller to load the new pair')
            [CompletionResult]::new('--secret-name', '--secret-name', [CompletionResultType]::ParameterName, 'The Secret (in the namespace of -n)')
            [CompletionResult]::new('--kubeconfig', '--kubeconfig', [CompletionResultType]::ParameterName, 'Path to the kubeconfig file to use')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'The name of the kubeconfig context to use')
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'Namespace of the autoscaler''s objects')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'Namespace of the autoscaler''s objects')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--from-env', '--from-env', [CompletionResultType]::ParameterName, 'Read VPSIE_CLIENT_ID and VPSIE_CLIENT_SECRET from the environment')
            [CompletionResult]::new('--stdin', '--stdin', [CompletionResultType]::ParameterName, 'Read lines `clientId=ID` and `clientSecret=SECRET` from stdin')
            [CompletionResult]::new('--skip-validate', '--skip-validate', [CompletionResultType]::ParameterName, 'Do not log in with the new pair before writing it')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Do not ask for confirmation (required when there is no terminal, and with --stdin)')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Do not ask for confirmation (required when there is no terminal, and with --stdin)')
            [CompletionResult]::new('--no-wait', '--no-wait', [CompletionResultType]::ParameterName, 'Write the Secret and return without waiting for the controller')
            [CompletionResult]::new('-A', '-A ', [CompletionResultType]::ParameterName, 'List NodeGroups and VPSieNodes of every namespace (status, nodes); -n stays the controller''s namespace')
            [CompletionResult]::new('--all-namespaces', '--all-namespaces', [CompletionResultType]::ParameterName, 'List NodeGroups and VPSieNodes of every namespace (status, nodes); -n stays the controller''s namespace')
            [CompletionResult]::new('--no-color', '--no-color', [CompletionResultType]::ParameterName, 'Disable colours (also when NO_COLOR is set)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More logging (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More logging (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'kubectl-vpsie;creds;check' {
            [CompletionResult]::new('--secret-name', '--secret-name', [CompletionResultType]::ParameterName, 'The Secret (in the namespace of -n)')
            [CompletionResult]::new('--kubeconfig', '--kubeconfig', [CompletionResultType]::ParameterName, 'Path to the kubeconfig file to use')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'The name of the kubeconfig context to use')
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'Namespace of the autoscaler''s objects')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'Namespace of the autoscaler''s objects')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--no-live', '--no-live', [CompletionResultType]::ParameterName, 'Do not log in to VPSie with the Secret''s pair (only compare with the controller''s report)')
            [CompletionResult]::new('-A', '-A ', [CompletionResultType]::ParameterName, 'List NodeGroups and VPSieNodes of every namespace (status, nodes); -n stays the controller''s namespace')
            [CompletionResult]::new('--all-namespaces', '--all-namespaces', [CompletionResultType]::ParameterName, 'List NodeGroups and VPSieNodes of every namespace (status, nodes); -n stays the controller''s namespace')
            [CompletionResult]::new('--no-color', '--no-color', [CompletionResultType]::ParameterName, 'Disable colours (also when NO_COLOR is set)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More logging (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More logging (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'kubectl-vpsie;creds;help' {
            [CompletionResult]::new('rotate', 'rotate', [CompletionResultType]::ParameterValue, 'Validate a new client id/secret at the VPSie token endpoint, write them into Secret vpsie-secret and wait until the controller loaded them (no restart)')
            [CompletionResult]::new('check', 'check', [CompletionResultType]::ParameterValue, 'Whether the credentials work: the Secret, what the controller loaded, and a live login')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'kubectl-vpsie;creds;help;rotate' {
            break
        }
        'kubectl-vpsie;creds;help;check' {
            break
        }
        'kubectl-vpsie;creds;help;help' {
            break
        }
        'kubectl-vpsie;doctor' {
            [CompletionResult]::new('--pending-for', '--pending-for', [CompletionResultType]::ParameterName, 'Flag pods unschedulable for longer than this')
            [CompletionResult]::new('--drain-timeout', '--drain-timeout', [CompletionResultType]::ParameterName, 'The controller''s drain timeout, for flagging stuck Terminating nodes')
            [CompletionResult]::new('--secret-name', '--secret-name', [CompletionResultType]::ParameterName, 'The Secret (in the namespace of -n)')
            [CompletionResult]::new('--kubeconfig', '--kubeconfig', [CompletionResultType]::ParameterName, 'Path to the kubeconfig file to use')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'The name of the kubeconfig context to use')
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'Namespace of the autoscaler''s objects')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'Namespace of the autoscaler''s objects')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--no-live', '--no-live', [CompletionResultType]::ParameterName, 'Do not log in to VPSie with the Secret''s pair')
            [CompletionResult]::new('-A', '-A ', [CompletionResultType]::ParameterName, 'List NodeGroups and VPSieNodes of every namespace (status, nodes); -n stays the controller''s namespace')
            [CompletionResult]::new('--all-namespaces', '--all-namespaces', [CompletionResultType]::ParameterName, 'List NodeGroups and VPSieNodes of every namespace (status, nodes); -n stays the controller''s namespace')
            [CompletionResult]::new('--no-color', '--no-color', [CompletionResultType]::ParameterName, 'Disable colours (also when NO_COLOR is set)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More logging (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More logging (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'kubectl-vpsie;why' {
            [CompletionResult]::new('--pod-namespace', '--pod-namespace', [CompletionResultType]::ParameterName, 'Namespace of the pod (default: default). -n is the autoscaler''s namespace')
            [CompletionResult]::new('--kubeconfig', '--kubeconfig', [CompletionResultType]::ParameterName, 'Path to the kubeconfig file to use')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'The name of the kubeconfig context to use')
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'Namespace of the autoscaler''s objects')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'Namespace of the autoscaler''s objects')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('-A', '-A ', [CompletionResultType]::ParameterName, 'List NodeGroups and VPSieNodes of every namespace (status, nodes); -n stays the controller''s namespace')
            [CompletionResult]::new('--all-namespaces', '--all-namespaces', [CompletionResultType]::ParameterName, 'List NodeGroups and VPSieNodes of every namespace (status, nodes); -n stays the controller''s namespace')
            [CompletionResult]::new('--no-color', '--no-color', [CompletionResultType]::ParameterName, 'Disable colours (also when NO_COLOR is set)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More logging (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More logging (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'kubectl-vpsie;__complete' {
            [CompletionResult]::new('--kubeconfig', '--kubeconfig', [CompletionResultType]::ParameterName, 'Path to the kubeconfig file to use')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'The name of the kubeconfig context to use')
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'Namespace of the autoscaler''s objects')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'Namespace of the autoscaler''s objects')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('-A', '-A ', [CompletionResultType]::ParameterName, 'List NodeGroups and VPSieNodes of every namespace (status, nodes); -n stays the controller''s namespace')
            [CompletionResult]::new('--all-namespaces', '--all-namespaces', [CompletionResultType]::ParameterName, 'List NodeGroups and VPSieNodes of every namespace (status, nodes); -n stays the controller''s namespace')
            [CompletionResult]::new('--no-color', '--no-color', [CompletionResultType]::ParameterName, 'Disable colours (also when NO_COLOR is set)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More logging (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More logging (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'kubectl-vpsie;krew-manifest' {
            [CompletionResult]::new('--archives', '--archives', [CompletionResultType]::ParameterName, 'Fill in each platform''s sha256 from the release archives in this directory')
            [CompletionResult]::new('--write', '--write', [CompletionResultType]::ParameterName, 'Write the manifest to this file instead of printing it')
            [CompletionResult]::new('--kubeconfig', '--kubeconfig', [CompletionResultType]::ParameterName, 'Path to the kubeconfig file to use')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'The name of the kubeconfig context to use')
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'Namespace of the autoscaler''s objects')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'Namespace of the autoscaler''s objects')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('-A', '-A ', [CompletionResultType]::ParameterName, 'List NodeGroups and VPSieNodes of every namespace (status, nodes); -n stays the controller''s namespace')
            [CompletionResult]::new('--all-namespaces', '--all-namespaces', [CompletionResultType]::ParameterName, 'List NodeGroups and VPSieNodes of every namespace (status, nodes); -n stays the controller''s namespace')
            [CompletionResult]::new('--no-color', '--no-color', [CompletionResultType]::ParameterName, 'Disable colours (also when NO_COLOR is set)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More logging (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More logging (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'kubectl-vpsie;install' {
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'The image tag of kubectl-vpsie to run (default: this binary''s version)')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'How long to wait for the CRDs and the Deployment''s pods (e.g. 2m)')
            [CompletionResult]::new('--kubeconfig', '--kubeconfig', [CompletionResultType]::ParameterName, 'Path to the kubeconfig file to use')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'The name of the kubeconfig context to use')
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'Namespace of the autoscaler''s objects')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'Namespace of the autoscaler''s objects')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--dry-run', '--dry-run', [CompletionResultType]::ParameterName, 'Send nothing: list what would be applied (with -o yaml|json: print the manifests)')
            [CompletionResult]::new('--no-wait', '--no-wait', [CompletionResultType]::ParameterName, 'Return once everything is applied, without waiting for the Deployment''s pods')
            [CompletionResult]::new('-A', '-A ', [CompletionResultType]::ParameterName, 'List NodeGroups and VPSieNodes of every namespace (status, nodes); -n stays the controller''s namespace')
            [CompletionResult]::new('--all-namespaces', '--all-namespaces', [CompletionResultType]::ParameterName, 'List NodeGroups and VPSieNodes of every namespace (status, nodes); -n stays the controller''s namespace')
            [CompletionResult]::new('--no-color', '--no-color', [CompletionResultType]::ParameterName, 'Disable colours (also when NO_COLOR is set)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More logging (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More logging (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'kubectl-vpsie;uninstall' {
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'How long to wait for the controller''s pods and the CRDs to go')
            [CompletionResult]::new('--kubeconfig', '--kubeconfig', [CompletionResultType]::ParameterName, 'Path to the kubeconfig file to use')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'The name of the kubeconfig context to use')
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'Namespace of the autoscaler''s objects')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'Namespace of the autoscaler''s objects')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Do not ask before deleting the CRDs (required without a terminal, unless --keep-crds)')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Do not ask before deleting the CRDs (required without a terminal, unless --keep-crds)')
            [CompletionResult]::new('--keep-crds', '--keep-crds', [CompletionResultType]::ParameterName, 'Keep the CRDs, and so every NodeGroup and VPSieNode')
            [CompletionResult]::new('--force', '--force', [CompletionResultType]::ParameterName, 'Delete the CRDs even though VPSieNodes exist (their VPS are left running, unmanaged)')
            [CompletionResult]::new('-A', '-A ', [CompletionResultType]::ParameterName, 'List NodeGroups and VPSieNodes of every namespace (status, nodes); -n stays the controller''s namespace')
            [CompletionResult]::new('--all-namespaces', '--all-namespaces', [CompletionResultType]::ParameterName, 'List NodeGroups and VPSieNodes of every namespace (status, nodes); -n stays the controller''s namespace')
            [CompletionResult]::new('--no-color', '--no-color', [CompletionResultType]::ParameterName, 'Disable colours (also when NO_COLOR is set)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More logging (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More logging (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'kubectl-vpsie;help' {
            [CompletionResult]::new('crds', 'crds', [CompletionResultType]::ParameterValue, 'Print the CustomResourceDefinitions (NodeGroup, VPSieNode), or write them to a directory')
            [CompletionResult]::new('sim', 'sim', [CompletionResultType]::ParameterValue, 'The demo: play a scenario in a simulated VPSie cloud and Kubernetes cluster on loopback, with the real reconciler, and sum it up')
            [CompletionResult]::new('simulate', 'simulate', [CompletionResultType]::ParameterValue, 'What-if: play a workload against one or more NodeGroups files and compare how fast pods got capacity and what it cost')
            [CompletionResult]::new('serve', 'serve', [CompletionResultType]::ParameterValue, 'Run the reconciler (in-cluster: Deployment vpsie-autoscaler in kube-system)')
            [CompletionResult]::new('bench', 'bench', [CompletionResultType]::ParameterValue, 'The end-to-end benchmark: bursts of pods over many NodeGroups in the simulator, with `serve` as its own process; writes a JSON report and a markdown table')
            [CompletionResult]::new('campaign', 'campaign', [CompletionResultType]::ParameterValue, 'The randomized fault and crash campaign: seeded runs in the simulator with VPSie and Kubernetes API faults and SIGKILLs of serve, each checked against the invariants')
            [CompletionResult]::new('version', 'version', [CompletionResultType]::ParameterValue, 'Print the version of this binary')
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Print a shell completion script, or write all of them to a directory')
            [CompletionResult]::new('man', 'man', [CompletionResultType]::ParameterValue, 'Print the man page, or write one page per subcommand to a directory')
            [CompletionResult]::new('status', 'status', [CompletionResultType]::ParameterValue, 'Show the NodeGroups, their nodes, the controller''s health and each group''s last decision')
            [CompletionResult]::new('nodes', 'nodes', [CompletionResultType]::ParameterValue, 'List the VPSieNodes: phase, node, VPS, time in the phase, and the stuck ones')
            [CompletionResult]::new('reconcile', 'reconcile', [CompletionResultType]::ParameterValue, 'Force a reconcile of a NodeGroup and wait until the controller handled it')
            [CompletionResult]::new('pause', 'pause', [CompletionResultType]::ParameterValue, 'Pause autoscaling of a NodeGroup (annotation autoscaler.vpsie.com/pause=true)')
            [CompletionResult]::new('resume', 'resume', [CompletionResultType]::ParameterValue, 'Resume autoscaling of a paused NodeGroup (removes autoscaler.vpsie.com/pause)')
            [CompletionResult]::new('breaker', 'breaker', [CompletionResultType]::ParameterValue, 'Show the VPSie API circuit breaker, or reset it')
            [CompletionResult]::new('creds', 'creds', [CompletionResultType]::ParameterValue, 'Rotate or check the VPSie API credentials (Secret vpsie-secret)')
            [CompletionResult]::new('doctor', 'doctor', [CompletionResultType]::ParameterValue, 'Check everything the runbook checks and say what to fix (exit 1 on an error)')
            [CompletionResult]::new('why', 'why', [CompletionResultType]::ParameterValue, 'Explain why a pending pod has no node yet: each NodeGroup''s fit, what is coming, the scheduler''s message')
            [CompletionResult]::new('__complete', '__complete', [CompletionResultType]::ParameterValue, 'Shell completion for kubectl (cobra''s `__complete` protocol); called by kubectl_complete-vpsie')
            [CompletionResult]::new('krew-manifest', 'krew-manifest', [CompletionResultType]::ParameterValue, 'Print the krew plugin manifest of this version (sha256 filled in by the release job)')
            [CompletionResult]::new('install', 'install', [CompletionResultType]::ParameterValue, 'Install the autoscaler into the cluster: CRDs, RBAC, Deployment, Service, PDB (and the ServiceMonitor and PrometheusRule when the cluster has the Prometheus Operator)')
            [CompletionResult]::new('uninstall', 'uninstall', [CompletionResultType]::ParameterValue, 'Remove what install created (the CRDs last, after a confirmation; --keep-crds keeps them)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'kubectl-vpsie;help;crds' {
            break
        }
        'kubectl-vpsie;help;sim' {
            break
        }
        'kubectl-vpsie;help;simulate' {
            break
        }
        'kubectl-vpsie;help;serve' {
            break
        }
        'kubectl-vpsie;help;bench' {
            break
        }
        'kubectl-vpsie;help;campaign' {
            break
        }
        'kubectl-vpsie;help;version' {
            break
        }
        'kubectl-vpsie;help;completions' {
            break
        }
        'kubectl-vpsie;help;man' {
            break
        }
        'kubectl-vpsie;help;status' {
            break
        }
        'kubectl-vpsie;help;nodes' {
            break
        }
        'kubectl-vpsie;help;reconcile' {
            break
        }
        'kubectl-vpsie;help;pause' {
            break
        }
        'kubectl-vpsie;help;resume' {
            break
        }
        'kubectl-vpsie;help;breaker' {
            [CompletionResult]::new('status', 'status', [CompletionResultType]::ParameterValue, 'State, failure counts and the next half-open probe, from the controller''s report')
            [CompletionResult]::new('reset', 'reset', [CompletionResultType]::ParameterValue, 'Reset the breaker (closed, failures forgotten) and wait for the controller to confirm')
            break
        }
        'kubectl-vpsie;help;breaker;status' {
            break
        }
        'kubectl-vpsie;help;breaker;reset' {
            break
        }
        'kubectl-vpsie;help;creds' {
            [CompletionResult]::new('rotate', 'rotate', [CompletionResultType]::ParameterValue, 'Validate a new client id/secret at the VPSie token endpoint, write them into Secret vpsie-secret and wait until the controller loaded them (no restart)')
            [CompletionResult]::new('check', 'check', [CompletionResultType]::ParameterValue, 'Whether the credentials work: the Secret, what the controller loaded, and a live login')
            break
        }
        'kubectl-vpsie;help;creds;rotate' {
            break
        }
        'kubectl-vpsie;help;creds;check' {
            break
        }
        'kubectl-vpsie;help;doctor' {
            break
        }
        'kubectl-vpsie;help;why' {
            break
        }
        'kubectl-vpsie;help;__complete' {
            break
        }
        'kubectl-vpsie;help;krew-manifest' {
            break
        }
        'kubectl-vpsie;help;install' {
            break
        }
        'kubectl-vpsie;help;uninstall' {
            break
        }
        'kubectl-vpsie;help;help' {
            break
        }
    })

    $completions.Where{ $_.CompletionText -like "$wordToComplete*" } |
        Sort-Object -Property ListItemText
}
