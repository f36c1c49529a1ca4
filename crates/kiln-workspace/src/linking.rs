//! Whether a dependency on a name the workspace has is on that workspace package, as the
//! package manager would link it, and so as Turborepo draws the edge.
//!
//! npm, yarn and bun link a workspace package when the spec's range takes its version
//! (`"b": "^1.0.0"` with `b@1.0.0`; `*`, `""`, a dist-tag like `latest`, or anything that is
//! not a range, too), or the spec is `workspace:…`, or a `file:`/`link:` path to it; a range
//! it does not satisfy (`^2.0.0`, or a prerelease `^1.0.0` does not take) is fetched from the
//! registry instead. pnpm 9 and later link only `workspace:` specs unless
//! `link-workspace-packages` is on (`.npmrc`, or `linkWorkspacePackages` in
//! `pnpm-workspace.yaml`), which pnpm 8 has by default. `npm:` aliases and `portal:` never
//! link. Checked against `turbo run --dry=json` 2.11 for each package manager.

use std::path::Path;

use crate::PackageManager;

/// How a package manager links workspace packages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Linking {
    /// A spec whose range takes the package's version links it (npm, yarn, bun; pnpm with
    /// `link-workspace-packages`).
    ByVersion,
    /// Only `workspace:` specs link (pnpm 9 and later, by default).
    WorkspaceProtocol,
}

impl Linking {
    /// For a workspace at `root` managed by `manager` (`version` from `packageManager`),
    /// with pnpm-workspace.yaml's `linkWorkspacePackages` when it sets one.
    pub(crate) fn detect(
        root: &Path,
        manager: PackageManager,
        version: Option<&str>,
        yaml_setting: Option<bool>,
    ) -> Linking {
        if manager != PackageManager::Pnpm {
            return Linking::ByVersion;
        }
        let setting = yaml_setting.or_else(|| npmrc_setting(root));
        let major = version
            .and_then(|v| v.split('.').next())
            .and_then(|m| m.trim_start_matches('v').parse::<u32>().ok());
        match (setting, major) {
            (Some(true), _) => Linking::ByVersion,
            (Some(false), _) => Linking::WorkspaceProtocol,
            (None, Some(major)) if major < 9 => Linking::ByVersion,
            (None, _) => Linking::WorkspaceProtocol,
        }
    }

    /// Whether `spec` (a range, dist-tag or protocol) links a workspace package whose
    /// version is `version`.
    pub(crate) fn links(self, spec: &str, version: Option<&str>) -> bool {
        let spec = spec.trim();
        if spec.starts_with("workspace:") {
            return true;
        }
        if spec.starts_with("npm:") || spec.starts_with("portal:") {
            return false;
        }
        if self == Linking::WorkspaceProtocol {
            return false;
        }
        if spec.starts_with("file:") || spec.starts_with("link:") {
            return true;
        }
        let Ok(range) = spec.parse::<js_semver::Range>() else {
            // A dist-tag (`latest`) or anything else that is no range.
            return true;
        };
        match version.map(str::parse::<js_semver::Version>) {
            Some(Ok(version)) => range.satisfies(&version),
            _ => true,
        }
    }
}

/// `link-workspace-packages` in the root `.npmrc` (`true` and `deep` link).
fn npmrc_setting(root: &Path) -> Option<bool> {
    let text = std::fs::read_to_string(root.join(".npmrc")).ok()?;
    text.lines().rev().find_map(|line| {
        let (key, value) = line.split_once('=')?;
        (key.trim() == "link-workspace-packages")
            .then(|| matches!(value.trim().trim_matches(['"', '\'']), "true" | "deep"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn npm_style_linking_follows_the_range() {
        let by = Linking::ByVersion;
        for spec in [
            "^1.0.0",
            "*",
            "latest",
            "next",
            "",
            ">=0.0.0",
            "1.x",
            "~1.0",
            "workspace:^2",
        ] {
            assert!(by.links(spec, Some("1.0.0")), "{spec}");
        }
        for spec in ["^2.0.0", "npm:b@^1", "portal:../b"] {
            assert!(!by.links(spec, Some("1.0.0")), "{spec}");
        }
        assert!(
            !by.links("^1.0.0", Some("1.0.0-beta.1")),
            "a prerelease is not in ^1"
        );
        assert!(by.links("file:../b", Some("1.0.0")));
    }

    #[test]
    fn pnpm_9_links_only_the_workspace_protocol_unless_told() {
        let dir = tempfile::tempdir().unwrap();
        let detect =
            |version, yaml| Linking::detect(dir.path(), PackageManager::Pnpm, version, yaml);
        assert_eq!(detect(Some("9.15.0"), None), Linking::WorkspaceProtocol);
        assert_eq!(detect(None, None), Linking::WorkspaceProtocol);
        assert_eq!(detect(Some("8.15.5"), None), Linking::ByVersion);
        assert_eq!(detect(Some("9.15.0"), Some(true)), Linking::ByVersion);
        std::fs::write(dir.path().join(".npmrc"), "link-workspace-packages=false\n").unwrap();
        assert_eq!(detect(Some("8.15.5"), None), Linking::WorkspaceProtocol);
        std::fs::write(
            dir.path().join(".npmrc"),
            "link-workspace-packages = deep\n",
        )
        .unwrap();
        assert_eq!(detect(Some("10.0.0"), None), Linking::ByVersion);
        let only = Linking::WorkspaceProtocol;
        assert!(only.links("workspace:*", None));
        assert!(!only.links("^1.0.0", Some("1.0.0")));
        assert!(!only.links("link:../b", None));
        assert_eq!(
            Linking::detect(dir.path(), PackageManager::Npm, None, None),
            Linking::ByVersion
        );
    }
}
