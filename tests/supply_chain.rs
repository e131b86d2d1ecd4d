//! The supply-chain policy (`deny.toml`) is in force and bites: the committed policy passes,
//! and the same policy with one more banned crate (one the workspace uses) or without a
//! licence the dependencies need fails, naming the crate. `scripts/test` installs cargo-deny
//! and sets `CARGO_DENY`.

use std::path::PathBuf;
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn cargo_deny() -> PathBuf {
    let path = std::env::var_os("CARGO_DENY")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join(".tools/cargo-deny/bin/cargo-deny"));
    assert!(
        path.exists(),
        "cargo-deny not found at {}: run the tests with scripts/test, which installs it",
        path.display()
    );
    path
}

fn check(policy: &str) -> (bool, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("deny.toml");
    std::fs::write(&config, policy).expect("write policy");
    let out = Command::new(cargo_deny())
        .current_dir(root())
        .args(["--log-level", "error", "--workspace", "--config"])
        .arg(&config)
        .args(["check", "bans", "licenses", "sources"])
        .output()
        .expect("run cargo-deny");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

fn policy() -> String {
    std::fs::read_to_string(root().join("deny.toml")).expect("deny.toml")
}

#[test]
fn the_committed_policy_passes() {
    let (ok, text) = check(&policy());
    assert!(ok, "cargo deny check failed:\n{text}");
}

#[test]
fn a_banned_crate_or_a_missing_licence_fails_naming_it() {
    let banned = policy().replace(
        "deny = [\n",
        "deny = [\n    { crate = \"serde_path_to_error\", reason = \"test\" },\n",
    );
    assert_ne!(
        banned,
        policy(),
        "the policy's deny list moved; update this test"
    );
    let (ok, text) = check(&banned);
    assert!(!ok, "a banned crate in use passed:\n{text}");
    assert!(text.contains("serde_path_to_error"), "{text}");

    let strict = policy().replace("    \"Unicode-3.0\",\n", "");
    assert_ne!(
        strict,
        policy(),
        "the policy's licences moved; update this test"
    );
    let (ok, text) = check(&strict);
    assert!(!ok, "a licence outside the policy passed:\n{text}");
    assert!(text.contains("Unicode-3.0"), "{text}");
}
