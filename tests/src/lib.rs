//! Harness for the end-to-end tests: builds and starts the real `msnbnc`
//! and `msn-worker`, writes their configuration into a private directory,
//! and watches their logs. Everything listens on loopback only.
#![forbid(unsafe_code)]

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

pub mod client_drivers;
pub mod http;
pub mod irc;
pub mod msn_env;
pub mod notify;
pub mod worker;

pub struct Binaries {
    pub msnbnc: PathBuf,
    pub worker: PathBuf,
}

/// `target/<profile>` of the running test binary.
fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap_or_default();
    // target/<profile>/deps/<test>-<hash>
    exe.parent()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("target/debug"))
}

/// Builds `msnbnc` and `msn-worker` once per test process (a no-op when
/// `cargo test` already built them) and returns their paths.
pub fn binaries() -> &'static Binaries {
    static BINS: OnceLock<Binaries> = OnceLock::new();
    BINS.get_or_init(|| {
        let mut dir = profile_dir();
        let cargo = option_env!("CARGO").unwrap_or("cargo");
        let mut cmd = Command::new(cargo);
        cmd.args(["build", "--quiet", "-p", "msnbnc", "-p", "msn-worker"]);
        if dir.file_name().is_some_and(|n| n == "release") {
            // A benchmark's build of the library differs from the release
            // binaries' (link-time optimisation across crates): built in
            // one directory, each would rebuild the other every run.
            let own = dir.with_file_name("release-binaries");
            cmd.arg("--release").arg("--target-dir").arg(&own);
            dir = own.join("release");
        }
        let status = cmd
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .unwrap_or_else(|e| panic!("cannot run {cargo}: {e}"));
        assert!(status.success(), "building msnbnc and msn-worker failed");
        // The worker runs as `nobody` when the tests run as root, and the
        // checkout may live where nobody cannot reach (/root): run copies
        // from a world-readable directory.
        remove_stale_copies();
        let shared = std::env::temp_dir().join(format!("{COPIES_PREFIX}{}", std::process::id()));
        let _ = std::fs::create_dir_all(&shared);
        let _ = std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o755));
        let copy = |path: PathBuf| -> PathBuf {
            let Some(name) = path.file_name() else { return path };
            let target = shared.join(name);
            match std::fs::copy(&path, &target) {
                Ok(_) => target,
                Err(e) => panic!("cannot copy {} to {}: {e}", path.display(), target.display()),
            }
        };
        Binaries {
            msnbnc: copy(dir.join("msnbnc")),
            worker: copy(dir.join("msn-worker")),
        }
    })
}

const COPIES_PREFIX: &str = "msnbnc-test-bins-";

/// Removes binary copies left by test processes that have ended.
fn remove_stale_copies() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(|n| n.strip_prefix(COPIES_PREFIX)) else {
            continue;
        };
        if pid.parse::<u32>().is_ok_and(|pid| !process_alive(pid)) {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// A test program of this package, copied where the worker user can run it.
pub fn shared_copy(path: &str) -> PathBuf {
    let shared = binaries()
        .worker
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let source = Path::new(path);
    let target = shared.join(source.file_name().unwrap_or_default());
    if !target.exists() {
        if let Err(e) = std::fs::copy(source, &target) {
            panic!("cannot copy {path}: {e}");
        }
    }
    target
}

/// A private directory the worker (which may run as `nobody`) can traverse.
pub struct TestDir {
    dir: tempfile::TempDir,
}

impl TestDir {
    pub fn new() -> TestDir {
        let dir = tempfile::Builder::new()
            .prefix("msnbnc-test-")
            .tempdir()
            .unwrap_or_else(|e| panic!("cannot create a temporary directory: {e}"));
        let _ = std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755));
        TestDir { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, text).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
        path
    }

    /// A world-writable subdirectory, for scripts that run as the worker user.
    pub fn shared_subdir(&self, name: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        let _ = std::fs::create_dir(&path);
        let _ = std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o777));
        path
    }

    /// A worker wrapper: the first start runs `fake-worker MODE`, every
    /// later start runs the real worker. Lets a test see a misbehaving
    /// worker replaced by a good one.
    pub fn flaky_worker(&self, fake_worker: &str, mode: &str) -> PathBuf {
        let state = self.shared_subdir("flaky-state");
        let marker = state.join("misbehaved");
        let script = format!(
            "#!/bin/sh\nif [ -e '{marker}' ]; then exec '{real}' \"$@\"; fi\n: > '{marker}'\nexec '{fake}' '{mode}'\n",
            marker = marker.display(),
            real = binaries().worker.display(),
            fake = shared_copy(fake_worker).display(),
        );
        let path = self.write("flaky-worker.sh", &script);
        let _ = std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755));
        path
    }
}

impl Default for TestDir {
    fn default() -> Self {
        TestDir::new()
    }
}

/// A TCP server on loopback that accepts connections and never says a
/// word: an MSN server that keeps the worker "logging in" indefinitely, for
/// tests about the worker process rather than the protocol. One per test
/// process, alive as long as it is.
pub fn silent_server_port() -> u16 {
    static PORT: OnceLock<u16> = OnceLock::new();
    *PORT.get_or_init(|| {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap_or_else(|e| panic!("cannot bind a loopback listener: {e}"));
        let port = listener.local_addr().map(|a| a.port()).unwrap_or(0);
        std::thread::spawn(move || {
            let mut held = Vec::new();
            for conn in listener.incoming().flatten() {
                held.push(conn);
                // Bounded: forget the oldest connections.
                if held.len() > 256 {
                    held.remove(0);
                }
            }
        });
        port
    })
}

/// A database path no other test uses (in this process's private directory).
pub fn fresh_store_path() -> PathBuf {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = binaries()
        .worker
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(std::env::temp_dir);
    dir.join(format!("store-{n}.db"))
}

/// A configuration with fast timings for tests; `worker_extra` lines go
/// into `[worker]`. The MSN server is [`silent_server_port`].
pub fn config_text(worker_path: &Path, worker_extra: &str) -> String {
    let port = silent_server_port();
    let store = fresh_store_path();
    format!(
        r#"[account]
handle = "support@example.com"
password = "correct horse, battery%staple"

[msn]
servers = ["127.0.0.1:{port}"]
passport_login = "https://127.0.0.1:{port}/login"

[store]
path = "{store}"

[irc]
listen = ["127.0.0.1:0"]

[worker]
path = "{}"
user = "nobody"
heartbeat_interval_secs = 1
heartbeat_timeout_secs = 3
restart_initial_secs = 1
restart_max_secs = 4
{worker_extra}
"#,
        worker_path.display(),
        store = store.display(),
    )
}

/// A running `msnbnc`, its stderr collected line by line.
pub struct Bouncer {
    child: Child,
    log: Arc<Mutex<Vec<String>>>,
}

impl Bouncer {
    pub fn start(args: &[&str], env: &[(&str, &str)]) -> Bouncer {
        let mut cmd = Command::new(&binaries().msnbnc);
        cmd.args(args)
            .env("RUST_LOG", "info")
            .env_remove("NOTIFY_SOCKET")
            .env_remove("WATCHDOG_USEC")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().unwrap_or_else(|e| panic!("cannot start msnbnc: {e}"));
        let log = Arc::new(Mutex::new(Vec::new()));
        if let Some(stderr) = child.stderr.take() {
            let log = Arc::clone(&log);
            std::thread::spawn(move || {
                for line in BufReader::new(stderr).lines() {
                    let Ok(line) = line else { break };
                    if std::env::var_os("MSNBNC_TEST_ECHO").is_some() {
                        eprintln!("{line}");
                    }
                    if let Ok(mut log) = log.lock() {
                        log.push(line);
                    }
                }
            });
        }
        Bouncer { child, log }
    }

    pub fn run(config: &Path) -> Bouncer {
        Bouncer::start(&["run", "--config", &config.to_string_lossy()], &[])
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn lines(&self) -> Vec<String> {
        self.log.lock().map(|l| l.clone()).unwrap_or_default()
    }

    pub fn log_len(&self) -> usize {
        self.log.lock().map(|l| l.len()).unwrap_or(0)
    }

    /// Waits for a log line at index `from` or later containing `needle`;
    /// returns its index and text.
    pub fn wait_for_from(
        &self,
        from: usize,
        needle: &str,
        timeout: Duration,
    ) -> anyhow::Result<(usize, String)> {
        let deadline = Instant::now() + timeout;
        loop {
            let lines = self.lines();
            if let Some((i, l)) = lines
                .iter()
                .enumerate()
                .skip(from)
                .find(|(_, l)| l.contains(needle))
            {
                return Ok((i, l.clone()));
            }
            if Instant::now() > deadline {
                bail!(
                    "no log line containing {needle:?} within {timeout:?}; log:\n{}",
                    lines.join("\n")
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn wait_for(&self, needle: &str, timeout: Duration) -> anyhow::Result<(usize, String)> {
        self.wait_for_from(0, needle, timeout)
    }

    /// Waits for the next "worker ready" after log index `from`; returns
    /// the index and the worker's pid.
    pub fn wait_worker_ready(&self, from: usize, timeout: Duration) -> anyhow::Result<(usize, u32)> {
        let (i, line) = self.wait_for_from(from, "worker ready worker_pid=", timeout)?;
        Ok((i, worker_pid(&line).ok_or_else(|| anyhow!("no pid in {line:?}"))?))
    }

    pub fn signal(&self, sig: Signal) {
        let _ = kill(Pid::from_raw(self.child.id() as i32), sig);
    }

    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    pub fn wait_exit(&mut self, timeout: Duration) -> anyhow::Result<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().context("waiting for msnbnc")? {
                return Ok(status);
            }
            if Instant::now() > deadline {
                bail!("msnbnc did not exit within {timeout:?}");
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Bouncer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The `worker_pid=N` field of a log line.
pub fn worker_pid(line: &str) -> Option<u32> {
    let rest = &line[line.find("worker_pid=")? + "worker_pid=".len()..];
    rest.split(|c: char| !c.is_ascii_digit()).next()?.parse().ok()
}

/// Whether a process exists (and is not a zombie).
pub fn process_alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
        Err(_) => false,
    }
}

pub fn signal_pid(pid: u32, sig: Signal) {
    let _ = kill(Pid::from_raw(pid as i32), sig);
}

/// Creates a staff account with `msnbnc user add` (password on stdin).
pub fn add_staff(config: &Path, name: &str, password: &str, admin: bool) {
    use std::io::Write;
    let mut cmd = Command::new(&binaries().msnbnc);
    cmd.arg("user").arg("--config").arg(config).args(["add", name]);
    if admin {
        cmd.arg("--admin");
    }
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run msnbnc user add: {e}"));
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(format!("{password}\n").as_bytes());
    }
    assert!(
        child.wait().is_ok_and(|s| s.success()),
        "msnbnc user add {name} failed"
    );
}

/// Runs `msnbnc` to completion; returns its exit status, stdout and stderr.
pub fn run_msnbnc(args: &[&str]) -> (ExitStatus, String, String) {
    let out = Command::new(&binaries().msnbnc)
        .args(args)
        .env_remove("NOTIFY_SOCKET")
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run msnbnc: {e}"));
    (
        out.status,
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Runs a benchmark's async body on a two-thread runtime; a failure is
/// printed and exits non-zero.
pub fn run_bench(bench: impl std::future::Future<Output = anyhow::Result<()>>) {
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("benchmark failed: cannot start a runtime: {e}");
            std::process::exit(1);
        }
    };
    if let Err(e) = rt.block_on(bench) {
        eprintln!("benchmark failed: {e:#}");
        std::process::exit(1);
    }
}
