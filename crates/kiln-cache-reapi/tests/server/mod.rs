//! A real BuildGrid (`bgd server start`) serving CAS, ByteStream and the action cache on a free
//! loopback port, from `tools/buildgrid/cas-ac.yml` with the port and storage dir filled in.

use kiln_testkit::ServerProcess;
use std::path::PathBuf;

pub(crate) struct Bgd {
    process: ServerProcess,
}

impl Bgd {
    pub(crate) fn start() -> Self {
        Self::start_with(|config| config)
    }

    /// Starts a server whose config text went through `edit` first.
    pub(crate) fn start_with(edit: impl FnOnce(String) -> String) -> Self {
        Self {
            process: kiln_testkit::servers::buildgrid(edit),
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
