//! What the MSN side does, shown to staff: worker states, presence in
//! `&msn`, conversations as channels, customer messages, typing, nudges,
//! delivery results.

use super::history::Shown;
use super::*;
use crate::store::history::Kind;

impl Staff {
    /// Everything the supervisor reports, as staff should see it.
    pub fn on_update(&mut self, update: &crate::supervisor::Update) {
        use crate::supervisor::Update;
        match update {
            Update::State(s) => self.on_worker_state(s),
            Update::Event(e) => self.on_worker_event(e),
            Update::CommandResult { id, result } => self.on_command_result(*id, result),
        }
    }

    pub fn on_worker_state(&mut self, state: &WorkerState) {
        // A worker that is gone will not confirm deliveries it accepted.
        if matches!(
            state,
            WorkerState::Restarting { .. } | WorkerState::Held { .. } | WorkerState::Stopped
        ) {
            self.worker_lost_messages();
        }
        self.signed_in = matches!(state, WorkerState::SignedIn { .. });
        self.worker_state = untrusted(&state.to_string());
        let text = format!("MSN worker: {}", self.worker_state);
        self.roster_notice(&text);
        match state {
            // The worker's conversations died with it; their channels stay,
            // dormant, so staff keep the context and can write again.
            WorkerState::Restarting { .. } | WorkerState::Held { .. } | WorkerState::Stopped => {
                self.activity.clear();
                self.auto_replied.clear();
                self.awaiting.clear();
                let lost = self.view.suspend_all();
                for channel in &lost {
                    let text = format!(
                        "MSN connection lost ({}); this conversation re-opens when the customer writes again, or when you write here",
                        self.worker_state
                    );
                    self.server_notice_in(channel, &text);
                }
                self.suspended.extend(lost);
            }
            WorkerState::SignedIn { .. } => {
                for channel in std::mem::take(&mut self.suspended) {
                    if self.view.channel(&channel).is_some() {
                        self.server_notice_in(
                            &channel,
                            "MSN connection back; write here to reach the customer again",
                        );
                    }
                }
                self.resend_outbox();
            }
            WorkerState::Starting | WorkerState::LoggingIn { .. } => {}
        }
    }

    pub(super) fn learn_contact(&mut self, handle: &str, friendly_name: &str, status: Status) -> Contact {
        // A known contact keeps its nick; only new ones touch the store.
        let known = self.view.contact(handle).map(|c| c.nick.clone());
        let nick = known.unwrap_or_else(|| {
            self.store.contact_name(handle).unwrap_or_else(|e| {
                tracing::error!("cannot name contact {handle}: {e}");
                crate::store::contacts::base_name(handle)
            })
        });
        let contact = Contact {
            handle: handle.to_owned(),
            nick,
            friendly_name: friendly_name.to_owned(),
            status,
        };
        self.view.contacts.insert(key(handle), contact.clone());
        contact
    }

    /// Shows a contact coming online (JOIN +v) or going offline (PART) in &msn.
    pub(super) fn presence_changed(&mut self, before: Option<&Contact>, after: &Contact) {
        let (was, is) = (before.is_some_and(Contact::online), after.online());
        // away-notify: busy, away, lunch … are IRC away states.
        let away = |s: Status| !matches!(s, Status::Online | Status::Offline | Status::Hidden);
        if is && (before.map(|b| b.status) != Some(after.status)) {
            let line = if away(after.status) {
                format!(":{} AWAY :{:?}", after.prefix(), after.status)
            } else {
                format!(":{} AWAY", after.prefix())
            };
            if was || away(after.status) {
                self.broadcast_to_cap("away-notify", &[], &line);
            }
        }
        // setname: a contact's new friendly name.
        if is && before.is_some_and(|b| b.friendly_name != after.friendly_name) {
            let line = format!(":{} SETNAME :{}", after.prefix(), after.friendly_name);
            self.broadcast_to_cap("setname", &[], &line);
        }
        if was == is {
            return;
        }
        if is {
            self.broadcast_join(&after.prefix(), ROSTER, "*", &after.friendly_name, None);
            let mode = format!(":{} MODE {ROSTER} +v {}", self.server(), after.nick);
            self.broadcast(&mode, None);
        } else {
            let part = format!(":{} PART {ROSTER} :offline", after.prefix());
            self.broadcast(&part, None);
        }
    }

    /// The conversation's channel, created (and joined by all staff) if new.
    pub(super) fn ensure_channel(&mut self, conversation: ipc::ConversationId, handle: &str) -> String {
        if let Some(c) = self.view.conversations.get(&conversation) {
            return c.name.clone();
        }
        // A channel that went dormant with a lost conversation: staff are in it.
        if let Some(name) = self.view.revive(conversation, handle) {
            self.flush_awaiting(handle, &name);
            return name;
        }
        let contact = match self.view.contact(handle) {
            Some(c) => c.clone(),
            None => self.learn_contact(handle, handle, Status::Online),
        };
        let name = self.view.free_channel_name(&contact.nick);
        // The customer is in it from the start: the topic and NAMES show them.
        self.view.conversations.insert(
            conversation,
            Channel {
                name: name.clone(),
                members: [key(handle)].into(),
            },
        );
        let ids: Vec<ClientId> = self.clients.keys().copied().collect();
        for id in ids {
            self.join_burst(id, &name);
        }
        self.flush_awaiting(handle, &name);
        name
    }

    /// What staff wrote to `handle` before their conversation had a
    /// channel, shown in it now so every colleague sees it.
    pub(super) fn flush_awaiting(&mut self, handle: &str, channel: &str) {
        for (nick, text) in self.awaiting.remove(&key(handle)).unwrap_or_default() {
            let source = self.user_prefix(&nick);
            self.show(
                Shown {
                    kind: Kind::Staff,
                    sender: &nick,
                    source: &source,
                    command: "PRIVMSG",
                    target: channel,
                    text: &text,
                    account: Some(&nick),
                },
                None,
            );
        }
    }

    pub(super) fn customer_joined(&mut self, conversation: ipc::ConversationId, handle: &str) -> String {
        let channel = self.ensure_channel(conversation, handle);
        let fresh = self
            .view
            .conversations
            .get_mut(&conversation)
            .is_some_and(|c| c.members.insert(key(handle)));
        if fresh {
            if let Some(c) = self.view.contact(handle).cloned() {
                self.broadcast_join(&c.prefix(), &channel, "*", &c.friendly_name, None);
            }
            // A group conversation now: the topic names everyone.
            self.topic_changed(&channel);
        }
        channel
    }

    pub fn on_worker_event(&mut self, event: &Event) {
        // Handles end up in IRC prefixes: a malformed one (a compromised
        // worker) could forge lines, so such events are dropped.
        let handle = match event {
            Event::Presence { handle, .. }
            | Event::ConversationJoined { handle, .. }
            | Event::ConversationLeft { handle, .. }
            | Event::AddRequest { handle, .. } => Some(handle),
            Event::Message { from, .. } | Event::Typing { from, .. } | Event::Nudge { from, .. } => {
                Some(from)
            }
            _ => None,
        };
        if handle.is_some_and(|h| !crate::irc::view::valid_handle(h)) {
            tracing::warn!(
                "dropped a worker event with a malformed contact address: {:?}",
                untrusted(&format!("{event:?}"))
            );
            return;
        }
        if let Event::Roster { contacts, .. } = event {
            if contacts
                .iter()
                .any(|c| !crate::irc::view::valid_handle(&c.handle))
            {
                tracing::warn!("dropped a roster with malformed contact addresses");
                return;
            }
        }
        match event {
            Event::Roster { contacts, .. } => {
                for c in contacts {
                    let before = self.view.contact(&c.handle).cloned();
                    let after = self.learn_contact(
                        &c.handle,
                        &untrusted(&c.friendly_name),
                        before.as_ref().map_or(c.status, |b| b.status),
                    );
                    self.presence_changed(before.as_ref(), &after);
                }
            }
            Event::Presence {
                handle,
                status,
                friendly_name,
                ..
            } => {
                let before = self.view.contact(handle).cloned();
                let name = friendly_name
                    .as_deref()
                    .map(untrusted)
                    .or_else(|| before.as_ref().map(|b| b.friendly_name.clone()))
                    .unwrap_or_else(|| handle.clone());
                let after = self.learn_contact(handle, &name, *status);
                self.presence_changed(before.as_ref(), &after);
            }
            Event::ConversationJoined {
                conversation, handle, ..
            } => {
                self.customer_joined(*conversation, handle);
            }
            Event::ConversationLeft { conversation, handle } => {
                let group = self
                    .view
                    .conversations
                    .get(conversation)
                    .is_some_and(|c| c.members.len() > 1 && c.members.contains(&key(handle)));
                if let (true, Some(c)) = (group, self.view.contact(handle).cloned()) {
                    // One customer leaves a group conversation: the others stay.
                    let Some(ch) = self.view.conversations.get_mut(conversation) else {
                        return;
                    };
                    ch.members.remove(&key(handle));
                    let name = ch.name.clone();
                    let part = format!(":{} PART {name} :closed the conversation window", c.prefix());
                    self.broadcast(&part, None);
                    self.topic_changed(&name);
                } else if let (Some(ch), Some(c)) = (
                    self.view.conversations.get(conversation),
                    self.view.contact(handle),
                ) {
                    let (channel, text) = (
                        ch.name.clone(),
                        format!("{} closed the conversation window", c.nick),
                    );
                    self.server_notice_in(&channel, &text);
                }
            }
            Event::ConversationClosed(conversation) => {
                self.activity.remove(conversation);
                self.auto_replied.remove(conversation);
                if let Some(ch) = self.view.conversations.remove(conversation) {
                    self.claims.remove(&ch.name.to_ascii_lowercase());
                    let ids: Vec<ClientId> = self.clients.keys().copied().collect();
                    for id in ids {
                        let Some(nick) = self.clients.get(&id).map(|c| c.nick.clone()) else {
                            continue;
                        };
                        let line = format!(
                            ":{} PART {} :conversation closed (idle)",
                            self.user_prefix(&nick),
                            ch.name
                        );
                        self.send(id, line);
                    }
                }
            }
            Event::Message {
                conversation,
                from,
                text,
                format,
            } => {
                self.activity.insert(*conversation, std::time::Instant::now());
                let reply = self.settings.unattended_reply.clone();
                if self.clients.is_empty() && !reply.is_empty() && self.auto_replied.insert(*conversation) {
                    self.command(
                        Command::SendMessage {
                            to: ConversationTarget::Existing(*conversation),
                            text: reply,
                            format: TextFormat::default(),
                        },
                        None,
                    );
                }
                let channel = self.customer_joined(*conversation, from);
                let prefix = self
                    .view
                    .contact(from)
                    .map(Contact::prefix)
                    .unwrap_or_else(|| from.clone());
                // Long messages (MSN allows ~1.5 kB) become several IRC lines.
                let room = crate::irc::split::room(&prefix, "PRIVMSG", &channel).saturating_sub(8);
                let mut pieces = crate::irc::split::split(text, room);
                // A pasted wall of lines must not flood every staff client.
                const MAX_LINES: usize = 25;
                if pieces.len() > MAX_LINES {
                    let dropped = pieces.len() - MAX_LINES;
                    pieces.truncate(MAX_LINES);
                    pieces.push(format!("[… {dropped} more lines not shown]"));
                }
                for piece in pieces {
                    let styled = crate::irc::format::to_irc(&untrusted_line(&piece), format);
                    self.show(
                        Shown {
                            kind: Kind::Customer,
                            sender: from,
                            source: &prefix,
                            command: "PRIVMSG",
                            target: &channel,
                            text: &styled,
                            account: None,
                        },
                        None,
                    );
                }
            }
            Event::Nudge { conversation, from } => {
                let channel = self.customer_joined(*conversation, from);
                let prefix = self
                    .view
                    .contact(from)
                    .map(Contact::prefix)
                    .unwrap_or_else(|| from.clone());
                self.show(
                    Shown {
                        kind: Kind::Customer,
                        sender: from,
                        source: &prefix,
                        command: "NOTICE",
                        target: &channel,
                        text: "*sent a nudge*",
                        account: None,
                    },
                    None,
                );
            }
            Event::Delivery { command_id, outcome } => {
                let sent = match self.pending.remove(command_id) {
                    Some(Pending::Message(o)) => o,
                    _ => return,
                };
                match outcome {
                    Delivery::Delivered => self.message_delivered(sent),
                    Delivery::Failed(f) => self.message_failed(sent, "not delivered", f.kind, &f.detail),
                }
            }
            Event::Sent { command_id } => self.message_sent(*command_id),
            Event::AddRequest { handle, .. } => {
                self.roster_notice(&format!(
                    "{handle} wants to add the account; accept with /msg *msn accept {handle}"
                ));
            }
            Event::Notice(text) => self.roster_notice(text),
            Event::SignedOut { reason, .. } => self.roster_notice(&format!("signed out: {reason}")),
            // A new login starts online; show the right status at once.
            Event::SignedIn { .. } => {
                if self.clients.is_empty() {
                    self.sync_status();
                }
            }
            Event::Typing { conversation, from } => {
                if let Some(ch) = self.view.conversations.get(conversation).map(|c| c.name.clone()) {
                    let prefix = self
                        .view
                        .contact(from)
                        .map(Contact::prefix)
                        .unwrap_or_else(|| from.clone());
                    self.broadcast_to_cap(
                        "message-tags",
                        &[("+typing", "active")],
                        &format!(":{prefix} TAGMSG {ch}"),
                    );
                }
            }
            Event::LoginProgress(_) => {}
        }
    }

    /// The result of a command this side sent.
    pub fn on_command_result(&mut self, id: u64, result: &CommandResult) {
        if let Some(Pending::Service { client, what }) = self.pending.get(&id) {
            let (client, what) = (*client, what.clone());
            self.pending.remove(&id);
            let text = match result {
                CommandResult::Ok => format!("done: {what}"),
                CommandResult::Failed(f) => format!("failed: {what}: {}", untrusted(&f.detail)),
            };
            self.service_notice(client, &text);
            return;
        }
        if let CommandResult::Failed(f) = result {
            if let Some(Pending::Message(sent)) = self.pending.remove(&id) {
                self.message_failed(sent, "not sent", f.kind, &f.detail);
            }
        }
    }
}
