//! The notification-server session, sans-IO (msnp.md §2–5, §7).
//!
//! Feed it frames ([`NsSession::on_frame`]), the Passport ticket
//! ([`NsSession::ticket`]), commands and clock ticks; it answers with
//! [`NsOutput`]s: bytes to send and things for the driver to do or report.
//! One value lives for one TCP connection.

mod account;
mod frames;
mod keepalive;
mod list_edits;
mod offline;
mod presence;
mod sync;
mod transactions;
mod web;

use std::time::{Duration, Instant};

use ipc::{CommandResult, Event, Failure, FailureKind, LoginStage, ServerAddr, SignOutClass, Status};

use super::codec::{encode, Frame};
use super::roster::{self, Roster, RL};
use super::{challenge, errors, escape};

use keepalive::{Due, KeepAlive};
use sync::{ListSync, SYNC_TIMEOUT};
use transactions::{Pending, Refused, Transactions};
pub use web::{Service, SoapCall};

/// Client id (capabilities) sent in `CHG`: nothing — we implement no P2P.
const CLIENT_ID: &str = "0";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NsConfig {
    pub account: String,
    pub min_version: u8,
    pub max_version: u8,
    /// Add people who add us, so they can talk to support.
    pub auto_accept_contacts: bool,
    /// `{…}`: this installation's endpoint (MSNP16+).
    pub machine_guid: String,
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
    /// MSNP13+: ask the RST service for tickets (the messenger one with
    /// this policy), then call [`NsSession::signed_on`].
    SingleSignOn {
        policy: String,
    },
    /// MSNP13+: a call to a web service; answer with [`NsSession::soap_answer`].
    Soap(SoapCall),
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

pub struct NsSession {
    config: NsConfig,
    state: State,
    dialect: u8,
    transactions: Transactions,
    pub roster: Roster,
    friendly_name: String,
    sync: Option<ListSync>,
    keepalive: KeepAlive,
    status: Status,
    web: web::Web,
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
            transactions: Transactions::default(),
            roster: Roster::default(),
            friendly_name: String::new(),
            sync: None,
            keepalive: KeepAlive::default(),
            status: Status::Online,
            web: web::Web::default(),
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

    fn send(&mut self, out: &mut Vec<NsOutput>, cmd: &str, args: &[&str], pending: Option<Pending>) -> u32 {
        let t = self.transactions.open(pending);
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
            if now > sync.deadline() {
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
        match self.keepalive.tick(now) {
            Due::Nothing => {}
            Due::Ping => out.push(NsOutput::Send(encode("PNG", None, &[], None))),
            Due::TimedOut(timeout) => self.end(
                &mut out,
                SignOutClass::Transient,
                format!("keep-alive timeout: no QNG within {} s", timeout.as_secs()),
            ),
        }
        out
    }

    /// When the driver should call [`NsSession::tick`] next.
    pub fn next_tick(&self) -> Option<Instant> {
        if let Some(s) = &self.sync {
            return Some(s.deadline());
        }
        self.keepalive.next_tick()
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
            // Waiting offline messages: announced at sign-in or later.
            (State::Syncing | State::Online, "MSG") if self.announces_offline(&frame) => {
                self.offline_announced(&mut out, &frame);
            }
            (State::Version, "VER") => self.on_ver(&mut out, &frame),
            (State::Cvr, "CVR") => {
                tracing::debug!("server version advice: {}", frame.line());
                self.state = State::UserInit;
                let account = self.config.account.clone();
                let method = if self.dialect >= 15 { "SSO" } else { "TWN" };
                self.send(&mut out, "USR", &[method, "I", &account], None);
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
                (Some("SSO"), Some("S"), Some(policy)) if self.dialect >= 15 => match frame.arg(4) {
                    Some(nonce) => self.wants_single_sign_on(&mut out, policy, Some(nonce)),
                    None => self.end(
                        &mut out,
                        SignOutClass::ProtocolError,
                        format!("no nonce in {}", frame.line()),
                    ),
                },
                (Some("TWN"), Some("S"), Some(policy)) if self.dialect >= 13 => {
                    self.wants_single_sign_on(&mut out, policy, None);
                }
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
            // MSNP13+ has no sync on this connection: while the web services
            // answer, what comes is ordinary traffic (the UBX about us …).
            (State::Syncing, _) if self.dialect >= 13 => self.on_online(&mut out, frame, now),
            (State::Syncing, _) => self.on_sync_line(&mut out, &frame),
            (State::Online, _) => self.on_online(&mut out, frame, now),
            (_, "SBS" | "MSG" | "NOT" | "GCF" | "UBX" | "IPG") => {}
            _ => tracing::debug!("ignored during login: {}", frame.line()),
        }
        out
    }

    fn on_ver(&mut self, out: &mut Vec<NsOutput>, frame: &Frame) {
        match frames::chosen_version(frame) {
            Some(v) if (self.config.min_version..=self.config.max_version).contains(&v) => {
                self.dialect = v;
                self.state = State::Cvr;
                out.push(NsOutput::Event(Event::LoginProgress(LoginStage::Negotiated { protocol: v })));
                let account = self.config.account.clone();
                self.send(out, "CVR", &frames::cvr_args(v, &account), None);
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
        if self.dialect >= 13 {
            return self.fetch_lists(out);
        }
        self.state = State::Syncing;
        self.sync = Some(ListSync::new(now));
        out.push(NsOutput::Event(Event::LoginProgress(LoginStage::Synchronising)));
        if self.dialect >= 10 {
            self.send(out, "SYN", &["0", "0"], None);
        } else {
            self.send(out, "SYN", &["0"], None);
        }
    }

    fn on_out(&mut self, out: &mut Vec<NsOutput>, frame: &Frame) {
        let (class, reason, retry_after) = frames::sign_out(frame);
        self.end_after(out, class, reason, retry_after);
    }

    fn on_error(&mut self, out: &mut Vec<NsOutput>, code: u16, trid: Option<u32>) {
        let text = format!("{code} {}", errors::describe(code));
        match self.state {
            State::Online | State::Syncing => {}
            State::UserTicket if code == 911 => {
                out.push(NsOutput::TicketRejected);
                let reason = format!("the server refused our Passport ticket ({text})");
                return self.end(out, SignOutClass::Transient, reason);
            }
            State::Ended => return,
            _ => {
                let class = match errors::login_fatal(code) {
                    true => SignOutClass::Fatal,
                    false => SignOutClass::Transient,
                };
                return self.end(out, class, format!("login failed: {text}"));
            }
        }
        let Some(t) = trid else {
            tracing::warn!("server error without transaction id: {text}");
            return;
        };
        let refusal = failure(errors::failure_kind(code), text);
        match self.transactions.refused(t, errors::is_harmless(code), refusal) {
            Refused::Command(id, result) => out.push(NsOutput::CommandDone { id, result }),
            Refused::Switchboard(token, failure) => out.push(NsOutput::SwitchboardRefused { token, failure }),
            Refused::Quiet => {}
        }
        if code == 540 {
            self.end(
                out,
                SignOutClass::Fatal,
                "the server rejected our challenge answer (540)",
            );
        }
    }

    /// A reply to one of ours; returns whether it answered a command.
    fn complete(&mut self, out: &mut Vec<NsOutput>, frame: &Frame) -> bool {
        let Some(id) = frame.trid().and_then(|t| self.transactions.completed(t)) else {
            return false;
        };
        out.push(NsOutput::CommandDone {
            id,
            result: CommandResult::Ok,
        });
        true
    }

    fn on_online(&mut self, out: &mut Vec<NsOutput>, frame: Frame, now: Instant) {
        match frame.cmd.as_str() {
            "QNG" => {
                let interval = frame.arg(0).and_then(|s| s.parse::<u64>().ok());
                self.keepalive.answered(now, interval);
            }
            "CHL" => self.challenge(out, &frame),
            "ILN" | "NLN" | "FLN" => self.presence_line(out, &frame),
            "ADL" | "RML" if frame.arg(0) == Some("0") => {
                let payload = frame.payload.clone().unwrap_or_default();
                self.server_list_change(out, &frame.cmd, &payload);
            }
            "UBX" => self.personal_message(out, &frame),
            "RNG" => match frames::invitation(&frame) {
                Some(invited) => out.push(invited),
                None => tracing::warn!("skipped unparsable invitation: {}", frame.line()),
            },
            "XFR" => self.switchboard_answer(out, &frame),
            "ADD" | "ADC" if frame.arg(0) == Some("0") => match roster::parse_added_me(&frame.args) {
                Some((handle, name)) => self.someone_added_us(out, handle, name),
                None => tracing::warn!("skipped unparsable line: {}", frame.line()),
            },
            "REM" if frame.arg(0) == Some("0") => {
                if let Some(handle) = roster::parse_removed_me(&frame.args) {
                    self.roster.set_lists(&handle, 0, RL);
                    let notice = format!("{handle} removed us from their list");
                    out.push(NsOutput::Event(Event::Notice(notice)));
                }
            }
            "MSG" => out.extend(frames::maintenance(&frame)),
            "ADD" | "ADC" | "REM" | "REA" | "PRP" | "UUX" | "BLP" | "GTC" | "SBP" | "CHG" | "QRY" | "ADL"
            | "RML" | "UUN" => {
                self.our_change(&frame, now);
                let done = self.complete(out, &frame);
                // A list edit of staff's is done: the bouncer sees the lists
                // as they are now (who is accepted, blocked, gone).
                if done && matches!(frame.cmd.as_str(), "ADD" | "ADC" | "REM" | "ADL" | "RML") {
                    let (contacts, groups) = self.roster.snapshot();
                    out.push(NsOutput::Event(Event::Roster { contacts, groups }));
                }
            }
            "UBN" => out.extend(frames::asked_to_leave(&frame, &self.config.account)),
            "SBS" | "NOT" | "GCF" | "IPG" | "BPR" | "LSG" | "LST" | "SYN" | "NFY" | "SDG" | "PUT" | "UBM"
            | "FQY" => {}
            _ => tracing::debug!("ignored: {}", frame.line()),
        }
    }

    /// `CHL`: the answer goes out at once.
    fn challenge(&mut self, out: &mut Vec<NsOutput>, frame: &Frame) {
        if let Some(ch) = frame.arg(1) {
            let (product, answer) = challenge::answer(self.dialect, ch);
            let t = self
                .transactions
                .open(Some(Pending::Internal("challenge answer")));
            let qry = encode("QRY", Some(t), &[product.id], Some(answer.as_bytes()));
            out.push(NsOutput::Send(qry));
        }
    }

    /// `XFR SB`: the switchboard we asked for, or why not.
    fn switchboard_answer(&mut self, out: &mut Vec<NsOutput>, frame: &Frame) {
        let token = frame.trid().and_then(|t| self.transactions.switchboard(t));
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

    /// The server confirms a change of ours: our status (pinging starts
    /// once we are visible) or our friendly name.
    fn our_change(&mut self, frame: &Frame, now: Instant) {
        match frame.cmd.as_str() {
            "CHG" => {
                if let Some(s) = frame.arg(1).and_then(roster::parse_status) {
                    self.status = s;
                    self.keepalive.visible(now);
                }
            }
            "REA" if self.dialect < 10 => {
                if let (Some(who), Some(name)) = (frame.arg(2), frame.arg(3)) {
                    if who.eq_ignore_ascii_case(&self.config.account) {
                        self.friendly_name = escape::decode(name);
                    }
                }
            }
            // `PRP <trid> MFN <name>` answers ours; `PRP MFN <name>` (no
            // transaction id) is the server's own word.
            "PRP" => {
                let name = match (frame.arg(0), frame.arg(1)) {
                    (Some("MFN"), _) => frame.arg(1),
                    (_, Some("MFN")) => frame.arg(2),
                    _ => return,
                };
                self.friendly_name = name.map(escape::decode).unwrap_or_default();
            }
            _ => {}
        }
    }
}

pub use frames::parse_addr;

#[cfg(test)]
#[path = "ns/ns_tests.rs"]
mod tests;
