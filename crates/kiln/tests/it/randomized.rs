//! Randomized incremental correctness: after any edit, `kiln run build` re-runs exactly the
//! tasks whose inputs changed, restores from the cache the ones whose inputs went back to an
//! earlier state, and leaves every output byte-identical to a clean build.
//!
//! The fixture is an npm workspace of [`PACKAGES`] packages in a random DAG (a package only
//! depends on lower-numbered ones, so no edit can make a cycle), each built by the root
//! `build.sh`. The test keeps a model of the repository ([`Model`]) and, from it alone, an
//! oracle: a package's fingerprint covers its sources, its `package.json` bytes, its
//! `turbo.json`, the value of the env var it declares, the resolved versions of its
//! third-party closure and its dependencies' fingerprints. A package must run iff its
//! fingerprint was never built before (kiln keeps every past result), and its `dist/out.txt`
//! must equal [`Model::expected_outs`], which computes what `build.sh` writes directly.
//!
//! One run in five has company: a second `kiln run build` starts once the first has printed
//! a random number of lines, and both must succeed without any task running twice.
//!
//! Reproduce a failure with `KILN_RANDOM_SEED=<seed> KILN_RANDOM_EDITS=<n>`; every failure
//! message names the seed, the edit number and the edit.

use std::collections::{BTreeMap, BTreeSet};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::process::Output;
use std::time::{Instant, SystemTime};

use crate::support::{Repo, kiln_command};

/// Whether edits may change the lockfile's resolved versions (and which external package a
/// package depends on). Off: the lockfile is written once and never changes, for a kiln that
/// still hashes the whole lockfile into every key.
const LOCKFILE_EDITS_ENABLED: bool = true;

const DEFAULT_EDITS: usize = 200;
const DEFAULT_SEED: u64 = 0x6b69_6c6e_2025;
const PACKAGES: usize = 10;

/// Fake registry packages: name and the registry packages it depends on. Workspace packages
/// depend on the first three; `ext-d` is only reached through `ext-c`.
const EXTERNALS: [(&str, &[&str]); 4] = [
    ("ext-a", &[]),
    ("ext-b", &[]),
    ("ext-c", &["ext-d"]),
    ("ext-d", &[]),
];
const DIRECT_EXTERNALS: [&str; 3] = ["ext-a", "ext-b", "ext-c"];
/// All within `^1.0.0`, so a bump is a lockfile-only change, as `npm update` makes it.
const EXT_VERSIONS: [&str; 3] = ["1.0.0", "1.1.0", "1.2.3"];

/// Few distinct values, so edits often return a package to an earlier state (a cache hit).
/// Same-length contents make edits that keep a file's size.
const CONTENTS: [&str; 6] = [
    "alpha\n",
    "bravo\n",
    "delta\n",
    "alpha\nbravo\n",
    "",
    "x y z\n",
];
const ENV_VALUES: [Option<&str>; 5] = [Some("dev"), Some("prod"), Some(""), None, Some("a b")];
const UNRELATED_ENV: &str = "KILN_RANDOM_UNRELATED";
/// Files outside every package (and no global input): editing them must re-run nothing.
const OUTSIDE_FILES: [&str; 2] = ["notes/todo.txt", "pkgs/README.md"];

/// The build of every package: reads only what the oracle puts in the fingerprint.
const BUILD_SH: &str = r#"#!/bin/sh
# Fixture build of the randomized incremental test (crates/kiln/tests/it/randomized.rs):
# dist/out.txt from the sources, the declared env var, the locked external versions and the
# internal dependencies' outputs. Logs every execution to ../../exec.log.
set -eu
export LC_ALL=C
name=$(basename "$PWD")
root=../..
lock="$root/package-lock.json"
printf '%s\n' "$name" >> "$root/exec.log"

keys() { tr ',' '\n' | sed -n 's/^ *"\([^"]*\)".*/\1/p'; }
deps=$(sed -n 's/^  "dependencies": {\(.*\)}.*$/\1/p' package.json | keys)

ext_closure() {
  todo=$1
  seen=" "
  while [ -n "$todo" ]; do
    next=""
    for e in $todo; do
      case "$seen" in *" $e "*) continue ;; esac
      seen="$seen$e "
      line=$(grep "^ *\"node_modules/$e\": " "$lock")
      version=$(printf '%s\n' "$line" | sed 's/.*"version": "\([^"]*\)".*/\1/')
      echo "ext $e $version"
      next="$next $(printf '%s\n' "$line" | sed -n 's/.*"dependencies": {\([^}]*\)}.*/\1/p' | keys)"
    done
    set -- $next
    todo="$*"
  done
}

rm -rf dist
mkdir dist
{
  echo "package $name"
  for f in src/*.txt; do
    echo "src ${f#src/}"
    cat "$f"
  done
  if [ -f turbo.json ]; then
    eval "value=\${MODE_$name-__unset__}"
    echo "env MODE_$name=$value"
  fi
  externals=""
  for d in $deps; do
    case "$d" in ext-*) externals="$externals $d" ;; esac
  done
  ext_closure "$externals" | sort
  for d in $deps; do
    case "$d" in
      ext-*) ;;
      *)
        if [ ! -f "../$d/dist/out.txt" ]; then
          echo "$name: dependency $d has no dist/out.txt" >&2
          exit 3
        fi
        echo "dep $d $(cksum < "../$d/dist/out.txt")"
        ;;
    esac
  done
} > dist/out.txt
"#;

/// splitmix64: small, seedable, good enough to pick edits.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

#[derive(Clone, Debug)]
struct Package {
    srcs: BTreeMap<String, String>,
    deps: BTreeSet<usize>,
    external: &'static str,
    declares_env: bool,
}

/// What the repository holds, as far as the builds can see.
#[derive(Clone)]
struct Model {
    packages: Vec<Package>,
    versions: BTreeMap<&'static str, &'static str>,
    /// The version of `ext-z`, locked but depended on by no package.
    unused_external: Option<&'static str>,
    /// Another layout of the same lockfile (indentation, no `license` fields).
    lockfile_restyled: bool,
    /// Every variable the test controls, passed to (or removed from) each kiln run.
    env: BTreeMap<String, Option<String>>,
}

fn name(i: usize) -> String {
    format!("p{i:02}")
}

fn env_var(i: usize) -> String {
    format!("MODE_{}", name(i))
}

fn src_name(n: usize) -> String {
    // Fixed width, so the shell's glob order and a byte sort agree in every locale.
    format!("s{n:03}.txt")
}

impl Model {
    fn random(rng: &mut Rng) -> Model {
        let packages = (0..PACKAGES)
            .map(|i| {
                let deps = (0..i).filter(|_| rng.chance(30)).collect();
                let srcs = (0..1 + rng.below(3))
                    .map(|n| (src_name(n), rng.pick(&CONTENTS).to_string()))
                    .collect();
                Package {
                    srcs,
                    deps,
                    external: rng.pick(&DIRECT_EXTERNALS),
                    declares_env: rng.chance(40),
                }
            })
            .collect();
        let versions = EXTERNALS
            .iter()
            .map(|(n, _)| (*n, EXT_VERSIONS[0]))
            .collect();
        let mut env: BTreeMap<String, Option<String>> = (0..PACKAGES)
            .map(|i| (env_var(i), rng.pick(&ENV_VALUES).map(str::to_string)))
            .collect();
        env.insert(UNRELATED_ENV.to_string(), Some("0".to_string()));
        Model {
            packages,
            versions,
            unused_external: None,
            lockfile_restyled: false,
            env,
        }
    }

    /// One line per field, so `build.sh` can read its dependencies with `sed`.
    fn package_json(&self, i: usize) -> String {
        format!(
            "{{\n  \"name\": \"{}\",\n  \"version\": \"1.0.0\",\n  \"private\": true,\n  \"scripts\": {{ \"build\": \"sh ../../build.sh\" }},\n  \"dependencies\": {{{}}}\n}}\n",
            name(i),
            self.dependency_specs(i)
        )
    }

    /// `"ext-a": "^1.0.0", "p00": "*"`: the dependencies in name order.
    fn dependency_specs(&self, i: usize) -> String {
        let p = &self.packages[i];
        let mut specs = BTreeMap::from([(p.external.to_string(), "^1.0.0")]);
        for &d in &p.deps {
            specs.insert(name(d), "*");
        }
        specs
            .iter()
            .map(|(n, s)| format!("\"{n}\": \"{s}\""))
            .collect::<Vec<_>>()
            .join(", ")
    }

    fn turbo_json(&self, i: usize) -> Option<String> {
        self.packages[i].declares_env.then(|| {
            format!(
                "{{ \"extends\": [\"//\"], \"tasks\": {{ \"build\": {{ \"env\": [\"{}\"] }} }} }}\n",
                env_var(i)
            )
        })
    }

    /// npm lockfile v3, one entry per line (so `build.sh` can read a version with `sed`),
    /// keys sorted as npm writes them.
    fn lockfile(&self) -> String {
        let mut entries = vec![(
            String::new(),
            r#"{"name": "root", "workspaces": ["pkgs/*"]}"#.to_string(),
        )];
        let license = if self.lockfile_restyled {
            ""
        } else {
            ", \"license\": \"MIT\""
        };
        let unused = self.unused_external.map(|v| ("ext-z", v, &[][..]));
        let used = EXTERNALS.iter().map(|&(e, d)| (e, self.versions[e], d));
        for (ext, version, deps) in used.chain(unused) {
            let deps = if deps.is_empty() {
                String::new()
            } else {
                let list: Vec<String> = deps
                    .iter()
                    .map(|d| format!("\"{d}\": \"^1.0.0\""))
                    .collect();
                format!(", \"dependencies\": {{{}}}", list.join(", "))
            };
            entries.push((
                format!("node_modules/{ext}"),
                format!(
                    "{{\"version\": \"{version}\", \"resolved\": \"https://registry.npmjs.org/{ext}/-/{ext}-{version}.tgz\", \"integrity\": \"sha512-fake{}{}\"{license}{deps}}}",
                    ext.replace('-', ""),
                    version.replace('.', "")
                ),
            ));
        }
        for i in 0..PACKAGES {
            entries.push((
                format!("node_modules/{}", name(i)),
                format!("{{\"resolved\": \"pkgs/{}\", \"link\": true}}", name(i)),
            ));
            entries.push((
                format!("pkgs/{}", name(i)),
                format!(
                    "{{\"name\": \"{}\", \"version\": \"1.0.0\", \"dependencies\": {{{}}}}}",
                    name(i),
                    self.dependency_specs(i)
                ),
            ));
        }
        entries.sort();
        let body: Vec<String> = entries
            .iter()
            .map(|(k, v)| {
                let indent = if self.lockfile_restyled { 8 } else { 4 };
                format!("{:indent$}\"{k}\": {v}", "")
            })
            .collect();
        format!(
            "{{\n  \"name\": \"root\",\n  \"lockfileVersion\": 3,\n  \"requires\": true,\n  \"packages\": {{\n{}\n  }}\n}}\n",
            body.join(",\n")
        )
    }

    /// The locked (name, version) of every registry package `i` reaches, sorted.
    fn closure(&self, i: usize) -> Vec<(&'static str, &'static str)> {
        let mut todo = vec![self.packages[i].external];
        let mut seen = BTreeSet::new();
        while let Some(e) = todo.pop() {
            if seen.insert(e) {
                let (_, deps) = EXTERNALS.iter().find(|(n, _)| *n == e).unwrap();
                todo.extend(deps.iter());
            }
        }
        seen.into_iter().map(|e| (e, self.versions[e])).collect()
    }

    fn env_value(&self, i: usize) -> Option<&str> {
        self.env[&env_var(i)].as_deref()
    }

    /// Every package's fingerprint (dependencies are lower-numbered, so one pass suffices).
    fn fingerprints(&self) -> Vec<u64> {
        let mut fps: Vec<u64> = Vec::with_capacity(PACKAGES);
        for (i, p) in self.packages.iter().enumerate() {
            let mut h = DefaultHasher::new();
            p.srcs.hash(&mut h);
            self.package_json(i).hash(&mut h);
            self.turbo_json(i).hash(&mut h);
            if p.declares_env {
                self.env_value(i).hash(&mut h);
            }
            self.closure(i).hash(&mut h);
            for &d in &p.deps {
                fps[d].hash(&mut h);
            }
            fps.push(h.finish());
        }
        fps
    }

    /// What a clean build writes to each package's `dist/out.txt` (what `build.sh` does).
    fn expected_outs(&self) -> Vec<Vec<u8>> {
        let mut outs: Vec<Vec<u8>> = Vec::with_capacity(PACKAGES);
        for (i, p) in self.packages.iter().enumerate() {
            let mut out = format!("package {}\n", name(i));
            for (file, content) in &p.srcs {
                out.push_str(&format!("src {file}\n{content}"));
            }
            if p.declares_env {
                let value = self.env_value(i).unwrap_or("__unset__");
                out.push_str(&format!("env {}={value}\n", env_var(i)));
            }
            for (e, v) in self.closure(i) {
                out.push_str(&format!("ext {e} {v}\n"));
            }
            for &d in &p.deps {
                out.push_str(&format!("dep {} {}\n", name(d), cksum(&outs[d])));
            }
            outs.push(out.into_bytes());
        }
        outs
    }

    fn write_package(&self, repo: &Repo, i: usize) {
        repo.write(
            &format!("pkgs/{}/package.json", name(i)),
            &self.package_json(i),
        );
        let turbo = format!("pkgs/{}/turbo.json", name(i));
        match self.turbo_json(i) {
            Some(text) => {
                repo.write(&turbo, &text);
            }
            None => {
                let _ = std::fs::remove_file(repo.path(&turbo));
            }
        }
    }

    fn write_all(&self, repo: &Repo) {
        repo.write(
            "package.json",
            r#"{ "name": "root", "private": true, "workspaces": ["pkgs/*"], "packageManager": "npm@11.19.1" }"#,
        )
        .write(
            "turbo.json",
            r#"{ "tasks": { "build": { "dependsOn": ["^build"], "outputs": ["dist/**"] } } }"#,
        )
        .write(".gitignore", ".kiln/\nnode_modules/\ndist/\nexec.log\n")
        .write("build.sh", BUILD_SH)
        .write("package-lock.json", &self.lockfile());
        for f in OUTSIDE_FILES {
            repo.write(f, "outside every package\n");
        }
        self.write_sources(repo);
    }

    /// Every package's files, rewritten whether or not they changed; sources the model does
    /// not have are removed. The lockfile follows [`write_lockfile`].
    fn write_sources(&self, repo: &Repo) {
        for (i, p) in self.packages.iter().enumerate() {
            self.write_package(repo, i);
            let src = repo.path(&format!("pkgs/{}/src", name(i)));
            for entry in std::fs::read_dir(&src).into_iter().flatten() {
                let entry = entry.unwrap();
                if !p.srcs.contains_key(&*entry.file_name().to_string_lossy()) {
                    std::fs::remove_file(entry.path()).unwrap();
                }
            }
            for (file, content) in &p.srcs {
                repo.write(&format!("pkgs/{}/src/{file}", name(i)), content);
            }
        }
        write_lockfile(self, repo);
    }
}

/// POSIX `cksum` (CRC-32/CKSUM over the bytes then the length), as `build.sh` prints it.
fn cksum(data: &[u8]) -> String {
    fn step(mut crc: u32, byte: u8) -> u32 {
        crc ^= u32::from(byte) << 24;
        for _ in 0..8 {
            crc = if crc & 0x8000_0000 != 0 {
                (crc << 1) ^ 0x04c1_1db7
            } else {
                crc << 1
            };
        }
        crc
    }
    let mut crc = data.iter().fold(0, |c, &b| step(c, b));
    let mut len = data.len();
    while len > 0 {
        crc = step(crc, (len & 0xff) as u8);
        len >>= 8;
    }
    format!("{} {}", !crc, data.len())
}

#[derive(Clone, Debug)]
enum Edit {
    ModifySrc {
        pkg: usize,
        file: String,
        content: &'static str,
    },
    AddSrc {
        pkg: usize,
        file: String,
        content: &'static str,
    },
    /// Same content, another name.
    RenameSrc {
        pkg: usize,
        from: String,
        to: String,
    },
    DeleteSrc {
        pkg: usize,
        file: String,
    },
    SetEnv {
        pkg: usize,
        value: Option<&'static str>,
    },
    /// An env var no task declares (`MODE_*` of a package that declares none, or another).
    SetUnrelatedEnv {
        var: String,
        value: Option<&'static str>,
    },
    ToggleEnvDeclaration {
        pkg: usize,
    },
    ToggleEdge {
        pkg: usize,
        dep: usize,
    },
    BumpExternal {
        ext: &'static str,
        version: &'static str,
    },
    SwitchExternal {
        pkg: usize,
        ext: &'static str,
    },
    /// Same bytes: either rewritten or only a new mtime.
    Touch {
        file: String,
        rewrite: bool,
    },
    WriteOutsidePackages {
        file: &'static str,
        content: &'static str,
    },
    GitCommit,
    /// Back to the state of `back` edits ago, everything rewritten (an undo, a `git checkout`):
    /// what was built then is restored from the cache.
    Revert {
        back: usize,
    },
    /// Hand-edited build output: a restore never overwrites an edit, so the next run builds
    /// the package again. `same_size` keeps the length (only the content digest can tell).
    TamperOutput {
        pkg: usize,
        same_size: bool,
    },
    DeleteOutputs {
        pkg: usize,
    },
    /// A file the build did not produce, in an output directory: a restore would remove it,
    /// which it never does to a file kiln did not write, so the next run builds the package.
    StrayOutput {
        pkg: usize,
    },
    /// `rm -rf .kiln/cache`: every task runs again.
    ClearCache,
    /// `rm -rf .kiln/state` (stat cache, recorded outputs): costs time, never correctness.
    ClearState,
    /// The same resolutions, laid out differently: re-runs nothing.
    RestyleLockfile,
    /// Lock, bump or drop `ext-z`, which no package depends on: re-runs nothing.
    SetUnusedExternal {
        version: Option<&'static str>,
    },
}

impl Edit {
    /// `earlier`: how many earlier states [`Edit::Revert`] may go back to.
    fn random(rng: &mut Rng, model: &Model, earlier: usize) -> Edit {
        loop {
            let pkg = rng.below(PACKAGES);
            let p = &model.packages[pkg];
            // Each range's width is its kind's weight; a pick that does not apply is redrawn.
            let edit = match rng.below(121) {
                13..16 => {
                    let from = p.srcs.keys().nth(rng.below(p.srcs.len())).unwrap().clone();
                    let to = src_name(rng.below(6));
                    if p.srcs.contains_key(&to) {
                        continue;
                    }
                    Edit::RenameSrc { pkg, from, to }
                }
                0..13 => {
                    let file = p.srcs.keys().nth(rng.below(p.srcs.len())).unwrap().clone();
                    Edit::ModifySrc {
                        pkg,
                        file,
                        content: rng.pick(&CONTENTS),
                    }
                }
                16..23 => {
                    let file = src_name(rng.below(6));
                    if p.srcs.contains_key(&file) {
                        continue;
                    }
                    Edit::AddSrc {
                        pkg,
                        file,
                        content: rng.pick(&CONTENTS),
                    }
                }
                23..28 => {
                    if p.srcs.len() < 2 {
                        continue;
                    }
                    let file = p.srcs.keys().nth(rng.below(p.srcs.len())).unwrap().clone();
                    Edit::DeleteSrc { pkg, file }
                }
                28..37 => {
                    if !p.declares_env {
                        continue;
                    }
                    Edit::SetEnv {
                        pkg,
                        value: rng.pick(&ENV_VALUES),
                    }
                }
                37..42 => {
                    let var = if p.declares_env {
                        UNRELATED_ENV.to_string()
                    } else {
                        env_var(pkg)
                    };
                    Edit::SetUnrelatedEnv {
                        var,
                        value: rng.pick(&ENV_VALUES),
                    }
                }
                42..46 => Edit::ToggleEnvDeclaration { pkg },
                46..55 => {
                    if pkg == 0 {
                        continue;
                    }
                    Edit::ToggleEdge {
                        pkg,
                        dep: rng.below(pkg),
                    }
                }
                55..63 => {
                    if !LOCKFILE_EDITS_ENABLED {
                        continue;
                    }
                    let ext = rng.pick(&EXTERNALS).0;
                    let version = rng.pick(&EXT_VERSIONS);
                    if model.versions[ext] == version {
                        continue;
                    }
                    Edit::BumpExternal { ext, version }
                }
                63..67 => {
                    let ext = rng.pick(&DIRECT_EXTERNALS);
                    if !LOCKFILE_EDITS_ENABLED || ext == p.external {
                        continue;
                    }
                    Edit::SwitchExternal { pkg, ext }
                }
                67..78 => {
                    let dir = format!("pkgs/{}", name(pkg));
                    let mut files: Vec<String> =
                        p.srcs.keys().map(|f| format!("{dir}/src/{f}")).collect();
                    files.push(format!("{dir}/package.json"));
                    if p.declares_env {
                        files.push(format!("{dir}/turbo.json"));
                    }
                    files.push("package-lock.json".to_string());
                    let file = files[rng.below(files.len())].clone();
                    Edit::Touch {
                        file,
                        rewrite: rng.chance(50),
                    }
                }
                78..85 => Edit::WriteOutsidePackages {
                    file: rng.pick(&OUTSIDE_FILES),
                    content: rng.pick(&CONTENTS),
                },
                85..88 => Edit::GitCommit,
                88..100 => {
                    if earlier == 0 {
                        continue;
                    }
                    Edit::Revert {
                        back: 1 + rng.below(earlier.min(4)),
                    }
                }
                100..104 => Edit::TamperOutput {
                    pkg,
                    same_size: rng.chance(50),
                },
                104..107 => Edit::DeleteOutputs { pkg },
                107..110 => Edit::StrayOutput { pkg },
                110..112 => Edit::ClearCache,
                112..115 => Edit::ClearState,
                115..118 if LOCKFILE_EDITS_ENABLED => Edit::RestyleLockfile,
                118..121 if LOCKFILE_EDITS_ENABLED => {
                    let version = [None, Some("1.0.0"), Some("1.1.0")][rng.below(3)];
                    if version == model.unused_external {
                        continue;
                    }
                    Edit::SetUnusedExternal { version }
                }
                _ => continue,
            };
            return edit;
        }
    }

    /// Applies the edit to the model and to the files.
    /// `earlier`: the states before each edit so far, oldest first.
    fn apply(&self, model: &mut Model, repo: &Repo, earlier: &[Model]) {
        let dir = |pkg: usize| format!("pkgs/{}", name(pkg));
        match self {
            Edit::ModifySrc { pkg, file, content } | Edit::AddSrc { pkg, file, content } => {
                model.packages[*pkg]
                    .srcs
                    .insert(file.clone(), content.to_string());
                repo.write(&format!("{}/src/{file}", dir(*pkg)), content);
            }
            Edit::RenameSrc { pkg, from, to } => {
                let srcs = &mut model.packages[*pkg].srcs;
                let content = srcs.remove(from).unwrap();
                srcs.insert(to.clone(), content);
                let src = |f: &str| repo.path(&format!("{}/src/{f}", dir(*pkg)));
                std::fs::rename(src(from), src(to)).unwrap();
            }
            Edit::DeleteSrc { pkg, file } => {
                model.packages[*pkg].srcs.remove(file);
                std::fs::remove_file(repo.path(&format!("{}/src/{file}", dir(*pkg)))).unwrap();
            }
            Edit::SetEnv { pkg, value } => {
                model.env.insert(env_var(*pkg), value.map(str::to_string));
            }
            Edit::SetUnrelatedEnv { var, value } => {
                model.env.insert(var.clone(), value.map(str::to_string));
            }
            Edit::ToggleEnvDeclaration { pkg } => {
                let p = &mut model.packages[*pkg];
                p.declares_env = !p.declares_env;
                model.write_package(repo, *pkg);
            }
            Edit::ToggleEdge { pkg, dep } => {
                let deps = &mut model.packages[*pkg].deps;
                if !deps.remove(dep) {
                    deps.insert(*dep);
                }
                model.write_package(repo, *pkg);
                write_lockfile(model, repo);
            }
            Edit::BumpExternal { ext, version } => {
                model.versions.insert(ext, version);
                write_lockfile(model, repo);
            }
            Edit::SwitchExternal { pkg, ext } => {
                model.packages[*pkg].external = ext;
                model.write_package(repo, *pkg);
                write_lockfile(model, repo);
            }
            Edit::Touch { file, rewrite } => {
                let path = repo.path(file);
                if *rewrite {
                    let bytes = std::fs::read(&path).unwrap();
                    std::fs::write(&path, bytes).unwrap();
                } else {
                    let f = std::fs::File::options().write(true).open(&path).unwrap();
                    f.set_modified(SystemTime::now()).unwrap();
                }
            }
            Edit::WriteOutsidePackages { file, content } => {
                repo.write(file, content);
            }
            Edit::GitCommit => repo.commit("randomized edit"),
            Edit::Revert { back } => {
                *model = earlier[earlier.len() - back].clone();
                model.write_sources(repo);
            }
            Edit::TamperOutput { pkg, same_size } => {
                let path = repo.path(&format!("{}/dist/out.txt", dir(*pkg)));
                let mut bytes = std::fs::read(&path).unwrap();
                if *same_size {
                    bytes
                        .iter_mut()
                        .for_each(|b| *b = if *b == b'\n' { *b } else { b'#' });
                } else {
                    bytes.extend_from_slice(b"tampered\n");
                }
                std::fs::write(&path, bytes).unwrap();
            }
            Edit::DeleteOutputs { pkg } => {
                std::fs::remove_dir_all(repo.path(&format!("{}/dist", dir(*pkg)))).unwrap();
            }
            Edit::StrayOutput { pkg } => {
                repo.write(&format!("{}/dist/stray.txt", dir(*pkg)), "not built\n");
            }
            Edit::ClearCache => remove_dir(repo, ".kiln/cache"),
            Edit::ClearState => remove_dir(repo, ".kiln/state"),
            Edit::RestyleLockfile => {
                model.lockfile_restyled = !model.lockfile_restyled;
                write_lockfile(model, repo);
            }
            Edit::SetUnusedExternal { version } => {
                model.unused_external = *version;
                write_lockfile(model, repo);
            }
        }
    }
}

fn remove_dir(repo: &Repo, rel: &str) {
    match std::fs::remove_dir_all(repo.path(rel)) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => panic!("removing {rel}: {e}"),
        _ => {}
    }
}

/// The lockfile follows the manifests (as `npm install` keeps it) only when lockfile edits are
/// on; off, it stays as first written, so every key that hashes it whole stays put.
fn write_lockfile(model: &Model, repo: &Repo) {
    if LOCKFILE_EDITS_ENABLED {
        repo.write("package-lock.json", &model.lockfile());
    }
}

fn env_u64(var: &str, default: u64) -> u64 {
    match std::env::var(var) {
        Ok(v) => v
            .parse()
            .unwrap_or_else(|_| panic!("{var}={v} is not a number")),
        Err(_) => default,
    }
}

fn build_command(repo: &Repo, model: &Model) -> std::process::Command {
    let mut cmd = kiln_command();
    cmd.current_dir(&repo.root)
        .args(["run", "build", "--concurrency", "2", "-v"]);
    for (var, value) in &model.env {
        match value {
            Some(v) => cmd.env(var, v),
            None => cmd.env_remove(var),
        };
    }
    cmd
}

/// Runs the build; with `second_after: Some(n)`, a second kiln process starts the same
/// build once the first has printed `n` lines (or ended), and must succeed too. Both see
/// the same sources, so between them every task runs once: one waits for the other and
/// finds its results.
fn run_build(repo: &Repo, model: &Model, second_after: Option<usize>) -> Output {
    let Some(lines) = second_after else {
        return build_command(repo, model).output().unwrap();
    };
    use std::io::{BufRead, Read};
    let mut first = build_command(repo, model)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = first.stderr.take().unwrap();
    let errors = std::thread::spawn(move || {
        let mut text = Vec::new();
        stderr.read_to_end(&mut text).unwrap();
        text
    });
    let mut stdout = std::io::BufReader::new(first.stdout.take().unwrap());
    let mut printed = Vec::new();
    let mut seen = 0;
    while seen < lines && stdout.read_until(b'\n', &mut printed).unwrap() > 0 {
        seen += 1;
    }
    let second = build_command(repo, model)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    stdout.read_to_end(&mut printed).unwrap();
    let status = first.wait().unwrap();
    let mut out = Output {
        status,
        stdout: printed,
        stderr: errors.join().unwrap(),
    };
    let other = second.wait_with_output().unwrap();
    if out.status.success() && !other.status.success() {
        out = other;
        out.stderr.splice(
            0..0,
            b"(the second, concurrent kiln process)\n".iter().copied(),
        );
    }
    out
}

/// The packages whose build ran since the last call (the log is then removed).
fn take_exec_log(repo: &Repo) -> Vec<String> {
    let path = repo.path("exec.log");
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    let _ = std::fs::remove_file(&path);
    let mut names: Vec<String> = text.lines().map(str::to_string).collect();
    names.sort();
    names
}

/// Where the test is, to understand and replay a failure.
struct Case<'a> {
    seed: u64,
    edits: usize,
    number: usize,
    history: &'a [Edit],
}

impl Case<'_> {
    fn fail(&self, out: &Output, what: &str) -> ! {
        let recent: Vec<String> = self
            .history
            .iter()
            .enumerate()
            .rev()
            .take(12)
            .map(|(n, e)| format!("  #{}: {e:?}", n + 1))
            .collect();
        panic!(
            "randomized incremental check failed: seed {seed} (KILN_RANDOM_SEED={seed} KILN_RANDOM_EDITS={edits}), edit #{number}: {edit}\n\
             {what}\n\
             recent edits, newest first:\n{recent}\n\
             --- kiln stdout\n{stdout}\n--- kiln stderr\n{stderr}",
            seed = self.seed,
            edits = self.edits,
            number = self.number,
            edit = self
                .history
                .last()
                .map_or("initial build".to_string(), |e| format!("{e:?}")),
            recent = recent.join("\n"),
            stdout = String::from_utf8_lossy(&out.stdout),
            stderr = String::from_utf8_lossy(&out.stderr),
        );
    }
}

/// Which fingerprints each package has been built with (kiln keeps every result), and the
/// ones of the last run.
struct Oracle {
    built: Vec<BTreeSet<u64>>,
    last: Vec<u64>,
}

/// What one run did, for the totals.
#[derive(Default)]
struct Tally {
    executed: usize,
    restored: usize,
}

/// Runs kiln and checks the exit code, which packages ran, and every output.
/// `edited_outputs`: packages whose outputs the user changed, which must build again
/// however their fingerprint stands.
fn check_run(
    repo: &Repo,
    model: &Model,
    oracle: &mut Oracle,
    case: &Case<'_>,
    edited_outputs: &[usize],
    second_after: Option<usize>,
) -> Tally {
    let out = run_build(repo, model, second_after);
    if !out.status.success() {
        case.fail(&out, &format!("kiln exited with {:?}", out.status));
    }

    let fps = model.fingerprints();
    let is_new = |i: usize| !oracle.built[i].contains(&fps[i]);
    let expected: Vec<String> = (0..PACKAGES)
        .filter(|&i| is_new(i) || edited_outputs.contains(&i))
        .map(name)
        .collect();
    let restored: Vec<String> = (0..PACKAGES)
        .filter(|&i| {
            !is_new(i) && !edited_outputs.contains(&i) && oracle.last.get(i) != Some(&fps[i])
        })
        .map(name)
        .collect();
    let ran = take_exec_log(repo);
    if ran != expected {
        case.fail(
            &out,
            &format!(
                "packages executed: expected {expected:?}, actual {ran:?} (expected restored from the cache: {restored:?})"
            ),
        );
    }
    for (i, &fp) in fps.iter().enumerate() {
        oracle.built[i].insert(fp);
    }
    oracle.last = fps;

    for (i, want) in model.expected_outs().into_iter().enumerate() {
        let dist = repo.path(&format!("pkgs/{}/dist", name(i)));
        if !dist.is_dir() {
            case.fail(&out, &format!("{} has no dist/", name(i)));
        }
        let files = crate::support::snapshot_tree(&dist);
        if files.len() != 1 {
            let names: Vec<&str> = files.iter().map(|(f, _)| f.as_str()).collect();
            case.fail(
                &out,
                &format!(
                    "{}/dist holds {names:?}, a clean build only out.txt",
                    name(i)
                ),
            );
        }
        let path = dist.join("out.txt");
        let got = std::fs::read(&path)
            .unwrap_or_else(|e| case.fail(&out, &format!("{}: {e}", path.display())));
        if got != want {
            case.fail(
                &out,
                &format!(
                    "{}/dist/out.txt differs from a clean build\n--- expected\n{}--- actual\n{}",
                    name(i),
                    String::from_utf8_lossy(&want),
                    String::from_utf8_lossy(&got)
                ),
            );
        }
    }
    Tally {
        executed: ran.len(),
        restored: restored.len(),
    }
}

#[test]
#[allow(clippy::print_stderr)]
fn random_edits_rerun_exactly_the_changed_tasks_and_match_a_clean_build() {
    let seed = env_u64("KILN_RANDOM_SEED", DEFAULT_SEED);
    let edits = env_u64("KILN_RANDOM_EDITS", DEFAULT_EDITS as u64) as usize;
    let started = Instant::now();
    let mut rng = Rng(seed);
    let mut model = Model::random(&mut rng);
    let repo = Repo::empty();
    model.write_all(&repo);
    repo.commit("fixture");

    let mut oracle = Oracle {
        built: vec![BTreeSet::new(); PACKAGES],
        last: Vec::new(),
    };
    let mut history: Vec<Edit> = Vec::new();
    let mut states: Vec<Model> = Vec::new();
    let case = Case {
        seed,
        edits,
        number: 0,
        history: &history,
    };
    check_run(&repo, &model, &mut oracle, &case, &[], None);
    let cold = started.elapsed();

    let mut total = Tally::default();
    let mut kinds: BTreeMap<String, usize> = BTreeMap::new();
    for number in 1..=edits {
        let edit = Edit::random(&mut rng, &model, states.len());
        states.push(model.clone());
        edit.apply(&mut model, &repo, &states);
        let kind = format!("{edit:?}");
        let kind = kind.split([' ', '{']).next().unwrap().to_string();
        *kinds.entry(kind).or_default() += 1;
        if matches!(edit, Edit::ClearCache) {
            oracle.built.iter_mut().for_each(BTreeSet::clear);
        }
        let edited_outputs = match &edit {
            Edit::TamperOutput { pkg, .. } | Edit::StrayOutput { pkg } => vec![*pkg],
            _ => Vec::new(),
        };
        history.push(edit);
        let case = Case {
            seed,
            edits,
            number,
            history: &history,
        };
        // Now and then a second kiln process joins at a random moment of the run.
        let second_after = rng.chance(20).then(|| rng.below(12));
        if second_after.is_some() {
            *kinds.entry("(two processes)".into()).or_default() += 1;
        }
        let tally = check_run(
            &repo,
            &model,
            &mut oracle,
            &case,
            &edited_outputs,
            second_after,
        );
        total.executed += tally.executed;
        total.restored += tally.restored;
    }

    eprintln!(
        "randomized: seed {seed}, {edits} edits {kinds:?}; {} builds executed, {} restored from the cache; cold run {cold:.1?}, total {:.1?}",
        total.executed,
        total.restored,
        started.elapsed()
    );
}
