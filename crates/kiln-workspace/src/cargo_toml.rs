//! `Cargo.toml`: the parts discovery reads. The root's `[workspace]` (`members`, `exclude`,
//! `[workspace.package] version`, `[workspace.dependencies]`) and each crate's `[package]`
//! name and version and its dependency tables: `[dependencies]`, `[dev-dependencies]`,
//! `[build-dependencies]` and their `[target.'cfg(..)'.*]` variants.
//!
//! Every other key is ignored (a manifest has many kiln has no use for), but the keys read
//! are checked: a wrong type, an inherited field the root does not define, or a member that
//! is itself a workspace root is a [`ConfigError`] at the offending token, as Cargo reports it.
//!
//! Dependencies come out resolved: `dep = { workspace = true }` takes the root's
//! `[workspace.dependencies]` entry (whose `path` is relative to the root), `package = ".."`
//! renames give the real crate name, and paths are made relative to the workspace root.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::Path;

use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use toml::Spanned;

use crate::error::ConfigError;

/// One parsed `Cargo.toml`.
#[derive(Debug)]
pub(crate) struct CargoManifest {
    pub(crate) package: Option<CargoPackage>,
    pub(crate) workspace: Option<CargoWorkspace>,
}

/// A crate's `[package]` with its dependencies resolved.
#[derive(Debug)]
pub(crate) struct CargoPackage {
    pub(crate) name: String,
    pub(crate) version: Option<String>,
    /// Every dependency of every table, in table order (normal, build, dev, then targets).
    pub(crate) dependencies: Vec<CargoDep>,
}

/// The root's `[workspace]`.
#[derive(Debug, Default)]
pub(crate) struct CargoWorkspace {
    /// `members` as written.
    pub(crate) members: Vec<String>,
    /// `exclude` as written (paths, not globs: Cargo matches them as path prefixes).
    pub(crate) exclude: Vec<String>,
    version: Option<String>,
    /// `[workspace.dependencies]` by key, paths relative to the root.
    dependencies: BTreeMap<String, CargoDep>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct CargoDep {
    /// The real crate name: the key, or `package = ".."` when the dependency is renamed.
    pub(crate) name: String,
    pub(crate) source: DepSource,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum DepSource {
    /// A directory relative to the workspace root, `/`-separated, lexically normal; it may
    /// start with `..` (outside the root) or be absolute.
    Path(String),
    /// `git+URL`, with `#rev`, `#tag` or `#branch` when one is given.
    Git(String),
    /// A registry version requirement (`*` when none is written).
    Registry(String),
}

/// Where a manifest sits, which decides what it may contain.
#[derive(Clone, Copy)]
pub(crate) enum Place<'a> {
    /// The workspace root's `Cargo.toml`.
    Root,
    /// A member in `dir` (relative to the root) of the workspace declared by the root.
    Member {
        dir: &'a str,
        workspace: &'a CargoWorkspace,
    },
}

/// A table whose keys carry their position, so errors point at the key. (Values cannot be
/// `Spanned`: toml's `Spanned` fails on dotted keys such as `version.workspace = true`.)
type Table = BTreeMap<Spanned<String>, Loose>;

#[derive(Deserialize)]
struct Raw {
    /// `[package]`: only `name` and `version` are read.
    package: Option<Spanned<Table>>,
    workspace: Option<Spanned<RawWorkspace>>,
    // Not `#[serde(flatten)]` of a `RawTables`: flattening buffers the values, which loses
    // the spans `Spanned` needs.
    #[serde(default)]
    dependencies: Table,
    #[serde(default, alias = "build_dependencies", rename = "build-dependencies")]
    build: Table,
    #[serde(default, alias = "dev_dependencies", rename = "dev-dependencies")]
    dev: Table,
    #[serde(default)]
    target: BTreeMap<String, RawTables>,
}

/// The three dependency tables of a `[target.'cfg(..)']` (Cargo still accepts the old `_`
/// spellings).
#[derive(Deserialize, Default)]
struct RawTables {
    #[serde(default)]
    dependencies: Table,
    #[serde(default, alias = "build_dependencies", rename = "build-dependencies")]
    build: Table,
    #[serde(default, alias = "dev_dependencies", rename = "dev-dependencies")]
    dev: Table,
}

#[derive(Deserialize)]
struct RawWorkspace {
    #[serde(default)]
    members: Vec<String>,
    #[serde(default)]
    exclude: Vec<String>,
    package: Option<RawWorkspacePackage>,
    #[serde(default)]
    dependencies: Table,
}

#[derive(Deserialize)]
struct RawWorkspacePackage {
    version: Option<String>,
}

/// A value read only as far as Cargo's shapes need. Not `toml::Value`: inside `Spanned`, a
/// dotted-key table (`version.workspace = true`) makes its datetime probe fail.
#[derive(Debug)]
enum Loose {
    String(String),
    Bool(bool),
    Table(BTreeMap<String, Loose>),
    Other,
}

impl Loose {
    fn get(&self, key: &str) -> Option<&Loose> {
        match self {
            Loose::Table(t) => t.get(key),
            _ => None,
        }
    }
}

impl<'de> Deserialize<'de> for Loose {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(LooseVisitor)
    }
}

struct LooseVisitor;

impl<'de> Visitor<'de> for LooseVisitor {
    type Value = Loose;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a TOML value")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Loose, E> {
        Ok(Loose::String(v.to_string()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Loose, E> {
        Ok(Loose::String(v))
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Loose, E> {
        Ok(Loose::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Loose, E> {
        Ok(Loose::Other)
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Loose, E> {
        Ok(Loose::Other)
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Loose, E> {
        Ok(Loose::Other)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Loose, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Loose::Other)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Loose, A::Error> {
        let mut table = BTreeMap::new();
        while let Some(key) = map.next_key::<String>()? {
            let value = map.next_value::<Loose>()?;
            table.insert(key, value);
        }
        Ok(Loose::Table(table))
    }
}

/// Parses and checks a `Cargo.toml`; `file` is how errors name it.
pub(crate) fn parse(
    file: &Path,
    text: &str,
    place: Place<'_>,
) -> Result<CargoManifest, ConfigError> {
    let error = |span: Range<usize>, message: String, label: &str| {
        ConfigError::new(file, text, span, message, label)
    };
    let raw: Raw = toml::from_str(text).map_err(|e| {
        let span = e.span().unwrap_or(0..1);
        error(span, e.message().trim_end().to_string(), "here")
    })?;

    let own_workspace = match (&raw.workspace, place) {
        (Some(ws), Place::Member { .. }) => {
            let msg = "a workspace member cannot declare [workspace] (nested workspaces are \
                       not supported; exclude it in the root Cargo.toml)";
            return Err(error(ws.span(), msg.into(), "nested workspace"));
        }
        (Some(ws), Place::Root) => Some(workspace(ws.get_ref(), &error)?),
        (None, _) => None,
    };
    let (dir, workspace) = match place {
        Place::Root => ("", own_workspace.as_ref()),
        Place::Member { dir, workspace } => (dir, Some(workspace)),
    };

    let package = match &raw.package {
        Some(package) => {
            let field = |name: &str| package.get_ref().iter().find(|(k, _)| *k.get_ref() == name);
            let name = match field("name") {
                Some((_, Loose::String(name))) => name.clone(),
                Some((key, _)) => {
                    let msg = "`name` must be a string".to_string();
                    return Err(error(key.span(), msg, "invalid name"));
                }
                None => {
                    let msg = "[package] has no `name`".to_string();
                    return Err(error(package.span(), msg, "no name"));
                }
            };
            let version = match field("version") {
                None => None,
                Some((key, value)) => Some(version(key, value, workspace, &error)?),
            };
            let mut dependencies = Vec::new();
            let own = [&raw.dependencies, &raw.build, &raw.dev];
            let targets = raw
                .target
                .values()
                .flat_map(|t| [&t.dependencies, &t.build, &t.dev]);
            for (key, value) in own.into_iter().chain(targets).flatten() {
                dependencies.push(dependency(key, value, dir, workspace, &error)?);
            }
            Some(CargoPackage {
                name,
                version,
                dependencies,
            })
        }
        None => {
            if let Place::Member { .. } = place {
                let msg = "a workspace member needs a [package] with a `name`".to_string();
                return Err(error(0..0, msg, "no [package]"));
            }
            None
        }
    };
    Ok(CargoManifest {
        package,
        workspace: own_workspace,
    })
}

type ErrorFn<'a> = dyn Fn(Range<usize>, String, &str) -> ConfigError + 'a;

fn workspace(raw: &RawWorkspace, error: &ErrorFn<'_>) -> Result<CargoWorkspace, ConfigError> {
    let mut dependencies = BTreeMap::new();
    for (key, value) in &raw.dependencies {
        if value.get("workspace").is_some() {
            let msg = format!(
                "`{}` in [workspace.dependencies] cannot inherit from the workspace",
                key.get_ref()
            );
            return Err(error(key.span(), msg, "`workspace` here"));
        }
        let dep = dependency(key, value, "", None, error)?;
        dependencies.insert(key.get_ref().clone(), dep);
    }
    Ok(CargoWorkspace {
        members: raw.members.clone(),
        exclude: raw.exclude.clone(),
        version: raw.package.as_ref().and_then(|p| p.version.clone()),
        dependencies,
    })
}

/// `version = "1.2.3"` or `version.workspace = true`.
fn version(
    key: &Spanned<String>,
    value: &Loose,
    workspace: Option<&CargoWorkspace>,
    error: &ErrorFn<'_>,
) -> Result<String, ConfigError> {
    match value {
        Loose::String(v) => Ok(v.clone()),
        v if inherits(v) => workspace.and_then(|w| w.version.clone()).ok_or_else(|| {
            let msg = "`version.workspace = true`, but the root Cargo.toml has no \
                       [workspace.package] version"
                .to_string();
            error(key.span(), msg, "inherited here")
        }),
        _ => Err(error(
            key.span(),
            "`version` must be a string or `{ workspace = true }`".into(),
            "invalid version",
        )),
    }
}

fn inherits(value: &Loose) -> bool {
    matches!(value.get("workspace"), Some(Loose::Bool(true)))
}

/// One dependency entry, resolved; `dir` is the declaring manifest's directory.
fn dependency(
    key: &Spanned<String>,
    value: &Loose,
    dir: &str,
    workspace: Option<&CargoWorkspace>,
    error: &ErrorFn<'_>,
) -> Result<CargoDep, ConfigError> {
    let span = key.span();
    let key = key.get_ref().as_str();
    let invalid = |msg: String| error(span.clone(), msg, "invalid dependency");
    let table = match value {
        Loose::String(req) => {
            return Ok(CargoDep {
                name: key.to_string(),
                source: DepSource::Registry(req.clone()),
            });
        }
        Loose::Table(table) => table,
        _ => {
            return Err(invalid(format!(
                "dependency `{key}` must be a version string or a table"
            )));
        }
    };
    let string = |field: &str| -> Result<Option<&str>, ConfigError> {
        match table.get(field) {
            None => Ok(None),
            Some(Loose::String(s)) => Ok(Some(s)),
            Some(_) => Err(invalid(format!(
                "`{field}` of dependency `{key}` must be a string"
            ))),
        }
    };
    if inherits(value) {
        let inherited = workspace.and_then(|w| w.dependencies.get(key));
        return inherited.cloned().ok_or_else(|| {
            let msg = format!(
                "dependency `{key}` has `workspace = true`, but the root Cargo.toml's \
                 [workspace.dependencies] has no `{key}`"
            );
            error(span.clone(), msg, "inherited here")
        });
    }
    let name = string("package")?.unwrap_or(key).to_string();
    let source = if let Some(path) = string("path")? {
        DepSource::Path(join(dir, path))
    } else if let Some(url) = string("git")? {
        let reference = match (string("rev")?, string("tag")?, string("branch")?) {
            (Some(r), _, _) | (None, Some(r), _) | (None, None, Some(r)) => format!("#{r}"),
            (None, None, None) => String::new(),
        };
        DepSource::Git(format!("git+{url}{reference}"))
    } else {
        DepSource::Registry(string("version")?.unwrap_or("*").to_string())
    };
    Ok(CargoDep { name, source })
}

/// `dir/rel` made lexically normal, `/`-separated; `..` kept where it leaves the root, and
/// an absolute `rel` kept as it is.
pub(crate) fn join(dir: &str, rel: &str) -> String {
    if rel.starts_with('/') {
        return rel.to_string();
    }
    let mut parts: Vec<&str> = dir.split('/').filter(|p| !p.is_empty()).collect();
    for part in rel.split(['/', '\\']) {
        match part {
            "" | "." => {}
            ".." if parts.last().is_some_and(|p| *p != "..") => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    parts.join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root(text: &str) -> CargoManifest {
        parse(Path::new("Cargo.toml"), text, Place::Root).unwrap()
    }

    fn member(ws: &CargoWorkspace, text: &str) -> Result<CargoManifest, String> {
        let place = Place::Member {
            dir: "crates/a",
            workspace: ws,
        };
        parse(Path::new("crates/a/Cargo.toml"), text, place).map_err(|e| e.to_string())
    }

    fn dep(name: &str, source: DepSource) -> CargoDep {
        CargoDep {
            name: name.into(),
            source,
        }
    }

    #[test]
    fn every_dependency_table_is_read_with_renames_and_sources() {
        let m = root(
            r#"
[package]
name = "app"
version = "0.3.0"

[dependencies]
serde = "1"
core = { path = "crates/core", version = "0.1" }
json = { package = "serde_json", version = "1.0.100" }
tool = { git = "https://example.com/tool.git", tag = "v2" }
bare = {}

[dev-dependencies.helper]
path = "./crates/../crates/helper"

[build-dependencies]
cc = "1.1"

[target.'cfg(unix)'.dependencies]
nix = "0.29"
[target.x86_64-pc-windows-msvc.dev-dependencies]
winapi = { version = "0.3" }
"#,
        );
        let p = m.package.unwrap();
        assert_eq!(
            (p.name.as_str(), p.version.as_deref()),
            ("app", Some("0.3.0"))
        );
        let registry = |v: &str| DepSource::Registry(v.into());
        assert_eq!(
            p.dependencies,
            [
                dep("bare", registry("*")),
                dep("core", DepSource::Path("crates/core".into())),
                dep("serde_json", registry("1.0.100")),
                dep("serde", registry("1")),
                dep(
                    "tool",
                    DepSource::Git("git+https://example.com/tool.git#v2".into())
                ),
                dep("cc", registry("1.1")),
                dep("helper", DepSource::Path("crates/helper".into())),
                dep("nix", registry("0.29")),
                dep("winapi", registry("0.3")),
            ]
        );
        assert!(m.workspace.is_none());
    }

    #[test]
    fn members_inherit_versions_and_dependencies_from_the_root() {
        let m = root(
            "[workspace]\nmembers = [\"crates/*\"]\nexclude = [\"crates/old\"]\n\
             [workspace.package]\nversion = \"2.0.0\"\n\
             [workspace.dependencies]\ncore = { path = \"crates/core\" }\n\
             log = { package = \"tracing\", version = \"0.1\" }\n",
        );
        assert!(m.package.is_none());
        let ws = m.workspace.unwrap();
        assert_eq!(
            (ws.members.as_slice(), ws.exclude.as_slice()),
            (
                &["crates/*".to_string()][..],
                &["crates/old".to_string()][..]
            )
        );
        let a = member(
            &ws,
            "[package]\nname = \"a\"\nversion.workspace = true\n\
             [dependencies]\ncore.workspace = true\nlog = { workspace = true, features = [\"x\"] }\n\
             sibling = { path = \"../b\" }\n",
        )
        .unwrap()
        .package
        .unwrap();
        assert_eq!(a.version.as_deref(), Some("2.0.0"));
        assert_eq!(
            a.dependencies,
            [
                dep("core", DepSource::Path("crates/core".into())),
                dep("tracing", DepSource::Registry("0.1".into())),
                dep("sibling", DepSource::Path("crates/b".into())),
            ]
        );
    }

    #[test]
    fn inheriting_what_the_root_does_not_define_is_an_error_at_the_entry() {
        let ws = CargoWorkspace::default();
        assert_eq!(
            member(
                &ws,
                "[package]\nname = \"a\"\n[dependencies]\nx = { workspace = true }\n"
            )
            .unwrap_err(),
            "crates/a/Cargo.toml:4:1: dependency `x` has `workspace = true`, but the root \
             Cargo.toml's [workspace.dependencies] has no `x`"
        );
        assert_eq!(
            member(&ws, "[package]\nname = \"a\"\nversion.workspace = true\n").unwrap_err(),
            "crates/a/Cargo.toml:3:1: `version.workspace = true`, but the root Cargo.toml has \
             no [workspace.package] version"
        );
    }

    #[test]
    fn members_must_be_crates_and_not_workspaces() {
        let ws = CargoWorkspace::default();
        let e = member(&ws, "[workspace]\nmembers = []\n").unwrap_err();
        assert!(
            e.starts_with("crates/a/Cargo.toml:1:1: a workspace member cannot declare [workspace]"),
            "{e}"
        );
        let e = member(&ws, "[lib]\npath = \"x.rs\"\n").unwrap_err();
        assert_eq!(
            e,
            "crates/a/Cargo.toml:1:1: a workspace member needs a [package] with a `name`"
        );
        let e = member(&ws, "[package]\nversion = \"1.0.0\"\n").unwrap_err();
        assert_eq!(e, "crates/a/Cargo.toml:1:1: [package] has no `name`");
    }

    #[test]
    fn malformed_toml_and_wrong_types_point_at_the_token() {
        let e = parse(
            Path::new("Cargo.toml"),
            "[package]\nname = \"a\nversion = 1\n",
            Place::Root,
        )
        .unwrap_err();
        assert_eq!(
            (e.line(), e.column(), e.message()),
            (2, 10, "invalid basic string")
        );
        let ws = CargoWorkspace::default();
        let e = member(
            &ws,
            "[package]\nname = \"a\"\n[dependencies]\nx = { path = 3 }\n",
        )
        .unwrap_err();
        assert_eq!(
            e,
            "crates/a/Cargo.toml:4:1: `path` of dependency `x` must be a string"
        );
        let e = member(&ws, "[package]\nname = \"a\"\n[dependencies]\nx = 3\n").unwrap_err();
        assert_eq!(
            e,
            "crates/a/Cargo.toml:4:1: dependency `x` must be a version string or a table"
        );
    }

    #[test]
    fn paths_join_lexically_and_may_leave_the_root() {
        assert_eq!(join("crates/a", "../b"), "crates/b");
        assert_eq!(join("crates/a", "../../../vendor/x"), "../vendor/x");
        assert_eq!(join("", "./crates/x/"), "crates/x");
        assert_eq!(join("crates/a", "/opt/x"), "/opt/x");
    }
}
