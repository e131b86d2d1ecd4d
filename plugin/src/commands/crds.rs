//! `crds`: the CustomResourceDefinitions generated from the Rust types.

use std::path::Path;

use vpsie_autoscaler::api;

use crate::commands::generate::write_files;
use crate::error::PluginError;

/// Prints both CRDs as one multi-document YAML, or writes one file per CRD into `dir`.
pub fn run(dir: Option<&Path>) -> Result<(), PluginError> {
    match dir {
        Some(dir) => {
            let files: Vec<(String, Vec<u8>)> = api::crd_files()
                .into_iter()
                .map(|(name, yaml)| (name, yaml.into_bytes()))
                .collect();
            write_files(dir, &files)?;
            for (name, _) in &files {
                eprintln!("wrote {}", dir.join(name).display());
            }
            Ok(())
        }
        None => {
            print!("{}", api::crds_yaml());
            Ok(())
        }
    }
}
