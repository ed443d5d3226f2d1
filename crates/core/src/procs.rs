//! Finding and running the external servers a cluster (and its tests)
//! start: PostgreSQL and NATS.

use std::path::PathBuf;
use std::process::Command;

/// Finds a server binary on `PATH`, then in `/usr/lib/postgresql/*/bin`
/// (Debian's PostgreSQL packages keep theirs there).
pub fn find_bin(name: &str) -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join(name))
            .find(|p| p.is_file())
    });
    on_path.or_else(|| {
        let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
            .ok()?
            .filter_map(|e| e.ok())
            .map(|e| e.path().join("bin").join(name))
            .filter(|p| p.is_file())
            .collect();
        found.sort();
        found.pop()
    })
}

/// Whether this process runs as root (PostgreSQL refuses to; it then runs
/// as the `postgres` user).
pub fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}
