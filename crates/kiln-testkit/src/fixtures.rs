//! Small fixtures every cache store's tests use: a packed artifact of a package built on the
//! spot, incompressible bytes, and a variable lookup standing in for the environment.

use std::collections::HashMap;
use std::path::Path;

use kiln_cache::{ArtifactInfo, PackedArtifact, pack};

/// Packs a package under `dir` holding `files` (name under `dist/`, content) into an artifact
/// for `key` with `log`, in `dir/scratch`.
pub fn packed(dir: &Path, key: &str, files: &[(&str, Vec<u8>)], log: &[u8]) -> PackedArtifact {
    let pkg = dir.join(format!("pkg-{key}-{}", log.len()));
    std::fs::create_dir_all(&pkg).expect("package dir");
    for (name, content) in files {
        let path = pkg.join("dist").join(name);
        std::fs::create_dir_all(path.parent().expect("a parent")).expect("dist dir");
        std::fs::write(&path, content).expect("write output");
    }
    let info = ArtifactInfo {
        key: key.into(),
        duration_ms: 1234,
        exit_code: 0,
    };
    pack(
        &pkg,
        &["dist/**".into()],
        &[],
        log,
        &info,
        &dir.join("scratch"),
    )
    .expect("pack the test package")
}

/// `len` bytes zstd cannot shrink (xorshift from `seed`), so a blob really is as large as
/// asked.
pub fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// A lookup of variables for configuration read "from the environment", without touching the
/// process's own.
pub fn vars(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
    let map: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    move |name| map.get(name).cloned()
}
