//! Fixtures for the integration tests: generated and hand-written monorepos in temp dirs,
//! the real `kiln` binary, and the execution log the generated builds append to.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use tempfile::TempDir;

/// The monorepo generator shared by tests and benchmarks (`../shared/bench/`), or the one
/// named by `KILN_GEN_MONOREPO`.
pub(crate) fn generator() -> PathBuf {
    if let Ok(p) = std::env::var("KILN_GEN_MONOREPO") {
        return PathBuf::from(p);
    }
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let path = repo.join("../shared/bench/gen-monorepo.py");
    assert!(
        path.exists(),
        "monorepo generator not found at {} (set KILN_GEN_MONOREPO)",
        path.display()
    );
    path
}

/// A monorepo in a temp dir that is removed when the test ends.
pub(crate) struct Repo {
    _tmp: TempDir,
    pub(crate) root: PathBuf,
}

impl Repo {
    /// A generated npm-workspaces monorepo, committed to git.
    pub(crate) fn generated(packages: usize, extra: &[&str]) -> Repo {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("repo");
        let status = Command::new("python3")
            .arg(generator())
            .arg("gen")
            .arg(&root)
            .args([
                "--packages",
                &packages.to_string(),
                "--files-per-package",
                "3",
            ])
            .args(["--work-ms", "0"])
            .args(extra)
            .stdout(std::process::Stdio::null())
            .status()
            .expect("python3 runs the generator");
        assert!(status.success(), "generator failed");
        Repo { _tmp: tmp, root }
    }

    /// An npm workspace whose packages are `pkgs/*`: just the root `package.json`; add a
    /// pipeline and packages with [`Repo::write`], then [`Repo::commit`].
    pub(crate) fn npm_workspace() -> Repo {
        let repo = Repo::empty();
        repo.write(
            "package.json",
            r#"{ "name": "root", "private": true, "workspaces": ["pkgs/*"], "packageManager": "npm@11.19.1" }"#,
        );
        repo
    }

    /// An empty directory; fill it with [`Repo::write`] then [`Repo::commit`].
    pub(crate) fn empty() -> Repo {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("repo");
        std::fs::create_dir_all(&root).unwrap();
        Repo { _tmp: tmp, root }
    }

    pub(crate) fn write(&self, rel: &str, text: &str) -> &Self {
        let path = self.root.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
        self
    }

    pub(crate) fn read(&self, rel: &str) -> Vec<u8> {
        std::fs::read(self.root.join(rel)).unwrap()
    }

    pub(crate) fn path(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }

    /// `git init` (if needed), add everything, commit.
    pub(crate) fn commit(&self, message: &str) {
        if !self.root.join(".git").exists() {
            self.git(&["init", "-q", "-b", "main"]);
            self.git(&["config", "user.name", "kiln tests"]);
            self.git(&["config", "user.email", "tests@kiln.invalid"]);
            self.git(&["config", "commit.gpgsign", "false"]);
        }
        self.git(&["add", "-A"]);
        self.git(&[
            "commit",
            "-q",
            "--no-verify",
            "--allow-empty",
            "-m",
            message,
        ]);
    }

    pub(crate) fn git(&self, args: &[&str]) -> String {
        let out = Command::new("git")
            .args(args)
            .current_dir(&self.root)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Edit one source file of a generated package (`leaf`, `app`, `mid` or a name).
    pub(crate) fn touch(&self, package: &str) {
        let status = Command::new("python3")
            .arg(generator())
            .args(["touch"])
            .arg(&self.root)
            .args(["--package", package, "--quiet"])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// The package names whose generated build ran since the last call, sorted.
    pub(crate) fn take_exec_log(&self) -> Vec<String> {
        let path = self.root.join(".bench-exec.log");
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        let _ = std::fs::remove_file(&path);
        let mut names: Vec<String> = text.lines().map(str::to_string).collect();
        names.sort();
        names
    }

    /// The generator's metadata: every package with its direct dependencies.
    pub(crate) fn meta(&self) -> serde_json::Value {
        serde_json::from_slice(&self.read(".bench-monorepo.json")).unwrap()
    }

    pub(crate) fn kiln(&self) -> Command {
        let mut cmd = kiln_command();
        cmd.current_dir(&self.root);
        cmd
    }

    /// Runs `kiln args…` in the repo and returns its output (whatever the exit code).
    pub(crate) fn run(&self, args: &[&str]) -> Output {
        self.kiln().args(args).output().unwrap()
    }

    /// Runs `kiln args…` and asserts it succeeded.
    pub(crate) fn run_ok(&self, args: &[&str]) -> Output {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "kiln {args:?} failed ({:?})\n--- stdout\n{}\n--- stderr\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }
}

/// The real `kiln` binary, with an environment that does not leak the developer's settings.
pub(crate) fn kiln_command() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kiln"));
    cmd.env_remove("KILN_CACHE")
        .env("NO_COLOR", "1")
        .env_remove("RUST_LOG")
        .env_remove("CI")
        .env_remove("GITHUB_ACTIONS")
        .env_remove("KILN_LIVE");
    cmd
}

/// The real Turborepo binary, installed from npm into `tools/turbo` by `scripts/test`.
pub(crate) fn turbo_bin() -> PathBuf {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tools/turbo/node_modules/.bin/turbo");
    assert!(
        path.exists(),
        "the real turbo is not installed at {}: run `npm ci --prefix tools/turbo` (scripts/test does)",
        path.display()
    );
    path
}

pub(crate) fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub(crate) fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Every file under `dir` (relative path → bytes), for byte-for-byte comparisons.
pub(crate) fn snapshot_tree(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let entry = entry.unwrap();
            let path = entry.path();
            let ft = entry.file_type().unwrap();
            if ft.is_dir() {
                stack.push(path);
            } else {
                let rel = path
                    .strip_prefix(dir)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                out.push((rel, std::fs::read(&path).unwrap()));
            }
        }
    }
    out.sort();
    out
}

/// All `dist/` trees of a generated monorepo.
pub(crate) fn dist_trees(repo: &Repo) -> Vec<(String, Vec<u8>)> {
    let mut all = Vec::new();
    let packages = repo.root.join("packages");
    let mut names: Vec<_> = std::fs::read_dir(&packages)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    for name in names {
        let dist = packages.join(&name).join("dist");
        if dist.exists() {
            for (rel, bytes) in snapshot_tree(&dist) {
                all.push((format!("{name}/dist/{rel}"), bytes));
            }
        }
    }
    all
}

/// Every artifact blob in the repo's local cache.
pub(crate) fn artifact_blobs(repo: &Repo) -> Vec<PathBuf> {
    let mut blobs = Vec::new();
    let mut stack = vec![repo.path(".kiln/cache")];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.to_string_lossy().ends_with(".tar.zst") {
                blobs.push(p);
            }
        }
    }
    blobs.sort();
    blobs
}

/// A kiln run in the background whose stdout is read line by line, to interrupt it once
/// its tasks say they are ready.
pub(crate) struct Running {
    child: std::process::Child,
    lines: std::io::Lines<std::io::BufReader<std::process::ChildStdout>>,
}

impl Running {
    /// Starts `cmd` with stdout piped and stderr dropped.
    pub(crate) fn start(cmd: &mut Command) -> Running {
        use std::io::BufRead;
        let mut child = cmd
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
        Running { child, lines }
    }

    /// Reads until `count` lines ending with `suffix` were printed.
    pub(crate) fn wait_for(&mut self, count: usize, suffix: &str) {
        let mut seen = 0;
        while seen < count {
            let line = self
                .lines
                .next()
                .unwrap_or_else(|| panic!("kiln's output ended before {count} × `{suffix}`"))
                .unwrap();
            if line.ends_with(suffix) {
                seen += 1;
            }
        }
    }

    /// Reads the rest of the output and waits for the exit.
    pub(crate) fn wait(mut self) -> std::process::ExitStatus {
        for _ in self.lines.by_ref() {}
        self.child.wait().unwrap()
    }

    /// Sends SIGINT (as Ctrl-C does), reads the rest of the output and waits for the exit.
    pub(crate) fn interrupt(mut self) -> std::process::ExitStatus {
        let status = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        for _ in self.lines.by_ref() {}
        self.child.wait().unwrap()
    }
}
