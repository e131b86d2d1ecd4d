//! The live view of `kubectl-vpsie sim` on a terminal (a pseudo-terminal from util-linux
//! `script`): one frame redrawn in place (cursor up, line clears, never a full-screen clear),
//! with pods, VPSieNodes and cost, then the summary.

mod e2e_support;

use std::process::{Command, Stdio};

use e2e_support::binary;

fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

#[test]
fn on_a_terminal_the_live_view_redraws_in_place() {
    let dir = tempfile::tempdir().expect("tempdir");
    let scenario = e2e_support::write(
        dir.path(),
        "tiny.yaml",
        "name: tiny\nduration: 40s\nspeed: 20\nnodeGroups:\n  - metadata: {name: tiny}\n    spec: {minNodes: 0, maxNodes: 2, datacenterID: dc-us-east-1, offeringIDs: [small-2cpu-4gb], osImageID: ubuntu-22.04-lts}\nworkloads:\n  - {name: one, at: 2s, replicas: 2, cpu: 500m, memory: 256Mi}\n",
    );
    let cmd = format!(
        "{} sim --scenario {} --kubeconfig {}",
        quote(&binary().to_string_lossy()),
        quote(&scenario.to_string_lossy()),
        quote(&dir.path().join("kubeconfig").to_string_lossy())
    );
    let out = Command::new("script")
        .args(["-qfec", &cmd, "/dev/null"])
        .env("HOME", dir.path())
        .env("TERM", "xterm")
        .env_remove("KUBECONFIG")
        .env_remove("NO_COLOR")
        .stdin(Stdio::null())
        .output()
        .expect("util-linux `script` runs the command under a pty");
    let screen = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "{screen}");
    for part in [
        "sim 00:",
        "pods: ",
        "VPSieNodes:",
        "VPS:",
        "/h",
        "workload one arrives",
    ] {
        assert!(screen.contains(part), "{part:?} in the live view: {screen}");
    }
    // redrawn in place: the cursor goes up over the frame and each line is cleared
    let tail: String = {
        let chars: Vec<char> = screen.chars().collect();
        chars[chars.len().saturating_sub(1500)..].iter().collect()
    };
    assert!(
        screen.matches("\x1b[2K").count() > 20,
        "lines cleared: {tail:?}"
    );
    assert!(
        screen.matches("A\r\x1b[2K").count() > 10,
        "the cursor moves up over the frame to redraw it: {tail:?}"
    );
    assert!(
        !screen.contains("\x1b[2J"),
        "no full-screen clear (flicker)"
    );
    let summary = screen
        .split("\nSummary")
        .nth(1)
        .expect("the summary after the view");
    assert!(summary.contains("pods never placed    none"), "{summary}");
    assert!(summary.contains("leaked VPS           none"), "{summary}");
}
