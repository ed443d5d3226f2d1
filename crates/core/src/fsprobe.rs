//! Why a directory does not take writes, said in the OS's words. Storage
//! libraries often lose the OS error behind a generic one ("unable to open
//! database file", "An index writer was killed"); a small probe write in
//! the same directory recovers it (a read-only mount, a full disk,
//! missing permissions), so the message can name the cause.

use std::path::Path;

/// Bytes the probe writes: enough to need a fresh block on a full disk.
const PROBE_BYTES: usize = 64 * 1024;

/// `Some(" (writing in DIR fails: CAUSE)")` when a probe write in `dir`
/// fails, else `None`. The probe file is removed again.
pub fn unwritable(dir: &Path) -> Option<String> {
    if !dir.is_dir() {
        return None;
    }
    let probe = dir.join(".mw-write-probe");
    let written = std::fs::write(&probe, vec![0u8; PROBE_BYTES]);
    let _ = std::fs::remove_file(&probe);
    written
        .err()
        .map(|e| format!(" (writing in {} fails: {e})", dir.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_writable_directory_says_nothing_and_keeps_no_probe() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(unwritable(dir.path()), None);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
        assert_eq!(unwritable(&dir.path().join("missing")), None);
    }
}
