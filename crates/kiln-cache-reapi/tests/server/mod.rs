//! A real BuildGrid (`bgd server start`) serving CAS, ByteStream and the action cache on a free
//! loopback port, from `tools/buildgrid/cas-ac.yml` with the port and storage dir filled in.

use std::path::PathBuf;
use std::process::{Command, Stdio};

use kiln_testkit::{ServerProcess, free_port, repo_root, tool};

pub(crate) const INSTALL: &str = "python3 -m venv tools/buildgrid/.venv && \
    tools/buildgrid/.venv/bin/pip install -r tools/buildgrid/requirements.txt";

pub(crate) struct Bgd {
    process: ServerProcess,
}

impl Bgd {
    pub(crate) fn start() -> Self {
        Self::start_with(|config| config)
    }

    /// Starts a server whose config text went through `edit` first.
    pub(crate) fn start_with(edit: impl FnOnce(String) -> String) -> Self {
        let bgd = tool("KILN_BGD", "buildgrid/.venv/bin/bgd", "bgd", INSTALL);
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let template =
            fs_err::read_to_string(repo_root().join("tools/buildgrid/cas-ac.yml")).unwrap();
        let config = edit(
            template
                .replace("@PORT@", &port.to_string())
                .replace("@DIR@", dir.path().to_str().unwrap()),
        );
        let config_path = dir.path().join("config.yml");
        fs_err::write(&config_path, config).unwrap();
        let log = fs_err::File::create(dir.path().join("bgd.log")).unwrap();
        let mut command = Command::new(bgd);
        command
            .args(["server", "start"])
            .arg(&config_path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(log.into_parts().0));
        Self {
            process: ServerProcess::spawn("bgd", command, port, dir),
        }
    }

    /// The store URL, on the `main` instance of the config.
    pub(crate) fn url(&self) -> String {
        format!("{}?instance=main", self.process.url("grpc"))
    }

    /// Where the disk storage keeps the blob with SHA-256 `hash`.
    pub(crate) fn blob_file(&self, hash: &str) -> PathBuf {
        self.process
            .dir()
            .join("cas/cas/objects")
            .join(&hash[..2])
            .join(&hash[2..])
    }
}
