//! IRCv3 capabilities: the ones msnbnc offers, a client's set of them as
//! bits, and the one `CAP` implementation, used during registration and
//! after it. Sans-IO.

/// A capability msnbnc offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Cap {
    Sasl,
    MessageTags,
    ServerTime,
    EchoMessage,
    AwayNotify,
    AccountTag,
    MultiPrefix,
    UserhostInNames,
    CapNotify,
    Batch,
    LabeledResponse,
    ExtendedJoin,
    Setname,
    Chathistory,
    ReadMarker,
    /// ZNC's: a user's own private messages reach their other devices.
    SelfMessage,
    /// ZNC's: no replay on attach; `PRIVMSG *playback :PLAY …` asks.
    Playback,
}

impl Cap {
    /// Every capability, in the order `CAP LS` lists them.
    pub const ALL: [Cap; 17] = [
        Cap::Sasl,
        Cap::MessageTags,
        Cap::ServerTime,
        Cap::EchoMessage,
        Cap::AwayNotify,
        Cap::AccountTag,
        Cap::MultiPrefix,
        Cap::UserhostInNames,
        Cap::CapNotify,
        Cap::Batch,
        Cap::LabeledResponse,
        Cap::ExtendedJoin,
        Cap::Setname,
        Cap::Chathistory,
        Cap::ReadMarker,
        Cap::SelfMessage,
        Cap::Playback,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Cap::Sasl => "sasl",
            Cap::MessageTags => "message-tags",
            Cap::ServerTime => "server-time",
            Cap::EchoMessage => "echo-message",
            Cap::AwayNotify => "away-notify",
            Cap::AccountTag => "account-tag",
            Cap::MultiPrefix => "multi-prefix",
            Cap::UserhostInNames => "userhost-in-names",
            Cap::CapNotify => "cap-notify",
            Cap::Batch => "batch",
            Cap::LabeledResponse => "labeled-response",
            Cap::ExtendedJoin => "extended-join",
            Cap::Setname => "setname",
            Cap::Chathistory => "draft/chathistory",
            Cap::ReadMarker => "draft/read-marker",
            Cap::SelfMessage => "znc.in/self-message",
            Cap::Playback => "znc.in/playback",
        }
    }

    pub fn from_name(name: &str) -> Option<Cap> {
        Cap::ALL.into_iter().find(|c| c.name() == name)
    }

    fn bit(self) -> u32 {
        1 << (self as u32)
    }
}

/// A set of capabilities.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Caps(u32);

impl Caps {
    pub fn has(self, cap: Cap) -> bool {
        self.0 & cap.bit() != 0
    }

    pub fn insert(&mut self, cap: Cap) {
        self.0 |= cap.bit();
    }

    pub fn remove(&mut self, cap: Cap) {
        self.0 &= !cap.bit();
    }

    pub fn iter(self) -> impl Iterator<Item = Cap> {
        Cap::ALL.into_iter().filter(move |c| self.has(*c))
    }

    /// Space-separated names, as `CAP LIST` gives them.
    pub fn names(self) -> String {
        self.iter().map(Cap::name).collect::<Vec<_>>().join(" ")
    }
}

impl FromIterator<Cap> for Caps {
    fn from_iter<I: IntoIterator<Item = Cap>>(iter: I) -> Self {
        let mut caps = Caps::default();
        for c in iter {
            caps.insert(c);
        }
        caps
    }
}

/// Where a client is: registering (SASL mechanisms on offer) or registered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage<'a> {
    /// The SASL mechanisms this connection may use.
    Registering {
        mechanisms: &'a str,
    },
    Registered,
}

/// What a `CAP` command asks to send, and whether negotiation is now
/// going on (`Some(true)`, it holds registration), over (`Some(false)`),
/// or unchanged.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct CapReply {
    pub lines: Vec<String>,
    pub negotiating: Option<bool>,
}

/// `CAP <subcommand> …` from a client whose nick is `me` (`*` before it
/// has one).
pub fn cap(caps: &mut Caps, server: &str, me: &str, params: &[String], stage: Stage<'_>) -> CapReply {
    let sub = params.first().map(|s| s.to_ascii_uppercase()).unwrap_or_default();
    let mut reply = CapReply::default();
    let mut say = |text: String| reply.lines.push(format!(":{server} CAP {me} {text}"));
    match sub.as_str() {
        "LS" => {
            let version = params.get(1).and_then(|v| v.parse::<u32>().ok()).unwrap_or(0);
            let list: Vec<String> = Cap::ALL
                .iter()
                .map(|c| match (c, stage) {
                    (Cap::Sasl, Stage::Registering { mechanisms }) if version >= 302 => {
                        format!("sasl={mechanisms}")
                    }
                    _ => c.name().to_owned(),
                })
                .collect();
            say(format!("LS :{}", list.join(" ")));
            reply.negotiating = matches!(stage, Stage::Registering { .. }).then_some(true);
        }
        "LIST" => say(format!("LIST :{}", caps.names())),
        "REQ" => {
            let wanted = params.get(1).cloned().unwrap_or_default();
            match requested(&wanted, stage) {
                Some(changes) => {
                    // Each capability once in the ACK, however often asked.
                    let mut acked: Vec<String> = Vec::new();
                    for (cap, on) in changes {
                        if on {
                            caps.insert(cap);
                        } else {
                            caps.remove(cap);
                        }
                        let name = if on {
                            cap.name().to_owned()
                        } else {
                            format!("-{}", cap.name())
                        };
                        if !acked.contains(&name) {
                            acked.push(name);
                        }
                    }
                    say(format!("ACK :{}", acked.join(" ")));
                }
                None => say(format!("NAK :{wanted}")),
            }
            reply.negotiating = matches!(stage, Stage::Registering { .. }).then_some(true);
        }
        "END" => reply.negotiating = Some(false),
        _ => reply.lines.push(super::wire::reply(
            server,
            "410",
            me,
            &[&sub, "Invalid CAP command"],
        )),
    }
    reply
}

/// The changes a `CAP REQ` asks for, or `None` if any is unknown (then
/// none is made): `-name` turns one off. SASL cannot be asked for after
/// registration.
fn requested(wanted: &str, stage: Stage<'_>) -> Option<Vec<(Cap, bool)>> {
    let changes: Option<Vec<(Cap, bool)>> = wanted
        .split_whitespace()
        .map(|w| match w.strip_prefix('-') {
            Some(off) => Cap::from_name(off).map(|c| (c, false)),
            None => Cap::from_name(w).map(|c| (c, true)),
        })
        .collect();
    let changes = changes.filter(|c| !c.is_empty())?;
    let late_sasl = stage == Stage::Registered && changes.iter().any(|(c, _)| *c == Cap::Sasl);
    (!late_sasl).then_some(changes)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `CAP <sub> :<rest>`, as a client sends it.
    fn run(caps: &mut Caps, line: &str, stage: Stage<'_>) -> CapReply {
        let params: Vec<String> = match line.split_once(' ') {
            Some((sub, rest)) => vec![sub.into(), rest.into()],
            None => vec![line.into()],
        };
        cap(caps, "s", "*", &params, stage)
    }

    const REG: Stage<'static> = Stage::Registering { mechanisms: "PLAIN" };

    #[test]
    fn names_and_bits_round_trip() {
        for c in Cap::ALL {
            assert_eq!(Cap::from_name(c.name()), Some(c));
        }
        let caps: Caps = [Cap::Batch, Cap::ServerTime].into_iter().collect();
        assert_eq!(caps.names(), "server-time batch");
        assert!(caps.has(Cap::Batch) && !caps.has(Cap::Sasl));
    }

    #[test]
    fn ls_offers_sasl_mechanisms_to_302_clients_while_registering() {
        let mut caps = Caps::default();
        let r = run(&mut caps, "LS 302", REG);
        assert!(
            r.lines[0].starts_with(":s CAP * LS :sasl=PLAIN message-tags"),
            "{r:?}"
        );
        assert_eq!(r.negotiating, Some(true));
        let r = run(&mut caps, "LS", REG);
        assert!(r.lines[0].contains("LS :sasl message-tags"), "{r:?}");
        let r = run(&mut caps, "LS 302", Stage::Registered);
        assert_eq!(r.negotiating, None);
        assert!(r.lines[0].contains("LS :sasl message-tags"), "{r:?}");
    }

    #[test]
    fn a_request_repeating_a_capability_is_acked_with_it_once() {
        let mut caps = Caps::default();
        let asked = vec!["batch"; 90].join(" ") + " server-time";
        let r = run(&mut caps, &format!("REQ {asked}"), REG);
        assert_eq!(r.lines, [":s CAP * ACK :batch server-time"]);
    }

    #[test]
    fn req_is_all_or_nothing_and_sasl_only_before_registration() {
        let mut caps = Caps::default();
        let r = run(&mut caps, "REQ batch server-time", REG);
        assert_eq!(r.lines, [":s CAP * ACK :batch server-time"]);
        assert!(caps.has(Cap::Batch));
        let r = run(&mut caps, "REQ batch frobnicate", REG);
        assert_eq!(r.lines, [":s CAP * NAK :batch frobnicate"]);
        let r = run(&mut caps, "REQ -batch", Stage::Registered);
        assert_eq!(r.lines, [":s CAP * ACK :-batch"]);
        assert!(!caps.has(Cap::Batch));
        assert_eq!(
            run(&mut caps, "REQ sasl", Stage::Registered).lines,
            [":s CAP * NAK :sasl"]
        );
        assert_eq!(run(&mut caps, "REQ", REG).lines, [":s CAP * NAK :"]);
        assert_eq!(run(&mut caps, "LIST", REG).lines, [":s CAP * LIST :server-time"]);
        assert_eq!(run(&mut caps, "END", REG).negotiating, Some(false));
        assert_eq!(
            run(&mut caps, "FROB", REG).lines,
            [":s 410 * FROB :Invalid CAP command"]
        );
    }
}
