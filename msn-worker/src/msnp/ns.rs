//! The notification-server session, sans-IO (msnp.md §2–5, §7).
//!
//! Feed it frames ([`NsSession::on_frame`]), the Passport ticket
//! ([`NsSession::ticket`]), commands and clock ticks; it answers with
//! [`NsOutput`]s: bytes to send and things for the driver to do or report.
//! One value lives for one TCP connection.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use ipc::{
    Command, CommandResult, Event, Failure, FailureKind, LoginStage, ServerAddr, SignOutClass, Status,
};

use super::codec::{encode, Frame};
use super::roster::{self, Roster, AL, BL, FL, PL, RL};
use super::{challenge, errors, escape, message};

/// Client id (capabilities) sent in `CHG`: nothing — we implement no P2P.
const CLIENT_ID: &str = "0";
/// Give up on a `SYN` whose lists never complete (servers miscount).
const SYNC_TIMEOUT: Duration = Duration::from_secs(30);
/// MSNP8's `QNG` carries no interval.
const MSNP8_PING_INTERVAL: Duration = Duration::from_secs(45);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NsConfig {
    pub account: String,
    pub min_version: u8,
    pub max_version: u8,
    /// Add people who add us, so they can talk to support.
    pub auto_accept_contacts: bool,
}

/// What the driver must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NsOutput {
    Send(Vec<u8>),
    /// The dispatch server sent us elsewhere: connect there and start again.
    Redirect(ServerAddr),
    /// Run the Passport exchange with this policy, then call [`NsSession::ticket`].
    Authenticate {
        policy: String,
    },
    /// A switchboard for a [`NsSession::request_switchboard`] token.
    SwitchboardReady {
        token: u64,
        addr: String,
        cookie: String,
    },
    SwitchboardRefused {
        token: u64,
        failure: Failure,
    },
    /// A contact invites us into a switchboard.
    Invited {
        addr: String,
        session_id: String,
        cookie: String,
        inviter: String,
    },
    Event(Event),
    CommandDone {
        id: u64,
        result: CommandResult,
    },
    /// The server refused our ticket (`911`); the caller decides whether to
    /// retry the login once.
    TicketRejected,
    /// The session is over: close the connection.
    End {
        class: SignOutClass,
        reason: String,
        retry_after: Option<Duration>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Version,
    Cvr,
    UserInit,
    AwaitTicket,
    UserTicket,
    Syncing,
    Online,
    Ended,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Pending {
    /// A step of an IPC command; `last` steps report its result.
    Command {
        id: u64,
        last: bool,
    },
    Switchboard {
        token: u64,
    },
    /// Our own housekeeping (initial CHG, auto-accept …): errors are logged.
    Internal(&'static str),
}

#[derive(Debug)]
struct Sync {
    expected_contacts: Option<usize>,
    seen_contacts: usize,
    started: Instant,
}

pub struct NsSession {
    config: NsConfig,
    state: State,
    next_trid: u32,
    dialect: u8,
    pending: HashMap<u32, Pending>,
    pub roster: Roster,
    friendly_name: String,
    sync: Option<Sync>,
    ping_interval: Duration,
    next_ping: Option<Instant>,
    ping_sent: Option<Instant>,
    status: Status,
    /// Commands that failed before reaching the server, answered at once.
    failed_steps: HashMap<u64, bool>,
}

fn failure(kind: FailureKind, detail: impl Into<String>) -> Failure {
    Failure {
        kind,
        detail: detail.into(),
    }
}

impl NsSession {
    pub fn new(config: NsConfig) -> Self {
        NsSession {
            dialect: config.max_version,
            config,
            state: State::Version,
            next_trid: 1,
            pending: HashMap::new(),
            roster: Roster::default(),
            friendly_name: String::new(),
            sync: None,
            ping_interval: MSNP8_PING_INTERVAL,
            next_ping: None,
            ping_sent: None,
            status: Status::Online,
            failed_steps: HashMap::new(),
        }
    }

    pub fn dialect(&self) -> u8 {
        self.dialect
    }

    pub fn is_online(&self) -> bool {
        self.state == State::Online
    }

    pub fn friendly_name(&self) -> &str {
        &self.friendly_name
    }

    fn trid(&mut self) -> u32 {
        let t = self.next_trid;
        self.next_trid = self.next_trid.checked_add(1).unwrap_or(1);
        t
    }

    fn send(&mut self, out: &mut Vec<NsOutput>, cmd: &str, args: &[&str], pending: Option<Pending>) -> u32 {
        let t = self.trid();
        if let Some(p) = pending {
            self.pending.insert(t, p);
        }
        out.push(NsOutput::Send(encode(cmd, Some(t), args, None)));
        t
    }

    fn end(&mut self, out: &mut Vec<NsOutput>, class: SignOutClass, reason: impl Into<String>) {
        self.end_after(out, class, reason, None);
    }

    fn end_after(
        &mut self,
        out: &mut Vec<NsOutput>,
        class: SignOutClass,
        reason: impl Into<String>,
        retry_after: Option<Duration>,
    ) {
        if self.state != State::Ended {
            self.state = State::Ended;
            out.push(NsOutput::End {
                class,
                reason: reason.into(),
                retry_after,
            });
        }
    }

    /// The first bytes of a connection: `VER`, highest version first.
    pub fn start(&mut self) -> Vec<NsOutput> {
        let mut out = Vec::new();
        let versions: Vec<String> = (self.config.min_version..=self.config.max_version)
            .rev()
            .map(|v| format!("MSNP{v}"))
            .chain(std::iter::once("CVR0".to_owned()))
            .collect();
        let args: Vec<&str> = versions.iter().map(String::as_str).collect();
        self.state = State::Version;
        self.send(&mut out, "VER", &args, None);
        out
    }

    /// The Passport ticket for the pending `USR TWN`: send it at once
    /// (servers expire it within ~30 s).
    pub fn ticket(&mut self, ticket: &str) -> Vec<NsOutput> {
        let mut out = Vec::new();
        if self.state != State::AwaitTicket {
            return out;
        }
        if ticket.is_empty() || ticket.contains([' ', '\r', '\n']) {
            self.end(
                &mut out,
                SignOutClass::ProtocolError,
                "Passport returned an unusable ticket",
            );
            return out;
        }
        self.state = State::UserTicket;
        self.send(&mut out, "USR", &["TWN", "S", ticket], None);
        out
    }

    /// Politely ends the session.
    pub fn sign_out(&mut self) -> Vec<NsOutput> {
        let mut out = vec![NsOutput::Send(encode("OUT", None, &[], None))];
        self.end(&mut out, SignOutClass::Requested, "signed out on request");
        out
    }

    /// Periodic housekeeping: keep-alive pings and the sync guard.
    pub fn tick(&mut self, now: Instant) -> Vec<NsOutput> {
        let mut out = Vec::new();
        if let Some(sync) = &self.sync {
            if now.duration_since(sync.started) > SYNC_TIMEOUT {
                tracing::warn!(
                    "contact list incomplete after {} s; continuing",
                    SYNC_TIMEOUT.as_secs()
                );
                self.finish_sync(&mut out);
            }
        }
        if self.state != State::Online {
            return out;
        }
        if let Some(sent) = self.ping_sent {
            let timeout = (self.ping_interval * 2).clamp(Duration::from_secs(5), Duration::from_secs(30));
            if now.duration_since(sent) > timeout {
                self.end(
                    &mut out,
                    SignOutClass::Transient,
                    format!("keep-alive timeout: no QNG within {} s", timeout.as_secs()),
                );
            }
            return out;
        }
        if self.next_ping.is_some_and(|t| now >= t) {
            out.push(NsOutput::Send(encode("PNG", None, &[], None)));
            self.ping_sent = Some(now);
            self.next_ping = None;
        }
        out
    }

    /// When the driver should call [`NsSession::tick`] next.
    pub fn next_tick(&self) -> Option<Instant> {
        if let Some(s) = &self.sync {
            return Some(s.started + SYNC_TIMEOUT);
        }
        match (self.ping_sent, self.next_ping) {
            (Some(sent), _) => {
                Some(sent + (self.ping_interval * 2).clamp(Duration::from_secs(5), Duration::from_secs(30)))
            }
            (None, next) => next,
        }
    }

    pub fn on_frame(&mut self, frame: Frame, now: Instant) -> Vec<NsOutput> {
        let mut out = Vec::new();
        if self.state == State::Ended {
            return out;
        }
        // Anything from the server proves the connection alive, but only a
        // QNG answers a ping.
        if let Some(code) = frame.error_code() {
            self.on_error(&mut out, code, frame.trid());
            return out;
        }
        match (self.state, frame.cmd.as_str()) {
            (_, "OUT") => self.on_out(&mut out, &frame),
            (State::Version, "VER") => self.on_ver(&mut out, &frame),
            (State::Cvr, "CVR") => {
                tracing::debug!("server version advice: {}", frame.line());
                self.state = State::UserInit;
                let account = self.config.account.clone();
                self.send(&mut out, "USR", &["TWN", "I", &account], None);
                out.push(NsOutput::Event(Event::LoginProgress(LoginStage::Authenticating)));
            }
            (State::UserInit, "XFR") => match (frame.arg(1), frame.arg(2)) {
                (Some("NS"), Some(addr)) => match parse_addr(addr) {
                    Some(a) => {
                        self.state = State::Ended;
                        out.push(NsOutput::Redirect(a));
                    }
                    None => self.end(
                        &mut out,
                        SignOutClass::ProtocolError,
                        format!("bad redirect: {}", frame.line()),
                    ),
                },
                _ => self.end(
                    &mut out,
                    SignOutClass::ProtocolError,
                    format!("unexpected {}", frame.line()),
                ),
            },
            (State::UserInit, "USR") => match (frame.arg(1), frame.arg(2), frame.arg(3)) {
                (Some("TWN"), Some("S"), Some(policy)) => {
                    self.state = State::AwaitTicket;
                    out.push(NsOutput::Authenticate {
                        policy: policy.to_owned(),
                    });
                }
                _ => self.end(
                    &mut out,
                    SignOutClass::ProtocolError,
                    format!("unexpected {}", frame.line()),
                ),
            },
            (State::UserTicket, "USR") => self.on_usr_ok(&mut out, &frame, now),
            (State::Syncing, _) => self.on_sync_line(&mut out, &frame),
            (State::Online, _) => self.on_online(&mut out, frame, now),
            (_, "SBS" | "MSG" | "NOT" | "GCF" | "UBX" | "IPG") => {}
            _ => tracing::debug!("ignored during login: {}", frame.line()),
        }
        out
    }

    fn on_ver(&mut self, out: &mut Vec<NsOutput>, frame: &Frame) {
        let chosen = frame
            .args
            .iter()
            .skip(1)
            .filter_map(|a| a.strip_prefix("MSNP")?.parse::<u8>().ok())
            .max();
        match chosen {
            Some(v) if (self.config.min_version..=self.config.max_version).contains(&v) => {
                self.dialect = v;
                self.state = State::Cvr;
                out.push(NsOutput::Event(Event::LoginProgress(LoginStage::Negotiated { protocol: v })));
                let (client_ver, codebase) = match v {
                    8 => ("5.0.0544", "MSMSGS"),
                    9 => ("6.0.0602", "MSMSGS"),
                    10 => ("6.2.0208", "MSMSGS"),
                    11 => ("7.0.0816", "msmsgs"),
                    _ => ("7.5.0324", "msmsgs"),
                };
                let account = self.config.account.clone();
                self.send(
                    out,
                    "CVR",
                    &["0x0409", "winnt", "5.1", "i386", "MSNMSGR", client_ver, codebase, &account],
                    None,
                );
            }
            _ => self.end(
                out,
                SignOutClass::Fatal,
                format!(
                    "the server offers no protocol version we speak (we offered MSNP{}..=MSNP{}; it answered {:?})",
                    self.config.min_version,
                    self.config.max_version,
                    frame.line()
                ),
            ),
        }
    }

    fn on_usr_ok(&mut self, out: &mut Vec<NsOutput>, frame: &Frame, now: Instant) {
        if frame.arg(1) != Some("OK") {
            self.end(
                out,
                SignOutClass::ProtocolError,
                format!("unexpected {}", frame.line()),
            );
            return;
        }
        match frame.arg(2) {
            Some(a) if a.eq_ignore_ascii_case(&self.config.account) => {}
            other => {
                self.end(
                    out,
                    SignOutClass::ProtocolError,
                    format!("signed in as {other:?}, not {}", self.config.account),
                );
                return;
            }
        }
        if self.dialect < 10 {
            self.friendly_name = frame.arg(3).map(escape::decode).unwrap_or_default();
        }
        self.state = State::Syncing;
        self.sync = Some(Sync {
            expected_contacts: None,
            seen_contacts: 0,
            started: now,
        });
        out.push(NsOutput::Event(Event::LoginProgress(LoginStage::Synchronising)));
        if self.dialect >= 10 {
            self.send(out, "SYN", &["0", "0"], None);
        } else {
            self.send(out, "SYN", &["0"], None);
        }
    }

    fn on_sync_line(&mut self, out: &mut Vec<NsOutput>, frame: &Frame) {
        let d = self.dialect;
        match frame.cmd.as_str() {
            "SYN" => match roster::parse_syn(d, &frame.args) {
                Some(Some(h)) => {
                    if let Some(s) = &mut self.sync {
                        s.expected_contacts = Some(h.contacts);
                    }
                }
                Some(None) => {
                    if let Some(s) = &mut self.sync {
                        s.expected_contacts = Some(0);
                    }
                }
                None => tracing::warn!("unparsable SYN reply: {}", frame.line()),
            },
            "LSG" => match roster::parse_lsg(d, &frame.args) {
                Some(g) => self.roster.groups.push(ipc::Group {
                    id: g.id,
                    name: g.name,
                }),
                None => tracing::warn!("skipped unparsable line: {}", frame.line()),
            },
            "LST" => {
                match roster::parse_lst(d, &frame.args) {
                    Some(c) => self.roster.add_listed(c),
                    None => tracing::warn!("skipped unparsable line: {}", frame.line()),
                }
                if let Some(s) = &mut self.sync {
                    s.seen_contacts += 1;
                }
            }
            "PRP" if frame.arg(0) == Some("MFN") => {
                self.friendly_name = frame.arg(1).map(escape::decode).unwrap_or_default();
            }
            "GTC" | "BLP" | "PRP" | "BPR" | "SBS" | "MSG" | "NOT" | "GCF" | "UBX" => {}
            // Presence and other traffic can interleave on some servers.
            _ => tracing::debug!("during sync: {}", frame.line()),
        }
        if self
            .sync
            .as_ref()
            .is_some_and(|s| s.expected_contacts.is_some_and(|n| s.seen_contacts >= n))
        {
            self.finish_sync(out);
        }
    }

    fn finish_sync(&mut self, out: &mut Vec<NsOutput>) {
        self.sync = None;
        self.state = State::Online;
        out.push(NsOutput::Event(Event::SignedIn {
            account: self.config.account.clone(),
            friendly_name: self.friendly_name.clone(),
            protocol: self.dialect,
        }));
        let (contacts, groups) = self.roster.snapshot();
        out.push(NsOutput::Event(Event::Roster { contacts, groups }));
        let code = roster::status_code(self.status).unwrap_or("NLN");
        self.send(
            out,
            "CHG",
            &[code, CLIENT_ID],
            Some(Pending::Internal("initial status")),
        );
        // People who added us while we were away.
        let waiting: Vec<(String, String)> = self
            .roster
            .contacts
            .values()
            .filter(|c| (c.lists & (RL | PL)) != 0 && (c.lists & (AL | BL)) == 0)
            .map(|c| (c.handle.clone(), c.friendly_name.clone()))
            .collect();
        for (handle, name) in waiting {
            self.someone_added_us(out, handle, name);
        }
    }

    fn someone_added_us(&mut self, out: &mut Vec<NsOutput>, handle: String, friendly_name: String) {
        self.roster.set_lists(&handle, RL, 0);
        if self.config.auto_accept_contacts {
            tracing::info!(contact = %handle, "accepting contact request automatically");
            self.accept(out, &handle, None);
            out.push(NsOutput::Event(Event::Notice(format!(
                "{handle} ({friendly_name}) added us; accepted automatically"
            ))));
        } else {
            out.push(NsOutput::Event(Event::AddRequest {
                handle,
                friendly_name,
            }));
        }
    }

    /// Allow (AL), subscribe (FL) and clear the pending bit.
    fn accept(&mut self, out: &mut Vec<NsOutput>, handle: &str, id: Option<u64>) {
        let lists = self.roster.lists(handle);
        let mut steps: Vec<(&str, Vec<String>)> = Vec::new();
        if lists & AL == 0 {
            steps.push(self.list_add("AL", handle));
        }
        if lists & FL == 0 {
            steps.push(self.list_add("FL", handle));
        }
        if lists & PL != 0 && self.dialect >= 10 {
            steps.push(("REM", vec!["PL".into(), handle.to_owned()]));
        }
        self.roster.set_lists(handle, AL | FL, PL);
        self.run_steps(out, id, steps, "accept contact");
    }

    fn list_add(&self, list: &str, handle: &str) -> (&'static str, Vec<String>) {
        if self.dialect >= 10 {
            let mut args = vec![list.to_owned(), format!("N={handle}")];
            if list == "FL" {
                args.push(format!("F={}", escape::encode(handle)));
            }
            ("ADC", args)
        } else {
            // ADD <t> FL <email> <nick>, but ADD <t> AL <email> <email>.
            let second = if list == "FL" {
                escape::encode(handle)
            } else {
                handle.to_owned()
            };
            ("ADD", vec![list.to_owned(), handle.to_owned(), second])
        }
    }

    fn list_remove(&self, list: &str, handle: &str) -> (&'static str, Vec<String>) {
        let target = if list == "FL" && self.dialect >= 10 {
            self.roster
                .guids
                .get(&Roster::key(handle))
                .cloned()
                .unwrap_or_else(|| handle.to_owned())
        } else {
            handle.to_owned()
        };
        ("REM", vec![list.to_owned(), target])
    }

    /// Takes `handle` off the `off` lists it is on, then puts it on the `on`
    /// lists it is not on (AL and BL exclude each other, so order matters);
    /// the last step's reply answers command `id`.
    fn move_lists(
        &mut self,
        id: u64,
        handle: &str,
        off: &[&'static str],
        on: &[&'static str],
        what: &'static str,
    ) -> Vec<NsOutput> {
        let mut out = Vec::new();
        if !roster::valid_handle(handle) {
            out.push(NsOutput::CommandDone {
                id,
                result: CommandResult::Failed(failure(FailureKind::InvalidArgument, "not an MSN address")),
            });
            return out;
        }
        let bit = |list: &str| match list {
            "FL" => FL,
            "AL" => AL,
            _ => BL,
        };
        let lists = self.roster.lists(handle);
        let mut steps = Vec::new();
        let (mut add, mut remove) = (0, 0);
        for list in off {
            remove |= bit(list);
            if lists & bit(list) != 0 {
                steps.push(self.list_remove(list, handle));
            }
        }
        for list in on {
            add |= bit(list);
            if lists & bit(list) == 0 {
                steps.push(self.list_add(list, handle));
            }
        }
        self.roster.set_lists(handle, add, remove);
        self.run_steps(&mut out, Some(id), steps, what);
        out
    }

    /// Sends a multi-step list edit; the last step's reply answers `id`.
    fn run_steps(
        &mut self,
        out: &mut Vec<NsOutput>,
        id: Option<u64>,
        steps: Vec<(&str, Vec<String>)>,
        what: &'static str,
    ) {
        let n = steps.len();
        if n == 0 {
            if let Some(id) = id {
                out.push(NsOutput::CommandDone {
                    id,
                    result: CommandResult::Ok,
                });
            }
            return;
        }
        for (i, (cmd, args)) in steps.into_iter().enumerate() {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let pending = match id {
                Some(id) => Pending::Command { id, last: i + 1 == n },
                None => Pending::Internal(what),
            };
            self.send(out, cmd, &args, Some(pending));
        }
    }

    fn on_out(&mut self, out: &mut Vec<NsOutput>, frame: &Frame) {
        let reason = frame.arg(0).unwrap_or("");
        match reason {
            "OTH" => self.end(
                out,
                SignOutClass::SignedInElsewhere,
                "the account signed in somewhere else (OUT OTH); not reconnecting until an operator says so",
            ),
            "SSD" => self.end_after(
                out,
                SignOutClass::Transient,
                "server shutting down for maintenance (OUT SSD)",
                Some(Duration::from_secs(120)),
            ),
            "RCT" => {
                let minutes = frame
                    .arg(1)
                    .and_then(|m| m.parse::<u64>().ok())
                    .unwrap_or(5)
                    .min(24 * 60);
                self.end_after(
                    out,
                    SignOutClass::Transient,
                    format!("server asked us to come back in {minutes} min (OUT RCT)"),
                    Some(Duration::from_secs(minutes * 60)),
                );
            }
            "TOU" => self.end(
                out,
                SignOutClass::Fatal,
                "the account must accept new terms of use (OUT TOU)",
            ),
            "" => self.end(out, SignOutClass::Transient, "the server ended the session (OUT)"),
            other => self.end(
                out,
                SignOutClass::Transient,
                format!("the server ended the session (OUT {other})"),
            ),
        }
    }

    fn on_error(&mut self, out: &mut Vec<NsOutput>, code: u16, trid: Option<u32>) {
        let text = format!("{code} {}", errors::describe(code));
        match self.state {
            State::Online | State::Syncing => {}
            State::UserTicket if code == 911 => {
                out.push(NsOutput::TicketRejected);
                self.end(
                    out,
                    SignOutClass::Transient,
                    format!("the server refused our Passport ticket ({text})"),
                );
                return;
            }
            State::Ended => return,
            _ => {
                let class = if errors::login_fatal(code) {
                    SignOutClass::Fatal
                } else {
                    SignOutClass::Transient
                };
                self.end(out, class, format!("login failed: {text}"));
                return;
            }
        }
        let Some(t) = trid else {
            tracing::warn!("server error without transaction id: {text}");
            return;
        };
        match self.pending.remove(&t) {
            Some(Pending::Command { id, last }) => {
                if errors::is_harmless(code) {
                    if last {
                        out.push(NsOutput::CommandDone {
                            id,
                            result: CommandResult::Ok,
                        });
                    }
                } else if self.failed_steps.insert(id, true).is_none() {
                    out.push(NsOutput::CommandDone {
                        id,
                        result: CommandResult::Failed(failure(errors::failure_kind(code), text)),
                    });
                }
            }
            Some(Pending::Switchboard { token }) => out.push(NsOutput::SwitchboardRefused {
                token,
                failure: failure(errors::failure_kind(code), text),
            }),
            Some(Pending::Internal(what)) => {
                if !errors::is_harmless(code) {
                    tracing::warn!("{what} failed: {text}");
                }
            }
            None => tracing::warn!("server error for unknown transaction {t}: {text}"),
        }
        if code == 540 {
            self.end(
                out,
                SignOutClass::Fatal,
                "the server rejected our challenge answer (540)",
            );
        }
    }

    fn complete(&mut self, out: &mut Vec<NsOutput>, frame: &Frame) {
        let Some(t) = frame.trid() else { return };
        match self.pending.remove(&t) {
            Some(Pending::Command { id, last: true }) => {
                if self.failed_steps.remove(&id).is_none() {
                    out.push(NsOutput::CommandDone {
                        id,
                        result: CommandResult::Ok,
                    });
                }
            }
            Some(Pending::Command { last: false, .. }) | Some(Pending::Internal(_)) | None => {}
            Some(Pending::Switchboard { token }) => {
                // Only XFR answers these; anything else is out of line.
                self.pending.insert(t, Pending::Switchboard { token });
            }
        }
    }

    fn on_online(&mut self, out: &mut Vec<NsOutput>, frame: Frame, now: Instant) {
        match frame.cmd.as_str() {
            "QNG" => {
                self.ping_sent = None;
                self.ping_interval = match frame.arg(0).and_then(|s| s.parse::<u64>().ok()) {
                    Some(secs) => Duration::from_secs(secs.clamp(1, 300)),
                    None => MSNP8_PING_INTERVAL,
                };
                self.next_ping = Some(now + self.ping_interval);
            }
            "CHL" => {
                if let Some(ch) = frame.arg(1) {
                    let (product, answer) = challenge::answer(self.dialect, ch);
                    let t = self.trid();
                    self.pending.insert(t, Pending::Internal("challenge answer"));
                    out.push(NsOutput::Send(encode(
                        "QRY",
                        Some(t),
                        &[product.id],
                        Some(answer.as_bytes()),
                    )));
                }
            }
            "ILN" => {
                if let Some(p) = roster::parse_iln(&frame.args) {
                    self.presence(out, p.handle, p.status, p.friendly_name);
                }
            }
            "NLN" => match roster::parse_nln(&frame.args) {
                Some(p) => self.presence(out, p.handle, p.status, p.friendly_name),
                None => tracing::warn!("skipped unparsable line: {}", frame.line()),
            },
            "FLN" => match roster::parse_fln(&frame.args) {
                Some(h) => self.presence(out, h, Status::Offline, None),
                None => tracing::warn!("skipped unparsable line: {}", frame.line()),
            },
            "UBX" => {
                if let (Some(handle), Some(payload)) = (frame.arg(0), &frame.payload) {
                    let psm = roster::parse_psm(payload);
                    let known = self.roster.get_mut(handle).map(|c| {
                        c.personal_message = psm.clone();
                        c.status
                    });
                    if let Some(status) = known {
                        out.push(NsOutput::Event(Event::Presence {
                            handle: handle.to_owned(),
                            status,
                            friendly_name: None,
                            personal_message: Some(psm),
                        }));
                    }
                }
            }
            "RNG" => {
                // RNG <session> <host:port> CKI <cookie> <inviter> <name>
                match (
                    frame.arg(0),
                    frame.arg(1),
                    frame.arg(2),
                    frame.arg(3),
                    frame.arg(4),
                ) {
                    (Some(session), Some(addr), Some("CKI"), Some(cookie), Some(inviter))
                        if roster::valid_handle(inviter) =>
                    {
                        out.push(NsOutput::Invited {
                            addr: addr.to_owned(),
                            session_id: session.to_owned(),
                            cookie: cookie.to_owned(),
                            inviter: inviter.to_owned(),
                        })
                    }
                    _ => tracing::warn!("skipped unparsable invitation: {}", frame.line()),
                }
            }
            "XFR" => {
                let token = frame.trid().and_then(|t| match self.pending.remove(&t) {
                    Some(Pending::Switchboard { token }) => Some(token),
                    Some(other) => {
                        self.pending.insert(t, other);
                        None
                    }
                    None => None,
                });
                match (token, frame.arg(1), frame.arg(2), frame.arg(3), frame.arg(4)) {
                    (Some(token), Some("SB"), Some(addr), Some("CKI"), Some(cookie)) => {
                        out.push(NsOutput::SwitchboardReady {
                            token,
                            addr: addr.to_owned(),
                            cookie: cookie.to_owned(),
                        })
                    }
                    (Some(token), ..) => out.push(NsOutput::SwitchboardRefused {
                        token,
                        failure: failure(FailureKind::ServerError, format!("unexpected {}", frame.line())),
                    }),
                    (None, ..) => tracing::warn!("unsolicited {}", frame.line()),
                }
            }
            "ADD" | "ADC" if frame.arg(0) == Some("0") => match roster::parse_added_me(&frame.args) {
                Some((handle, name)) => self.someone_added_us(out, handle, name),
                None => tracing::warn!("skipped unparsable line: {}", frame.line()),
            },
            "REM" if frame.arg(0) == Some("0") => {
                if let Some(handle) = roster::parse_removed_me(&frame.args) {
                    self.roster.set_lists(&handle, 0, RL);
                    out.push(NsOutput::Event(Event::Notice(format!(
                        "{handle} removed us from their list"
                    ))));
                }
            }
            "MSG" => {
                if let Some(payload) = &frame.payload {
                    let mime = message::Mime::parse(payload);
                    if let message::Content::Maintenance { minutes } = message::classify(&mime) {
                        let when = minutes.map_or("soon".to_owned(), |m| format!("in {m} minutes"));
                        out.push(NsOutput::Event(Event::Notice(format!(
                            "the MSN server goes down for maintenance {when}"
                        ))));
                    }
                }
            }
            "ADD" | "ADC" | "REM" | "REA" | "PRP" | "UUX" | "BLP" | "GTC" | "SBP" | "CHG" | "QRY" => {
                if frame.cmd == "CHG" {
                    if let Some(s) = frame.arg(1).and_then(roster::parse_status) {
                        self.status = s;
                        if self.next_ping.is_none() && self.ping_sent.is_none() {
                            // Pinging starts once we are visible (never before login).
                            self.next_ping = Some(now + Duration::from_secs(1));
                        }
                    }
                }
                if frame.cmd == "REA" && self.dialect < 10 {
                    if let (Some(who), Some(name)) = (frame.arg(2), frame.arg(3)) {
                        if who.eq_ignore_ascii_case(&self.config.account) {
                            self.friendly_name = escape::decode(name);
                        }
                    }
                }
                if frame.cmd == "PRP" && frame.arg(1) == Some("MFN") {
                    self.friendly_name = frame.arg(2).map(escape::decode).unwrap_or_default();
                }
                self.complete(out, &frame);
            }
            "SBS" | "NOT" | "GCF" | "IPG" | "BPR" | "LSG" | "LST" | "SYN" => {}
            _ => tracing::debug!("ignored: {}", frame.line()),
        }
    }

    fn presence(&mut self, out: &mut Vec<NsOutput>, handle: String, status: Status, name: Option<String>) {
        if let Some(c) = self.roster.get_mut(&handle) {
            c.status = status;
            if let Some(n) = &name {
                c.friendly_name = n.clone();
            }
        }
        out.push(NsOutput::Event(Event::Presence {
            handle,
            status,
            friendly_name: name,
            personal_message: None,
        }));
    }

    /// Asks for a switchboard; the answer comes back with `token`.
    pub fn request_switchboard(&mut self, token: u64) -> Vec<NsOutput> {
        let mut out = Vec::new();
        if self.state != State::Online {
            out.push(NsOutput::SwitchboardRefused {
                token,
                failure: failure(FailureKind::NotSignedIn, "not signed in to MSN"),
            });
            return out;
        }
        self.send(&mut out, "XFR", &["SB"], Some(Pending::Switchboard { token }));
        out
    }

    /// Runs an account-level command (conversation commands are the
    /// switchboards'); the result arrives as [`NsOutput::CommandDone`].
    pub fn command(&mut self, id: u64, command: Command) -> Vec<NsOutput> {
        let mut out = Vec::new();
        let fail = |kind, detail: &str| {
            vec![NsOutput::CommandDone {
                id,
                result: CommandResult::Failed(failure(kind, detail)),
            }]
        };
        if self.state != State::Online {
            return fail(FailureKind::NotSignedIn, "not signed in to MSN");
        }
        match command {
            Command::SetStatus(s) => match roster::status_code(s) {
                Some(code) => {
                    self.send(
                        &mut out,
                        "CHG",
                        &[code, CLIENT_ID],
                        Some(Pending::Command { id, last: true }),
                    );
                }
                None => {
                    return fail(
                        FailureKind::InvalidArgument,
                        "offline cannot be set; use hidden or sign out",
                    )
                }
            },
            Command::SetFriendlyName(name) => {
                let encoded = escape::encode(&name);
                if name.is_empty() || encoded.len() > 387 {
                    return fail(
                        FailureKind::InvalidArgument,
                        "friendly names are 1 to 129 characters",
                    );
                }
                let pending = Some(Pending::Command { id, last: true });
                if self.dialect >= 10 {
                    self.send(&mut out, "PRP", &["MFN", &encoded], pending);
                } else {
                    let account = self.config.account.clone();
                    self.send(&mut out, "REA", &[&account, &encoded], pending);
                }
            }
            Command::SetPersonalMessage(text) => {
                if self.dialect < 11 {
                    return fail(
                        FailureKind::InvalidArgument,
                        "personal messages need MSNP11 or later",
                    );
                }
                let payload = roster::uux_payload(&text);
                let t = self.trid();
                self.pending.insert(t, Pending::Command { id, last: true });
                out.push(NsOutput::Send(encode("UUX", Some(t), &[], Some(&payload))));
            }
            Command::AddContact(h) => return self.move_lists(id, &h, &["BL"], &["AL", "FL"], "add contact"),
            Command::RemoveContact(h) => {
                return self.move_lists(id, &h, &["FL", "AL"], &[], "remove contact")
            }
            Command::BlockContact(h) => return self.move_lists(id, &h, &["AL"], &["BL"], "block contact"),
            Command::UnblockContact(h) => {
                return self.move_lists(id, &h, &["BL"], &["AL"], "unblock contact")
            }
            Command::AcceptAddRequest(h) => {
                if !roster::valid_handle(&h) {
                    return fail(FailureKind::InvalidArgument, "not an MSN address");
                }
                self.accept(&mut out, &h, Some(id));
            }
            Command::SignOut => {
                out.extend(self.sign_out());
                out.push(NsOutput::CommandDone {
                    id,
                    result: CommandResult::Ok,
                });
            }
            Command::SendMessage { .. }
            | Command::SendTyping { .. }
            | Command::SendNudge { .. }
            | Command::OpenConversation { .. }
            | Command::CloseConversation(_) => {
                return fail(
                    FailureKind::InvalidArgument,
                    "conversation commands go to a switchboard",
                );
            }
        }
        out
    }
}

/// `host:port` as MSN writes it (IPv6 in brackets).
pub fn parse_addr(s: &str) -> Option<ServerAddr> {
    let (host, port) = match s.strip_prefix('[') {
        Some(rest) => {
            let (h, p) = rest.split_once("]:")?;
            (h, p)
        }
        None => s.rsplit_once(':')?,
    };
    let port: u16 = port.parse().ok().filter(|&p| p != 0)?;
    if host.is_empty() || host.contains(|c: char| c.is_whitespace() || c == '/') {
        return None;
    }
    Some(ServerAddr {
        host: host.to_owned(),
        port,
    })
}

#[cfg(test)]
mod tests;
