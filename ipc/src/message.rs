//! Typed messages, both directions.
//!
//! [`ToWorker`] flows from the bouncer to the worker, [`FromWorker`] back.
//! Which of them may be sent when is decided by [`crate::phase`].

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::worker_config::{ServerAddr, WorkerConfig};
use crate::Secret;

/// First frame in each direction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hello {
    pub protocol_version: u32,
    /// Free-form build identification (crate version, git describe …), for logs.
    pub build: String,
}

/// Bouncer → worker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ToWorker {
    Hello(Hello),
    /// Everything the worker needs except the password. The worker applies
    /// its sandbox on receipt and answers [`FromWorker::Configured`].
    Configure(WorkerConfig),
    /// Ask the sandboxed worker to try things its sandbox must forbid and
    /// report what happened (used by `msnbnc check-sandbox` and the tests).
    ProbeSandbox(ProbeRequest),
    /// The account password; only ever sent after [`FromWorker::Configured`].
    Credentials(Credentials),
    Command {
        id: u64,
        command: Command,
    },
    Heartbeat {
        nonce: u64,
    },
    /// Sign out politely and exit.
    Shutdown,
}

/// Worker → bouncer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum FromWorker {
    Hello(Hello),
    /// The sandbox is applied; here is what each layer achieved.
    Configured(SandboxReport),
    ProbeReport(ProbeReport),
    /// Credentials received; the worker is now running its MSN session.
    Ready,
    Event {
        seq: u64,
        event: Event,
    },
    CommandResult {
        id: u64,
        result: CommandResult,
    },
    HeartbeatAck {
        nonce: u64,
    },
}

/// One place signed in to the account (MSNP16+: a machine GUID).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Place {
    /// `{…}`, lower case.
    pub guid: String,
    /// What the place calls itself (`EpName`); empty if it says nothing.
    pub name: String,
    /// This worker's own place.
    pub ours: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Credentials {
    pub password: Secret,
}

/// The sandbox layers, in the order the worker applies them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SandboxLayer {
    NoNewPrivs,
    Capabilities,
    Rlimits,
    Landlock,
    Seccomp,
}

impl SandboxLayer {
    pub const ALL: [SandboxLayer; 5] = [
        SandboxLayer::NoNewPrivs,
        SandboxLayer::Capabilities,
        SandboxLayer::Rlimits,
        SandboxLayer::Landlock,
        SandboxLayer::Seccomp,
    ];

    pub fn name(self) -> &'static str {
        match self {
            SandboxLayer::NoNewPrivs => "no_new_privs",
            SandboxLayer::Capabilities => "capabilities",
            SandboxLayer::Rlimits => "rlimits",
            SandboxLayer::Landlock => "landlock",
            SandboxLayer::Seccomp => "seccomp",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum LayerState {
    Enforced,
    /// Applied, but weaker than asked for (e.g. an old Landlock ABI without
    /// network rules); the text says what is missing.
    Partial(String),
    /// The kernel does not offer this layer.
    Unavailable(String),
    /// The layer exists but applying it failed.
    Failed(String),
}

impl LayerState {
    pub fn label(&self) -> &'static str {
        match self {
            LayerState::Enforced => "enforced",
            LayerState::Partial(_) => "partial",
            LayerState::Unavailable(_) => "unavailable",
            LayerState::Failed(_) => "failed",
        }
    }

    pub fn detail(&self) -> &str {
        match self {
            LayerState::Enforced => "",
            LayerState::Partial(s) | LayerState::Unavailable(s) | LayerState::Failed(s) => s,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LayerReport {
    pub layer: SandboxLayer,
    pub state: LayerState,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SandboxReport {
    pub layers: Vec<LayerReport>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProbeRequest {
    /// A readable file outside the worker's allowed paths.
    pub forbidden_file: PathBuf,
    /// A writable directory in which the worker must not be able to create a file.
    pub scratch_dir: PathBuf,
    /// A program the worker must not be able to execute.
    pub program: PathBuf,
    /// A loopback TCP port outside the allowed set.
    pub forbidden_port: u16,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProbeResult {
    /// What was attempted, e.g. "read /etc/shadow".
    pub attempt: String,
    /// Whether the sandbox stopped it (as opposed to it succeeding, or
    /// failing for an unrelated reason such as nobody listening on a port).
    pub blocked: bool,
    /// The error or outcome the attempt got.
    pub detail: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProbeReport {
    pub results: Vec<ProbeResult>,
}

/// Which conversation a command or event is about. Conversation ids are
/// chosen by the worker and stay valid until [`Event::ConversationClosed`].
pub type ConversationId = u64;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Status {
    Online,
    Busy,
    Idle,
    BeRightBack,
    Away,
    OnThePhone,
    OutToLunch,
    Hidden,
    Offline,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ConversationTarget {
    /// An existing conversation.
    Existing(ConversationId),
    /// Whatever conversation the worker has with this contact, opening one if needed.
    Contact(String),
}

/// MSN text formatting (X-MMS-IM-Format), kept structured.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TextFormat {
    pub font: Option<String>,
    pub bold: bool,
    pub italic: bool,
    pub underline: bool,
    pub strikethrough: bool,
    /// RGB colour.
    pub color: Option<[u8; 3]>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Command {
    SendMessage {
        to: ConversationTarget,
        text: String,
        format: TextFormat,
    },
    SendTyping {
        to: ConversationTarget,
    },
    SendNudge {
        to: ConversationTarget,
    },
    OpenConversation {
        contacts: Vec<String>,
    },
    CloseConversation(ConversationId),
    SetStatus(Status),
    SetFriendlyName(String),
    SetPersonalMessage(String),
    AddContact(String),
    RemoveContact(String),
    BlockContact(String),
    UnblockContact(String),
    AcceptAddRequest(String),
    /// Offline messages the bouncer has kept: the server may forget them.
    DeleteOfflineMessages(Vec<String>),
    /// Take (or decline) a file a contact offered.
    AnswerFile {
        transfer: u64,
        accept: bool,
    },
    /// Offer a contact a file (a one-person conversation). The worker
    /// asks for its data with [`Event::FileWanted`] once the contact takes
    /// it; the outcome is an [`Event::Delivery`] for this command's id.
    SendFile {
        to: ConversationTarget,
        name: String,
        size: u64,
    },
    /// A piece of the file of [`Command::SendFile`] `transfer` (its
    /// command id), as asked for: at most [`FILE_PIECE`] bytes.
    FileData {
        transfer: u64,
        offset: u64,
        data: Vec<u8>,
    },
    SignOut,
}

/// The most file data in one [`Command::FileData`] (one P2P packet's worth).
pub const FILE_PIECE: usize = 1202;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum CommandResult {
    /// Done (for a message: accepted by the worker; the delivery outcome
    /// follows as [`Event::Delivery`]).
    Ok,
    Failed(Failure),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    pub kind: FailureKind,
    pub detail: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum FailureKind {
    NotSignedIn,
    ContactOffline,
    NotOnList,
    Rejected,
    TimedOut,
    InvalidArgument,
    ServerError,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Delivery {
    /// The switchboard acknowledged the message.
    Delivered,
    /// The contact is offline: it was left as an offline message (MSNP13+),
    /// which they get when they sign in.
    Offline,
    Failed(Failure),
}

/// Why the worker's MSN session ended. The class decides what the
/// supervisor does next.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SignOutClass {
    /// Network trouble, server restart, keep-alive timeout: reconnect with back-off.
    Transient,
    /// The password or the account name is wrong: wait for the operator.
    WrongCredentials,
    /// `OUT OTH`: someone signed in to the account elsewhere. Reconnecting at
    /// once would start a kick-war, so wait for the operator.
    SignedInElsewhere,
    /// The server spoke something we do not understand: reconnect with back-off.
    ProtocolError,
    /// Configuration or server refusal that retrying cannot fix.
    Fatal,
    /// No server could be reached (DNS, TCP): reconnect with back-off.
    Unreachable,
    /// TLS failed (e.g. an untrusted certificate): reconnect with back-off,
    /// but the operator probably has to fix the trust configuration.
    Tls,
    /// Asked to sign out.
    Requested,
}

impl SignOutClass {
    /// Whether retrying without operator action is pointless or harmful.
    pub fn needs_operator(self) -> bool {
        matches!(
            self,
            SignOutClass::WrongCredentials | SignOutClass::SignedInElsewhere | SignOutClass::Fatal
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum LoginStage {
    Connecting(ServerAddr),
    Negotiated { protocol: u8 },
    Authenticating,
    Synchronising,
}

/// The lists a contact is on, as MSN numbers them ([`Contact::lists`]).
pub mod lists {
    /// Forward: ours (we see their presence).
    pub const FL: u8 = 1;
    /// Allow: they may see ours and talk to us.
    pub const AL: u8 = 2;
    /// Block.
    pub const BL: u8 = 4;
    /// Reverse: they have us on their list.
    pub const RL: u8 = 8;
    /// Pending: they added us and wait to be accepted (MSNP10+).
    pub const PL: u8 = 16;

    /// They added us and we have neither allowed nor blocked them.
    pub fn waits_for_us(lists: u8) -> bool {
        lists & (RL | PL) != 0 && lists & (AL | BL) == 0
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contact {
    pub handle: String,
    pub friendly_name: String,
    /// List membership bits ([`lists`]).
    pub lists: u8,
    pub groups: Vec<String>,
    pub status: Status,
    pub personal_message: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Group {
    pub id: String,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Event {
    LoginProgress(LoginStage),
    SignedIn {
        account: String,
        friendly_name: String,
        protocol: u8,
    },
    Roster {
        contacts: Vec<Contact>,
        groups: Vec<Group>,
    },
    Presence {
        handle: String,
        status: Status,
        friendly_name: Option<String>,
        personal_message: Option<String>,
    },
    ConversationJoined {
        conversation: ConversationId,
        handle: String,
        friendly_name: String,
    },
    ConversationLeft {
        conversation: ConversationId,
        handle: String,
    },
    ConversationClosed(ConversationId),
    Message {
        conversation: ConversationId,
        from: String,
        text: String,
        format: TextFormat,
    },
    Typing {
        conversation: ConversationId,
        from: String,
    },
    Nudge {
        conversation: ConversationId,
        from: String,
    },
    /// Another place signed in to the account (MSNP16+: a person's own
    /// Messenger beside msnbnc) wrote this in the conversation.
    SentElsewhere {
        conversation: ConversationId,
        text: String,
        format: TextFormat,
    },
    AddRequest {
        handle: String,
        friendly_name: String,
    },
    /// The places signed in to the account (MSNP16+), ours among them.
    Places(Vec<Place>),
    /// A contact offers a file in a conversation; answer with
    /// [`Command::AnswerFile`].
    FileOffered {
        conversation: ConversationId,
        transfer: u64,
        from: String,
        name: String,
        size: u64,
    },
    /// The next piece of an accepted file (at most a few KiB, in order).
    FileData {
        transfer: u64,
        offset: u64,
        data: Vec<u8>,
    },
    /// A transfer is over: all of it came (`Ok`), or why not.
    FileEnded {
        transfer: u64,
        outcome: Result<(), String>,
    },
    /// The contact took the file of [`Command::SendFile`] `command_id`.
    FileAccepted {
        command_id: u64,
    },
    /// The worker wants the piece of that file at `offset` (answer with
    /// [`Command::FileData`]; a few are asked for at a time).
    FileWanted {
        command_id: u64,
        offset: u64,
    },
    /// A message left while the account was offline (MSNP13+), fetched
    /// from the server; it stays there until [`Command::DeleteOfflineMessages`].
    OfflineMessage {
        id: String,
        from: String,
        text: String,
        /// When it was written (ms since the epoch), if the server said.
        sent_ms: Option<i64>,
    },
    /// Outcome of a [`Command::SendMessage`], by command id.
    Delivery {
        command_id: u64,
        outcome: Delivery,
    },
    /// Something from the server worth telling staff (maintenance warnings,
    /// declined invitations …).
    Notice(String),
    SignedOut {
        class: SignOutClass,
        reason: String,
        /// The server asked us to stay away this long (`OUT RCT`, maintenance).
        retry_after_secs: Option<u64>,
    },
    /// A [`Command::SendMessage`] was written to a switchboard (its first
    /// piece): from here on it may reach the customer even if no
    /// [`Event::Delivery`] follows, so it must not be sent again.
    Sent {
        command_id: u64,
    },
}

impl Event {
    /// The event's name, without its contents (for logs, where customer
    /// text must not go).
    pub fn kind(&self) -> &'static str {
        match self {
            Event::LoginProgress(_) => "login progress",
            Event::SignedIn { .. } => "signed in",
            Event::Roster { .. } => "roster",
            Event::Presence { .. } => "presence",
            Event::ConversationJoined { .. } => "conversation joined",
            Event::ConversationLeft { .. } => "conversation left",
            Event::ConversationClosed(_) => "conversation closed",
            Event::Message { .. } => "message",
            Event::Typing { .. } => "typing",
            Event::Nudge { .. } => "nudge",
            Event::SentElsewhere { .. } => "sent elsewhere",
            Event::AddRequest { .. } => "add request",
            Event::Places(_) => "places",
            Event::FileOffered { .. } => "file offered",
            Event::FileData { .. } => "file data",
            Event::FileEnded { .. } => "file ended",
            Event::FileAccepted { .. } => "file accepted",
            Event::FileWanted { .. } => "file wanted",
            Event::OfflineMessage { .. } => "offline message",
            Event::Delivery { .. } => "delivery",
            Event::Notice(_) => "notice",
            Event::SignedOut { .. } => "signed out",
            Event::Sent { .. } => "sent",
        }
    }

    /// The conversation the event is about, if any.
    pub fn conversation(&self) -> Option<ConversationId> {
        match self {
            Event::ConversationJoined { conversation, .. }
            | Event::ConversationLeft { conversation, .. }
            | Event::ConversationClosed(conversation)
            | Event::Message { conversation, .. }
            | Event::Typing { conversation, .. }
            | Event::Nudge { conversation, .. }
            | Event::SentElsewhere { conversation, .. }
            | Event::FileOffered { conversation, .. } => Some(*conversation),
            _ => None,
        }
    }
}
