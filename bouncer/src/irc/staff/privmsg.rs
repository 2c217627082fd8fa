//! PRIVMSG and NOTICE from staff: to a conversation (and so the customer),
//! as a staff-only note (`@#bob`), to a colleague, or to a contact's nick.

use ipc::{ConversationTarget, TextFormat};

use super::history::Shown;
use super::{Outgoing, Staff};
use crate::irc::conn::ClientId;
use crate::irc::view::{key, ROSTER};
use crate::store::history::Kind;

/// Lines kept per contact while their conversation opens.
const MAX_AWAITING: usize = 50;
use crate::supervisor::worker::untrusted;

impl Staff {
    /// A message from staff member `nick` on client `id`.
    pub(super) fn privmsg(&mut self, id: ClientId, nick: &str, cmd: &str, target: &str, text: &str) {
        if target.eq_ignore_ascii_case(crate::irc::service::NICK) {
            if cmd == "PRIVMSG" {
                self.service(id, text);
            }
            return;
        }
        let echo = format!(":{} {cmd} {target} :{text}", self.user_prefix(nick));
        // echo-message: the sender's own connection sees its line too.
        let echo_to_self = self
            .clients
            .get(&id)
            .is_some_and(|c| c.caps.contains("echo-message"));
        // A staff channel: staff only, by definition.
        if let Some(local) = Some(target.trim_start_matches('@')).filter(|t| self.is_local(t)) {
            let msgid = self.msgids.fresh();
            self.message_local(
                id,
                nick,
                &echo,
                local,
                &[("account", nick), ("msgid", &msgid)],
                echo_to_self,
            );
            return;
        }
        // Staff-only note: `@#bob` (STATUSMSG) never reaches the customer.
        if let Some(channel) = target.strip_prefix('@') {
            if self.view.channel(channel).is_some() || channel.eq_ignore_ascii_case(ROSTER) {
                let except = if echo_to_self { None } else { Some(id) };
                let source = self.user_prefix(nick);
                self.show(
                    Shown {
                        kind: Kind::Note,
                        sender: nick,
                        source: &source,
                        command: cmd,
                        target,
                        text,
                        account: Some(nick),
                    },
                    except,
                );
            } else {
                self.numeric(id, "403", &[channel, "No such channel"]);
            }
            return;
        }
        if target.eq_ignore_ascii_case(ROSTER) {
            self.numeric(
                id,
                "404",
                &[
                    ROSTER,
                    "The contact list is read-only; talk in a conversation channel",
                ],
            );
            return;
        }
        // CTCP other than ACTION (DCC, VERSION …) is for IRC clients, never
        // for a customer: a DCC request would leak the staff member's address.
        if text.starts_with('\x01') && crate::irc::format::action(text).is_none() {
            return;
        }
        // What the customer gets: IRC codes become MSN formatting, and
        // /me becomes *action*.
        let (mut msn_text, msn_format) = match crate::irc::format::action(text) {
            Some(act) => (
                format!("*{}*", crate::irc::format::from_irc(act).0),
                TextFormat::default(),
            ),
            None => crate::irc::format::from_irc(text),
        };
        // The customer sees who answered, when a signature is configured:
        // the staff member's own, else the global one.
        let template = match self.signatures.get(nick) {
            Some(Some(own)) => own.as_str(),
            _ => self.settings.signature.as_str(),
        };
        if !template.is_empty() && !msn_text.trim().is_empty() {
            msn_text = template.replace("{nick}", nick).replace("{text}", &msn_text);
        }
        if msn_text.trim().is_empty() && cmd == "PRIVMSG" && self.view.channel(target).is_some() {
            self.numeric(id, "412", &["No text to send"]);
            return;
        }
        let msgid = self.msgids.fresh();
        let account = [("account", nick), ("msgid", msgid.as_str())];
        if let Some(channel) = self.view.channel(target).map(|c| c.name.clone()) {
            let route = match self.view.conversation_by_channel(&channel) {
                Some(conversation) => {
                    self.activity.insert(conversation, std::time::Instant::now());
                    Some(ConversationTarget::Existing(conversation))
                }
                // A dormant channel: writing re-opens the conversation.
                None => self
                    .view
                    .channel(&channel)
                    .filter(|c| c.members.len() == 1)
                    .and_then(|c| c.members.iter().next())
                    .and_then(|k| self.view.contacts.get(k))
                    .map(|c| ConversationTarget::Contact(c.handle.clone())),
            };
            let Some(to) = route else {
                self.numeric(
                    id,
                    "404",
                    &[
                        &channel,
                        "This group conversation has ended; /msg one of its members",
                    ],
                );
                return;
            };
            let except = if echo_to_self { None } else { Some(id) };
            let source = self.user_prefix(nick);
            let row = self.show(
                Shown {
                    kind: Kind::Staff,
                    sender: nick,
                    source: &source,
                    command: cmd,
                    target: &channel,
                    text,
                    account: Some(nick),
                },
                except,
            );
            if cmd == "PRIVMSG" {
                // Whom a retry goes to: the conversation's (first) customer.
                let handle = self
                    .view
                    .channel(&channel)
                    .and_then(|c| c.members.iter().next())
                    .and_then(|k| self.view.contacts.get(k))
                    .map(|c| c.handle.clone())
                    .unwrap_or_default();
                let outgoing = Outgoing::new(Some(channel), None, nick, text);
                self.send_to_customer(row, to, &handle, msn_text, msn_format, outgoing);
            }
            return;
        }
        // A colleague's nick wins over a contact's: a private word between
        // staff must never reach a customer.
        let to_staff = self.clients.values().any(|c| c.nick.eq_ignore_ascii_case(target));
        if to_staff {
            let staff: Vec<ClientId> = self
                .clients
                .iter()
                .filter(|(cid, c)| c.nick.eq_ignore_ascii_case(target) || (c.nick == nick && **cid != id))
                .map(|(cid, _)| *cid)
                .collect();
            for cid in staff {
                self.send_tagged(cid, &account, echo.clone());
            }
            if echo_to_self {
                self.send_tagged(id, &account, echo);
            }
            return;
        }
        if let Some(contact) = self.view.contact_by_nick(target).cloned() {
            if cmd != "PRIVMSG" {
                self.numeric(id, "404", &[target, "Customers only get PRIVMSG"]);
                return;
            }
            // `/msg bob …` lands in bob's conversation (live or dormant), for
            // everyone; a new one shows it once its channel exists.
            let live = self.view.conversation_with(&contact.handle);
            let channel = match live {
                Some(c) => self.view.conversations.get(&c).map(|c| c.name.clone()),
                None => self
                    .view
                    .dormant
                    .values()
                    .find(|c| c.members.len() == 1 && c.members.contains(&key(&contact.handle)))
                    .map(|c| c.name.clone()),
            };
            let mut row = None;
            match &channel {
                Some(channel) => {
                    let source = self.user_prefix(nick);
                    row = self.show(
                        Shown {
                            kind: Kind::Staff,
                            sender: nick,
                            source: &source,
                            command: "PRIVMSG",
                            target: channel,
                            text,
                            account: Some(nick),
                        },
                        None,
                    );
                }
                None => {
                    let queue = self.awaiting.entry(key(&contact.handle)).or_default();
                    if queue.len() < MAX_AWAITING {
                        queue.push((nick.to_owned(), text.to_owned()));
                    }
                }
            }
            let to = match live {
                Some(c) => ConversationTarget::Existing(c),
                None => ConversationTarget::Contact(contact.handle.clone()),
            };
            let opening_for = channel.is_none().then(|| key(&contact.handle));
            let outgoing = Outgoing::new(channel, opening_for, nick, text);
            self.send_to_customer(row, to, &contact.handle, msn_text, msn_format, outgoing);
            return;
        }
        self.numeric(id, "401", &[target, "No such nick/channel"]);
    }

    /// Every staff member learns that a message did not reach the customer,
    /// in the conversation's channel, naming the message.
    pub(super) fn announce_failure(&mut self, sent: Outgoing, what: &str, detail: &str) {
        // Nothing went to a conversation that never opened: forget the lines
        // waiting for its channel (this notice names the message instead).
        if let Some(k) = &sent.opening_for {
            self.awaiting.remove(k);
        }
        let target = sent.conversation_hint.unwrap_or_else(|| ROSTER.to_owned());
        let text = format!("{what} ({}): <{}> {}", untrusted(detail), sent.from, sent.text);
        let server = self.server().to_owned();
        self.show(
            Shown {
                kind: Kind::Notice,
                sender: "",
                source: &server,
                command: "NOTICE",
                target: &target,
                text: &text,
                account: None,
            },
            None,
        );
    }
}
