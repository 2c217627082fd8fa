//! The simulated network: accounts, their lists and presence, notification
//! sessions, switchboard rooms, Passport tickets. One mutex; no lock is
//! held across an await.

use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

use tokio::sync::mpsc::UnboundedSender;

use crate::wire::quote;

pub const FL: u8 = 1;
pub const AL: u8 = 2;
pub const BL: u8 = 4;
pub const RL: u8 = 8;
pub const PL: u8 = 16;

pub type ConnId = u64;
pub type RoomId = u64;

/// Something delivered to a scripted customer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Received {
    Text {
        from: String,
        room: RoomId,
        text: String,
        format: Option<String>,
    },
    Typing {
        from: String,
        room: RoomId,
    },
    Nudge {
        from: String,
        room: RoomId,
    },
    Other {
        from: String,
        room: RoomId,
        content_type: String,
        body: String,
    },
    Joined {
        who: String,
        room: RoomId,
    },
    Left {
        who: String,
        room: RoomId,
    },
    AddedBy {
        who: String,
    },
    /// A P2P packet (file transfer), its binary body whole.
    P2p {
        from: String,
        room: RoomId,
        body: Vec<u8>,
    },
}

#[derive(Debug)]
pub struct Account {
    /// As registered: logins must match it exactly, letter case included.
    pub email: String,
    pub password: String,
    pub friendly_name: String,
    /// This account's list bits for other accounts (lower-cased key).
    pub lists: BTreeMap<String, u8>,
    /// Contact GUIDs for MSNP10+ (lower-cased key).
    pub guids: BTreeMap<String, String>,
    /// `None` while offline.
    pub status: Option<String>,
    pub psm: String,
    /// Driven by the test through [`crate::Customer`], not by a TCP client.
    pub scripted: bool,
    pub inbox: Vec<Received>,
    /// The notification session signed in as this account.
    pub ns: Option<ConnId>,
    /// A scripted customer refuses deliveries (NAK).
    pub refuse: bool,
    /// Other places signed in to this account beside its session
    /// (MSNP16+; scripted): machine GUID and endpoint name.
    pub places: Vec<(String, String)>,
    /// The file offers (MSNSLP Call-IDs) a scripted customer has answered.
    pub answered: Vec<String>,
}

impl Account {
    pub fn bits(&self, other: &str) -> u8 {
        self.lists.get(&other.to_ascii_lowercase()).copied().unwrap_or(0)
    }

    pub fn visible(&self) -> bool {
        matches!(&self.status, Some(s) if s != "HDN")
    }
}

#[derive(Debug)]
pub struct NsConn {
    pub tx: UnboundedSender<Vec<u8>>,
    pub dialect: u8,
    pub account: Option<String>,
    /// The first CHG makes the session visible and able to use switchboards.
    pub chg_done: bool,
    /// `USR SSO S`'s nonce, until the proof comes (MSNP15+).
    pub nonce: Option<String>,
    /// The place this session is (MSNP16+ machine GUID).
    pub guid: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Grant {
    pub email: String,
    pub secret: Vec<u8>,
    pub issued: Instant,
}

#[derive(Debug)]
pub struct Member {
    pub email: String,
    /// `None` for a scripted customer.
    pub conn: Option<ConnId>,
}

#[derive(Debug)]
pub struct Room {
    pub session_id: String,
    pub members: Vec<Member>,
}

#[derive(Debug, Clone)]
pub enum Cookie {
    /// From `XFR SB`: lets `email` create/enter `room` with `USR`.
    Xfr { email: String, room: RoomId },
    /// From `RNG`: lets `email` join `room` with `ANS`.
    Rng { email: String, room: RoomId },
}

#[derive(Debug, Default)]
pub struct Quirks {
    /// After `OUT OTH`, leave the old socket open (one Escargot build does).
    pub keep_socket_after_oth: bool,
    /// Seconds in `QNG` (MSNP9+).
    pub qng_interval: u32,
    /// How long a switchboard takes to act on a client's `OUT`; meanwhile
    /// the room lives on and messages still reach that client.
    pub out_delay: std::time::Duration,
    /// How long a switchboard waits before acknowledging a client's `MSG`
    /// (delivering it at once).
    pub ack_delay: std::time::Duration,
}

#[derive(Debug, Default)]
pub struct State {
    pub accounts: BTreeMap<String, Account>,
    pub ns: HashMap<ConnId, NsConn>,
    pub sb_conns: HashMap<ConnId, UnboundedSender<Vec<u8>>>,
    pub rooms: BTreeMap<RoomId, Room>,
    pub cookies: HashMap<String, Cookie>,
    pub tickets: HashMap<String, (String, Instant)>,
    /// Single sign-on grants (MSNP13+) by ticket: the account, the proof
    /// key, when issued. The same ticket serves every web service.
    pub grants: HashMap<String, Grant>,
    /// Offline messages not deleted yet (MSNP13+).
    pub oims: Vec<crate::oim::Oim>,
    pub next_id: u64,
    pub logins: u64,
    pub quirks: Quirks,
    pub sb_addr: String,
    pub answer_pings: bool,
    /// Every command line clients sent, for tests that check the wire.
    pub transcript: Vec<String>,
}

impl State {
    pub fn id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    pub fn token(&mut self) -> String {
        // Not secret in a simulator; unique is enough.
        let n = self.id();
        format!(
            "{:08x}{:012x}",
            n.wrapping_mul(0x9E37_79B9),
            Instant::now().elapsed().as_nanos() as u64 ^ n
        )
    }

    pub fn account(&self, email: &str) -> Option<&Account> {
        self.accounts.get(&email.to_ascii_lowercase())
    }

    pub fn account_mut(&mut self, email: &str) -> Option<&mut Account> {
        self.accounts.get_mut(&email.to_ascii_lowercase())
    }

    pub fn send_ns(&self, conn: ConnId, bytes: Vec<u8>) {
        if let Some(c) = self.ns.get(&conn) {
            let _ = c.tx.send(bytes);
        }
    }

    pub fn send_ns_line(&self, conn: ConnId, line: &str) {
        self.send_ns(conn, format!("{line}\r\n").into_bytes());
    }

    /// The NS connection of a signed-in, visible-to-the-network account.
    pub fn live_ns(&self, email: &str) -> Option<(ConnId, u8)> {
        let acc = self.account(email)?;
        let conn = acc.ns?;
        let c = self.ns.get(&conn)?;
        c.chg_done.then_some((conn, c.dialect))
    }

    /// `who` (named `name`) put `email` on their forward list: `email`
    /// has them on its reverse list and, if signed in, is told — in its
    /// dialect's words. Returns whether that is news.
    pub fn added_by(&mut self, email: &str, who: &str, name: &str) -> bool {
        let Some(o) = self.account_mut(email) else {
            return false;
        };
        let before = o.bits(who);
        o.lists.insert(who.to_ascii_lowercase(), before | RL);
        if o.scripted {
            o.inbox.push(Received::AddedBy { who: who.to_owned() });
        }
        if before & RL != 0 {
            return false;
        }
        if let Some((conn, dialect)) = self.live_ns(email) {
            match dialect {
                13.. => self.send_ns(conn, crate::soap::added_you(who, name)),
                10..=12 => self.send_ns_line(conn, &format!("ADC 0 RL N={who} F={}", quote(name))),
                _ => self.send_ns_line(conn, &format!("ADD 0 RL 1 {who} {}", quote(name))),
            }
        }
        true
    }

    /// Tells everyone who has `email` on their forward list about its
    /// presence (NLN/FLN, and UBX for MSNP11+).
    pub fn broadcast_presence(&mut self, email: &str) {
        let Some(acc) = self.account(email) else { return };
        let (status, name, psm, visible) = (
            acc.status.clone(),
            acc.friendly_name.clone(),
            acc.psm.clone(),
            acc.visible(),
        );
        let email = acc.email.clone();
        let watchers: Vec<String> = self
            .accounts
            .values()
            .filter(|w| w.bits(&email) & FL != 0 && w.bits(&email) & BL == 0)
            .filter(|w| acc_allows(self, &email, &w.email))
            .map(|w| w.email.clone())
            .collect();
        for w in watchers {
            // Scripted customers do not track presence.
            let Some((conn, dialect)) = self.live_ns(&w) else {
                continue;
            };
            match (&status, visible) {
                (Some(s), true) => {
                    let line = presence_line("NLN", None, s, &email, &name, dialect);
                    self.send_ns_line(conn, &line);
                    if dialect >= 11 {
                        let data = format!(
                            "<Data><PSM>{}</PSM><CurrentMedia></CurrentMedia></Data>",
                            xml(&psm)
                        );
                        self.send_ns(
                            conn,
                            crate::wire::payload_line(&ubx_head(&email, dialect), data.as_bytes()),
                        );
                    }
                }
                _ => self.send_ns_line(conn, &offline_line(&email, dialect)),
            }
        }
    }
}

/// Whether `owner` lets `viewer` see it: not blocked, and allowed by AL
/// (the simulated accounts all use `BLP AL`, so "neither" means allowed).
pub fn acc_allows(state: &State, owner: &str, viewer: &str) -> bool {
    state.account(owner).is_some_and(|o| o.bits(viewer) & BL == 0)
}

/// `ILN`/`NLN` about `email` as a client of `dialect` reads it: from
/// MSNP14 with the network (a token before the name; at MSNP18 a `1:`
/// prefix), from MSNP16 with `caps:capsex` (docs/msnp13-18.md §4.2). At
/// MSNP18 the initial presence comes as `NLN` too.
pub fn presence_line(
    cmd: &str,
    trid: Option<&str>,
    status: &str,
    email: &str,
    name: &str,
    dialect: u8,
) -> String {
    let (cmd, trid) = match dialect {
        18.. => ("NLN", None),
        _ => (cmd, trid),
    };
    let mut line = String::from(cmd);
    if let Some(t) = trid {
        line.push(' ');
        line.push_str(t);
    }
    let (who, caps) = match dialect {
        18.. => (format!("1:{email}"), "2789003324:48"),
        16 | 17 => (format!("{email} 1"), "2789003324:48"),
        14 | 15 => (format!("{email} 1"), "1342177280"),
        _ => (email.to_owned(), "0"),
    };
    line.push_str(&format!(" {status} {who} {} {caps}", quote(name)));
    if dialect >= 9 {
        line.push_str(" %3Cmsnobj%2F%3E");
    }
    line
}

/// `FLN` about `email` for a client of `dialect`.
pub fn offline_line(email: &str, dialect: u8) -> String {
    match dialect {
        18.. => format!("FLN 1:{email} 0:0"),
        16 | 17 => format!("FLN {email} 1 0:0"),
        14 | 15 => format!("FLN {email} 1 0"),
        _ => format!("FLN {email}"),
    }
}

/// The start of a `UBX` about `email` (its length follows).
pub fn ubx_head(email: &str, dialect: u8) -> String {
    match dialect {
        18.. => format!("UBX 1:{email}"),
        14..=17 => format!("UBX {email} 1"),
        _ => format!("UBX {email}"),
    }
}

pub fn xml(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}
