//! The notification-server side of MSNP13+ (`docs/msnp13-18.md` §2–3):
//! single sign-on (the RST tickets, the `MBI_KEY_OLD` proof, the machine
//! GUID), the contact list read from the membership and address-book
//! services instead of `SYN`, announced with `ADL`, and list edits made
//! twice — in the services (SOAP) and on the server (`ADL`/`RML`).
//!
//! SOAP calls are outputs ([`NsOutput::Soap`]) the driver performs; their
//! answers come back through [`NsSession::soap_answer`].

use std::collections::{HashMap, VecDeque};
use std::time::Instant;

use ipc::{CommandResult, Event, FailureKind, LoginStage, SignOutClass};

use super::super::codec::encode;
use super::super::roster::{self, ListedContact, AL, BL, FL, PL};
use super::super::{abch, sso};
use super::transactions::Pending;
use super::{failure, NsOutput, NsSession, State};

/// Contacts per `ADL` document (clients used 140–150).
const ADL_BATCH: usize = 140;

/// Which web service a SOAP call goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    AddressBook,
    Sharing,
    OimRead,
    OimStore,
}

/// A SOAP call for the driver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SoapCall {
    pub token: u64,
    pub service: Service,
    /// The SOAPAction header.
    pub action: String,
    pub body: String,
}

/// A list edit at MSNP13+: SOAP steps one after another, then the
/// `ADL`/`RML` lines together.
#[derive(Debug, Clone)]
pub(super) struct Edit {
    /// The bouncer command it answers.
    id: Option<u64>,
    what: &'static str,
    soap: VecDeque<(Service, String, String)>,
    lines: Vec<(&'static str, String)>,
}

#[derive(Debug, Clone)]
pub(super) enum Purpose {
    Memberships,
    AddressBook,
    Edit(Edit),
    /// Offline messages (`ns/offline.rs`).
    Offline(super::offline::Job),
}

/// What MSNP13+ keeps per connection.
#[derive(Debug, Default)]
pub struct Web {
    /// Tickets by service address (`contacts.msn.com` …).
    tickets: HashMap<String, String>,
    /// `USR SSO S <policy> <nonce>`: the nonce to prove.
    nonce: Option<String>,
    lists: abch::Lists,
    calls: HashMap<u64, Purpose>,
    next_call: u64,
    /// Offline messages: what is being fetched, the lock key, the run.
    pub(super) offline: super::offline::OfflineState,
}

/// Whether a SOAP fault says the state asked for is already so.
fn harmless(fault: &str) -> bool {
    ["AlreadyExists", "DoesNotExist", "MemberAlreadyExists"]
        .iter()
        .any(|f| fault.contains(f))
}

impl NsSession {
    /// `CHG` arguments for `code` in this dialect: from MSNP9 the MSNC8
    /// client version (0x80 in the top byte) and no other capability, so
    /// that contacts' clients offer us files over P2P version 1 (never
    /// P2Pv2: no `capsex` bits); no display picture (`docs/msnp2p.md`
    /// §7.3). MSNP8 knows no P2P.
    pub(super) fn chg_args(&self, code: &'static str) -> Vec<&'static str> {
        const MSNC8: &str = "2147483648";
        match self.dialect {
            16.. => vec![code, "2147483648:0", "0"],
            13.. => vec![code, MSNC8, "0"],
            9.. => vec![code, MSNC8],
            _ => vec![code, super::CLIENT_ID],
        }
    }

    /// `USR SSO S <policy> <nonce>` (MSNP15+), or `USR TWN S <policy>` at
    /// MSNP13–14: tickets from the RST service are wanted.
    pub(super) fn wants_single_sign_on(
        &mut self,
        out: &mut Vec<NsOutput>,
        policy: &str,
        nonce: Option<&str>,
    ) {
        self.state = State::AwaitTicket;
        self.web.nonce = nonce.map(str::to_owned);
        let policy = match nonce {
            Some(_) => policy.to_owned(),
            None => "MBI_KEY_OLD".to_owned(),
        };
        out.push(NsOutput::SingleSignOn { policy });
    }

    /// The RST service's tickets: the final `USR` goes out at once, with
    /// the proof at MSNP15+ (made with `iv`) and the machine GUID at 16+.
    pub fn signed_on(&mut self, tokens: Vec<sso::Token>, iv: [u8; 8]) -> Vec<NsOutput> {
        let mut out = Vec::new();
        if self.state != State::AwaitTicket {
            return out;
        }
        for t in &tokens {
            self.web.tickets.insert(t.address.clone(), t.ticket.clone());
        }
        let Some(messenger) = tokens.iter().find(|t| t.address == sso::MESSENGER) else {
            let reason = "the sign-on service gave no ticket for the messenger service";
            self.end(&mut out, SignOutClass::ProtocolError, reason);
            return out;
        };
        let ticket = messenger.ticket.clone();
        if ticket.is_empty() || ticket.contains([' ', '\r', '\n']) {
            self.end(
                &mut out,
                SignOutClass::ProtocolError,
                "the sign-on service gave an unusable ticket",
            );
            return out;
        }
        self.state = State::UserTicket;
        let Some(nonce) = self.web.nonce.take() else {
            self.send(&mut out, "USR", &["TWN", "S", &ticket], None);
            return out;
        };
        let proof = messenger
            .secret
            .as_deref()
            .and_then(|secret| sso::mbi_proof(secret, &nonce, iv));
        let Some(proof) = proof else {
            let reason = "the sign-on service gave no usable proof key for the messenger service";
            self.end(&mut out, SignOutClass::ProtocolError, reason);
            return out;
        };
        let guid = self.config.machine_guid.clone();
        match self.dialect {
            16.. => self.send(&mut out, "USR", &["SSO", "S", &ticket, &proof, &guid], None),
            _ => self.send(&mut out, "USR", &["SSO", "S", &ticket, &proof], None),
        };
        out
    }

    pub(super) fn ticket_for(&self, address: &str) -> String {
        self.web.tickets.get(address).cloned().unwrap_or_default()
    }

    fn call(
        &mut self,
        out: &mut Vec<NsOutput>,
        purpose: Purpose,
        service: Service,
        action: &str,
        body: String,
    ) {
        self.soap_call(out, purpose, service, abch::soap_action(action), body);
    }

    /// A SOAP call with its whole SOAPAction.
    pub(super) fn soap_call(
        &mut self,
        out: &mut Vec<NsOutput>,
        purpose: Purpose,
        service: Service,
        action: String,
        body: String,
    ) {
        self.web.next_call += 1;
        let token = self.web.next_call;
        self.web.calls.insert(token, purpose);
        out.push(NsOutput::Soap(SoapCall {
            token,
            service,
            action,
            body,
        }));
    }

    /// `USR OK` at MSNP13+: the lists come from the web services.
    pub(super) fn fetch_lists(&mut self, out: &mut Vec<NsOutput>) {
        self.state = State::Syncing;
        out.push(NsOutput::Event(Event::LoginProgress(LoginStage::Synchronising)));
        let body = abch::find_membership(&self.ticket_for(sso::CONTACTS));
        self.call(
            out,
            Purpose::Memberships,
            Service::Sharing,
            "FindMembership",
            body,
        );
    }

    /// The answer to SOAP call `token`: the body, or why there is none.
    pub fn soap_answer(
        &mut self,
        token: u64,
        answer: Result<Vec<u8>, String>,
        _now: Instant,
    ) -> Vec<NsOutput> {
        let mut out = Vec::new();
        let Some(purpose) = self.web.calls.remove(&token) else {
            return out;
        };
        if self.state == State::Ended {
            return out;
        }
        if let Purpose::Offline(job) = purpose {
            self.offline_answer(&mut out, job, answer);
            return out;
        }
        let answer = answer.and_then(|body| match abch::fault(&body) {
            Some(f) => Err(f),
            None => Ok(body),
        });
        match (purpose, answer) {
            (Purpose::Memberships, Ok(body)) => match abch::read_memberships(&body, &mut self.web.lists) {
                Ok(()) => {
                    let body = abch::ab_find_all(&self.ticket_for(sso::CONTACTS));
                    self.call(
                        &mut out,
                        Purpose::AddressBook,
                        Service::AddressBook,
                        "ABFindAll",
                        body,
                    );
                }
                Err(e) => self.lists_failed(&mut out, format!("unreadable memberships: {e}")),
            },
            (Purpose::AddressBook, Ok(body)) => match abch::read_address_book(&body, &mut self.web.lists) {
                Ok(()) => self.lists_fetched(&mut out),
                Err(e) => self.lists_failed(&mut out, format!("unreadable address book: {e}")),
            },
            (Purpose::Memberships | Purpose::AddressBook, Err(e)) => {
                self.lists_failed(&mut out, format!("the contact-list service failed: {e}"));
            }
            (Purpose::Edit(edit), Ok(_)) => self.run_edit(&mut out, edit),
            (Purpose::Edit(edit), Err(e)) if harmless(&e) => self.run_edit(&mut out, edit),
            (Purpose::Edit(edit), Err(e)) => match edit.id {
                Some(id) => out.push(NsOutput::CommandDone {
                    id,
                    result: CommandResult::Failed(failure(FailureKind::ServerError, e)),
                }),
                None => tracing::warn!("{} failed: {e}", edit.what),
            },
            (Purpose::Offline(_), _) => {}
        }
        out
    }

    fn lists_failed(&mut self, out: &mut Vec<NsOutput>, reason: String) {
        self.end(out, SignOutClass::Transient, reason);
    }

    /// Both lists are in: the roster, our name, `BLP`, the initial `ADL`,
    /// then on as after a sync.
    fn lists_fetched(&mut self, out: &mut Vec<NsOutput>) {
        let lists = std::mem::take(&mut self.web.lists);
        for (key, (handle, bits)) in &lists.contacts {
            let name = lists.names.get(key).cloned().unwrap_or_else(|| handle.clone());
            self.roster.add_listed(ListedContact {
                handle: handle.clone(),
                friendly_name: name,
                guid: None,
                lists: *bits,
                groups: Vec::new(),
            });
        }
        self.friendly_name = lists.own_name.unwrap_or_else(|| self.config.account.clone());
        self.send(out, "BLP", &["AL"], Some(Pending::Internal("privacy mode")));
        let contacts: Vec<(String, u8)> = lists.contacts.into_values().collect();
        for doc in abch::ml_documents(&contacts, true, ADL_BATCH) {
            let t = self
                .transactions
                .open(Some(Pending::Internal("initial contact list")));
            out.push(NsOutput::Send(encode("ADL", Some(t), &[], Some(doc.as_bytes()))));
        }
        self.finish_sync(out);
    }

    /// A list edit at MSNP13+: `add` and `remove` are list bits for
    /// `handle`; `id` is the command it answers.
    pub(super) fn web_edit(
        &mut self,
        out: &mut Vec<NsOutput>,
        id: Option<u64>,
        handle: &str,
        (add, remove): (u8, u8),
        what: &'static str,
    ) {
        let ticket = self.ticket_for(sso::CONTACTS);
        let lists = self.roster.lists(handle);
        let (add, remove) = (add & !lists, remove & lists);
        let mut edit = Edit {
            id,
            what,
            soap: VecDeque::new(),
            lines: Vec::new(),
        };
        let member = |action: &str, role: &str| {
            let body = abch::member(&ticket, action, role, handle, "ContactMsgrAPI");
            (Service::Sharing, action.to_owned(), body)
        };
        for (bit, role) in [(AL, "Allow"), (BL, "Block"), (PL, "Pending")] {
            if remove & bit != 0 {
                edit.soap.push_back(member("DeleteMember", role));
            }
        }
        for (bit, role) in [(AL, "Allow"), (BL, "Block")] {
            if add & bit != 0 {
                edit.soap.push_back(member("AddMember", role));
            }
        }
        if add & FL != 0 {
            let body = abch::contact_add(&ticket, handle);
            edit.soap
                .push_back((Service::AddressBook, "ABContactAdd".to_owned(), body));
        }
        let one = |bits: u8| abch::ml_documents(&[(handle.to_owned(), bits)], false, 1);
        if let Some(doc) = one(remove & (FL | AL | BL)).pop() {
            edit.lines.push(("RML", doc));
        }
        if let Some(doc) = one(add & (FL | AL | BL)).pop() {
            edit.lines.push(("ADL", doc));
        }
        self.roster.set_lists(handle, add, remove);
        self.run_edit(out, edit);
    }

    /// The next step of an edit: a SOAP call, or the lines at the end.
    fn run_edit(&mut self, out: &mut Vec<NsOutput>, mut edit: Edit) {
        if let Some((service, action, body)) = edit.soap.pop_front() {
            self.call(out, Purpose::Edit(edit.clone()), service, &action, body);
            return;
        }
        let last = edit.lines.len();
        for (i, (cmd, doc)) in edit.lines.iter().enumerate() {
            let pending = match edit.id {
                Some(id) => Pending::Command {
                    id,
                    last: i + 1 == last,
                },
                None => Pending::Internal(edit.what),
            };
            let t = self.transactions.open(Some(pending));
            out.push(NsOutput::Send(encode(cmd, Some(t), &[], Some(doc.as_bytes()))));
        }
        if last == 0 {
            if let Some(id) = edit.id {
                out.push(NsOutput::CommandDone {
                    id,
                    result: CommandResult::Ok,
                });
            }
        }
    }

    /// `ADL 0` / `RML 0`: someone added or removed us.
    pub(super) fn server_list_change(&mut self, out: &mut Vec<NsOutput>, cmd: &str, payload: &[u8]) {
        let entries = match abch::parse_ml(payload) {
            Ok(e) => e,
            Err(e) => return tracing::warn!("skipped an unreadable {cmd} 0: {e}"),
        };
        for e in entries.into_iter().filter(|e| e.lists & roster::RL != 0) {
            if cmd == "ADL" {
                let name = e.friendly_name.unwrap_or_else(|| e.handle.clone());
                self.someone_added_us(out, e.handle, name);
            } else {
                self.roster.set_lists(&e.handle, 0, roster::RL);
                let notice = format!("{} removed us from their list", e.handle);
                out.push(NsOutput::Event(Event::Notice(notice)));
            }
        }
    }
}

#[cfg(test)]
#[path = "web_tests.rs"]
mod tests;
