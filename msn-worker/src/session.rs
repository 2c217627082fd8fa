//! The async driver of the MSN session: one task that owns every piece of
//! state — the notification-server session, the switchboards, and the
//! routing table that says which carries which conversation
//! ([`routing`]) — and drains typed inputs: IPC messages, frames from
//! connection tasks ([`connection`]), the Passport ticket, clock ticks.
//! Connection tasks only move bytes. Log lines about a conversation carry
//! its id (`conv`), the same id the bouncer logs.

mod commands;
mod connection;
pub mod https;
pub mod login;
pub mod net;
mod ns_link;
pub mod routing;
mod web_calls;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use ipc::{
    CommandResult, ConversationId, Event, Failure, FailureKind, FromWorker, LoginStage, Secret, ServerAddr,
    SignOutClass, ToWorker, WorkerChannel, WorkerConfig,
};
use tokio::sync::mpsc;
use tokio_rustls::TlsConnector;
use tracing::Instrument;

use crate::msnp::ns::{self, NsConfig, NsOutput, NsSession};
use crate::msnp::sb::{Role, SbOutput, SbSession};
use connection::{connect, Conn, Input};
use ns_link::{AfterEnd, NsLink};
use routing::{Routing, SbId};

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

struct SbLink {
    session: SbSession,
    writer: Option<mpsc::Sender<Vec<u8>>>,
    /// Bytes produced before the connection was up.
    backlog: Vec<Vec<u8>>,
}

pub struct Session<'a> {
    channel: &'a mut WorkerChannel,
    config: &'a WorkerConfig,
    password: Secret,
    seq: u64,
    inbox_tx: mpsc::Sender<Input>,
    inbox: mpsc::Receiver<Input>,
    /// Held by every connection's writer until it is done: when all are
    /// gone, `writers_done` says so.
    writers: mpsc::Sender<()>,
    writers_done: mpsc::Receiver<()>,
    tls: Option<TlsConnector>,
    ns: NsLink,
    sbs: HashMap<SbId, SbLink>,
    routing: Routing,
    /// MSNP13+: staff messages to one customer, by command id, kept until
    /// their delivery is known: a 217 sends them as offline messages.
    offline_fallback: HashMap<u64, (String, String)>,
}

fn failure(kind: FailureKind, detail: impl Into<String>) -> Failure {
    Failure {
        kind,
        detail: detail.into(),
    }
}

type Step = anyhow::Result<Option<Outcome>>;

impl<'a> Session<'a> {
    pub fn new(channel: &'a mut WorkerChannel, config: &'a WorkerConfig, password: Secret) -> Self {
        let (inbox_tx, inbox) = mpsc::channel(1024);
        let (writers, writers_done) = mpsc::channel(1);
        Session {
            writers,
            writers_done,
            channel,
            config,
            password,
            seq: 0,
            inbox_tx,
            inbox,
            tls: None,
            ns: NsLink::new(
                config.servers.clone(),
                Duration::from_millis(config.login_timeout_ms),
            ),
            sbs: HashMap::new(),
            routing: Routing::new(config.first_conversation),
            offline_fallback: HashMap::new(),
        }
    }

    async fn event(&mut self, event: Event) -> anyhow::Result<()> {
        if self.instead_offline(&event) {
            return Ok(());
        }
        tracing::debug!(conv = event.conversation(), "{} to the bouncer", event.kind());
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

    /// Starts a fresh notification-server connection to `addr`.
    async fn connect_ns(&mut self, addr: ServerAddr) -> anyhow::Result<()> {
        let conn = self.ns.replace();
        self.event(Event::LoginProgress(LoginStage::Connecting(addr.clone())))
            .await?;
        connect(Conn::Ns(conn), addr, self.inbox_tx.clone(), self.writers.clone());
        Ok(())
    }

    /// Runs the session until it ends.
    pub async fn run(mut self) -> anyhow::Result<Outcome> {
        self.tls = match https::tls_connector(&self.config.trust) {
            Ok(t) => Some(t),
            Err(e) => {
                let reason = format!("cannot set up TLS: {e}");
                return self.end(SignOutClass::Tls, reason, None).await;
            }
        };
        let Some(first) = self.ns.first_server() else {
            let reason = "no MSN server configured".into();
            return self.end(SignOutClass::Fatal, reason, None).await;
        };
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
                msg = self.channel.recv() => self.on_ipc(msg?).await?,
                Some(input) = self.inbox.recv() => self.on_input(input).await?,
                _ = tick.tick() => self.on_tick().await?,
            };
            if let Some(outcome) = step {
                self.channel.flush().await?;
                self.sign_out_everything();
                self.writers_finish().await;
                return Ok(outcome);
            }
        }
    }

    async fn on_ipc(&mut self, msg: Option<ToWorker>) -> Step {
        match msg {
            None | Some(ToWorker::Shutdown) => Ok(Some(Outcome::Stopped)),
            Some(ToWorker::Heartbeat { nonce }) => {
                self.channel.send(FromWorker::HeartbeatAck { nonce }).await?;
                Ok(None)
            }
            Some(ToWorker::Command { id, command }) => self.on_command(id, command).await,
            Some(other) => anyhow::bail!("unexpected message while running: {other:?}"),
        }
    }

    /// Lets every connection's writer send what is queued (the `OUT`s of
    /// [`Session::sign_out_everything`]) and close, before the worker
    /// exits: at most 2 s.
    async fn writers_finish(&mut self) {
        self.ns.writer = None;
        for link in self.sbs.values_mut() {
            link.writer = None;
        }
        let (none, _) = mpsc::channel(1);
        drop(std::mem::replace(&mut self.writers, none));
        let _ = tokio::time::timeout(Duration::from_secs(2), self.writers_done.recv()).await;
    }

    fn sign_out_everything(&mut self) {
        for link in self.sbs.values_mut() {
            for o in link.session.leave(Instant::now()) {
                if let (SbOutput::Send(bytes), Some(w)) = (o, &link.writer) {
                    let _ = w.try_send(bytes);
                }
            }
        }
        if let (Some(ns), Some(w)) = (&mut self.ns.session, &self.ns.writer) {
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

    async fn on_tick(&mut self) -> Step {
        let now = Instant::now();
        if self.ns.login_overdue(now) {
            let reason = format!(
                "login did not complete within {} s",
                self.ns.login_timeout.as_secs()
            );
            return Ok(Some(self.end(SignOutClass::Transient, reason, None).await?));
        }
        if let Some(ns) = &mut self.ns.session {
            let out = ns.tick(now);
            if let Some(o) = self.apply_ns(out).await? {
                return Ok(Some(o));
            }
        }
        let ids: Vec<SbId> = self.sbs.keys().copied().collect();
        for id in ids {
            if let Some(link) = self.sbs.get_mut(&id) {
                let out = link.session.tick(now);
                self.apply_sb(id, out).await?;
            }
        }
        Ok(None)
    }

    async fn on_input(&mut self, input: Input) -> Step {
        match input {
            Input::Ticket(result) => {
                let out = match result {
                    Ok(ticket) => self
                        .ns
                        .session
                        .as_mut()
                        .map(|ns| ns.ticket(&ticket))
                        .unwrap_or_default(),
                    Err(e) => return Ok(Some(self.end(e.class, e.reason, None).await?)),
                };
                self.apply_ns(out).await
            }
            Input::SignedOn(result) => self.signed_on(result).await,
            Input::Soap(token, answer) => self.soap_answered(token, answer).await,
            Input::SendOffline(command) => self.send_offline(command).await,
            Input::Connected(Conn::Ns(n), _)
            | Input::ConnectFailed(Conn::Ns(n), ..)
            | Input::Frame(Conn::Ns(n), _)
            | Input::Skipped(Conn::Ns(n), _)
            | Input::Closed(Conn::Ns(n), _)
                if n != self.ns.conn =>
            {
                // From a notification-server connection we have replaced.
                Ok(None)
            }
            Input::Connected(Conn::Sb(id), writer) => {
                if let Some(link) = self.sbs.get_mut(&id) {
                    for bytes in link.backlog.drain(..) {
                        let _ = writer.send(bytes).await;
                    }
                    link.writer = Some(writer);
                }
                Ok(None)
            }
            Input::ConnectFailed(Conn::Sb(id), _, reason) | Input::Closed(Conn::Sb(id), reason) => {
                self.on_sb(id, |sb, _| sb.connection_lost(&reason)).await
            }
            Input::Frame(Conn::Sb(id), frame) => self.on_sb(id, |sb, now| sb.on_frame(frame, now)).await,
            Input::Skipped(Conn::Sb(id), what) => {
                tracing::warn!(sb = id, "switchboard sent garbage, skipped: {what}");
                Ok(None)
            }
            ns_input => self.on_ns_input(ns_input).await,
        }
    }

    /// Runs a switchboard's state machine on an input.
    async fn on_sb(&mut self, id: SbId, f: impl FnOnce(&mut SbSession, Instant) -> Vec<SbOutput>) -> Step {
        if let Some(link) = self.sbs.get_mut(&id) {
            let out = f(&mut link.session, Instant::now());
            self.apply_sb(id, out).await?;
        }
        Ok(None)
    }

    /// Input from the current notification-server connection.
    async fn on_ns_input(&mut self, input: Input) -> Step {
        match input {
            Input::Connected(_, writer) => {
                let mut session = NsSession::new(NsConfig {
                    account: self.config.account.clone(),
                    min_version: self.config.protocol.min,
                    // MSNP13+ needs the web services.
                    max_version: match self.config.web_services {
                        Some(_) => self.config.protocol.max,
                        None => self.config.protocol.max.min(12),
                    },
                    auto_accept_contacts: self.config.auto_accept_contacts,
                    machine_guid: self.config.machine_guid.clone(),
                });
                let out = session.start();
                self.ns.session = Some(session);
                self.ns.writer = Some(writer);
                self.apply_ns(out).await
            }
            Input::ConnectFailed(_, class, reason) => {
                // Try the next configured server, then give up.
                if let Some(next) = self.ns.next_server() {
                    tracing::warn!("{reason}; trying {next}");
                    self.connect_ns(next).await?;
                    return Ok(None);
                }
                Ok(Some(self.end(class, reason, None).await?))
            }
            Input::Frame(_, frame) => {
                let now = Instant::now();
                let out = self
                    .ns
                    .session
                    .as_mut()
                    .map(|ns| ns.on_frame(frame, now))
                    .unwrap_or_default();
                self.apply_ns(out).await
            }
            Input::Skipped(_, what) => {
                tracing::warn!("notification server sent garbage, skipped: {what}");
                Ok(None)
            }
            Input::Closed(_, reason) => {
                let (class, reason) = self.ns.closed(&reason);
                Ok(Some(self.end(class, reason, None).await?))
            }
            Input::Ticket(_) | Input::SignedOn(_) | Input::Soap(..) | Input::SendOffline(_) => Ok(None),
        }
    }

    async fn send_ns(&mut self, bytes: Vec<u8>) {
        if let Some(w) = &self.ns.writer {
            if w.send(bytes).await.is_err() {
                tracing::debug!("notification server writer is gone");
            }
        }
    }

    async fn apply_ns(&mut self, out: Vec<NsOutput>) -> Step {
        for o in out {
            match o {
                NsOutput::Send(bytes) => self.send_ns(bytes).await,
                NsOutput::Redirect(addr) => {
                    if let Err(reason) = self.ns.redirected() {
                        return Ok(Some(self.end(SignOutClass::ProtocolError, reason, None).await?));
                    }
                    tracing::info!("dispatch server redirects us to {addr}");
                    self.connect_ns(addr).await?;
                }
                NsOutput::Authenticate { policy } => self.passport(policy),
                NsOutput::SingleSignOn { policy } => self.single_sign_on(policy),
                NsOutput::Soap(call) => self.soap(call),
                NsOutput::TicketRejected => self.ns.ticket_rejected(),
                NsOutput::End {
                    class,
                    reason,
                    retry_after,
                } => match self.ns.ended(class, reason, retry_after) {
                    AfterEnd::LogInAgain(first) => {
                        tracing::warn!("the login ticket was refused; logging in once more");
                        self.connect_ns(first).await?;
                    }
                    AfterEnd::End {
                        class,
                        reason,
                        retry_after,
                    } => return Ok(Some(self.end(class, reason, retry_after).await?)),
                },
                NsOutput::Event(e) => self.event(e).await?,
                NsOutput::CommandDone { id, result } => self.result(id, result).await?,
                NsOutput::SwitchboardReady { token, addr, cookie } => {
                    self.switchboard_ready(token, &addr, cookie).await?
                }
                NsOutput::SwitchboardRefused { token, failure } => self.refused(token, failure).await?,
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

    /// Logs in to Passport in the background; the ticket comes back as an input.
    fn passport(&self, policy: String) {
        let (Some(tls), inbox) = (self.tls.clone(), self.inbox_tx.clone()) else {
            return;
        };
        let passport = self.config.passport.clone();
        let account = self.config.account.clone();
        let password = self.password.clone();
        tokio::spawn(async move {
            let mut net = net::Net::default();
            let result =
                login::passport(&mut net, &tls, &passport, &account, password.expose(), &policy).await;
            drop(password);
            let _ = inbox.send(Input::Ticket(result)).await;
        });
    }

    /// A switchboard request failed: its messages are reported failed.
    async fn refused(&mut self, token: u64, failure: Failure) -> anyhow::Result<()> {
        let Some(request) = self.routing.take_request(token) else {
            return Ok(());
        };
        for command_id in self.routing.request_failed(&request) {
            let outcome = ipc::Delivery::Failed(failure.clone());
            self.event(Event::Delivery { command_id, outcome }).await?;
        }
        Ok(())
    }

    /// Who we are on a switchboard: from MSNP16 this place of the account.
    fn sb_login(&self) -> String {
        match self.ns.session.as_ref().map(NsSession::dialect) {
            Some(16..) => format!("{};{}", self.config.account, self.config.machine_guid),
            _ => self.config.account.clone(),
        }
    }

    fn new_sb(&mut self, session: SbSession, conversation: ConversationId) -> SbId {
        let id = self.routing.open(conversation);
        let link = SbLink {
            session,
            writer: None,
            backlog: Vec::new(),
        };
        self.sbs.insert(id, link);
        id
    }

    async fn switchboard_ready(&mut self, token: u64, addr: &str, cookie: String) -> anyhow::Result<()> {
        let Some(request) = self.routing.take_request(token) else {
            return Ok(());
        };
        let Some(server) = ns::parse_addr(addr) else {
            let bad = failure(
                FailureKind::ServerError,
                format!("bad switchboard address {addr:?}"),
            );
            for command_id in self.routing.request_failed(&request) {
                let outcome = ipc::Delivery::Failed(bad.clone());
                self.event(Event::Delivery { command_id, outcome }).await?;
            }
            return Ok(());
        };
        let invite = request.invite.clone();
        let mut session = SbSession::new(&self.sb_login(), Role::Calling { cookie, invite }, Instant::now());
        let mut out = session.start();
        for (id, text, format) in &request.texts {
            out.extend(session.send_text(*id, text, format));
        }
        out.extend(session.requeue(request.requeue));
        if request.nudge {
            out.extend(session.send_nudge());
        }
        let mut offered = Vec::new();
        for f in &request.files {
            let (p2p, o) = session.offer_file(&f.to, &f.name, f.size, Instant::now());
            offered.push((f.command_id, p2p));
            out.extend(o);
        }
        let id = self.new_sb(session, request.conversation);
        for (command_id, p2p) in offered {
            self.routing.sending_through(command_id, id, p2p);
        }
        tracing::debug!(conv = request.conversation, sb = id, "switchboard opened");
        connect(Conn::Sb(id), server, self.inbox_tx.clone(), self.writers.clone());
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
        let conversation = self.routing.conversation_with(&[inviter.to_owned()]);
        let role = Role::Answering { session_id, cookie };
        let mut session = SbSession::new(&self.sb_login(), role, Instant::now());
        let out = session.start();
        let id = self.new_sb(session, conversation);
        tracing::debug!(conv = conversation, sb = id, "invited to a switchboard");
        connect(Conn::Sb(id), server, self.inbox_tx.clone(), self.writers.clone());
        self.apply_sb(id, out).await
    }

    /// A switchboard's output, logged in its conversation's span (so
    /// `grep conv=N` follows it into the bouncer's log).
    async fn apply_sb(&mut self, id: SbId, out: Vec<SbOutput>) -> anyhow::Result<()> {
        let span = tracing::debug_span!("conversation", conv = self.routing.carried_by(id), sb = id);
        self.apply_sb_outputs(id, out).instrument(span).await
    }

    async fn apply_sb_outputs(&mut self, id: SbId, out: Vec<SbOutput>) -> anyhow::Result<()> {
        for o in out {
            let Some(link) = self.sbs.get_mut(&id) else {
                return Ok(());
            };
            match o {
                SbOutput::Send(bytes) => match &link.writer {
                    Some(w) => {
                        let _ = w.send(bytes).await;
                    }
                    None => link.backlog.push(bytes),
                },
                SbOutput::Event(e) => {
                    for event in self.routing.on_event(id, e) {
                        self.event(event).await?;
                    }
                }
                SbOutput::Delivery { command_id, outcome } => {
                    self.event(Event::Delivery { command_id, outcome }).await?;
                }
                SbOutput::Sent { command_id } => self.event(Event::Sent { command_id }).await?,
                SbOutput::Closed { reason, unsent } => {
                    tracing::debug!("switchboard closed: {reason}");
                    self.sbs.remove(&id);
                    // Messages the old switchboard never carried go through a new one.
                    if let Some(token) = self.routing.closed(id, unsent) {
                        self.ask_for_switchboard(token).await?;
                    }
                }
            }
        }
        Ok(())
    }

    /// Asks for a switchboard: `XFR SB` (a refusal fails its messages).
    async fn ask_for_switchboard(&mut self, token: u64) -> anyhow::Result<()> {
        let out = self
            .ns
            .session
            .as_mut()
            .map(|ns| ns.request_switchboard(token))
            .unwrap_or_default();
        // Only two things can come of a request (handled here rather than by
        // apply_ns, which would make these functions mutually recursive).
        for o in out {
            match o {
                NsOutput::Send(bytes) => self.send_ns(bytes).await,
                NsOutput::SwitchboardRefused { token, failure } => self.refused(token, failure).await?,
                other => tracing::debug!("unexpected output of a switchboard request: {other:?}"),
            }
        }
        Ok(())
    }
}
