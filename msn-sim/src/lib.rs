//! An MSN Messenger server simulator for msnbnc's tests, benchmarks and
//! demo: a dispatch server (optional), a notification server, a
//! switchboard server and the Passport 1.4 nexus and login server over
//! HTTPS with a certificate authority made at start-up — all on 127.0.0.1
//! with ports chosen by the system.
//!
//! It is written from the protocol reference (`shared/docs/msnp.md`), not
//! from msn-worker's code, and behaves like the revival servers described
//! there rather than like the friendliest possible server: silence for
//! unknown commands, `OUT OTH` on a second login, 217 for offline contacts,
//! 205 when the two sides do not list each other, and so on.
//!
//! Customers are *scripted* accounts: tests drive them through
//! [`Customer`] (sign in, say something, type, nudge, add the account) and
//! read what they received.
#![forbid(unsafe_code)]

mod files;
mod ns;
mod ns_modern;
mod oim;
mod passport;
mod sb;
mod soap;
mod sso;
mod state;
mod wire;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

pub use files::{Answer as FileAnswer, Data as FileData, Offered as FileOffered, Sent as FileSent};
use state::{Account, State};
pub use state::{Received, RoomId, AL, BL, FL, PL, RL};

/// An account on the simulated network.
#[derive(Debug, Clone)]
pub struct AccountSpec {
    pub email: String,
    pub password: String,
    pub friendly_name: String,
    pub scripted: bool,
}

#[derive(Debug, Clone)]
pub struct SimConfig {
    pub accounts: Vec<AccountSpec>,
    /// Pairs that list each other (FL+AL, and RL on both sides).
    pub friends: Vec<(String, String)>,
    /// Serve a dispatch server that redirects (`XFR NS`) to the notification server.
    pub dispatch: bool,
    /// After `OUT OTH`, leave the kicked session's socket open.
    pub keep_socket_after_oth: bool,
    /// Seconds announced in `QNG`.
    pub qng_interval: u32,
    /// Send `DALogin` without `https://`, as Microsoft did.
    pub dalogin_without_scheme: bool,
    /// Act on a switchboard client's `OUT` only after this long, so that a
    /// customer's message can cross it (as over a slow link).
    pub out_delay: Duration,
    /// Acknowledge a client's messages only after this long (they are
    /// delivered at once), so that some are still unacknowledged when a
    /// test kills the client.
    pub ack_delay: Duration,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            accounts: Vec::new(),
            friends: Vec::new(),
            dispatch: false,
            keep_socket_after_oth: false,
            qng_interval: 60,
            dalogin_without_scheme: false,
            out_delay: Duration::ZERO,
            ack_delay: Duration::ZERO,
        }
    }
}

impl SimConfig {
    /// An account a real client (msnbnc) signs in to.
    pub fn account(mut self, email: &str, password: &str, friendly_name: &str) -> Self {
        self.accounts.push(AccountSpec {
            email: email.into(),
            password: password.into(),
            friendly_name: friendly_name.into(),
            scripted: false,
        });
        self
    }

    /// A customer driven by the test through [`Customer`].
    pub fn customer(mut self, email: &str, friendly_name: &str) -> Self {
        self.accounts.push(AccountSpec {
            email: email.into(),
            password: format!("scripted-{email}"),
            friendly_name: friendly_name.into(),
            scripted: true,
        });
        self
    }

    /// `a` and `b` have each other on their forward and allow lists.
    pub fn friends(mut self, a: &str, b: &str) -> Self {
        self.friends.push((a.into(), b.into()));
        self
    }
}

pub struct Simulator {
    state: Arc<Mutex<State>>,
    ns_addr: SocketAddr,
    ds_addr: Option<SocketAddr>,
    sb_addr: SocketAddr,
    https_port: u16,
    ca_pem: String,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for Simulator {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

async fn bind() -> anyhow::Result<(TcpListener, SocketAddr)> {
    let l = TcpListener::bind("127.0.0.1:0").await?;
    let a = l.local_addr()?;
    Ok((l, a))
}

impl Simulator {
    pub async fn start(config: SimConfig) -> anyhow::Result<Simulator> {
        let (ns_l, ns_addr) = bind().await?;
        let (sb_l, sb_addr) = bind().await?;
        let (https_l, https_addr) = bind().await?;
        let mut st = State {
            answer_pings: true,
            sb_addr: sb_addr.to_string(),
            ..State::default()
        };
        st.quirks.keep_socket_after_oth = config.keep_socket_after_oth;
        st.quirks.qng_interval = config.qng_interval;
        st.quirks.out_delay = config.out_delay;
        st.quirks.ack_delay = config.ack_delay;
        for a in &config.accounts {
            st.accounts.insert(
                a.email.to_ascii_lowercase(),
                Account {
                    email: a.email.clone(),
                    password: a.password.clone(),
                    friendly_name: a.friendly_name.clone(),
                    lists: Default::default(),
                    guids: Default::default(),
                    status: None,
                    psm: String::new(),
                    scripted: a.scripted,
                    inbox: Vec::new(),
                    ns: None,
                    refuse: false,
                    places: Vec::new(),
                    answered: Vec::new(),
                },
            );
        }
        for (a, b) in &config.friends {
            for (x, y) in [(a, b), (b, a)] {
                let Some(acc) = st.account_mut(x) else {
                    bail!("friends: no account {x}")
                };
                let bits = acc.bits(y);
                acc.lists.insert(y.to_ascii_lowercase(), bits | FL | AL | RL);
                acc.guids.insert(
                    y.to_ascii_lowercase(),
                    format!("{:08x}-1111-4000-8000-000000000001", y.len()),
                );
            }
        }
        let state = Arc::new(Mutex::new(st));
        let tls = passport::make_tls()?;
        let mut tasks = vec![
            tokio::spawn(ns::serve(ns_l, state.clone(), None)),
            tokio::spawn(sb::serve(sb_l, state.clone())),
            tokio::spawn(passport::serve(
                https_l,
                tls.acceptor,
                state.clone(),
                passport::Options {
                    port: https_addr.port(),
                    dalogin_without_scheme: config.dalogin_without_scheme,
                },
            )),
        ];
        let ds_addr = if config.dispatch {
            let (ds_l, ds_addr) = bind().await?;
            tasks.push(tokio::spawn(ns::serve(
                ds_l,
                state.clone(),
                Some(ns_addr.to_string()),
            )));
            Some(ds_addr)
        } else {
            None
        };
        Ok(Simulator {
            state,
            ns_addr,
            ds_addr,
            sb_addr,
            https_port: https_addr.port(),
            ca_pem: tls.ca_pem,
            tasks,
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock would be a simulator bug; the state
        // is still consistent enough for the test to report it.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Where clients connect first: the dispatch server if there is one.
    pub fn server_addr(&self) -> SocketAddr {
        self.ds_addr.unwrap_or(self.ns_addr)
    }

    pub fn ns_addr(&self) -> SocketAddr {
        self.ns_addr
    }

    pub fn sb_addr(&self) -> SocketAddr {
        self.sb_addr
    }

    pub fn https_port(&self) -> u16 {
        self.https_port
    }

    /// Every TCP port a client needs to reach (for sandbox allow-lists).
    pub fn ports(&self) -> Vec<u16> {
        let mut p = vec![self.ns_addr.port(), self.sb_addr.port(), self.https_port];
        p.extend(self.ds_addr.map(|a| a.port()));
        p
    }

    pub fn nexus_url(&self) -> String {
        format!("https://127.0.0.1:{}/rdr/pprdr.asp", self.https_port)
    }

    pub fn login_url(&self) -> String {
        format!("https://127.0.0.1:{}/login", self.https_port)
    }

    /// A login URL that redirects (302) to the real one.
    pub fn redirecting_login_url(&self) -> String {
        format!("https://127.0.0.1:{}/login-redirect", self.https_port)
    }

    /// The CA certificate (PEM) that signed the HTTPS certificate.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    pub fn customer(&self, email: &str) -> Customer {
        Customer {
            state: self.state.clone(),
            email: email.to_owned(),
        }
    }

    /// Successful logins so far.
    pub fn logins(&self) -> u64 {
        self.lock().logins
    }

    /// Whether `email` is signed in with a visible status.
    pub fn is_online(&self, email: &str) -> bool {
        self.lock().account(email).is_some_and(|a| a.status.is_some())
    }

    pub fn status(&self, email: &str) -> Option<String> {
        self.lock().account(email).and_then(|a| a.status.clone())
    }

    pub fn friendly_name(&self, email: &str) -> Option<String> {
        self.lock().account(email).map(|a| a.friendly_name.clone())
    }

    pub fn personal_message(&self, email: &str) -> Option<String> {
        self.lock().account(email).map(|a| a.psm.clone())
    }

    /// `owner`'s list bits for `other`.
    pub fn lists(&self, owner: &str, other: &str) -> u8 {
        self.lock().account(owner).map_or(0, |a| a.bits(other))
    }

    /// Stop (or resume) answering `PNG`, to make a connection look dead.
    pub fn answer_pings(&self, yes: bool) {
        self.lock().answer_pings = yes;
    }

    /// Closes every switchboard as an idle time-out would.
    pub fn close_switchboards(&self) {
        sb::close_all(&mut self.lock());
    }

    /// How many switchboard rooms exist.
    pub fn switchboards(&self) -> usize {
        self.lock().rooms.len()
    }

    /// Someone else signs in to `email`: its session gets `OUT OTH`.
    pub fn sign_in_elsewhere(&self, email: &str) {
        let mut s = self.lock();
        let Some(conn) = s.account(email).and_then(|a| a.ns) else {
            return;
        };
        s.send_ns_line(conn, "OUT OTH");
        if !s.quirks.keep_socket_after_oth {
            s.send_ns(conn, Vec::new());
        }
        if let Some(c) = s.ns.get_mut(&conn) {
            c.account = None;
        }
        if let Some(a) = s.account_mut(email) {
            a.ns = None;
            a.status = None;
        }
        s.broadcast_presence(email);
    }

    /// Another place (a person's own Messenger, MSNP16+) signs in to
    /// `email` beside its session, as `name`: no one is signed out; the
    /// account's sessions of MSNP16+ hear of it in a `UBX` about the
    /// account. Returns the place's machine GUID.
    pub fn another_place_signs_in(&self, email: &str, name: &str) -> String {
        let mut s = self.lock();
        let n = s.id();
        let guid = format!("{{5e1f0000-0000-4000-8000-{n:012x}}}");
        if let Some(a) = s.account_mut(email) {
            a.places.push((guid.clone(), name.to_owned()));
        }
        tell_places(&s, email);
        guid
    }

    /// That place asks every other place of the account to sign out
    /// (`UBN … 4 goawyplzthxbye`, as a Messenger set so does).
    pub fn another_place_asks_others_to_leave(&self, email: &str, guid: &str) {
        let s = self.lock();
        let ubn = wire::payload_line(&format!("UBN {email};{guid} 4"), b"goawyplzthxbye");
        for (id, c) in &s.ns {
            if c.dialect >= 16
                && c.account
                    .as_deref()
                    .is_some_and(|a| a.eq_ignore_ascii_case(email))
            {
                s.send_ns(*id, ubn.clone());
            }
        }
    }

    /// That place signs out again.
    pub fn another_place_signs_out(&self, email: &str, guid: &str) {
        let mut s = self.lock();
        if let Some(a) = s.account_mut(email) {
            a.places.retain(|(g, _)| g != guid);
        }
        tell_places(&s, email);
    }

    /// The account's other place writes `text` in its conversation with
    /// `customer`: the customer gets it, and the account's own session in
    /// that switchboard gets it too (an echo, as MSNP16+ servers send).
    pub fn another_place_says(&self, email: &str, customer: &str, text: &str) -> anyhow::Result<()> {
        let mut s = self.lock();
        let room = s
            .rooms
            .iter()
            .filter(|(_, r)| r.members.iter().any(|m| m.email.eq_ignore_ascii_case(email)))
            .filter(|(_, r)| r.members.iter().any(|m| m.email.eq_ignore_ascii_case(customer)))
            .map(|(id, _)| *id)
            .next_back()
            .ok_or_else(|| anyhow::anyhow!("no conversation between {email} and {customer}"))?;
        let payload = format!("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\n{text}");
        sb::echo(&mut s, room, email, payload.as_bytes());
        Ok(())
    }

    /// The offline messages the server keeps for `email` (not yet deleted).
    pub fn offline_messages(&self, email: &str) -> Vec<(String, String)> {
        self.lock()
            .oims
            .iter()
            .filter(|o| o.to.eq_ignore_ascii_case(email))
            .map(|o| (o.from.clone(), o.text.clone()))
            .collect()
    }

    /// Closes `email`'s notification connection without a word.
    pub fn drop_connection(&self, email: &str) {
        let s = self.lock();
        if let Some(conn) = s.account(email).and_then(|a| a.ns) {
            s.send_ns(conn, Vec::new());
        }
    }

    /// Sends raw bytes on `email`'s notification connection.
    pub fn send_raw(&self, email: &str, bytes: &[u8]) {
        let s = self.lock();
        if let Some(conn) = s.account(email).and_then(|a| a.ns) {
            s.send_ns(conn, bytes.to_vec());
        }
    }

    /// A maintenance warning to every signed-in session.
    pub fn maintenance(&self, minutes: u32) {
        ns::maintenance(&self.lock(), minutes);
    }

    /// Everything clients sent, one line each (`NS< …`, `SB< …`).
    pub fn transcript(&self) -> Vec<String> {
        self.lock().transcript.clone()
    }

    /// Polls `check` against the state until it holds or `timeout` passes.
    pub async fn wait_until(&self, timeout: Duration, mut check: impl FnMut(&Simulator) -> bool) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if check(self) {
                return true;
            }
            if Instant::now() > deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

/// A scripted customer account.
#[derive(Clone)]
pub struct Customer {
    state: Arc<Mutex<State>>,
    email: String,
}

const JOIN_WAIT: Duration = Duration::from_secs(10);

fn text_payload(text: &str) -> Vec<u8> {
    format!(
        "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\nX-MMS-IM-Format: FN=Arial; EF=B; CO=ff; CS=0; PF=22\r\n\r\n{}",
        text.replace('\n', "\r\n")
    )
    .into_bytes()
}

impl Customer {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn email(&self) -> &str {
        &self.email
    }

    /// Signs in with `status` (`NLN`, `AWY`, `BSY` …); watchers see it.
    pub fn sign_in(&self, status: &str) {
        let mut s = self.lock();
        if let Some(a) = s.account_mut(&self.email) {
            a.status = Some(status.to_owned());
        }
        s.broadcast_presence(&self.email);
    }

    pub fn sign_out(&self) {
        let mut s = self.lock();
        let rooms: Vec<RoomId> = s
            .rooms
            .iter()
            .filter(|(_, r)| {
                r.members
                    .iter()
                    .any(|m| m.email.eq_ignore_ascii_case(&self.email))
            })
            .map(|(id, _)| *id)
            .collect();
        for room in rooms {
            sb::leave(&mut s, room, &self.email, false);
        }
        if let Some(a) = s.account_mut(&self.email) {
            a.status = None;
        }
        s.broadcast_presence(&self.email);
    }

    pub fn set_name(&self, name: &str) {
        let mut s = self.lock();
        if let Some(a) = s.account_mut(&self.email) {
            a.friendly_name = name.to_owned();
        }
        s.broadcast_presence(&self.email);
    }

    pub fn set_personal_message(&self, psm: &str) {
        let mut s = self.lock();
        if let Some(a) = s.account_mut(&self.email) {
            a.psm = psm.to_owned();
        }
        s.broadcast_presence(&self.email);
    }

    /// Adds `other` to this customer's lists (FL+AL); `other` is told (RL).
    pub fn add(&self, other: &str) {
        let mut s = self.lock();
        let me = self.email.clone();
        let Some(my_name) = s.account(&me).map(|a| a.friendly_name.clone()) else {
            return;
        };
        if let Some(a) = s.account_mut(&me) {
            let b = a.bits(other);
            a.lists.insert(other.to_ascii_lowercase(), b | FL | AL);
        }
        s.added_by(other, &me, &my_name);
    }

    /// Leaves `text` for `to` as an offline message (as a client does
    /// when `to` is signed out); returns its id.
    pub fn leave_offline_message(&self, to: &str, text: &str) -> String {
        oim::leave(&mut self.lock(), &self.email, to, text)
    }

    /// Make deliveries to this customer fail (`NAK`) or succeed again.
    pub fn refuse_messages(&self, yes: bool) {
        if let Some(a) = self.lock().account_mut(&self.email) {
            a.refuse = yes;
        }
    }

    /// The room this customer shares with `to` alone (with `to` joined).
    fn room_with(&self, s: &State, to: &str) -> Option<RoomId> {
        s.rooms
            .iter()
            .filter(|(_, r)| {
                r.members
                    .iter()
                    .any(|m| m.email.eq_ignore_ascii_case(&self.email))
            })
            .filter(|(_, r)| r.members.iter().any(|m| m.email.eq_ignore_ascii_case(to)))
            .map(|(id, _)| *id)
            .next_back()
    }

    /// Opens (or reuses) a conversation with `to`, inviting them with `RNG`
    /// and waiting until they have joined.
    pub async fn conversation_with(&self, to: &str) -> anyhow::Result<RoomId> {
        let room = {
            let mut s = self.lock();
            if let Some(room) = self.room_with(&s, to) {
                return Ok(room);
            }
            if !s.account(to).is_some_and(Account::visible) {
                bail!("217: {to} is offline");
            }
            if !sb::allowed_to_talk(&s, &self.email, to) {
                bail!("205: {} and {to} do not list each other", self.email);
            }
            let room = s.id();
            s.rooms.insert(
                room,
                state::Room {
                    session_id: format!("{}", 11752013 + room),
                    members: vec![state::Member {
                        email: self.email.clone(),
                        conn: None,
                    }],
                },
            );
            if !sb::ring(&mut s, room, &self.email, to) {
                s.rooms.remove(&room);
                bail!("{to} has no live session to invite");
            }
            room
        };
        let deadline = Instant::now() + JOIN_WAIT;
        loop {
            {
                let s = self.lock();
                let joined = s
                    .rooms
                    .get(&room)
                    .is_some_and(|r| r.members.iter().any(|m| m.email.eq_ignore_ascii_case(to)));
                if joined {
                    return Ok(room);
                }
            }
            if Instant::now() > deadline {
                bail!(
                    "{to} did not answer the invitation within {} s",
                    JOIN_WAIT.as_secs()
                );
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Sends a raw MSG payload into the conversation with `to`.
    pub async fn send_payload(&self, to: &str, payload: &[u8]) -> anyhow::Result<RoomId> {
        let room = self.conversation_with(to).await?;
        sb::deliver(&mut self.lock(), room, &self.email, payload);
        Ok(room)
    }

    /// Says `text` to `to` (bold, red Arial, as a chatty customer would).
    pub async fn say(&self, to: &str, text: &str) -> anyhow::Result<RoomId> {
        self.send_payload(to, &text_payload(text)).await
    }

    pub async fn typing(&self, to: &str) -> anyhow::Result<RoomId> {
        let payload = format!(
            "MIME-Version: 1.0\r\nContent-Type: text/x-msmsgscontrol\r\nTypingUser: {}\r\n\r\n\r\n",
            self.email
        );
        self.send_payload(to, payload.as_bytes()).await
    }

    pub async fn nudge(&self, to: &str) -> anyhow::Result<RoomId> {
        self.send_payload(
            to,
            b"MIME-Version: 1.0\r\nContent-Type: text/x-msnmsgr-datacast\r\n\r\nID: 1\r\n\r\n",
        )
        .await
    }

    /// Offers a file transfer (a legacy invitation) to `to`.
    pub async fn offer_file(&self, to: &str) -> anyhow::Result<RoomId> {
        self.send_payload(
            to,
            b"MIME-Version: 1.0\r\nContent-Type: text/x-msmsgsinvite; charset=UTF-8\r\n\r\nApplication-Name: File Transfer\r\nApplication-GUID: {5D3E02AB-6190-11d3-BBBB-00C04F795683}\r\nInvitation-Command: INVITE\r\nInvitation-Cookie: 42\r\nApplication-File: photo.jpg\r\nApplication-FileSize: 1234\r\n",
        )
        .await
    }

    /// Invites another scripted customer into `room` (they join at once).
    pub fn invite(&self, room: RoomId, other: &str) -> anyhow::Result<()> {
        let mut s = self.lock();
        let email = s
            .account(other)
            .map(|a| a.email.clone())
            .ok_or_else(|| anyhow!("no account {other}"))?;
        let r = s.rooms.get_mut(&room).ok_or_else(|| anyhow!("no room {room}"))?;
        r.members.push(state::Member {
            email: email.clone(),
            conn: None,
        });
        sb::announce_join(&mut s, room, &email);
        Ok(())
    }

    /// Leaves a conversation (`BYE`).
    pub fn leave(&self, room: RoomId) {
        sb::leave(&mut self.lock(), room, &self.email, false);
    }

    pub fn inbox(&self) -> Vec<Received> {
        self.lock()
            .account(&self.email)
            .map(|a| a.inbox.clone())
            .unwrap_or_default()
    }

    /// Waits for something matching `want` to arrive; returns it.
    pub async fn wait_for(&self, timeout: Duration, want: impl Fn(&Received) -> bool) -> Option<Received> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(r) = self.inbox().into_iter().find(|r| want(r)) {
                return Some(r);
            }
            if Instant::now() > deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Texts received so far, in order.
    pub fn texts(&self) -> Vec<String> {
        self.inbox()
            .into_iter()
            .filter_map(|r| match r {
                Received::Text { text, .. } => Some(text),
                _ => None,
            })
            .collect()
    }
}

/// Every session of `email` at MSNP16+ hears which places are signed in.
fn tell_places(s: &State, email: &str) {
    let sessions: Vec<state::ConnId> =
        s.ns.iter()
            .filter(|(_, c)| {
                c.dialect >= 16
                    && c.account
                        .as_deref()
                        .is_some_and(|a| a.eq_ignore_ascii_case(email))
            })
            .map(|(id, _)| *id)
            .collect();
    for id in sessions {
        ns_modern::self_ubx(s, id);
    }
}
