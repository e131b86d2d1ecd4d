//! `completions` and `man`: files generated from the CLI definition itself.
//!
//! The committed `completions/` and `man/` directories are written by these functions and a test
//! fails when they drift from the code.

use std::io::Write;
use std::path::Path;

use clap::CommandFactory;
use clap_complete::Shell;

use crate::cli::Cli;
use crate::error::PluginError;

/// Every shell whose completion script is committed, with its file name.
pub const SHELLS: &[(Shell, &str)] = &[
    (Shell::Bash, "kubectl-vpsie.bash"),
    (Shell::Zsh, "_kubectl-vpsie"),
    (Shell::Fish, "kubectl-vpsie.fish"),
    (Shell::PowerShell, "_kubectl-vpsie.ps1"),
];

/// The completion script of `shell`.
pub fn completion_script(shell: Shell) -> Vec<u8> {
    let mut command = Cli::command();
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut command, "kubectl-vpsie", &mut out);
    out
}

/// Every generated man page: (file name, content). One for the main command and one per
/// visible subcommand, nested ones included (`kubectl-vpsie-creds-rotate.1`).
pub fn man_pages() -> Result<Vec<(String, Vec<u8>)>, PluginError> {
    let command = Cli::command();
    let mut pages = Vec::new();
    let mut main = Vec::new();
    clap_mangen::Man::new(command.clone())
        .render(&mut main)
        .map_err(|e| PluginError::Io("rendering the man page".into(), e))?;
    pages.push(("kubectl-vpsie.1".to_string(), main));
    sub_pages(&command, "kubectl-vpsie", &mut pages)?;
    Ok(pages)
}

fn sub_pages(
    command: &clap::Command,
    prefix: &str,
    pages: &mut Vec<(String, Vec<u8>)>,
) -> Result<(), PluginError> {
    for sub in command.get_subcommands().filter(|s| !s.is_hide_set()) {
        let name = format!("{prefix}-{}", sub.get_name());
        let page_command = sub.clone().name(name.clone());
        let mut page = Vec::new();
        clap_mangen::Man::new(page_command)
            .render(&mut page)
            .map_err(|e| PluginError::Io(format!("rendering the man page {name}"), e))?;
        pages.push((format!("{name}.1"), page));
        sub_pages(sub, &name, pages)?;
    }
    Ok(())
}

/// Writes `files` into `dir`, creating it.
pub fn write_files(dir: &Path, files: &[(String, Vec<u8>)]) -> Result<(), PluginError> {
    std::fs::create_dir_all(dir)
        .map_err(|e| PluginError::Io(format!("creating directory {}", dir.display()), e))?;
    for (name, content) in files {
        let path = dir.join(name);
        std::fs::write(&path, content)
            .map_err(|e| PluginError::Io(format!("writing {}", path.display()), e))?;
        if name == KUBECTL_COMPLETE {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
                .map_err(|e| PluginError::Io(format!("making {} executable", path.display()), e))?;
        }
    }
    Ok(())
}

/// Every completion script: (file name, content).
pub fn completion_files() -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = SHELLS
        .iter()
        .map(|(shell, file)| (file.to_string(), completion_script(*shell)))
        .collect();
    files.push((
        KUBECTL_COMPLETE.to_string(),
        KUBECTL_COMPLETE_SCRIPT.as_bytes().to_vec(),
    ));
    files
}

/// The executable kubectl (1.26+) runs from PATH to complete `kubectl vpsie ...`.
pub const KUBECTL_COMPLETE: &str = "kubectl_complete-vpsie";

/// Its content: the words after `vpsie` go to the binary's `__complete` (cobra's protocol).
pub const KUBECTL_COMPLETE_SCRIPT: &str = "#!/bin/sh\n\
# Completion of `kubectl vpsie ...` (kubectl 1.26+): install next to kubectl-vpsie on PATH.\n\
# kubectl runs it with the words after `vpsie`; the answer is cobra's __complete format.\n\
exec kubectl-vpsie __complete \"$@\"\n";

/// `completions <shell>` or `completions --dir DIR`.
pub fn completions(shell: Option<Shell>, dir: Option<&Path>) -> Result<(), PluginError> {
    if let Some(dir) = dir {
        return write_files(dir, &completion_files());
    }
    if let Some(shell) = shell {
        let script = completion_script(shell);
        std::io::stdout()
            .write_all(&script)
            .map_err(|e| PluginError::Io("writing to stdout".into(), e))?;
    }
    Ok(())
}

/// `man` or `man --dir DIR`.
pub fn man(dir: Option<&Path>) -> Result<(), PluginError> {
    let pages = man_pages()?;
    if let Some(dir) = dir {
        return write_files(dir, &pages);
    }
    std::io::stdout()
        .write_all(&pages[0].1)
        .map_err(|e| PluginError::Io("writing to stdout".into(), e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn repo_dir(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(name)
    }

    /// Compares generated files with the committed ones; `UPDATE_GENERATED=1` rewrites them.
    fn check_generated(dir: &str, files: &[(String, Vec<u8>)]) {
        let dir = repo_dir(dir);
        if std::env::var_os("UPDATE_GENERATED").is_some() {
            write_files(&dir, files).expect("rewrite generated files");
            return;
        }
        let mut stale = Vec::new();
        for (name, content) in files {
            match std::fs::read(dir.join(name)) {
                Ok(committed) if &committed == content => {}
                _ => stale.push(name.clone()),
            }
        }
        let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
            .map(|entries| {
                entries
                    .filter_map(|e| e.ok())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        on_disk.retain(|name| !files.iter().any(|(f, _)| f == name) && name != "README.md");
        assert!(
            stale.is_empty() && on_disk.is_empty(),
            "{} drifted from the CLI (stale: {stale:?}, not generated: {on_disk:?}); \
             regenerate with `UPDATE_GENERATED=1 cargo test -p kubectl-vpsie generated` and commit",
            dir.display()
        );
    }

    #[test]
    fn generated_completions_are_current() {
        check_generated("completions", &completion_files());
    }

    #[test]
    fn generated_man_pages_are_current() {
        check_generated("man", &man_pages().expect("man pages"));
    }

    #[test]
    fn every_subcommand_has_a_man_page() {
        let pages = man_pages().expect("man pages");
        for sub in Cli::command()
            .get_subcommands()
            .filter(|s| !s.is_hide_set())
        {
            let file = format!("kubectl-vpsie-{}.1", sub.get_name());
            assert!(pages.iter().any(|(name, _)| name == &file), "{file}");
            for nested in sub.get_subcommands().filter(|s| !s.is_hide_set()) {
                let file = format!("kubectl-vpsie-{}-{}.1", sub.get_name(), nested.get_name());
                assert!(pages.iter().any(|(name, _)| name == &file), "{file}");
            }
        }
        assert!(pages
            .iter()
            .any(|(name, _)| name == "kubectl-vpsie-creds-rotate.1"));
    }
}
