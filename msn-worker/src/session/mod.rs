//! The async driver of the MSN session: one task that owns every piece of
//! state (the NS session, the switchboards, the conversations) and drains
//! typed inputs — IPC messages, frames from connection tasks, the Passport
//! ticket, clock ticks. Connection tasks only move bytes.

pub mod https;
pub mod login;
pub mod net;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use ipc::{
    Command, CommandResult, ConversationId, ConversationTarget, Event, Failure, FailureKind, FromWorker,
    LoginStage, Secret, ServerAddr, SignOutClass, TextFormat, ToWorker, WorkerChannel, WorkerConfig,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_rustls::TlsConnector;

use crate::msnp::codec::{Decoded, Decoder, FatalError, Frame};
use crate::msnp::ns::{self, NsConfig, NsOutput, NsSession};
use crate::msnp::roster;
use crate::msnp::sb::{Outgoing, Role, SbEvent, SbOutput, SbSession};
use net::Net;

/// Longest a login may take from TCP connect to the end of the list sync.
const LOGIN_TIMEOUT: Duration = Duration::from_secs(90);
/// Most dispatch redirects followed in one login.
const MAX_REDIRECTS: usize = 3;
/// Bytes queued to one connection's writer before we consider it stuck.
const WRITER_QUEUE: usize = 256;
/// Most switchboards open at once (servers answer 714 beyond some limit anyway).
const MAX_SWITCHBOARDS: usize = 200;

/// How the session ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The bouncer asked us to stop, or went away.
    Stopped,
    SignedOut {
        class: SignOutClass,
        reason: String,
        retry_after: Option<Duration>,
    },
}

type SbId = u64;

/// Which connection an input came from. NS connections are numbered so
/// that frames from a replaced connection are ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Conn {
    Ns(u64),
    Sb(SbId),
}

#[derive(Debug)]
enum Input {
    Frame(Conn, Frame),
    Skipped(Conn, String),
    Closed(Conn, String),
    Connected(Conn, mpsc::Sender<Vec<u8>>),
    ConnectFailed(Conn, SignOutClass, String),
    Ticket(Result<String, login::LoginError>),
}

struct Conversation {
    /// Lower-cased handles of the people in it (used to re-open it).
    participants: BTreeSet<String>,
    /// The switchboard replies go to (the one they last spoke in).
    sb: Option<SbId>,
}

struct SbLink {
    session: SbSession,
    conversation: ConversationId,
    writer: Option<mpsc::Sender<Vec<u8>>>,
    /// Bytes produced before the connection was up.
    backlog: Vec<Vec<u8>>,
}

/// Sends waiting for a switchboard that has been asked for (XFR SB).
struct PendingSb {
    conversation: ConversationId,
    invite: Vec<String>,
    texts: Vec<(u64, String, TextFormat)>,
    requeue: Vec<Outgoing>,
    nudge: bool,
}

pub struct Session<'a> {
    channel: &'a mut WorkerChannel,
    config: &'a WorkerConfig,
    password: Secret,
    seq: u64,
    inbox_tx: mpsc::Sender<Input>,
    inbox: mpsc::Receiver<Input>,
    tls: Option<TlsConnector>,
    ns: Option<NsSession>,
    ns_conn: u64,
    ns_writer: Option<mpsc::Sender<Vec<u8>>>,
    login_started: Instant,
    redirects: usize,
    ticket_rejections: u32,
    next_server: usize,
    sbs: HashMap<SbId, SbLink>,
    next_sb: SbId,
    pending_sbs: HashMap<u64, PendingSb>,
    conversations: BTreeMap<ConversationId, Conversation>,
    next_conversation: ConversationId,
}

fn failure(kind: FailureKind, detail: impl Into<String>) -> Failure {
    Failure {
        kind,
        detail: detail.into(),
    }
}

/// Reads frames from `stream` into the inbox; writes what arrives on the
/// returned sender. Both halves end when either side closes.
fn spawn_connection(stream: TcpStream, conn: Conn, inbox: mpsc::Sender<Input>) -> mpsc::Sender<Vec<u8>> {
    let (mut rd, mut wr) = stream.into_split();
    let (tx, mut rx) = mpsc::channel::<Vec<u8>>(WRITER_QUEUE);
    tokio::spawn(async move {
        while let Some(bytes) = rx.recv().await {
            if wr.write_all(&bytes).await.is_err() {
                break;
            }
        }
        let _ = wr.shutdown().await;
    });
    tokio::spawn(async move {
        let mut buf = BytesMut::with_capacity(16 * 1024);
        let reason = loop {
            match Decoder.decode(&mut buf) {
                Ok(Some(Decoded::Frame(f))) => {
                    if inbox.send(Input::Frame(conn, f)).await.is_err() {
                        return;
                    }
                    continue;
                }
                Ok(Some(Decoded::Skipped { reason, line })) => {
                    let _ = inbox
                        .send(Input::Skipped(conn, format!("{reason}: {line:?}")))
                        .await;
                    continue;
                }
                Ok(None) => {}
                Err(
                    e @ (FatalError::LineTooLong
                    | FatalError::BadLength { .. }
                    | FatalError::PayloadTooLarge { .. }),
                ) => {
                    break format!("protocol error: {e}");
                }
            }
            match rd.read_buf(&mut buf).await {
                Ok(0) => break "connection closed by the server".to_owned(),
                Ok(_) => {}
                Err(e) => break format!("connection error: {e}"),
            }
        };
        let _ = inbox.send(Input::Closed(conn, reason)).await;
    });
    tx
}

impl<'a> Session<'a> {
    pub fn new(channel: &'a mut WorkerChannel, config: &'a WorkerConfig, password: Secret) -> Self {
        let (inbox_tx, inbox) = mpsc::channel(1024);
        Session {
            channel,
            config,
            password,
            seq: 0,
            inbox_tx,
            inbox,
            tls: None,
            ns: None,
            ns_conn: 0,
            ns_writer: None,
            login_started: Instant::now(),
            redirects: 0,
            ticket_rejections: 0,
            next_server: 0,
            sbs: HashMap::new(),
            next_sb: 1,
            pending_sbs: HashMap::new(),
            conversations: BTreeMap::new(),
            next_conversation: config.first_conversation.max(1),
        }
    }

    async fn event(&mut self, event: Event) -> anyhow::Result<()> {
        let seq = self.seq;
        self.seq += 1;
        // Flushed when the session has nothing else ready (see `run`).
        self.channel.feed(FromWorker::Event { seq, event }).await?;
        Ok(())
    }

    async fn result(&mut self, id: u64, result: CommandResult) -> anyhow::Result<()> {
        self.channel
            .send(FromWorker::CommandResult { id, result })
            .await?;
        Ok(())
    }

    fn connect(&mut self, conn: Conn, addr: ServerAddr) {
        let inbox = self.inbox_tx.clone();
        tokio::spawn(async move {
            let mut net = Net::default();
            match net.connect(&addr.host, addr.port).await {
                Ok(stream) => {
                    let writer = spawn_connection(stream, conn, inbox.clone());
                    let _ = inbox.send(Input::Connected(conn, writer)).await;
                }
                Err(e) => {
                    let _ = inbox
                        .send(Input::ConnectFailed(
                            conn,
                            SignOutClass::Unreachable,
                            e.to_string(),
                        ))
                        .await;
                }
            }
        });
    }

    /// Starts a fresh notification-server connection to `addr`.
    async fn connect_ns(&mut self, addr: ServerAddr) -> anyhow::Result<()> {
        self.ns_conn += 1;
        self.ns = None;
        self.ns_writer = None;
        self.event(Event::LoginProgress(LoginStage::Connecting(addr.clone())))
            .await?;
        self.connect(Conn::Ns(self.ns_conn), addr);
        Ok(())
    }

    /// Runs the session until it ends.
    pub async fn run(mut self) -> anyhow::Result<Outcome> {
        self.tls = match https::tls_connector(&self.config.trust) {
            Ok(t) => Some(t),
            Err(e) => {
                return self
                    .end(SignOutClass::Tls, format!("cannot set up TLS: {e}"), None)
                    .await
            }
        };
        let Some(first) = self.config.servers.first().cloned() else {
            return self
                .end(SignOutClass::Fatal, "no MSN server configured".into(), None)
                .await;
        };
        self.next_server = 1;
        self.login_started = Instant::now();
        self.connect_ns(first).await?;
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            // Events of a burst go out together, before waiting for more.
            if self.inbox.is_empty() {
                self.channel.flush().await?;
            }
            let step = tokio::select! {
                biased;
                msg = self.channel.recv() => match msg? {
                    None | Some(ToWorker::Shutdown) => {
                        self.channel.flush().await?;
                        self.sign_out_everything();
                        return Ok(Outcome::Stopped);
                    }
                    Some(ToWorker::Heartbeat { nonce }) => {
                        self.channel.send(FromWorker::HeartbeatAck { nonce }).await?;
                        None
                    }
                    Some(ToWorker::Command { id, command }) => self.on_command(id, command).await?,
                    Some(other) => anyhow::bail!("unexpected message while running: {other:?}"),
                },
                Some(input) = self.inbox.recv() => self.on_input(input).await?,
                _ = tick.tick() => self.on_tick().await?,
            };
            if let Some(outcome) = step {
                self.channel.flush().await?;
                self.sign_out_everything();
                return Ok(outcome);
            }
        }
    }

    fn sign_out_everything(&mut self) {
        for link in self.sbs.values_mut() {
            let out = link.session.leave(Instant::now());
            for o in out {
                if let SbOutput::Send(bytes) = o {
                    if let Some(w) = &link.writer {
                        let _ = w.try_send(bytes);
                    }
                }
            }
        }
        if let (Some(ns), Some(w)) = (&mut self.ns, &self.ns_writer) {
            for o in ns.sign_out() {
                if let NsOutput::Send(bytes) = o {
                    let _ = w.try_send(bytes);
                }
            }
        }
    }

    async fn end(
        &mut self,
        class: SignOutClass,
        reason: String,
        retry_after: Option<Duration>,
    ) -> anyhow::Result<Outcome> {
        tracing::warn!("MSN session ended ({class:?}): {reason}");
        self.event(Event::SignedOut {
            class,
            reason: reason.clone(),
            retry_after_secs: retry_after.map(|d| d.as_secs()),
        })
        .await?;
        self.channel.flush().await?;
        Ok(Outcome::SignedOut {
            class,
            reason,
            retry_after,
        })
    }

    async fn on_tick(&mut self) -> anyhow::Result<Option<Outcome>> {
        let now = Instant::now();
        if !self.ns.as_ref().is_some_and(NsSession::is_online)
            && now.duration_since(self.login_started) > LOGIN_TIMEOUT
        {
            let outcome = self
                .end(
                    SignOutClass::Transient,
                    format!("login did not complete within {} s", LOGIN_TIMEOUT.as_secs()),
                    None,
                )
                .await?;
            return Ok(Some(outcome));
        }
        if let Some(ns) = &mut self.ns {
            let out = ns.tick(now);
            if let Some(o) = self.apply_ns(out).await? {
                return Ok(Some(o));
            }
        }
        let ids: Vec<SbId> = self.sbs.keys().copied().collect();
        for id in ids {
            let out = match self.sbs.get_mut(&id) {
                Some(link) => link.session.tick(now),
                None => continue,
            };
            self.apply_sb(id, out).await?;
        }
        Ok(None)
    }

    async fn on_input(&mut self, input: Input) -> anyhow::Result<Option<Outcome>> {
        let now = Instant::now();
        match input {
            Input::Connected(Conn::Ns(n), writer) if n == self.ns_conn => {
                let mut session = NsSession::new(NsConfig {
                    account: self.config.account.clone(),
                    min_version: self.config.protocol.min,
                    max_version: self.config.protocol.max,
                    auto_accept_contacts: self.config.auto_accept_contacts,
                });
                let out = session.start();
                self.ns = Some(session);
                self.ns_writer = Some(writer);
                return self.apply_ns(out).await;
            }
            Input::ConnectFailed(Conn::Ns(n), class, reason) if n == self.ns_conn => {
                // Try the next configured server, then give up.
                if let Some(next) = self.config.servers.get(self.next_server).cloned() {
                    tracing::warn!("{reason}; trying {next}");
                    self.next_server += 1;
                    self.connect_ns(next).await?;
                    return Ok(None);
                }
                return Ok(Some(self.end(class, reason, None).await?));
            }
            Input::Frame(Conn::Ns(n), frame) if n == self.ns_conn => {
                let out = match &mut self.ns {
                    Some(ns) => ns.on_frame(frame, now),
                    None => Vec::new(),
                };
                return self.apply_ns(out).await;
            }
            Input::Skipped(Conn::Ns(n), what) if n == self.ns_conn => {
                tracing::warn!("notification server sent garbage, skipped: {what}");
            }
            Input::Closed(Conn::Ns(n), reason) if n == self.ns_conn => {
                let online = self.ns.as_ref().is_some_and(NsSession::is_online);
                let class = if reason.starts_with("protocol error") {
                    SignOutClass::ProtocolError
                } else {
                    SignOutClass::Transient
                };
                let reason = if online {
                    format!("lost the notification server: {reason}")
                } else {
                    format!("the notification server closed the connection during login: {reason}")
                };
                return Ok(Some(self.end(class, reason, None).await?));
            }
            Input::Ticket(result) => {
                let out = match result {
                    Ok(ticket) => match &mut self.ns {
                        Some(ns) => ns.ticket(&ticket),
                        None => Vec::new(),
                    },
                    Err(e) => return Ok(Some(self.end(e.class, e.reason, None).await?)),
                };
                return self.apply_ns(out).await;
            }
            Input::Connected(Conn::Sb(id), writer) => {
                if let Some(link) = self.sbs.get_mut(&id) {
                    for bytes in link.backlog.drain(..) {
                        let _ = writer.send(bytes).await;
                    }
                    link.writer = Some(writer);
                }
            }
            Input::ConnectFailed(Conn::Sb(id), _, reason) | Input::Closed(Conn::Sb(id), reason) => {
                let out = match self.sbs.get_mut(&id) {
                    Some(link) => link.session.connection_lost(&reason),
                    None => Vec::new(),
                };
                self.apply_sb(id, out).await?;
            }
            Input::Frame(Conn::Sb(id), frame) => {
                let out = match self.sbs.get_mut(&id) {
                    Some(link) => link.session.on_frame(frame, now),
                    None => Vec::new(),
                };
                self.apply_sb(id, out).await?;
            }
            Input::Skipped(Conn::Sb(id), what) => {
                tracing::warn!(sb = id, "switchboard sent garbage, skipped: {what}")
            }
            // From an NS connection we have already replaced.
            Input::Connected(Conn::Ns(_), _)
            | Input::ConnectFailed(Conn::Ns(_), ..)
            | Input::Frame(Conn::Ns(_), _)
            | Input::Skipped(Conn::Ns(_), _)
            | Input::Closed(Conn::Ns(_), _) => {}
        }
        Ok(None)
    }

    async fn apply_ns(&mut self, out: Vec<NsOutput>) -> anyhow::Result<Option<Outcome>> {
        for o in out {
            match o {
                NsOutput::Send(bytes) => {
                    if let Some(w) = &self.ns_writer {
                        if w.send(bytes).await.is_err() {
                            tracing::debug!("notification server writer is gone");
                        }
                    }
                }
                NsOutput::Redirect(addr) => {
                    self.redirects += 1;
                    if self.redirects > MAX_REDIRECTS {
                        let reason = format!("more than {MAX_REDIRECTS} dispatch redirects");
                        return Ok(Some(self.end(SignOutClass::ProtocolError, reason, None).await?));
                    }
                    tracing::info!("dispatch server redirects us to {addr}");
                    self.connect_ns(addr).await?;
                }
                NsOutput::Authenticate { policy } => {
                    let (Some(tls), inbox) = (self.tls.clone(), self.inbox_tx.clone()) else {
                        continue;
                    };
                    let passport = self.config.passport.clone();
                    let account = self.config.account.clone();
                    let password = self.password.clone();
                    tokio::spawn(async move {
                        let mut net = Net::default();
                        let result =
                            login::passport(&mut net, &tls, &passport, &account, password.expose(), &policy)
                                .await;
                        drop(password);
                        let _ = inbox.send(Input::Ticket(result)).await;
                    });
                }
                NsOutput::TicketRejected => self.ticket_rejections += 1,
                NsOutput::End {
                    class,
                    reason,
                    retry_after,
                } => {
                    // Servers expire tickets fast: one 911 may just be that.
                    if self.ticket_rejections == 1 && class == SignOutClass::Transient {
                        tracing::warn!("{reason}; logging in once more");
                        self.ticket_rejections += 1;
                        self.login_started = Instant::now();
                        if let Some(first) = self.config.servers.first().cloned() {
                            self.connect_ns(first).await?;
                            continue;
                        }
                    }
                    if self.ticket_rejections >= 2 && class == SignOutClass::Transient {
                        let reason = format!(
                            "{reason} twice: check that account.handle is exactly the registered sign-in name (servers compare it case-sensitively)"
                        );
                        return Ok(Some(
                            self.end(SignOutClass::WrongCredentials, reason, None).await?,
                        ));
                    }
                    return Ok(Some(self.end(class, reason, retry_after).await?));
                }
                NsOutput::Event(e) => self.event(e).await?,
                NsOutput::CommandDone { id, result } => self.result(id, result).await?,
                NsOutput::SwitchboardReady { token, addr, cookie } => {
                    self.switchboard_ready(token, &addr, cookie).await?
                }
                NsOutput::SwitchboardRefused { token, failure } => {
                    if let Some(p) = self.pending_sbs.remove(&token) {
                        self.fail_pending(p, failure).await?;
                    }
                }
                NsOutput::Invited {
                    addr,
                    session_id,
                    cookie,
                    inviter,
                } => self.invited(&addr, session_id, cookie, &inviter).await?,
            }
        }
        Ok(None)
    }

    async fn fail_pending(&mut self, p: PendingSb, failure: Failure) -> anyhow::Result<()> {
        let ids = p
            .texts
            .iter()
            .map(|(id, _, _)| *id)
            .chain(p.requeue.iter().filter_map(|o| o.command_id))
            .collect::<BTreeSet<_>>();
        for command_id in ids {
            self.event(Event::Delivery {
                command_id,
                outcome: ipc::Delivery::Failed(failure.clone()),
            })
            .await?;
        }
        if let Some(c) = self.conversations.get_mut(&p.conversation) {
            c.sb = None;
        }
        Ok(())
    }

    fn new_sb(&mut self, session: SbSession, conversation: ConversationId) -> SbId {
        let id = self.next_sb;
        self.next_sb += 1;
        self.sbs.insert(
            id,
            SbLink {
                session,
                conversation,
                writer: None,
                backlog: Vec::new(),
            },
        );
        if let Some(c) = self.conversations.get_mut(&conversation) {
            c.sb = Some(id);
        }
        id
    }

    async fn switchboard_ready(&mut self, token: u64, addr: &str, cookie: String) -> anyhow::Result<()> {
        let Some(p) = self.pending_sbs.remove(&token) else {
            return Ok(());
        };
        let Some(server) = ns::parse_addr(addr) else {
            return self
                .fail_pending(
                    p,
                    failure(
                        FailureKind::ServerError,
                        format!("bad switchboard address {addr:?}"),
                    ),
                )
                .await;
        };
        let mut session = SbSession::new(
            &self.config.account,
            Role::Calling {
                cookie,
                invite: p.invite.clone(),
            },
            Instant::now(),
        );
        let mut out = session.start();
        for (id, text, format) in &p.texts {
            out.extend(session.send_text(*id, text, format));
        }
        out.extend(session.requeue(p.requeue));
        if p.nudge {
            out.extend(session.send_nudge());
        }
        let id = self.new_sb(session, p.conversation);
        self.connect(Conn::Sb(id), server);
        self.apply_sb(id, out).await
    }

    async fn invited(
        &mut self,
        addr: &str,
        session_id: String,
        cookie: String,
        inviter: &str,
    ) -> anyhow::Result<()> {
        let Some(server) = ns::parse_addr(addr) else {
            tracing::warn!("invitation with a bad switchboard address {addr:?}");
            return Ok(());
        };
        if self.sbs.len() >= MAX_SWITCHBOARDS {
            tracing::warn!("too many open conversations; ignoring an invitation from {inviter}");
            return Ok(());
        }
        let conversation = self.conversation_with(&[inviter.to_owned()]);
        let mut session = SbSession::new(
            &self.config.account,
            Role::Answering { session_id, cookie },
            Instant::now(),
        );
        let out = session.start();
        let id = self.new_sb(session, conversation);
        self.connect(Conn::Sb(id), server);
        self.apply_sb(id, out).await
    }

    /// The conversation with exactly these people, created if needed.
    fn conversation_with(&mut self, handles: &[String]) -> ConversationId {
        let wanted: BTreeSet<String> = handles.iter().map(|h| h.to_ascii_lowercase()).collect();
        if let Some((id, _)) = self.conversations.iter().find(|(_, c)| c.participants == wanted) {
            return *id;
        }
        let id = self.next_conversation;
        self.next_conversation += 1;
        self.conversations.insert(
            id,
            Conversation {
                participants: wanted,
                sb: None,
            },
        );
        id
    }

    async fn apply_sb(&mut self, id: SbId, out: Vec<SbOutput>) -> anyhow::Result<()> {
        for o in out {
            let Some(link) = self.sbs.get_mut(&id) else {
                return Ok(());
            };
            let conversation = link.conversation;
            match o {
                SbOutput::Send(bytes) => match &link.writer {
                    Some(w) => {
                        let _ = w.send(bytes).await;
                    }
                    None => link.backlog.push(bytes),
                },
                SbOutput::Event(e) => self.sb_event(id, conversation, e).await?,
                SbOutput::Delivery { command_id, outcome } => {
                    self.event(Event::Delivery { command_id, outcome }).await?;
                }
                SbOutput::Sent { command_id } => self.event(Event::Sent { command_id }).await?,
                SbOutput::Closed { reason, unsent } => {
                    tracing::debug!(sb = id, conversation, "switchboard closed: {reason}");
                    self.sbs.remove(&id);
                    let reopen = match self.conversations.get_mut(&conversation) {
                        Some(c) => {
                            if c.sb == Some(id) {
                                c.sb = None;
                            }
                            (!unsent.is_empty()).then(|| c.participants.iter().cloned().collect::<Vec<_>>())
                        }
                        None => None,
                    };
                    // Messages the old switchboard never carried go through a new one.
                    if let Some(invite) = reopen {
                        self.request_sb(conversation, invite, Vec::new(), unsent, false)
                            .await?;
                    }
                }
            }
        }
        Ok(())
    }

    async fn sb_event(&mut self, id: SbId, conversation: ConversationId, e: SbEvent) -> anyhow::Result<()> {
        if !self.conversations.contains_key(&conversation) {
            // The conversation was closed, but a message crossed our OUT:
            // it starts a new conversation rather than being lost.
            let SbEvent::Message { from, .. } = &e else {
                return Ok(());
            };
            let fresh = self.conversation_with(std::slice::from_ref(from));
            if let Some(link) = self.sbs.get_mut(&id) {
                link.conversation = fresh;
            }
            self.event(Event::ConversationJoined {
                conversation: fresh,
                handle: from.clone(),
                friendly_name: from.clone(),
            })
            .await?;
            return Box::pin(self.sb_event(id, fresh, e)).await;
        }
        let event = match e {
            SbEvent::Joined {
                handle,
                friendly_name,
            } => {
                let Some(c) = self.conversations.get_mut(&conversation) else {
                    return Ok(());
                };
                if !c.participants.insert(handle.to_ascii_lowercase()) && c.sb != Some(id) {
                    // Already a member (a new switchboard for the same talk).
                    c.sb = Some(id);
                    return Ok(());
                }
                c.sb = Some(id);
                Event::ConversationJoined {
                    conversation,
                    handle,
                    friendly_name,
                }
            }
            SbEvent::Left { handle } => {
                if let Some(c) = self.conversations.get_mut(&conversation) {
                    // Keep the last person: they are whom we re-invite.
                    if c.participants.len() > 1 {
                        c.participants.remove(&handle.to_ascii_lowercase());
                    }
                }
                Event::ConversationLeft { conversation, handle }
            }
            SbEvent::Message { from, text, format } => {
                // Replies go where the contact last spoke.
                if let Some(c) = self.conversations.get_mut(&conversation) {
                    c.sb = Some(id);
                }
                Event::Message {
                    conversation,
                    from,
                    text,
                    format,
                }
            }
            SbEvent::Typing { from } => Event::Typing { conversation, from },
            SbEvent::Nudge { from } => Event::Nudge { conversation, from },
            SbEvent::Notice(text) => Event::Notice(text),
        };
        self.event(event).await
    }

    async fn request_sb(
        &mut self,
        conversation: ConversationId,
        invite: Vec<String>,
        texts: Vec<(u64, String, TextFormat)>,
        requeue: Vec<Outgoing>,
        nudge: bool,
    ) -> anyhow::Result<()> {
        // One request per conversation at a time: later sends join it.
        if let Some(p) = self
            .pending_sbs
            .values_mut()
            .find(|p| p.conversation == conversation)
        {
            p.texts.extend(texts);
            p.requeue.extend(requeue);
            p.nudge |= nudge;
            return Ok(());
        }
        let token = self.next_sb;
        self.next_sb += 1;
        self.pending_sbs.insert(
            token,
            PendingSb {
                conversation,
                invite,
                texts,
                requeue,
                nudge,
            },
        );
        let out = match &mut self.ns {
            Some(ns) => ns.request_switchboard(token),
            None => Vec::new(),
        };
        // Only two things can come of a request (handled here rather than by
        // apply_ns, which would make these functions mutually recursive).
        for o in out {
            match o {
                NsOutput::Send(bytes) => {
                    if let Some(w) = &self.ns_writer {
                        let _ = w.send(bytes).await;
                    }
                }
                NsOutput::SwitchboardRefused { token, failure } => {
                    if let Some(p) = self.pending_sbs.remove(&token) {
                        self.fail_pending(p, failure).await?;
                    }
                }
                other => tracing::debug!("unexpected output of a switchboard request: {other:?}"),
            }
        }
        Ok(())
    }

    /// The conversation a command targets, or why there is none.
    fn target(&mut self, to: &ConversationTarget) -> Result<ConversationId, Failure> {
        match to {
            ConversationTarget::Existing(id) if self.conversations.contains_key(id) => Ok(*id),
            ConversationTarget::Existing(id) => Err(failure(
                FailureKind::InvalidArgument,
                format!("no conversation {id}"),
            )),
            ConversationTarget::Contact(h) if roster::valid_handle(h) => {
                Ok(self.conversation_with(std::slice::from_ref(h)))
            }
            ConversationTarget::Contact(h) => Err(failure(
                FailureKind::InvalidArgument,
                format!("{h:?} is not an MSN address"),
            )),
        }
    }

    async fn on_command(&mut self, id: u64, command: Command) -> anyhow::Result<Option<Outcome>> {
        let online = self.ns.as_ref().is_some_and(NsSession::is_online);
        let conversation_command = matches!(
            command,
            Command::SendMessage { .. }
                | Command::SendTyping { .. }
                | Command::SendNudge { .. }
                | Command::OpenConversation { .. }
                | Command::CloseConversation(_)
        );
        if !conversation_command {
            let out = match &mut self.ns {
                Some(ns) => ns.command(id, command),
                None => vec![NsOutput::CommandDone {
                    id,
                    result: CommandResult::Failed(failure(FailureKind::NotSignedIn, "not signed in to MSN")),
                }],
            };
            return self.apply_ns(out).await;
        }
        if !online {
            self.result(
                id,
                CommandResult::Failed(failure(FailureKind::NotSignedIn, "not signed in to MSN")),
            )
            .await?;
            return Ok(None);
        }
        match command {
            Command::SendMessage { to, text, format } => {
                if text.is_empty() {
                    self.result(
                        id,
                        CommandResult::Failed(failure(FailureKind::InvalidArgument, "empty message")),
                    )
                    .await?;
                    return Ok(None);
                }
                let conversation = match self.target(&to) {
                    Ok(c) => c,
                    Err(f) => {
                        self.result(id, CommandResult::Failed(f)).await?;
                        return Ok(None);
                    }
                };
                self.result(id, CommandResult::Ok).await?;
                match self.open_sb(conversation) {
                    Some(sb) => {
                        let out = match self.sbs.get_mut(&sb) {
                            Some(link) => link.session.send_text(id, &text, &format),
                            None => Vec::new(),
                        };
                        self.apply_sb(sb, out).await?;
                    }
                    None => {
                        let invite = self.invitees(conversation);
                        self.request_sb(conversation, invite, vec![(id, text, format)], Vec::new(), false)
                            .await?;
                    }
                }
            }
            Command::SendTyping { to } => {
                let result = match self.target(&to) {
                    Ok(conversation) => {
                        if let Some(sb) = self.open_sb(conversation) {
                            let out = match self.sbs.get_mut(&sb) {
                                Some(link) => link.session.send_typing(),
                                None => Vec::new(),
                            };
                            self.apply_sb(sb, out).await?;
                        }
                        CommandResult::Ok
                    }
                    Err(f) => CommandResult::Failed(f),
                };
                self.result(id, result).await?;
            }
            Command::SendNudge { to } => {
                let result = match self.target(&to) {
                    Ok(conversation) => {
                        match self.open_sb(conversation) {
                            Some(sb) => {
                                let out = match self.sbs.get_mut(&sb) {
                                    Some(link) => link.session.send_nudge(),
                                    None => Vec::new(),
                                };
                                self.apply_sb(sb, out).await?;
                            }
                            None => {
                                let invite = self.invitees(conversation);
                                self.request_sb(conversation, invite, Vec::new(), Vec::new(), true)
                                    .await?;
                            }
                        }
                        CommandResult::Ok
                    }
                    Err(f) => CommandResult::Failed(f),
                };
                self.result(id, result).await?;
            }
            Command::OpenConversation { contacts } => {
                if contacts.is_empty() || !contacts.iter().all(|h| roster::valid_handle(h)) {
                    self.result(
                        id,
                        CommandResult::Failed(failure(FailureKind::InvalidArgument, "not MSN addresses")),
                    )
                    .await?;
                    return Ok(None);
                }
                let conversation = self.conversation_with(&contacts);
                self.result(id, CommandResult::Ok).await?;
                if self.open_sb(conversation).is_none() {
                    self.request_sb(conversation, contacts, Vec::new(), Vec::new(), false)
                        .await?;
                }
            }
            Command::CloseConversation(conversation) => {
                let Some(c) = self.conversations.remove(&conversation) else {
                    self.result(
                        id,
                        CommandResult::Failed(failure(FailureKind::InvalidArgument, "no such conversation")),
                    )
                    .await?;
                    return Ok(None);
                };
                let sbs: Vec<SbId> = self
                    .sbs
                    .iter()
                    .filter(|(_, l)| l.conversation == conversation)
                    .map(|(id, _)| *id)
                    .collect();
                for sb in sbs {
                    let out = match self.sbs.get_mut(&sb) {
                        Some(link) => link.session.leave(Instant::now()),
                        None => Vec::new(),
                    };
                    self.apply_sb(sb, out).await?;
                }
                drop(c);
                self.event(Event::ConversationClosed(conversation)).await?;
                self.result(id, CommandResult::Ok).await?;
            }
            // Account commands were handed to the NS session above.
            _ => {}
        }
        Ok(None)
    }

    /// Who to invite when (re-)opening a conversation.
    fn invitees(&self, conversation: ConversationId) -> Vec<String> {
        self.conversations
            .get(&conversation)
            .map(|c| c.participants.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// The conversation's live switchboard, if it has one with someone in it
    /// (or one still being set up).
    fn open_sb(&self, conversation: ConversationId) -> Option<SbId> {
        let id = self.conversations.get(&conversation)?.sb?;
        let link = self.sbs.get(&id)?;
        (!link.session.is_closed()).then_some(id)
    }
}
