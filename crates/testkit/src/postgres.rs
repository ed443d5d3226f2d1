//! A throwaway PostgreSQL server for tests: `initdb` into a temporary
//! directory, started on a free loopback port, stopped and deleted on
//! drop. Real PostgreSQL, not a mock: the tests of the PostgreSQL state
//! backend run against it.
//!
//! The server binaries are looked up on `PATH`, then in
//! `/usr/lib/postgresql/*/bin` (Debian's `postgresql` package). Where none
//! is installed, [`TempPostgres::start`] returns `None` and the test says
//! it was skipped, unless `MEDIAWATCH_PG=required` (set by `.ci/run`, which
//! installs the package), which makes that a failure. PostgreSQL refuses
//! to run as root; as root the server runs as the `postgres` user.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use mediawatch_core::procs::{find_bin, is_root};

use crate::free_port;

/// A running server; stopped and removed on drop.
pub struct TempPostgres {
    dir: PathBuf,
    child: Child,
    port: u16,
}

/// `bin args...`, as the `postgres` user when we are root, in a process
/// group of its own (see [`TempPostgres::kill`]).
fn command(bin: &Path, root: bool) -> Command {
    use std::os::unix::process::CommandExt;
    let mut c = if root {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(bin);
        c
    } else {
        Command::new(bin)
    };
    c.process_group(0);
    c
}

fn required() -> bool {
    std::env::var("MEDIAWATCH_PG").is_ok_and(|v| v == "required")
}

impl TempPostgres {
    /// Starts a server, or `None` (with a note on stderr) where PostgreSQL
    /// is not installed and not required. Panics when starting fails.
    pub fn start() -> Option<TempPostgres> {
        let (Some(initdb), Some(postgres)) = (find_bin("initdb"), find_bin("postgres")) else {
            assert!(
                !required(),
                "MEDIAWATCH_PG=required but PostgreSQL's initdb/postgres are not installed"
            );
            eprintln!("skipped: PostgreSQL is not installed (apt-get install postgresql)");
            return None;
        };
        let root = is_root();
        let dir = std::env::temp_dir().join(format!(
            "mw-pg-{}-{}-{}",
            std::process::id(),
            next_serial(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0)
        ));
        std::fs::create_dir_all(&dir).expect("create the PostgreSQL directory");
        if root {
            let ok = Command::new("chown")
                .args(["postgres:postgres"])
                .arg(&dir)
                .status()
                .is_ok_and(|s| s.success());
            assert!(ok, "cannot hand {} to the postgres user", dir.display());
        }
        let data = dir.join("data");
        let out = command(&initdb, root)
            .arg("-D")
            .arg(&data)
            .args(["-A", "trust", "-U", "mw", "--no-sync", "-E", "UTF8"])
            .output()
            .expect("run initdb");
        assert!(
            out.status.success(),
            "initdb failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let port = free_port();
        let child = command(&postgres, root)
            .arg("-D")
            .arg(&data)
            .args(["-p", &port.to_string(), "-k"])
            .arg(&dir)
            .args([
                "-c",
                "listen_addresses=127.0.0.1",
                // Not flushing to disk is safe against the process kills
                // the tests make (the OS keeps what was written); commits
                // stay synchronous, so a killed server loses nothing.
                "-c",
                "fsync=off",
                "-c",
                "full_page_writes=off",
            ])
            .stdout(Stdio::null())
            .stderr(log_file(&dir))
            .spawn()
            .expect("start postgres");
        let pg = TempPostgres { dir, child, port };
        pg.wait_ready(Duration::from_secs(30));
        Some(pg)
    }

    /// `postgres://mw@127.0.0.1:<port>/postgres`.
    pub fn url(&self) -> String {
        format!("postgres://mw@127.0.0.1:{}/postgres", self.port)
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    fn wait_ready(&self, within: Duration) {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                // Accepting connections is not yet accepting queries; the
                // clients retry while the server finishes starting.
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let log = std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default();
        panic!("PostgreSQL did not start within {within:?}; its log:\n{log}");
    }

    /// Stops the server abruptly (SIGKILL to the postmaster and every
    /// backend at once), as a crash would, and waits until the port is
    /// closed. The server runs in a process group of its own, so one
    /// signal reaches all of them (as root the direct child is `runuser`,
    /// which could not pass a SIGKILL on).
    pub fn kill(&mut self) {
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill")
            .args(["-KILL", "--", &group])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok()
            && Instant::now() < deadline
        {
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Starts the server again on the same data and port, after [`kill`].
    ///
    /// [`kill`]: TempPostgres::kill
    pub fn restart(&mut self) {
        let postgres = find_bin("postgres").expect("postgres binary");
        // The killed postmaster may linger as a zombie where nothing reaps
        // orphans (PID 1 of a container), and PostgreSQL then takes its
        // lock file for a live server: it was killed, so the file goes.
        let _ = std::fs::remove_file(self.dir.join("data").join("postmaster.pid"));
        for stale in [
            format!(".s.PGSQL.{}", self.port),
            format!(".s.PGSQL.{}.lock", self.port),
        ] {
            let _ = std::fs::remove_file(self.dir.join(stale));
        }
        self.child = command(&postgres, is_root())
            .arg("-D")
            .arg(self.dir.join("data"))
            .args(["-p", &self.port.to_string(), "-k"])
            .arg(&self.dir)
            .args(["-c", "listen_addresses=127.0.0.1", "-c", "fsync=off"])
            .stdout(Stdio::null())
            .stderr(log_file(&self.dir))
            .spawn()
            .expect("restart postgres");
        self.wait_ready(Duration::from_secs(30));
    }
}

impl Drop for TempPostgres {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The server's log (stderr), appended to `dir/server.log`.
fn log_file(dir: &Path) -> Stdio {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("server.log"))
        .map(Stdio::from)
        .unwrap_or_else(|_| Stdio::null())
}

/// A serial number for directory names of servers started in one process.
fn next_serial() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}
