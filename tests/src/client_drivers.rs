//! Real IRC clients driven by tests: WeeChat headless (its logger writes
//! every buffer to a file) and irssi in tmux (autolog for channels,
//! `capture-pane` for its status window). Each runs in a private home
//! directory against msnbnc on loopback.
//!
//! Where a client is not installed, a test says so loudly and skips —
//! unless `MSNBNC_REAL_CLIENTS=required` (set by `.ci/run`, which installs
//! them), where a missing client fails the test.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

use crate::TestDir;

/// Whether `programs` are all installed; if not, a skip is announced (or,
/// in CI, the test fails).
pub fn installed(test: &str, programs: &[&str]) -> bool {
    let missing: Vec<&str> = programs
        .iter()
        .copied()
        .filter(|p| {
            !Command::new("sh")
                .args(["-c", &format!("command -v {p}")])
                .stdout(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        })
        .collect();
    if missing.is_empty() {
        return true;
    }
    let why = format!(
        "{test}: SKIPPED — {} not installed (apt-get install irssi weechat-headless tmux)",
        missing.join(", ")
    );
    assert!(
        std::env::var("MSNBNC_REAL_CLIENTS").as_deref() != Ok("required"),
        "{why}, but MSNBNC_REAL_CLIENTS=required"
    );
    eprintln!("\n*** {why} ***\n");
    false
}

/// Waits until `read()` contains `needle`; returns what it read.
fn wait_until(
    what: &str,
    needle: &str,
    timeout: Duration,
    read: impl Fn() -> String,
) -> anyhow::Result<String> {
    let deadline = Instant::now() + timeout;
    loop {
        let text = read();
        if text.contains(needle) {
            return Ok(text);
        }
        if Instant::now() > deadline {
            bail!("{needle:?} never appeared in {what}:\n{text}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// WeeChat 3.8 headless, logging each buffer to `logs/irc.msnbnc.<buffer>.weechatlog`
/// with full timestamps.
pub struct Weechat {
    home: PathBuf,
    child: Child,
}

impl Weechat {
    /// Starts WeeChat in `home` (kept between runs, like a real user's)
    /// and connects to msnbnc as `login` (`user[@device]`), then runs
    /// `later` (e.g. `/wait 3 /names #bob`).
    pub fn start(
        home: &Path,
        port: u16,
        login: &str,
        password: &str,
        later: &[&str],
    ) -> anyhow::Result<Weechat> {
        let logs = home.join("logs");
        let nick = login.split('@').next().unwrap_or(login);
        let mut commands = vec![
            "/set logger.file.flush_delay 0".to_owned(),
            format!("/set logger.file.path {}", logs.display()),
            "/set logger.file.mask $plugin.$name.weechatlog".to_owned(),
            "/set logger.file.time_format %Y-%m-%dT%H:%M:%S".to_owned(),
            // The nick list (353) in the buffer on join, as a line.
            "/set irc.look.display_join_message 329,332,333,353,366".to_owned(),
            format!("/server add msnbnc 127.0.0.1/{port} -notls -password={login}:{password} -nicks={nick}"),
            format!("/set irc.server.msnbnc.addresses 127.0.0.1/{port}"),
            "/connect msnbnc".to_owned(),
        ];
        commands.extend(later.iter().map(|c| (*c).to_owned()));
        let child = Command::new("weechat-headless")
            .env("TZ", "UTC")
            .arg("--dir")
            .arg(home)
            .arg("--run-command")
            .arg(commands.join(";"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("starting weechat-headless")?;
        Ok(Weechat {
            home: home.to_owned(),
            child,
        })
    }

    /// What WeeChat logged of `buffer` (`#bob`, `&msn`, `server.msnbnc`).
    pub fn log(&self, buffer: &str) -> String {
        let path = self
            .home
            .join("logs")
            .join(format!("irc.msnbnc.{buffer}.weechatlog"));
        std::fs::read_to_string(path).unwrap_or_default()
    }

    pub fn wait_log(&self, buffer: &str, needle: &str, timeout: Duration) -> anyhow::Result<String> {
        wait_until(&format!("WeeChat's {buffer}"), needle, timeout, || {
            self.log(buffer)
        })
    }

    /// Quits (SIGTERM: WeeChat says QUIT and saves its configuration).
    pub fn quit(mut self) {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Weechat {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// irssi 1.4 in a tmux session of its own, autologging channels to
/// `logs/<channel>.log`.
pub struct Irssi {
    _home: TestDir,
    logs: PathBuf,
    session: String,
}

impl Irssi {
    pub fn start(port: u16, login: &str, password: &str) -> anyhow::Result<Irssi> {
        let home = TestDir::new();
        let logs = home.path().join("logs");
        let nick = login.split('@').next().unwrap_or(login);
        home.write(
            "config",
            &format!(
                "settings = {{\n  core = {{ real_name = \"{nick}\"; user_name = \"{nick}\"; nick = \"{nick}\"; }};\n  \
                 \"fe-common/core\" = {{ autolog = \"yes\"; autolog_path = \"{}/$0.log\"; autolog_level = \"all\"; }};\n}};\n",
                logs.display()
            ),
        );
        let session = format!("msnbnc-irssi-{}-{port}", std::process::id());
        let irssi = format!(
            "irssi --home={} -c 127.0.0.1 -p {port} -w {login}:{password} -n {nick}",
            home.path().display()
        );
        let status = Command::new("tmux")
            .args([
                "new-session",
                "-d",
                "-s",
                &session,
                "-x",
                "200",
                "-y",
                "50",
                &irssi,
            ])
            .status()
            .context("starting tmux")?;
        if !status.success() {
            bail!("tmux new-session failed: {status}");
        }
        Ok(Irssi {
            _home: home,
            logs,
            session,
        })
    }

    /// What irssi logged of `channel`.
    pub fn log(&self, channel: &str) -> String {
        std::fs::read_to_string(self.logs.join(format!("{channel}.log"))).unwrap_or_default()
    }

    pub fn wait_log(&self, channel: &str, needle: &str, timeout: Duration) -> anyhow::Result<String> {
        wait_until(&format!("irssi's {channel}"), needle, timeout, || {
            self.log(channel)
        })
    }

    /// Types a line into irssi.
    pub fn type_line(&self, line: &str) {
        let _ = Command::new("tmux")
            .args(["send-keys", "-t", &self.session, "-l", line])
            .status();
        let _ = Command::new("tmux")
            .args(["send-keys", "-t", &self.session, "Enter"])
            .status();
    }

    /// The screen as it is now.
    pub fn screen(&self) -> String {
        Command::new("tmux")
            .args(["capture-pane", "-p", "-t", &self.session])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default()
    }

    pub fn wait_screen(&self, needle: &str, timeout: Duration) -> anyhow::Result<String> {
        wait_until("irssi's screen", needle, timeout, || self.screen())
    }
}

impl Drop for Irssi {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["kill-session", "-t", &self.session])
            .status();
    }
}
