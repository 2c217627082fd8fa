//! Connection registration, sans-IO: CAP negotiation (302), `PASS
//! user[@device]:password`, SASL PLAIN (with 400-byte chunks) and EXTERNAL
//! (a TLS client certificate), NICK and USER, in any order and pipelined.
//! The caller checks credentials when asked ([`Output::Verify`],
//! [`Output::VerifyCert`]) and answers with [`Registration::verified`].

use std::collections::BTreeSet;

use base64::Engine;
use irc_proto::Message;

use super::wire::{params, reply};

/// Capabilities offered, and the ones a client may request.
pub const CAPABILITIES: &[&str] = &[
    "sasl",
    "message-tags",
    "server-time",
    "echo-message",
    "away-notify",
    "account-tag",
    "multi-prefix",
    "userhost-in-names",
    "cap-notify",
    "batch",
    "labeled-response",
    "extended-join",
    "setname",
    "draft/chathistory",
    "draft/read-marker",
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
    pub caps: BTreeSet<String>,
}

#[derive(Debug, Default)]
enum Sasl {
    #[default]
    Idle,
    /// `AUTHENTICATE PLAIN` accepted; collecting the base64 payload.
    Plain(String),
    /// `AUTHENTICATE EXTERNAL` accepted; waiting for the authzid (`+`: none).
    External,
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
    caps: BTreeSet<String>,
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
        match cmd.as_str() {
            "CAP" => self.cap(&mut out, &p),
            "AUTHENTICATE" => self.authenticate(&mut out, &p),
            "PASS" => match p.first() {
                Some(pass) => self.pass = Some(pass.clone()),
                None => out.push(self.numeric("461", &["PASS", "Not enough parameters"])),
            },
            "NICK" => match p.first() {
                Some(n) if valid_nick(n) => self.nick = Some(n.clone()),
                Some(n) => out.push(self.numeric("432", &[n, "Erroneous nickname"])),
                None => out.push(self.numeric("431", &["No nickname given"])),
            },
            "USER" => {
                if p.len() < 4 {
                    out.push(self.numeric("461", &["USER", "Not enough parameters"]));
                } else {
                    self.username = p.first().cloned();
                    self.realname = p.get(3).cloned().unwrap_or_default();
                }
            }
            "PING" => {
                let token = p.first().cloned().unwrap_or_default();
                out.push(Output::Send(format!(":{0} PONG {0} :{token}", self.server)));
            }
            "PONG" => {}
            "QUIT" => {
                out.push(Output::Close("Bye".into()));
                self.finished = true;
                return out;
            }
            _ => out.push(self.numeric("451", &["You have not registered"])),
        }
        self.try_finish(&mut out);
        out
    }

    fn cap(&mut self, out: &mut Vec<Output>, p: &[String]) {
        let sub = p.first().map(|s| s.to_ascii_uppercase()).unwrap_or_default();
        let me = self.target();
        match sub.as_str() {
            "LS" => {
                self.negotiating = true;
                let version = p.get(1).and_then(|v| v.parse::<u32>().ok()).unwrap_or(0);
                let list: Vec<String> = CAPABILITIES
                    .iter()
                    .map(|c| {
                        if *c == "sasl" && version >= 302 {
                            format!("sasl={}", self.mechanisms())
                        } else {
                            (*c).to_owned()
                        }
                    })
                    .collect();
                out.push(Output::Send(format!(
                    ":{} CAP {me} LS :{}",
                    self.server,
                    list.join(" ")
                )));
            }
            "LIST" => {
                let list: Vec<&str> = self.caps.iter().map(String::as_str).collect();
                out.push(Output::Send(format!(
                    ":{} CAP {me} LIST :{}",
                    self.server,
                    list.join(" ")
                )));
            }
            "REQ" => {
                self.negotiating = true;
                let wanted = p.get(1).cloned().unwrap_or_default();
                let all_known = wanted
                    .split_whitespace()
                    .all(|c| CAPABILITIES.contains(&c.trim_start_matches('-')));
                if all_known && !wanted.trim().is_empty() {
                    for c in wanted.split_whitespace() {
                        match c.strip_prefix('-') {
                            Some(off) => self.caps.remove(off),
                            None => self.caps.insert(c.to_owned()),
                        };
                    }
                    out.push(Output::Send(format!(":{} CAP {me} ACK :{wanted}", self.server)));
                } else {
                    out.push(Output::Send(format!(":{} CAP {me} NAK :{wanted}", self.server)));
                }
            }
            "END" => self.negotiating = false,
            _ => out.push(self.numeric("410", &[&sub, "Invalid CAP command"])),
        }
    }

    fn authenticate(&mut self, out: &mut Vec<Output>, p: &[String]) {
        let arg = p.first().cloned().unwrap_or_default();
        if !self.caps.contains("sasl") {
            out.push(self.numeric("904", &["SASL authentication failed"]));
            return;
        }
        match std::mem::take(&mut self.sasl) {
            Sasl::Done(login) => {
                self.sasl = Sasl::Done(login);
                out.push(self.numeric("907", &["You have already authenticated using SASL"]));
            }
            Sasl::Checking => self.sasl = Sasl::Checking,
            _ if arg == "*" => out.push(self.numeric("906", &["SASL authentication aborted"])),
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
            Sasl::Plain(mut data) => {
                if arg != "+" {
                    data.push_str(&arg);
                }
                if data.len() > MAX_SASL {
                    out.push(self.numeric("905", &["SASL message too long"]));
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
                    caps: self.caps.clone(),
                }));
            }
            Sasl::Checking | Sasl::Plain(_) | Sasl::External => {}
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
mod tests {
    use super::*;

    fn feed(r: &mut Registration, lines: &[&str]) -> Vec<Output> {
        lines
            .iter()
            .flat_map(|l| r.on_message(&l.parse::<Message>().unwrap()))
            .collect()
    }

    fn sent(out: &[Output]) -> Vec<String> {
        out.iter()
            .filter_map(|o| match o {
                Output::Send(s) => Some(s.clone()),
                _ => None,
            })
            .collect()
    }

    fn plain(user: &str, pass: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(format!("\0{user}\0{pass}"))
    }

    #[test]
    fn pass_login_with_a_device() {
        let mut r = Registration::new("msnbnc");
        let out = feed(
            &mut r,
            &[
                "PASS :alice@laptop:s3cret: with colon",
                "NICK alice",
                "USER alice 0 * :Alice",
            ],
        );
        let login = Login {
            user: "alice".into(),
            device: Some("laptop".into()),
        };
        assert_eq!(
            out,
            vec![Output::Verify {
                login: login.clone(),
                password: "s3cret: with colon".into(),
                via: Via::Pass
            }]
        );
        let out = r.verified(login.clone(), Via::Pass, true);
        assert!(matches!(&out[0], Output::Registered(r) if r.login == login && r.nick == "alice"));
    }

    #[test]
    fn wrong_password_gets_464_and_close() {
        let mut r = Registration::new("msnbnc");
        feed(&mut r, &["PASS alice:nope", "NICK alice", "USER alice 0 * :A"]);
        let out = r.verified(
            Login {
                user: "alice".into(),
                device: None,
            },
            Via::Pass,
            false,
        );
        assert_eq!(sent(&out), vec![":msnbnc 464 alice :Password incorrect"]);
        assert!(matches!(out.last(), Some(Output::Close(_))));
    }

    #[test]
    fn no_password_at_all_is_refused() {
        let mut r = Registration::new("msnbnc");
        let out = feed(&mut r, &["NICK alice", "USER alice 0 * :A"]);
        assert!(sent(&out)[0].starts_with(":msnbnc 464 alice :"));
        assert!(matches!(out.last(), Some(Output::Close(_))));
    }

    #[test]
    fn pipelined_cap_sasl_registration() {
        let mut r = Registration::new("msnbnc");
        let out = feed(
            &mut r,
            &[
                "CAP LS 302",
                "NICK alice",
                "USER alice 0 * :A",
                "CAP REQ :sasl",
                "AUTHENTICATE PLAIN",
            ],
        );
        assert_eq!(
            sent(&out),
            vec![
                ":msnbnc CAP * LS :sasl=PLAIN message-tags server-time echo-message away-notify account-tag multi-prefix userhost-in-names cap-notify batch labeled-response extended-join setname draft/chathistory draft/read-marker",
                ":msnbnc CAP alice ACK :sasl",
                "AUTHENTICATE +"
            ]
        );
        let out = feed(&mut r, &[&format!("AUTHENTICATE {}", plain("alice@phone", "pw"))]);
        let login = Login {
            user: "alice".into(),
            device: Some("phone".into()),
        };
        assert_eq!(
            out,
            vec![Output::Verify {
                login: login.clone(),
                password: "pw".into(),
                via: Via::Sasl
            }]
        );
        let out = r.verified(login.clone(), Via::Sasl, true);
        assert_eq!(sent(&out)[1], ":msnbnc 903 alice :SASL authentication successful");
        assert!(feed(&mut r, &["CAP END"])
            .iter()
            .any(|o| matches!(o, Output::Registered(r) if r.login == login)));
    }

    #[test]
    fn sasl_in_400_byte_chunks() {
        let mut r = Registration::new("s");
        feed(&mut r, &["CAP REQ :sasl", "AUTHENTICATE PLAIN"]);
        let long = plain("alice", &"p".repeat(400));
        assert!(long.len() > 400);
        let (a, b) = long.split_at(400);
        assert!(feed(&mut r, &[&format!("AUTHENTICATE {a}")]).is_empty());
        let out = feed(&mut r, &[&format!("AUTHENTICATE {b}")]);
        assert!(matches!(&out[0], Output::Verify { password, .. } if password.len() == 400));
    }

    #[test]
    fn sasl_failures_and_mechanisms() {
        let mut r = Registration::new("s");
        feed(&mut r, &["CAP REQ :sasl"]);
        let out = feed(&mut r, &["AUTHENTICATE SCRAM-SHA-256"]);
        assert_eq!(
            sent(&out),
            vec![
                ":s 908 * PLAIN :are available SASL mechanisms",
                ":s 904 * :SASL authentication failed"
            ]
        );
        // EXTERNAL needs a client certificate.
        assert_eq!(
            sent(&feed(&mut r, &["AUTHENTICATE EXTERNAL"])),
            vec![":s 904 * :SASL authentication failed: no TLS client certificate"]
        );
        feed(&mut r, &["AUTHENTICATE PLAIN"]);
        assert_eq!(
            sent(&feed(&mut r, &["AUTHENTICATE bm90IHZhbGlk"])),
            vec![":s 904 * :SASL authentication failed"]
        );
        feed(&mut r, &["AUTHENTICATE PLAIN"]);
        assert_eq!(
            sent(&feed(&mut r, &["AUTHENTICATE *"])),
            vec![":s 906 * :SASL authentication aborted"]
        );
        let out = r.verified(
            Login {
                user: "a".into(),
                device: None,
            },
            Via::Sasl,
            false,
        );
        assert_eq!(sent(&out), vec![":s 904 * :SASL authentication failed"]);
    }

    #[test]
    fn sasl_external_asks_for_the_certificates_owner() {
        let fp = "ab".repeat(32);
        let mut r = Registration::new("s").with_cert(Some(fp.clone()));
        let out = feed(&mut r, &["CAP LS 302"]);
        assert!(sent(&out)[0].contains("sasl=PLAIN,EXTERNAL"), "{out:?}");
        let out = feed(
            &mut r,
            &[
                "CAP REQ :sasl",
                "AUTHENTICATE EXTERNAL",
                "AUTHENTICATE +",
                "NICK x",
                "USER alice@laptop 0 * :A",
            ],
        );
        assert!(sent(&out).contains(&"AUTHENTICATE +".to_owned()));
        assert!(out.contains(&Output::VerifyCert {
            fingerprint: fp.clone(),
            wanted: None
        }));
        let owner = Login {
            user: "alice".into(),
            device: None,
        };
        let out = r.verified(owner, Via::Sasl, true);
        assert_eq!(sent(&out)[1], ":s 903 x :SASL authentication successful");
        // USER's `alice@laptop` names the device the certificate did not.
        let out = feed(&mut r, &["CAP END"]);
        assert!(
            out.iter().any(|o| matches!(o, Output::Registered(r)
                if r.login.user == "alice" && r.login.device.as_deref() == Some("laptop") && r.realname == "A")),
            "{out:?}"
        );

        // An authzid names user and device; garbage is refused.
        let mut r = Registration::new("s").with_cert(Some(fp.clone()));
        let authzid = base64::engine::general_purpose::STANDARD.encode("alice@phone");
        let out = feed(
            &mut r,
            &[
                "CAP REQ :sasl",
                "AUTHENTICATE EXTERNAL",
                &format!("AUTHENTICATE {authzid}"),
            ],
        );
        assert!(out.contains(&Output::VerifyCert {
            fingerprint: fp.clone(),
            wanted: Some(Login {
                user: "alice".into(),
                device: Some("phone".into())
            })
        }));
        let mut r = Registration::new("s").with_cert(Some(fp));
        let out = feed(
            &mut r,
            &["CAP REQ :sasl", "AUTHENTICATE EXTERNAL", "AUTHENTICATE %%%"],
        );
        assert_eq!(sent(&out).last().unwrap(), ":s 904 * :SASL authentication failed");
    }

    #[test]
    fn bad_input_gets_standard_numerics() {
        let mut r = Registration::new("s");
        assert_eq!(
            sent(&feed(&mut r, &["NICK 9lives"])),
            vec![":s 432 * 9lives :Erroneous nickname"]
        );
        assert_eq!(
            sent(&feed(&mut r, &["NICK"])),
            vec![":s 431 * :No nickname given"]
        );
        assert_eq!(
            sent(&feed(&mut r, &["USER a"])),
            vec![":s 461 * USER :Not enough parameters"]
        );
        assert_eq!(
            sent(&feed(&mut r, &["JOIN #x"])),
            vec![":s 451 * :You have not registered"]
        );
        assert_eq!(
            sent(&feed(&mut r, &["CAP REQ :bogus"])),
            vec![":s CAP * NAK :bogus"]
        );
        assert_eq!(sent(&feed(&mut r, &["PING :123"])), vec![":s PONG s :123"]);
    }

    #[test]
    fn logins_and_nicks() {
        assert_eq!(
            parse_login("alice"),
            Some(Login {
                user: "alice".into(),
                device: None
            })
        );
        assert_eq!(
            parse_login("alice@work-pc"),
            Some(Login {
                user: "alice".into(),
                device: Some("work-pc".into())
            })
        );
        assert_eq!(parse_login("alice@"), None);
        assert_eq!(parse_login("a b"), None);
        assert!(valid_nick("alice") && valid_nick("[away]") && valid_nick("a-1"));
        assert!(!valid_nick("1a") && !valid_nick("") && !valid_nick("a b") && !valid_nick(&"a".repeat(31)));
    }
}
