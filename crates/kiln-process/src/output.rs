//! Capturing a task's output: one pipe, split into lines as they arrive, all bytes kept.
//!
//! The reader runs on the caller's thread and `poll`s two descriptors: the output pipe, and a
//! "leader exited" pipe whose write end the waiter thread closes once the task's main process
//! has exited and its group was killed. Normally the output pipe reaches end-of-file right
//! then. A process that left the group (`setsid`, a daemon) may still hold the pipe open: we
//! then keep draining only while it keeps talking, and give up after [`DRAIN_IDLE`] of
//! silence or [`DRAIN_MAX`] in total, so a task never hangs on an escaped grandchild.

use std::io::{self, PipeReader, Read};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

/// After the leader exited: stop reading once the pipe has been silent this long.
pub(crate) const DRAIN_IDLE: Duration = Duration::from_millis(200);
/// After the leader exited: stop reading after this long whatever happens.
pub(crate) const DRAIN_MAX: Duration = Duration::from_secs(2);

/// Cuts a byte stream into lines and keeps every byte.
///
/// Lines are delivered without their `\n` (and without a `\r` before it, so CRLF output
/// displays cleanly); the kept bytes are exactly what the process wrote. A final line
/// without a newline is delivered by [`LineSplitter::finish`]. Lines of any length are
/// delivered whole: the search for `\n` only scans new bytes, so long lines cost linear time.
#[derive(Debug, Default)]
pub(crate) struct LineSplitter {
    bytes: Vec<u8>,
    line_start: usize,
}

impl LineSplitter {
    pub(crate) fn push(&mut self, chunk: &[u8], on_line: &mut dyn FnMut(&[u8])) {
        let scanned = self.bytes.len();
        self.bytes.extend_from_slice(chunk);
        let mut from = scanned;
        while let Some(offset) = self.bytes[from..].iter().position(|&b| b == b'\n') {
            let end = from + offset;
            on_line(trim_cr(&self.bytes[self.line_start..end]));
            self.line_start = end + 1;
            from = end + 1;
        }
    }

    pub(crate) fn finish(self, on_line: &mut dyn FnMut(&[u8])) -> Vec<u8> {
        if self.line_start < self.bytes.len() {
            on_line(trim_cr(&self.bytes[self.line_start..]));
        }
        self.bytes
    }
}

fn trim_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// Reads `output` until end-of-file (or the drain limits after `leader_exited` closes),
/// delivering lines as they come. When `deadline` passes first, calls `on_deadline` once
/// (which kills the group) and carries on reading until the leader is gone.
pub(crate) fn capture(
    mut output: PipeReader,
    leader_exited: PipeReader,
    deadline: Option<Instant>,
    mut on_deadline: impl FnMut(),
    on_line: &mut dyn FnMut(&[u8]),
) -> io::Result<Vec<u8>> {
    let mut lines = LineSplitter::default();
    let mut buf = vec![0u8; 64 * 1024];
    let mut deadline = deadline;
    let mut exited_at: Option<Instant> = None;
    let mut last_data = Instant::now();
    loop {
        let now = Instant::now();
        let wait = match exited_at {
            Some(exited) => {
                let idle_left = DRAIN_IDLE.saturating_sub(now - last_data);
                let total_left = DRAIN_MAX.saturating_sub(now - exited);
                if idle_left.is_zero() || total_left.is_zero() {
                    tracing::warn!(
                        "a process that left the task's process group still holds its output \
                         open; no longer reading it"
                    );
                    break;
                }
                Some(idle_left.min(total_left))
            }
            None => deadline.map(|d| d.saturating_duration_since(now)),
        };
        let mut fds = [
            libc::pollfd {
                fd: output.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                // A negative fd is skipped by poll: stop watching once the leader has exited.
                fd: if exited_at.is_some() {
                    -1
                } else {
                    leader_exited.as_raw_fd()
                },
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        let ready = poll(&mut fds, wait)?;
        if ready == 0 {
            if exited_at.is_none() && deadline.take().is_some() {
                on_deadline();
            }
            continue;
        }
        if fds[0].revents != 0 {
            match output.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    lines.push(&buf[..n], on_line);
                    last_data = Instant::now();
                }
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                Err(err) => return Err(err),
            }
        }
        if fds[1].revents != 0 && exited_at.is_none() {
            exited_at = Some(Instant::now());
            last_data = Instant::now();
        }
    }
    Ok(lines.finish(on_line))
}

fn poll(fds: &mut [libc::pollfd], wait: Option<Duration>) -> io::Result<usize> {
    // Round up so a deadline 0.4 ms away does not spin with a 0 ms timeout.
    let timeout = wait.map_or(-1, |w| {
        i32::try_from(w.as_micros().div_ceil(1000)).unwrap_or(i32::MAX)
    });
    loop {
        // SAFETY: `fds` is a valid, exclusively borrowed slice of pollfd for the whole call.
        let rc = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout) };
        if rc >= 0 {
            return Ok(rc as usize);
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(chunks: &[&[u8]]) -> (Vec<Vec<u8>>, Vec<u8>) {
        let mut lines = Vec::new();
        let mut splitter = LineSplitter::default();
        let mut on_line = |line: &[u8]| lines.push(line.to_vec());
        for chunk in chunks {
            splitter.push(chunk, &mut on_line);
        }
        let all = splitter.finish(&mut on_line);
        (lines, all)
    }

    #[test]
    fn lines_split_across_chunks_are_joined() {
        let (lines, all) = split(&[b"he", b"llo\nwor", b"ld\n\n"]);
        assert_eq!(lines, [b"hello".to_vec(), b"world".to_vec(), b"".to_vec()]);
        assert_eq!(all, b"hello\nworld\n\n");
    }

    #[test]
    fn a_final_line_without_newline_is_delivered() {
        let (lines, _) = split(&[b"a\nlast"]);
        assert_eq!(lines, [b"a".to_vec(), b"last".to_vec()]);
    }

    #[test]
    fn crlf_is_trimmed_for_display_but_kept_in_the_log() {
        let (lines, all) = split(&[b"dos\r\n"]);
        assert_eq!(lines, [b"dos".to_vec()]);
        assert_eq!(all, b"dos\r\n");
    }

    #[test]
    fn non_utf8_bytes_pass_through() {
        let (lines, all) = split(&[b"\xff\xfe ok\n"]);
        assert_eq!(lines, [b"\xff\xfe ok".to_vec()]);
        assert_eq!(all, b"\xff\xfe ok\n");
    }
}
