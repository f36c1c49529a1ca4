//! Where a blob is staged on its way into a store: a temp file in the store's scratch
//! directory, for a fresh [`crate::pack`] and for every remote tier's download alike.

use std::fs::File;
use std::io;
use std::path::Path;

use tempfile::TempPath;

/// A new, empty temp file `<prefix>….tar.zst` in `scratch_dir` (created if missing), to
/// stage a blob in: the open file to write it with, and its path.
///
/// Why every pack and download goes through here: the blob is staged beside the local store
/// ([`crate::LocalStore::scratch_dir`], same filesystem), so putting it in the store is a
/// hard link and an atomic rename, never a copy, and no reader ever sees half an entry; and
/// it is held by a [`TempPath`], so a download that fails, is refused or is abandoned is
/// removed when the path is dropped, never left to be mistaken for an entry.
///
/// `prefix` says who staged it (`.pack-`, or the tier: `.http-`, `.s3-`, …). Only the local
/// store's own prefixes are swept when a killed process leaves a file behind (see
/// [`crate::STALE_TEMP_AGE`]). A failure to create the file names `scratch_dir`.
pub fn temp_in(scratch_dir: &Path, prefix: &str) -> io::Result<(File, TempPath)> {
    fs_err::create_dir_all(scratch_dir)?;
    let temp = tempfile::Builder::new()
        .prefix(prefix)
        .suffix(".tar.zst")
        .tempfile_in(scratch_dir)
        .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", scratch_dir.display())))?;
    Ok(temp.into_parts())
}

#[cfg(test)]
mod tests {
    use super::temp_in;

    #[test]
    fn creates_the_directory_and_removes_the_file_on_drop() {
        let dir = tempfile::tempdir().unwrap();
        let scratch = dir.path().join("tmp");
        let (file, path) = temp_in(&scratch, ".test-").unwrap();
        drop(file);
        let name = path.file_name().unwrap().to_str().unwrap().to_string();
        assert!(
            name.starts_with(".test-") && name.ends_with(".tar.zst"),
            "{name}"
        );
        assert_eq!(path.parent(), Some(scratch.as_path()));
        let kept = path.to_path_buf();
        drop(path);
        assert!(!kept.exists());
    }

    #[test]
    fn a_failure_names_the_scratch_directory() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a-file");
        fs_err::write(&file, "").unwrap();
        let error = temp_in(&file, ".test-").unwrap_err().to_string();
        assert!(error.contains(&*file.to_string_lossy()), "{error}");
    }
}
