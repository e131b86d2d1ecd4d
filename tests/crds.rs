//! Tests of the generated CRDs (`deploy/crds/`), the spec's examples and `validate()`.

use std::path::PathBuf;

use vpsie_autoscaler::api;

fn crd_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("deploy/crds")
}

/// The committed CRD files must equal what the types generate.
/// `UPDATE_GENERATED=1 cargo test -p vpsie-autoscaler --test crds` rewrites them.
#[test]
fn generated_crds_are_up_to_date() {
    let update = std::env::var("UPDATE_GENERATED").is_ok_and(|v| v == "1");
    let mut stale = Vec::new();
    for (name, yaml) in api::crd_files() {
        let path = crd_dir().join(&name);
        if update {
            std::fs::create_dir_all(crd_dir()).expect("create deploy/crds");
            std::fs::write(&path, &yaml).expect("write CRD file");
            continue;
        }
        match std::fs::read_to_string(&path) {
            Ok(committed) if committed == yaml => {}
            Ok(_) => stale.push(format!("{} differs from the generated CRD", path.display())),
            Err(e) => stale.push(format!("{} cannot be read: {e}", path.display())),
        }
    }
    assert!(
        stale.is_empty(),
        "{}\nthe CRD types changed: run `cargo run -p kubectl-vpsie -- crds --write deploy/crds` \
         (or `UPDATE_GENERATED=1 cargo test -p vpsie-autoscaler --test crds`) and commit the result",
        stale.join("\n")
    );
}
