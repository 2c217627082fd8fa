//! Connection registration, sans-IO: CAP negotiation (302), `PASS
//! user[@device]:password`, SASL PLAIN (with 400-byte chunks) and EXTERNAL
//! (a TLS client certificate), NICK and USER, in any order and pipelined.
//! The caller checks credentials when asked ([`Output::Verify`],
//! [`Output::VerifyCert`]) and answers with [`Registration::verified`].
//! Commands are dispatched from [`COMMANDS`]; anything else is `451`.

use base64::Engine;
use irc_proto::Message;

use super::cap::{self, Caps, Stage};
use super::dispatch::{route, Missing, Route, Row};
use super::wire::{params, reply};

type Handler = fn(&mut Registration, &[String], &mut Vec<Output>);

/// What a registering client may send.
#[rustfmt::skip]
pub const COMMANDS: &[Row<Handler>] = &[
    Row { name: "CAP",          params: 0, missing: Missing::NotEnough, handler: Registration::cap },
    Row { name: "AUTHENTICATE", params: 0, missing: Missing::NotEnough, handler: Registration::authenticate },
    Row { name: "PASS",         params: 1, missing: Missing::NotEnough, handler: Registration::pass },
    Row { name: "NICK",         params: 1, missing: Missing::Reply("431", "No nickname given"), handler: Registration::nick },
    Row { name: "USER",         params: 4, missing: Missing::NotEnough, handler: Registration::user },
    Row { name: "PING",         params: 1, missing: Missing::Reply("409", "No origin specified"), handler: Registration::ping },
    Row { name: "PONG",         params: 0, missing: Missing::NotEnough, handler: |_, _, _| {} },
    Row { name: "QUIT",         params: 0, missing: Missing::NotEnough, handler: Registration::quit },
];
/// SASL payloads above this are refused (RFC: 400-byte chunks, a few of them).
const MAX_SASL: usize = 4096;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Login {
    pub user: String,
    /// The device after `@`, e.g. `alice@laptop`: each keeps its own position.
    pub device: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Via {
    Pass,
    Sasl,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    Send(String),
    /// Check these credentials and call [`Registration::verified`].
    Verify {
        login: Login,
        password: String,
        via: Via,
    },
    /// SASL EXTERNAL: find the user this certificate is registered to
    /// (it must be `wanted.user` when the client named one) and call
    /// [`Registration::verified`] with `Via::Sasl`.
    VerifyCert {
        fingerprint: String,
        wanted: Option<Login>,
    },
    /// Registered: hand the connection over.
    Registered(Registered),
    /// Send an `ERROR` with this text and close.
    Close(String),
}

/// A registered client, ready to hand over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registered {
    pub login: Login,
    /// The nick the client asked for (it gets the user's name).
    pub nick: String,
    /// USER's real name, shown in WHOIS and extended-join.
    pub realname: String,
    pub caps: Caps,
}

#[derive(Debug, Default)]
enum Sasl {
    #[default]
    Idle,
    /// `AUTHENTICATE PLAIN` accepted; collecting the base64 payload.
    Plain(String),
    /// `AUTHENTICATE EXTERNAL` accepted; waiting for the authzid (`+`: none).
    External,
    /// A payload was too long: its remaining chunks are dropped, up to
    /// the last (shorter than 400 bytes).
    Discarding,
    /// Waiting for the verdict.
    Checking,
    Done(Login),
}

#[derive(Debug, Default)]
pub struct Registration {
    server: String,
    nick: Option<String>,
    /// The USER command's user name; `alice@laptop` there names the device
    /// for logins that carry none (SASL EXTERNAL without an authzid).
    username: Option<String>,
    realname: String,
    /// The fingerprint of the client's TLS certificate, if it sent one.
    cert: Option<String>,
    pass: Option<String>,
    negotiating: bool,
    caps: Caps,
    sasl: Sasl,
    checking_pass: bool,
    finished: bool,
    sasl_failures: u32,
}

/// Splits `user[@device]`.
pub fn parse_login(s: &str) -> Option<Login> {
    let (user, device) = match s.split_once('@') {
        Some((u, d)) => (u, Some(d)),
        None => (s, None),
    };
    let ok = |x: &str| {
        !x.is_empty()
            && x.len() <= 30
            && x.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    };
    (ok(user) && device.is_none_or(ok)).then(|| Login {
        user: user.to_owned(),
        device: device.map(str::to_owned),
    })
}

/// Nicks: a letter or one of `[]\`_^{|}`, then also digits and `-`; ≤ 30.
pub fn valid_nick(n: &str) -> bool {
    let special = |c: char| "[]\\`_^{|}".contains(c);
    let mut chars = n.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || special(c))
        && chars.all(|c| c.is_ascii_alphanumeric() || special(c) || c == '-')
        && n.len() <= 30
}

impl Registration {
    pub fn new(server: &str) -> Self {
        Registration {
            server: server.to_owned(),
            ..Registration::default()
        }
    }

    /// The client presented a TLS certificate with this fingerprint.
    pub fn with_cert(mut self, fingerprint: Option<String>) -> Self {
        self.cert = fingerprint;
        self
    }

    /// EXTERNAL is offered only to a client that sent a certificate.
    fn mechanisms(&self) -> &'static str {
        if self.cert.is_some() {
            "PLAIN,EXTERNAL"
        } else {
            "PLAIN"
        }
    }

    fn user_seen(&self) -> bool {
        self.username.is_some()
    }

    fn target(&self) -> String {
        self.nick.clone().unwrap_or_else(|| "*".into())
    }

    fn numeric(&self, code: &str, params: &[&str]) -> Output {
        Output::Send(reply(&self.server, code, &self.target(), params))
    }

    pub fn on_message(&mut self, m: &Message) -> Vec<Output> {
        let (cmd, p) = params(m);
        let mut out = Vec::new();
        if self.finished {
            return out;
        }
        match route(COMMANDS, &cmd, p.len()) {
            Route::Run(handler) => handler(self, &p, &mut out),
            Route::Missing(code, params) => {
                let params: Vec<&str> = params.iter().map(String::as_str).collect();
                out.push(self.numeric(code, &params));
            }
            Route::Unknown => out.push(self.numeric("451", &["You have not registered"])),
        }
        self.try_finish(&mut out);
        out
    }

    fn pass(&mut self, p: &[String], _: &mut Vec<Output>) {
        self.pass = p.first().cloned();
    }

    fn nick(&mut self, p: &[String], out: &mut Vec<Output>) {
        match p.first() {
            Some(n) if valid_nick(n) => self.nick = Some(n.clone()),
            Some(n) => out.push(self.numeric("432", &[n, "Erroneous nickname"])),
            None => {}
        }
    }

    fn user(&mut self, p: &[String], out: &mut Vec<Output>) {
        // An empty user name or real name is not enough (RFC 2812 3.1.3).
        if p.first().is_none_or(String::is_empty) || p.get(3).is_none_or(|r| r.trim().is_empty()) {
            out.push(self.numeric("461", &["USER", "Not enough parameters"]));
            return;
        }
        self.username = p.first().cloned();
        self.realname = p.get(3).cloned().unwrap_or_default();
    }

    fn ping(&mut self, p: &[String], out: &mut Vec<Output>) {
        let token = p.first().cloned().unwrap_or_default();
        out.push(Output::Send(format!(":{0} PONG {0} :{token}", self.server)));
    }

    fn quit(&mut self, _: &[String], out: &mut Vec<Output>) {
        out.push(Output::Close("Bye".into()));
        self.finished = true;
    }

    fn cap(&mut self, p: &[String], out: &mut Vec<Output>) {
        let stage = Stage::Registering {
            mechanisms: self.mechanisms(),
        };
        let me = self.target();
        let reply = cap::cap(&mut self.caps, &self.server, &me, p, stage);
        out.extend(reply.lines.into_iter().map(Output::Send));
        if let Some(negotiating) = reply.negotiating {
            self.negotiating = negotiating;
        }
    }

    fn authenticate(&mut self, p: &[String], out: &mut Vec<Output>) {
        let arg = p.first().cloned().unwrap_or_default();
        if !self.caps.has(cap::Cap::Sasl) {
            out.push(self.numeric(
                "904",
                &["SASL authentication failed: request the sasl capability first (CAP REQ :sasl)"],
            ));
            return;
        }
        match std::mem::take(&mut self.sasl) {
            Sasl::Done(login) => {
                self.sasl = Sasl::Done(login);
                out.push(self.numeric("907", &["You have already authenticated using SASL"]));
            }
            Sasl::Checking => self.sasl = Sasl::Checking,
            _ if arg == "*" => out.push(self.numeric("906", &["SASL authentication aborted"])),
            // The rest of a payload already refused.
            Sasl::Discarding if arg.len() == 400 => self.sasl = Sasl::Discarding,
            Sasl::Discarding => {}
            Sasl::Idle => {
                if arg.eq_ignore_ascii_case("PLAIN") {
                    self.sasl = Sasl::Plain(String::new());
                    out.push(Output::Send("AUTHENTICATE +".into()));
                } else if arg.eq_ignore_ascii_case("EXTERNAL") {
                    if self.cert.is_some() {
                        self.sasl = Sasl::External;
                        out.push(Output::Send("AUTHENTICATE +".into()));
                    } else {
                        out.push(
                            self.numeric("904", &["SASL authentication failed: no TLS client certificate"]),
                        );
                    }
                } else {
                    out.push(self.numeric("908", &[self.mechanisms(), "are available SASL mechanisms"]));
                    out.push(self.numeric("904", &["SASL authentication failed"]));
                }
            }
            Sasl::External => {
                let wanted = match arg.as_str() {
                    "+" => Ok(None),
                    b64 => base64::engine::general_purpose::STANDARD
                        .decode(b64)
                        .ok()
                        .and_then(|raw| String::from_utf8(raw).ok())
                        .and_then(|authzid| parse_login(&authzid))
                        .map(Some)
                        .ok_or(()),
                };
                match (wanted, self.cert.clone()) {
                    (Ok(wanted), Some(fingerprint)) => {
                        self.sasl = Sasl::Checking;
                        out.push(Output::VerifyCert { fingerprint, wanted });
                    }
                    _ => out.push(self.numeric("904", &["SASL authentication failed"])),
                }
            }
            Sasl::Plain(data) => self.plain_chunk(data, &arg, out),
        }
    }

    /// One chunk of a SASL PLAIN payload.
    fn plain_chunk(&mut self, mut data: String, arg: &str, out: &mut Vec<Output>) {
        if arg != "+" {
            data.push_str(arg);
        }
        if data.len() > MAX_SASL {
            out.push(self.numeric("905", &["SASL message too long"]));
            out.push(self.numeric("904", &["SASL authentication failed"]));
            if arg.len() == 400 {
                self.sasl = Sasl::Discarding;
            }
            return;
        }
        // A 400-byte chunk means more follows.
        if arg.len() == 400 {
            self.sasl = Sasl::Plain(data);
            return;
        }
        match decode_plain(&data) {
            Some((login, password)) => {
                self.sasl = Sasl::Checking;
                out.push(Output::Verify {
                    login,
                    password,
                    via: Via::Sasl,
                });
            }
            None => out.push(self.numeric("904", &["SASL authentication failed"])),
        }
    }

    /// The verdict on an [`Output::Verify`].
    pub fn verified(&mut self, login: Login, via: Via, ok: bool) -> Vec<Output> {
        let mut out = Vec::new();
        match (via, ok) {
            (Via::Sasl, true) => {
                let account = login.user.clone();
                let me = self.target();
                out.push(Output::Send(reply(
                    &self.server,
                    "900",
                    &me,
                    &[
                        &format!("{me}!{account}@msnbnc"),
                        &account,
                        &format!("You are now logged in as {account}"),
                    ],
                )));
                out.push(self.numeric("903", &["SASL authentication successful"]));
                self.sasl = Sasl::Done(login);
            }
            (Via::Sasl, false) => {
                self.sasl = Sasl::Idle;
                out.push(self.numeric("904", &["SASL authentication failed"]));
                // A few tries per connection, not a password-guessing loop.
                self.sasl_failures += 1;
                if self.sasl_failures >= 3 {
                    out.push(Output::Close("Too many failed logins".into()));
                    self.finished = true;
                    return out;
                }
            }
            (Via::Pass, true) => {
                self.checking_pass = false;
                self.sasl = Sasl::Done(login);
            }
            (Via::Pass, false) => {
                out.push(self.numeric("464", &["Password incorrect"]));
                out.push(Output::Close("Password incorrect".into()));
                self.finished = true;
                return out;
            }
        }
        self.try_finish(&mut out);
        out
    }

    fn try_finish(&mut self, out: &mut Vec<Output>) {
        if self.finished || self.negotiating || !self.user_seen() || self.checking_pass {
            return;
        }
        let Some(nick) = self.nick.clone() else { return };
        match &self.sasl {
            Sasl::Done(login) => {
                self.finished = true;
                let mut login = login.clone();
                if login.device.is_none() {
                    // `USER alice@laptop …` names the device.
                    let named = self.username.as_deref().and_then(parse_login);
                    if let Some(named) = named.filter(|n| n.user.eq_ignore_ascii_case(&login.user)) {
                        login.device = named.device;
                    }
                }
                out.push(Output::Registered(Registered {
                    login,
                    nick,
                    realname: self.realname.clone(),
                    caps: self.caps,
                }));
            }
            Sasl::Checking => {}
            // CAP END in the middle of SASL: the exchange is over, and the
            // login goes on without it (PASS, or a clear refusal).
            Sasl::Plain(_) | Sasl::External | Sasl::Discarding => {
                out.push(self.numeric("906", &["SASL authentication aborted"]));
                self.sasl = Sasl::Idle;
                self.try_finish(out);
            }
            Sasl::Idle => match self.pass.take() {
                Some(pass) => match pass.split_once(':').and_then(|(l, p)| Some((parse_login(l)?, p))) {
                    Some((login, password)) => {
                        self.checking_pass = true;
                        out.push(Output::Verify {
                            login,
                            password: password.to_owned(),
                            via: Via::Pass,
                        });
                    }
                    None => {
                        out.push(self.numeric("464", &["Password incorrect (use PASS user:password)"]));
                        out.push(Output::Close("Password incorrect".into()));
                        self.finished = true;
                    }
                },
                None => {
                    out.push(self.numeric("464", &["Log in with PASS user:password or SASL PLAIN"]));
                    out.push(Output::Close("Password required".into()));
                    self.finished = true;
                }
            },
        }
    }
}

/// `authzid \0 authcid \0 password`, base64-encoded.
fn decode_plain(b64: &str) -> Option<(Login, String)> {
    let raw = base64::engine::general_purpose::STANDARD.decode(b64).ok()?;
    let text = String::from_utf8(raw).ok()?;
    let mut parts = text.splitn(3, '\0');
    let (authzid, authcid, password) = (parts.next()?, parts.next()?, parts.next()?);
    if !authzid.is_empty() && authzid != authcid {
        return None;
    }
    Some((parse_login(authcid)?, password.to_owned()))
}

#[cfg(test)]
#[path = "registration_tests.rs"]
mod tests;
