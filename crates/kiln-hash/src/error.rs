use std::io;
use std::path::PathBuf;

/// Everything that can go wrong while walking inputs, hashing files or saving the stat cache.
/// Every variant names the path (or glob) involved.
#[derive(Debug, thiserror::Error)]
pub enum HashError {
    #[error("package directory `{}` does not exist", path.display())]
    PackageDirMissing { path: PathBuf },

    #[error("package directory `{dir}` must be relative to the workspace root, without `..`")]
    InvalidPackageDir { dir: String },

    #[error("invalid glob `{glob}` in package `{package_dir}`")]
    InvalidGlob {
        glob: String,
        package_dir: String,
        #[source]
        source: globset::Error,
    },

    #[error(
        "glob `{glob}` in package `{package_dir}` reaches outside the package (absolute or `..`)"
    )]
    GlobOutsidePackage { glob: String, package_dir: String },

    #[error("cannot walk `{}`", path.display())]
    Walk {
        path: PathBuf,
        #[source]
        source: ignore::Error,
    },

    #[error("path `{}` is not valid UTF-8; kiln keys name files by UTF-8 paths", path.display())]
    NonUtf8Path { path: PathBuf },

    #[error("file `{}` is not under the workspace root `{}`", path.display(), root.display())]
    OutsideRoot { path: PathBuf, root: PathBuf },

    #[error("cannot hash `{}`", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    #[error("cannot save the stat cache to `{}`", path.display())]
    SaveStatCache {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}
