//! ZNC under test: Debian's znc with Debian's ngircd as its upstream, all on
//! 127.0.0.1, started from configurations written here; a customer is an
//! IRC client on ngircd writing to ZNC's nick.
//!
//! Settings that matter (each changes the result): ngircd without flood
//! penalties (`MaxPenaltyTime = 0`), DNS, ident or PAM; ZNC with room for
//! 50 clients from one address (`AnonIPLimit`), no buffers to replay, and
//! a flood rate that does not throttle. ZNC refuses to run as root (or
//! waits 30 s), so as root it runs as `nobody`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::TcpStream;

use super::fleet::{Fleet, Upstream};

const NOBODY: u32 = 65534;
const NOGROUP: u32 = 65534;

pub struct Znc {
    dir: PathBuf,
    ngircd: Child,
    znc: Child,
    ngircd_port: u16,
    znc_port: u16,
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn installed(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}

fn version(program: &str) -> String {
    Command::new(program)
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .next()
                .map(str::to_owned)
        })
        .unwrap_or_else(|| format!("{program}: unknown version"))
}

async fn wait_port(port: u16, what: &str) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect(("127.0.0.1", port)).await.is_err() {
        if Instant::now() > deadline {
            bail!("{what} never listened on port {port}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(())
}

fn chown_tree(path: &Path) -> anyhow::Result<()> {
    nix::unistd::chown(path, Some(NOBODY.into()), Some(NOGROUP.into()))?;
    if path.is_dir() {
        for entry in std::fs::read_dir(path)? {
            chown_tree(&entry?.path())?;
        }
    }
    Ok(())
}

impl Znc {
    /// Starts ngircd and ZNC; `None` if either is not installed.
    pub async fn start() -> anyhow::Result<Option<Znc>> {
        Znc::start_with(0).await
    }

    /// With a query buffer of `buffer` lines, replayed to the next client
    /// that attaches (0: live traffic only).
    pub async fn start_with(buffer: usize) -> anyhow::Result<Option<Znc>> {
        if !installed("znc") || !installed("ngircd") {
            return Ok(None);
        }
        let dir = std::env::temp_dir().join(format!("msnbnc-bench-znc-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("ngircd.conf.d"))?;
        std::fs::create_dir_all(dir.join("znc/configs"))?;
        let (ngircd_port, znc_port) = (free_port()?, free_port()?);
        let max_buffer = buffer.max(500);
        let ngircd_conf = dir.join("ngircd.conf");
        std::fs::write(
            &ngircd_conf,
            format!(
                "[Global]\n\tName = irc.bench.local\n\tInfo = bench ngircd\n\tAdminInfo1 = bench\n\tAdminInfo2 = bench\n\tAdminEMail = bench@localhost\n\tListen = 127.0.0.1\n\tPorts = {ngircd_port}\n\tMotdPhrase = \"bench\"\n\
                 [Limits]\n\tMaxConnections = 0\n\tMaxConnectionsIP = 0\n\tMaxJoins = 0\n\tMaxNickLength = 30\n\tMaxPenaltyTime = 0\n\tPingTimeout = 600\n\tPongTimeout = 600\n\
                 [Options]\n\tDNS = no\n\tIdent = no\n\tPAM = no\n\tIncludeDir = {}\n",
                dir.join("ngircd.conf.d").display()
            ),
        )?;
        std::fs::write(
            dir.join("znc/configs/znc.conf"),
            format!(
                "Version = 1.8.2\nAnonIPLimit = 1000\nServerThrottle = 1\nConnectDelay = 0\nMaxBufferSize = {max_buffer}\n\n\
                 <Listener l>\n\tHost = 127.0.0.1\n\tPort = {znc_port}\n\tIPv4 = true\n\tIPv6 = false\n\tSSL = false\n\tAllowIRC = true\n\tAllowWeb = false\n</Listener>\n\n\
                 <User bench>\n\tPass = plain#benchpw\n\tNick = support\n\tAltNick = support_\n\tIdent = support\n\tRealName = support\n\tMultiClients = true\n\
                 \tAutoClearChanBuffer = true\n\tAutoClearQueryBuffer = true\n\tChanBufferSize = 0\n\tQueryBufferSize = {buffer}\n\tPrependTimestamp = false\n\tAppendTimestamp = false\n\n\
                 \t<Network local>\n\t\tServer = 127.0.0.1 {ngircd_port}\n\t\tIRCConnectEnabled = true\n\t\tFloodRate = 1000.00\n\t\tFloodBurst = 10000\n\t</Network>\n</User>\n"
            ),
        )?;
        let ngircd = Command::new("ngircd")
            .arg("-n")
            .arg("-f")
            .arg(&ngircd_conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("starting ngircd")?;
        wait_port(ngircd_port, "ngircd").await?;
        let datadir = dir.join("znc");
        let mut cmd = Command::new("znc");
        cmd.arg("--foreground")
            .arg("--datadir")
            .arg(&datadir)
            .env_clear()
            .env("HOME", &datadir)
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if nix::unistd::geteuid().is_root() {
            use std::os::unix::process::CommandExt;
            std::fs::set_permissions(&dir, std::os::unix::fs::PermissionsExt::from_mode(0o755))?;
            chown_tree(&datadir)?;
            cmd.uid(NOBODY).gid(NOGROUP);
        }
        let znc = cmd.spawn().context("starting znc")?;
        let me = Znc {
            dir,
            ngircd,
            znc,
            ngircd_port,
            znc_port,
        };
        wait_port(znc_port, "znc").await?;
        // ZNC is ready when its nick is on ngircd.
        let mut probe = IrcCustomer::connect(ngircd_port, "probe", "support").await?;
        let deadline = Instant::now() + Duration::from_secs(30);
        while !probe.ison("support").await? {
            if Instant::now() > deadline {
                bail!("ZNC never connected to ngircd");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(Some(me))
    }

    pub fn versions(&self) -> String {
        format!("{}; {}", version("znc"), version("ngircd"))
    }

    pub fn znc_port(&self) -> u16 {
        self.znc_port
    }

    pub fn znc_pid(&self) -> u32 {
        self.znc.id()
    }

    pub fn ngircd_pid(&self) -> u32 {
        self.ngircd.id()
    }

    /// K clients attached to ZNC's one user and network.
    pub async fn fleet(&self, k: usize) -> anyhow::Result<Fleet> {
        Fleet::attach(
            self.znc_port,
            k,
            |i| {
                vec![
                    "PASS bench/local:benchpw".to_owned(),
                    format!("NICK c{i}"),
                    format!("USER c{i} 0 * :c"),
                ]
            },
            " 376 ",
        )
        .await
    }

    /// A customer on ngircd writing to ZNC's nick.
    pub async fn customer(&self) -> anyhow::Result<IrcCustomer> {
        IrcCustomer::connect(self.ngircd_port, "customer", "support").await
    }

    /// The upstream hop alone: customer → ngircd → one client on ngircd;
    /// one sample per message, in ms.
    pub async fn ngircd_alone(&self, n: usize) -> anyhow::Result<Vec<f64>> {
        let mut fleet = Fleet::attach(
            self.ngircd_port,
            1,
            |_| vec!["NICK direct".to_owned(), "USER direct 0 * :d".to_owned()],
            " 376 ",
        )
        .await?;
        let mut up = IrcCustomer::connect(self.ngircd_port, "direct-customer", "direct").await?;
        fleet.latency(&mut up, n).await
    }
}

impl Drop for Znc {
    fn drop(&mut self) {
        let _ = self.znc.kill();
        let _ = self.ngircd.kill();
        let _ = self.znc.wait();
        let _ = self.ngircd.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// An IRC client on ngircd sending PRIVMSGs to one nick. (ngircd pings
/// only after `PingTimeout`, longer than a run.)
pub struct IrcCustomer {
    writer: OwnedWriteHalf,
    target: String,
    replies: tokio::sync::mpsc::UnboundedReceiver<String>,
}

impl IrcCustomer {
    async fn connect(port: u16, nick: &str, target: &str) -> anyhow::Result<IrcCustomer> {
        let stream = TcpStream::connect(("127.0.0.1", port)).await?;
        // Neither ngircd nor ZNC disables Nagle; the sender must.
        stream.set_nodelay(true)?;
        let (rd, mut writer) = stream.into_split();
        writer
            .write_all(format!("NICK {nick}\r\nUSER {nick} 0 * :customer\r\n").as_bytes())
            .await?;
        let (tx, replies) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(async move {
            let mut lines = BufReader::new(rd).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut me = IrcCustomer {
            writer,
            target: target.to_owned(),
            replies,
        };
        me.reply_containing(&[" 376 ", " 422 "]).await?;
        Ok(me)
    }

    async fn reply_containing(&mut self, needles: &[&str]) -> anyhow::Result<String> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let line = tokio::time::timeout_at(deadline.into(), self.replies.recv())
                .await
                .with_context(|| format!("no {needles:?} from ngircd"))?
                .context("ngircd closed the connection")?;
            if needles.iter().any(|n| line.contains(n)) {
                return Ok(line);
            }
        }
    }

    /// Whether `nick` is on the network now.
    async fn ison(&mut self, nick: &str) -> anyhow::Result<bool> {
        self.writer
            .write_all(format!("ISON {nick}\r\n").as_bytes())
            .await?;
        let line = self.reply_containing(&[" 303 "]).await?;
        Ok(line
            .rsplit(':')
            .next()
            .is_some_and(|list| list.split_whitespace().any(|n| n.eq_ignore_ascii_case(nick))))
    }
}

impl Upstream for IrcCustomer {
    async fn send(&mut self, text: &str) -> anyhow::Result<()> {
        let line = format!("PRIVMSG {} :{text}\r\n", self.target);
        self.writer.write_all(line.as_bytes()).await?;
        Ok(())
    }
}
