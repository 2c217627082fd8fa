//! A line-oriented IRC client for tests.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

pub struct IrcClient {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
    /// Every line received, in order.
    pub received: Vec<String>,
}

impl IrcClient {
    pub fn connect(port: u16) -> anyhow::Result<IrcClient> {
        IrcClient::connect_to(std::net::SocketAddr::from(([127, 0, 0, 1], port)))
    }

    /// Connects and logs in with `PASS user[@device]:password`, asking for
    /// `caps` (space-separated, may be empty); returns after the MOTD.
    pub fn log_in(port: u16, pass: &str, caps: &str) -> anyhow::Result<IrcClient> {
        const SOON: Duration = Duration::from_secs(15);
        let mut c = IrcClient::connect(port)?;
        if !caps.is_empty() {
            c.send(&format!("CAP REQ :{caps}"));
        }
        c.send(&format!("PASS :{pass}"));
        c.send("NICK x");
        c.send("USER x 0 * :x");
        if !caps.is_empty() {
            c.expect(" ACK ", SOON)?;
            c.send("CAP END");
        }
        c.expect(" 376 ", SOON)?;
        Ok(c)
    }

    pub fn connect_to(addr: std::net::SocketAddr) -> anyhow::Result<IrcClient> {
        let stream = TcpStream::connect(addr).with_context(|| format!("connecting to msnbnc at {addr}"))?;
        stream.set_read_timeout(Some(Duration::from_millis(100)))?;
        Ok(IrcClient {
            reader: BufReader::new(stream.try_clone()?),
            writer: stream,
            received: Vec::new(),
        })
    }

    pub fn send(&mut self, line: &str) {
        let _ = self.writer.write_all(format!("{line}\r\n").as_bytes());
    }

    pub fn send_raw(&mut self, bytes: &[u8]) {
        let _ = self.writer.write_all(bytes);
    }

    /// Reads until a line contains `needle`; returns it. Fails on timeout
    /// or when the server closes the connection.
    pub fn expect(&mut self, needle: &str, timeout: Duration) -> anyhow::Result<String> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(l) = self.received.iter().find(|l| l.contains(needle)) {
                let l = l.clone();
                self.received.retain(|x| *x != l);
                return Ok(l);
            }
            if Instant::now() > deadline {
                bail!(
                    "no line containing {needle:?} within {timeout:?}; got {:#?}",
                    self.received
                );
            }
            let mut line = String::new();
            match self.reader.read_line(&mut line) {
                Ok(0) => bail!(
                    "connection closed while waiting for {needle:?}; got {:#?}",
                    self.received
                ),
                Ok(_) => self.received.push(line.trim_end_matches(['\r', '\n']).to_owned()),
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) => {}
                Err(e) => bail!("read error: {e}"),
            }
        }
    }

    /// Whether the server has closed the connection (within `timeout`).
    pub fn closed(&mut self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            let mut line = String::new();
            match self.reader.read_line(&mut line) {
                Ok(0) => return true,
                Ok(_) => self.received.push(line.trim_end().to_owned()),
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) => {}
                Err(_) => return true,
            }
        }
        false
    }
}

/// `text` without IRC formatting codes (bold, colours with their numbers,
/// reset …), as a reader sees it.
pub fn plain(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\x03' => {
                // Up to two digits, then optionally a comma and two more.
                for _ in 0..2 {
                    chars.next_if(char::is_ascii_digit);
                }
                let mut ahead = chars.clone();
                if ahead.next() == Some(',') && ahead.next().is_some_and(|c| c.is_ascii_digit()) {
                    chars.next();
                    for _ in 0..2 {
                        chars.next_if(char::is_ascii_digit);
                    }
                }
            }
            '\x02' | '\x0f' | '\x11' | '\x16' | '\x1d' | '\x1e' | '\x1f' => {}
            c => out.push(c),
        }
    }
    out
}
