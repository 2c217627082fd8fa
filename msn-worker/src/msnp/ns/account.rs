//! What the bouncer asks of the account — status, friendly name,
//! personal message, contact-list edits, accepting someone who added us,
//! a switchboard — turned into notification-server commands. A
//! multi-step edit answers its command when its last step is confirmed.

use ipc::{Command, CommandResult, Event, FailureKind};

use super::super::codec::encode;
use super::super::roster::{AL, FL, PL, RL};
use super::super::{escape, roster};
use super::list_edits;
use super::transactions::Pending;
use super::{failure, NsOutput, NsSession, State};

impl NsSession {
    pub(super) fn someone_added_us(
        &mut self,
        out: &mut Vec<NsOutput>,
        handle: String,
        friendly_name: String,
    ) {
        self.roster.set_lists(&handle, RL, 0);
        if let Some(c) = self.roster.get_mut(&handle) {
            c.friendly_name.clone_from(&friendly_name);
        }
        if self.config.auto_accept_contacts {
            tracing::info!(contact = %handle, "accepting contact request automatically");
            self.accept(out, &handle, None);
            out.push(NsOutput::Event(Event::Notice(format!(
                "{handle} ({friendly_name}) added us; accepted automatically"
            ))));
        } else {
            out.push(NsOutput::Event(Event::AddRequest {
                handle,
                friendly_name,
            }));
        }
    }

    /// Allow (AL), subscribe (FL) and clear the pending bit; then say our
    /// status again, after the list edits: some servers tell a newly
    /// allowed contact nothing of our presence, nor us of theirs, until
    /// the next status change.
    fn accept(&mut self, out: &mut Vec<NsOutput>, handle: &str, id: Option<u64>) {
        let edited = if self.dialect >= 13 {
            let lists = self.roster.lists(handle);
            self.web_edit(out, id, handle, (AL | FL, PL), "accept contact");
            lists & (AL | FL) != AL | FL
        } else {
            let steps = list_edits::accept(self.dialect, &mut self.roster, handle);
            let edited = !steps.is_empty();
            self.run_steps(out, id, steps, "accept contact");
            edited
        };
        if edited && self.state == State::Online {
            let code = roster::status_code(self.status).unwrap_or("NLN");
            let pending = Pending::Internal("presence after accepting a contact");
            let args = self.chg_args(code);
            self.send(out, "CHG", &args, Some(pending));
        }
    }

    /// Takes `handle` off the `off` lists it is on, then puts it on the `on`
    /// lists it is not on (AL and BL exclude each other, so order matters);
    /// the last step's reply answers command `id`.
    fn move_lists(
        &mut self,
        id: u64,
        handle: &str,
        off: &[&str],
        on: &[&str],
        what: &'static str,
    ) -> Vec<NsOutput> {
        let mut out = Vec::new();
        if !roster::valid_handle(handle) {
            out.push(NsOutput::CommandDone {
                id,
                result: CommandResult::Failed(failure(FailureKind::InvalidArgument, "not an MSN address")),
            });
            return out;
        }
        if self.dialect >= 13 {
            let bits = |lists: &[&str]| lists.iter().map(|l| list_edits::bit(l)).fold(0, |a, b| a | b);
            self.web_edit(&mut out, Some(id), handle, (bits(on), bits(off)), what);
            return out;
        }
        let steps = list_edits::move_lists(self.dialect, &mut self.roster, handle, off, on);
        self.run_steps(&mut out, Some(id), steps, what);
        out
    }

    /// Sends a multi-step list edit; the last step's reply answers `id`.
    fn run_steps(
        &mut self,
        out: &mut Vec<NsOutput>,
        id: Option<u64>,
        steps: Vec<list_edits::Step>,
        what: &'static str,
    ) {
        if steps.is_empty() {
            if let Some(id) = id {
                out.push(NsOutput::CommandDone {
                    id,
                    result: CommandResult::Ok,
                });
            }
            return;
        }
        for (cmd, args, pending) in list_edits::numbered(steps, id, what) {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            self.send(out, cmd, &args, Some(pending));
        }
    }

    /// Asks for a switchboard; the answer comes back with `token`.
    pub fn request_switchboard(&mut self, token: u64) -> Vec<NsOutput> {
        let mut out = Vec::new();
        if self.state != State::Online {
            out.push(NsOutput::SwitchboardRefused {
                token,
                failure: failure(FailureKind::NotSignedIn, "not signed in to MSN"),
            });
            return out;
        }
        self.send(&mut out, "XFR", &["SB"], Some(Pending::Switchboard { token }));
        out
    }

    /// `PRP MFN` from MSNP10, `REA` before.
    fn set_friendly_name(&mut self, id: u64, name: &str) -> Vec<NsOutput> {
        let mut out = Vec::new();
        let encoded = escape::encode(name);
        if name.is_empty() || encoded.len() > 387 {
            out.push(NsOutput::CommandDone {
                id,
                result: CommandResult::Failed(failure(
                    FailureKind::InvalidArgument,
                    "friendly names are 1 to 129 characters",
                )),
            });
            return out;
        }
        let pending = Some(Pending::Command { id, last: true });
        if self.dialect >= 10 {
            self.send(&mut out, "PRP", &["MFN", &encoded], pending);
        } else {
            let account = self.config.account.clone();
            self.send(&mut out, "REA", &[&account, &encoded], pending);
        }
        out
    }

    /// Runs an account-level command (conversation commands are the
    /// switchboards'); the result arrives as [`NsOutput::CommandDone`].
    pub fn command(&mut self, id: u64, command: Command) -> Vec<NsOutput> {
        let mut out = Vec::new();
        let fail = |kind, detail: &str| {
            vec![NsOutput::CommandDone {
                id,
                result: CommandResult::Failed(failure(kind, detail)),
            }]
        };
        if self.state != State::Online {
            return fail(FailureKind::NotSignedIn, "not signed in to MSN");
        }
        match command {
            Command::SetStatus(s) => match roster::status_code(s) {
                Some(code) => {
                    let args = self.chg_args(code);
                    self.send(&mut out, "CHG", &args, Some(Pending::Command { id, last: true }));
                }
                None => {
                    return fail(
                        FailureKind::InvalidArgument,
                        "offline cannot be set; use hidden or sign out",
                    )
                }
            },
            Command::SetFriendlyName(name) => return self.set_friendly_name(id, &name),
            Command::SetPersonalMessage(text) => {
                if self.dialect < 11 {
                    return fail(
                        FailureKind::InvalidArgument,
                        "personal messages need MSNP11 or later",
                    );
                }
                let guid = (self.dialect >= 13).then_some(self.config.machine_guid.as_str());
                let payload = roster::uux_payload(&text, guid);
                let t = self.transactions.open(Some(Pending::Command { id, last: true }));
                out.push(NsOutput::Send(encode("UUX", Some(t), &[], Some(&payload))));
            }
            Command::AddContact(h) => return self.move_lists(id, &h, &["BL"], &["AL", "FL"], "add contact"),
            Command::RemoveContact(h) => {
                return self.move_lists(id, &h, &["FL", "AL"], &[], "remove contact")
            }
            Command::BlockContact(h) => return self.move_lists(id, &h, &["AL"], &["BL"], "block contact"),
            Command::UnblockContact(h) => {
                return self.move_lists(id, &h, &["BL"], &["AL"], "unblock contact")
            }
            Command::AcceptAddRequest(h) => {
                if !roster::valid_handle(&h) {
                    return fail(FailureKind::InvalidArgument, "not an MSN address");
                }
                self.accept(&mut out, &h, Some(id));
            }
            Command::DeleteOfflineMessages(ids) => self.delete_offline(&mut out, id, &ids),
            Command::SignOut => {
                out.extend(self.sign_out());
                out.push(NsOutput::CommandDone {
                    id,
                    result: CommandResult::Ok,
                });
            }
            Command::SendMessage { .. }
            | Command::SendTyping { .. }
            | Command::SendNudge { .. }
            | Command::OpenConversation { .. }
            | Command::AnswerFile { .. }
            | Command::SendFile { .. }
            | Command::FileData { .. }
            | Command::CloseConversation(_) => {
                return fail(
                    FailureKind::InvalidArgument,
                    "conversation commands go to a switchboard",
                );
            }
        }
        out
    }
}
