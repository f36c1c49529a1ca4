//! A task's log as read from an artifact: in memory when small, spilled to a temp file in
//! the store's scratch directory when large. A build that prints 100 MB must not cost
//! several times that in memory to replay: the log is read back line by line from disk.

use std::io::{self, BufRead, Read};
use std::path::Path;

use tempfile::{Builder, TempPath};

/// Logs larger than this are spilled to disk by a restore.
pub const SPILL_OVER: u64 = 1 << 20;

/// Prefix of spilled logs in the scratch directory (cleaned like any temp file there).
pub(crate) const SPILL_PREFIX: &str = ".log-";

/// A captured log, to replay.
#[derive(Debug)]
pub enum TaskLog {
    Memory(Vec<u8>),
    /// In a temp file, removed when this is dropped.
    Spilled {
        path: TempPath,
        len: u64,
    },
}

impl Default for TaskLog {
    fn default() -> Self {
        TaskLog::Memory(Vec::new())
    }
}

impl TaskLog {
    /// Reads `len` bytes of `reader` into memory, or into a temp file in `scratch` when
    /// larger than [`SPILL_OVER`].
    pub(crate) fn read(mut reader: impl Read, len: u64, scratch: &Path) -> io::Result<Self> {
        if len <= SPILL_OVER {
            let mut bytes = Vec::with_capacity(len as usize);
            reader.read_to_end(&mut bytes)?;
            return Ok(TaskLog::Memory(bytes));
        }
        fs_err::create_dir_all(scratch)?;
        let mut file = Builder::new().prefix(SPILL_PREFIX).tempfile_in(scratch)?;
        let len = io::copy(&mut reader, file.as_file_mut())?;
        Ok(TaskLog::Spilled {
            path: file.into_temp_path(),
            len,
        })
    }

    pub fn len(&self) -> u64 {
        match self {
            TaskLog::Memory(bytes) => bytes.len() as u64,
            TaskLog::Spilled { len, .. } => *len,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The bytes, when the log is in memory.
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            TaskLog::Memory(bytes) => Some(bytes),
            TaskLog::Spilled { .. } => None,
        }
    }

    /// The whole log in memory (reading a spilled one back): for small logs and tests.
    pub fn to_vec(&self) -> io::Result<Vec<u8>> {
        match self {
            TaskLog::Memory(bytes) => Ok(bytes.clone()),
            TaskLog::Spilled { path, .. } => fs_err::read(path),
        }
    }

    /// A buffered reader over the log.
    pub fn reader(&self) -> io::Result<Box<dyn BufRead + '_>> {
        Ok(match self {
            TaskLog::Memory(bytes) => Box::new(bytes.as_slice()),
            TaskLog::Spilled { path, .. } => Box::new(io::BufReader::with_capacity(
                64 * 1024,
                fs_err::File::open(path)?,
            )),
        })
    }

    /// Calls `each` with every line, without its `\n` (or `\r\n`); a final newline makes no
    /// empty last line. Holds one line at a time.
    pub fn for_each_line(&self, mut each: impl FnMut(&[u8])) -> io::Result<()> {
        let mut reader = self.reader()?;
        let mut line = Vec::new();
        loop {
            line.clear();
            if reader.read_until(b'\n', &mut line)? == 0 {
                return Ok(());
            }
            let text = line.strip_suffix(b"\n").unwrap_or(&line);
            each(text.strip_suffix(b"\r").unwrap_or(text));
        }
    }

    /// Writes the log to `path` (copying a spilled one file to file).
    pub fn write_to(&self, path: &Path) -> io::Result<()> {
        match self {
            TaskLog::Memory(bytes) => fs_err::write(path, bytes),
            TaskLog::Spilled { path: from, .. } => fs_err::copy(from, path).map(|_| ()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(log: &TaskLog) -> Vec<String> {
        let mut out = Vec::new();
        log.for_each_line(|l| out.push(String::from_utf8_lossy(l).into_owned()))
            .unwrap();
        out
    }

    #[test]
    fn small_logs_stay_in_memory_and_large_ones_go_to_disk() {
        let dir = tempfile::tempdir().unwrap();
        let small = TaskLog::read(&b"a\r\n\nb\n"[..], 6, dir.path()).unwrap();
        assert_eq!(small.as_bytes(), Some(&b"a\r\n\nb\n"[..]));
        assert_eq!(lines(&small), ["a", "", "b"]);

        let big: Vec<u8> = (0..SPILL_OVER + 10)
            .map(|i| if i % 100 == 99 { b'\n' } else { b'x' })
            .collect();
        let spilled = TaskLog::read(big.as_slice(), big.len() as u64, dir.path()).unwrap();
        assert!(spilled.as_bytes().is_none(), "on disk");
        assert_eq!(spilled.len(), big.len() as u64);
        assert_eq!(spilled.to_vec().unwrap(), big);
        assert_eq!(lines(&spilled).len(), big.len().div_ceil(100));
        let copy = dir.path().join("copy.log");
        spilled.write_to(&copy).unwrap();
        assert_eq!(fs_err::read(&copy).unwrap(), big);
        let TaskLog::Spilled { path, .. } = &spilled else {
            unreachable!()
        };
        let path = path.to_path_buf();
        drop(spilled);
        assert!(!path.exists(), "removed with the log");
        assert!(lines(&TaskLog::default()).is_empty());
    }
}
