//! The bouncer's commands that concern conversations — send a message,
//! typing, a nudge, open or close a conversation — carried out through
//! the conversation's switchboard, or one asked for. Account commands go
//! to the notification-server session as they are.

use ipc::{Command, CommandResult, ConversationId, ConversationTarget, Event, FailureKind, TextFormat};

use super::routing::{FileOffer, Request, SbId};
use super::{failure, Session, Step};
use crate::msnp::ns::NsOutput;
use crate::msnp::sb::{SbOutput, SbSession};

impl Session<'_> {
    /// Sends through the conversation's switchboard, or asks for one.
    async fn through_switchboard(
        &mut self,
        request: Request,
        send: impl FnOnce(&mut SbSession) -> Vec<SbOutput>,
    ) -> anyhow::Result<()> {
        let sbs = &self.sbs;
        let open = self.routing.switchboard(request.conversation, |sb| {
            sbs.get(&sb).is_some_and(|l| !l.session.is_closed())
        });
        match open {
            Some(sb) => self.on_sb(sb, |s, _| send(s)).await.map(|_| ()),
            None => match self.routing.request(request) {
                Some(token) => self.ask_for_switchboard(token).await,
                None => Ok(()),
            },
        }
    }

    pub(super) async fn on_command(&mut self, id: u64, command: Command) -> Step {
        let result = match command {
            Command::SendMessage { to, text, format } => {
                // It answers itself: the answer must come before delivery events.
                self.send_message(id, to, text, format).await?;
                return Ok(None);
            }
            Command::SendTyping { to } => self.send_signal(to, false).await?,
            Command::SendNudge { to } => self.send_signal(to, true).await?,
            Command::OpenConversation { contacts } => self.open_conversation(contacts).await?,
            Command::CloseConversation(conversation) => self.close_conversation(conversation).await?,
            Command::AnswerFile { transfer, accept } => match self.routing.transfer(transfer) {
                Some((sb, session)) => {
                    self.on_sb(sb, |s, _| s.answer_file(session, accept)).await?;
                    CommandResult::Ok
                }
                None => CommandResult::Failed(failure(FailureKind::InvalidArgument, "no such file transfer")),
            },
            Command::SendFile { to, name, size } => {
                // It answers itself: the answer must come before the file's events.
                self.send_file(id, to, name, size).await?;
                return Ok(None);
            }
            Command::FileData {
                transfer,
                offset,
                data,
            } => match self.routing.sent_file(transfer) {
                Some((sb, session)) => {
                    self.on_sb(sb, |s, _| s.file_data(session, offset, &data)).await?;
                    CommandResult::Ok
                }
                None => CommandResult::Failed(failure(FailureKind::InvalidArgument, "no such file transfer")),
            },
            account => {
                let out = match &mut self.ns.session {
                    Some(ns) => ns.command(id, account),
                    None => vec![NsOutput::CommandDone {
                        id,
                        result: CommandResult::Failed(failure(
                            FailureKind::NotSignedIn,
                            "not signed in to MSN",
                        )),
                    }],
                };
                return self.apply_ns(out).await;
            }
        };
        self.result(id, result).await?;
        Ok(None)
    }

    fn not_signed_in(&self) -> Option<CommandResult> {
        (!self.ns.online())
            .then(|| CommandResult::Failed(failure(FailureKind::NotSignedIn, "not signed in to MSN")))
    }

    /// Answers command `id` itself: accepted (the delivery outcome follows
    /// as an event) or refused.
    async fn send_message(
        &mut self,
        id: u64,
        to: ConversationTarget,
        text: String,
        format: TextFormat,
    ) -> anyhow::Result<()> {
        let refused = match (self.not_signed_in(), text.is_empty()) {
            (Some(r), _) => Some(r),
            (None, true) => Some(CommandResult::Failed(failure(
                FailureKind::InvalidArgument,
                "empty message",
            ))),
            (None, false) => None,
        };
        if let Some(r) = refused {
            return self.result(id, r).await;
        }
        let conversation = match self.routing.target(&to) {
            Ok(c) => c,
            Err(f) => return self.result(id, CommandResult::Failed(f)).await,
        };
        self.result(id, CommandResult::Ok).await?;
        // To one customer at MSNP13+: if they turn out to be offline (217),
        // it is left as an offline message instead.
        if let [only] = self.routing.invitees(conversation).as_slice() {
            if self.ns.session.as_ref().is_some_and(|ns| ns.dialect() >= 13) {
                self.offline_fallback.insert(id, (only.clone(), text.clone()));
            }
        }
        tracing::debug!(
            conv = conversation,
            command_id = id,
            bytes = text.len(),
            "staff message to a switchboard"
        );
        let request = Request {
            conversation,
            invite: self.routing.invitees(conversation),
            texts: vec![(id, text.clone(), format.clone())],
            ..Request::default()
        };
        self.through_switchboard(request, |sb| sb.send_text(id, &text, &format))
            .await
    }

    /// Offers a file to the one person in a conversation (answering
    /// command `id` itself, before the file's events).
    async fn send_file(
        &mut self,
        id: u64,
        to: ConversationTarget,
        name: String,
        size: u64,
    ) -> anyhow::Result<()> {
        if let Some(r) = self.not_signed_in() {
            return self.result(id, r).await;
        }
        let conversation = match self.routing.target(&to) {
            Ok(c) => c,
            Err(f) => return self.result(id, CommandResult::Failed(f)).await,
        };
        let refused = match self.routing.invitees(conversation).as_slice() {
            _ if size == 0 || name.is_empty() => Some("an empty file cannot be sent over MSN"),
            _ if self.ns.session.as_ref().is_some_and(|ns| ns.dialect() < 9) => {
                Some("MSN file transfer through the server needs MSNP9 or later")
            }
            [_] => None,
            _ => Some("files go to one person at a time; this conversation has several"),
        };
        let Some(why) = refused else {
            self.result(id, CommandResult::Ok).await?;
            return self.offer_through_switchboard(id, conversation, name, size).await;
        };
        let f = failure(FailureKind::InvalidArgument, why);
        self.result(id, CommandResult::Failed(f)).await
    }

    async fn offer_through_switchboard(
        &mut self,
        id: u64,
        conversation: ConversationId,
        name: String,
        size: u64,
    ) -> anyhow::Result<()> {
        let invite = self.routing.invitees(conversation);
        let to = invite.first().cloned().unwrap_or_default();
        let sbs = &self.sbs;
        let open = self.routing.switchboard(conversation, |sb| {
            sbs.get(&sb).is_some_and(|l| !l.session.is_closed())
        });
        if let Some(sb) = open {
            let mut session = 0;
            self.on_sb(sb, |s, now| {
                let (p2p, out) = s.offer_file(&to, &name, size, now);
                session = p2p;
                out
            })
            .await?;
            self.routing.sending_through(id, sb, session);
            return Ok(());
        }
        let offer = FileOffer {
            command_id: id,
            to,
            name,
            size,
        };
        let request = Request {
            conversation,
            invite,
            files: vec![offer],
            ..Request::default()
        };
        match self.routing.request(request) {
            Some(token) => self.ask_for_switchboard(token).await,
            None => Ok(()),
        }
    }

    /// Typing (`nudge` false) or a nudge. Typing never opens a switchboard.
    async fn send_signal(&mut self, to: ConversationTarget, nudge: bool) -> anyhow::Result<CommandResult> {
        if let Some(r) = self.not_signed_in() {
            return Ok(r);
        }
        let conversation = match self.routing.target(&to) {
            Ok(c) => c,
            Err(f) => return Ok(CommandResult::Failed(f)),
        };
        let request = Request {
            conversation,
            invite: self.routing.invitees(conversation),
            nudge,
            ..Request::default()
        };
        if nudge {
            self.through_switchboard(request, SbSession::send_nudge).await?;
        } else {
            let sbs = &self.sbs;
            let open = |sb: SbId| sbs.get(&sb).is_some_and(|l| !l.session.is_closed());
            if let Some(sb) = self.routing.switchboard(conversation, open) {
                self.on_sb(sb, |s, _| s.send_typing()).await?;
            }
        }
        Ok(CommandResult::Ok)
    }

    async fn open_conversation(&mut self, contacts: Vec<String>) -> anyhow::Result<CommandResult> {
        if let Some(r) = self.not_signed_in() {
            return Ok(r);
        }
        if contacts.is_empty() || !contacts.iter().all(|h| crate::msnp::roster::valid_handle(h)) {
            return Ok(CommandResult::Failed(failure(
                FailureKind::InvalidArgument,
                "not MSN addresses",
            )));
        }
        let conversation = self.routing.conversation_with(&contacts);
        let request = Request {
            conversation,
            invite: contacts,
            ..Request::default()
        };
        self.through_switchboard(request, |_| Vec::new()).await?;
        Ok(CommandResult::Ok)
    }

    async fn close_conversation(&mut self, conversation: ConversationId) -> anyhow::Result<CommandResult> {
        if let Some(r) = self.not_signed_in() {
            return Ok(r);
        }
        let Some(sbs) = self.routing.close(conversation) else {
            return Ok(CommandResult::Failed(failure(
                FailureKind::InvalidArgument,
                "no such conversation",
            )));
        };
        for sb in sbs {
            self.on_sb(sb, |s, now| s.leave(now)).await?;
        }
        tracing::debug!(conv = conversation, "conversation closed");
        self.event(Event::ConversationClosed(conversation)).await?;
        Ok(CommandResult::Ok)
    }
}
