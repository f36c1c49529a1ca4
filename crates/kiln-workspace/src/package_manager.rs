//! Which package manager a workspace uses: its `packageManager` field first, then the
//! lockfile that exists, then `pnpm-workspace.yaml`, then npm when there is a root
//! `package.json`.

use std::path::{Path, PathBuf};

use crate::PackageManager;

/// Every package manager, in the order lockfiles are looked for when nothing says which.
const BY_LOCKFILE: [PackageManager; 4] = [
    PackageManager::Pnpm,
    PackageManager::Yarn,
    PackageManager::Bun,
    PackageManager::Npm,
];

impl PackageManager {
    /// The lockfile names this package manager writes, preferred first.
    pub fn lockfile_names(self) -> &'static [&'static str] {
        match self {
            PackageManager::Npm => &["package-lock.json", "npm-shrinkwrap.json"],
            PackageManager::Yarn => &["yarn.lock"],
            PackageManager::Pnpm => &["pnpm-lock.yaml"],
            PackageManager::Bun => &["bun.lock", "bun.lockb"],
            PackageManager::None => &[],
        }
    }

    /// The executable's name (`pnpm`), `None` for [`PackageManager::None`].
    pub fn command_name(self) -> Option<&'static str> {
        match self {
            PackageManager::Npm => Some("npm"),
            PackageManager::Yarn => Some("yarn"),
            PackageManager::Pnpm => Some("pnpm"),
            PackageManager::Bun => Some("bun"),
            PackageManager::None => None,
        }
    }

    /// The shell command that runs `script` through this package manager (`pnpm run build`),
    /// the script name quoted for `sh` when it needs to be; `None` without a package manager.
    pub fn run_command(self, script: &str) -> Option<String> {
        let pm = self.command_name()?;
        let plain = !script.is_empty()
            && script
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_:./@+=,".contains(&b));
        Some(if plain {
            format!("{pm} run {script}")
        } else {
            format!("{pm} run '{}'", script.replace('\'', r"'\''"))
        })
    }

    /// Parses the name part of a `packageManager` field (`pnpm@9.1.0`, `yarn@4.1.0+sha…`).
    pub(crate) fn from_field(field: &str) -> Option<Self> {
        match field.split_once('@').map_or(field, |(name, _)| name).trim() {
            "npm" => Some(PackageManager::Npm),
            "yarn" => Some(PackageManager::Yarn),
            "pnpm" => Some(PackageManager::Pnpm),
            "bun" => Some(PackageManager::Bun),
            _ => None,
        }
    }
}

/// Inputs to [`detect`]: what the root holds.
pub(crate) struct Evidence<'a> {
    pub(crate) root: &'a Path,
    pub(crate) package_manager_field: Option<&'a str>,
    pub(crate) has_pnpm_workspace: bool,
    pub(crate) has_package_json: bool,
}

/// The package manager and its lockfile (relative to the root) when one exists.
pub(crate) fn detect(evidence: &Evidence<'_>) -> (PackageManager, Option<PathBuf>) {
    let existing = |pm: PackageManager| {
        pm.lockfile_names().iter().map(PathBuf::from).find(|name| {
            let path = evidence.root.join(name);
            let file = path.is_file();
            if !file && path.exists() {
                // Turborepo warns and goes on without it; so does kiln, once per run.
                tracing::warn!(
                    "{} is not a file: no lockfile is read, so third-party versions are not in the keys",
                    path.display()
                );
            }
            file
        })
    };
    if let Some(field) = evidence.package_manager_field {
        match PackageManager::from_field(field) {
            Some(pm) => return (pm, existing(pm)),
            None => tracing::warn!(field, "unknown `packageManager`; guessing from lockfiles"),
        }
    }
    for pm in BY_LOCKFILE {
        if let Some(lockfile) = existing(pm) {
            return (pm, Some(lockfile));
        }
    }
    if evidence.has_pnpm_workspace {
        (PackageManager::Pnpm, None)
    } else if evidence.has_package_json {
        (PackageManager::Npm, None)
    } else {
        (PackageManager::None, None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn detect_in(files: &[&str], field: Option<&str>) -> (PackageManager, Option<PathBuf>) {
        let dir = tempfile::tempdir().unwrap();
        for f in files {
            fs_err::write(dir.path().join(f), "").unwrap();
        }
        detect(&Evidence {
            root: dir.path(),
            package_manager_field: field,
            has_pnpm_workspace: files.contains(&"pnpm-workspace.yaml"),
            has_package_json: files.contains(&"package.json"),
        })
    }

    #[test]
    fn the_package_manager_field_wins_over_lockfiles() {
        let (pm, lock) = detect_in(
            &["package.json", "yarn.lock", "pnpm-lock.yaml"],
            Some("pnpm@9.1.0"),
        );
        assert_eq!(
            (pm, lock),
            (PackageManager::Pnpm, Some("pnpm-lock.yaml".into()))
        );
        let (pm, lock) = detect_in(&["package.json"], Some("yarn@4.1.0+sha512.abc"));
        assert_eq!((pm, lock), (PackageManager::Yarn, None));
    }

    #[test]
    fn lockfiles_decide_when_there_is_no_field() {
        assert_eq!(
            detect_in(&["package.json", "bun.lockb"], None).0,
            PackageManager::Bun
        );
        assert_eq!(
            detect_in(&["package.json", "bun.lock"], None).1,
            Some("bun.lock".into())
        );
        assert_eq!(
            detect_in(&["package.json", "yarn.lock"], None).0,
            PackageManager::Yarn
        );
        let (pm, lock) = detect_in(&["package.json", "package-lock.json"], None);
        assert_eq!(
            (pm, lock),
            (PackageManager::Npm, Some("package-lock.json".into()))
        );
    }

    #[test]
    fn without_lockfile_pnpm_workspace_then_package_json_then_none() {
        assert_eq!(
            detect_in(&["package.json", "pnpm-workspace.yaml"], None).0,
            PackageManager::Pnpm
        );
        assert_eq!(
            detect_in(&["package.json"], Some("deno@2")).0,
            PackageManager::Npm
        );
        assert_eq!(
            detect_in(&["kiln.toml"], None),
            (PackageManager::None, None)
        );
    }

    #[test]
    fn run_command_quotes_only_when_needed() {
        assert_eq!(
            PackageManager::Pnpm.run_command("build:prod").unwrap(),
            "pnpm run build:prod"
        );
        assert_eq!(
            PackageManager::Npm.run_command("it's").unwrap(),
            r"npm run 'it'\''s'"
        );
        assert_eq!(PackageManager::None.run_command("build"), None);
    }
}
