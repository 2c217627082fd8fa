//! The contact-list sync after login (`SYN`): groups and contacts arrive
//! (`LSG`, `LST`), with the account's own name from MSNP10 (`PRP MFN`),
//! until as many groups and contacts as `SYN` announced have come — and,
//! from MSNP10, the name — or a timeout, because servers miscount.

use std::time::{Duration, Instant};

use ipc::Event;

use super::super::codec::Frame;
use super::super::roster::Roster;
use super::super::{escape, roster};
use super::transactions::Pending;
use super::{NsOutput, NsSession, State};

/// Give up on a `SYN` whose lists never complete.
pub const SYNC_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug)]
pub struct ListSync {
    announced: Option<roster::SyncHeader>,
    seen_contacts: usize,
    seen_groups: usize,
    /// From MSNP10 the account's name (`PRP MFN`) comes between the `SYN`
    /// reply and the lists, even when both lists are empty.
    name_seen: bool,
    started: Instant,
}

impl ListSync {
    pub fn new(now: Instant) -> ListSync {
        ListSync {
            announced: None,
            seen_contacts: 0,
            seen_groups: 0,
            name_seen: false,
            started: now,
        }
    }

    /// When to give up waiting.
    pub fn deadline(&self) -> Instant {
        self.started + SYNC_TIMEOUT
    }

    /// Whether everything announced has come, in `dialect`.
    fn complete(&self, dialect: u8) -> bool {
        let Some(announced) = &self.announced else {
            return false;
        };
        let lists = self.seen_contacts >= announced.contacts && self.seen_groups >= announced.groups;
        // Lists that are not empty follow the name; empty ones need it.
        let name = dialect < 10 || self.name_seen || self.seen_contacts + self.seen_groups > 0;
        lists && name
    }

    /// A line during the sync, in `dialect`; returns whether the lists are
    /// complete now.
    pub fn line(
        &mut self,
        dialect: u8,
        frame: &Frame,
        roster: &mut Roster,
        friendly_name: &mut String,
    ) -> bool {
        match frame.cmd.as_str() {
            "SYN" => match roster::parse_syn(dialect, &frame.args) {
                Some(header) => {
                    // "Your cache is current": no lists, no name follow.
                    self.name_seen |= header.is_none();
                    self.announced = Some(header.unwrap_or(roster::SyncHeader {
                        contacts: 0,
                        groups: 0,
                    }));
                }
                None => tracing::warn!("unparsable SYN reply: {}", frame.line()),
            },
            "LSG" => {
                match roster::parse_lsg(dialect, &frame.args) {
                    Some(g) => roster.groups.push(ipc::Group {
                        id: g.id,
                        name: g.name,
                    }),
                    None => tracing::warn!("skipped unparsable line: {}", frame.line()),
                }
                self.seen_groups += 1;
            }
            "LST" => {
                match roster::parse_lst(dialect, &frame.args) {
                    Some(c) => roster.add_listed(c),
                    None => tracing::warn!("skipped unparsable line: {}", frame.line()),
                }
                self.seen_contacts += 1;
            }
            // In the sync `PRP` has no transaction id: `PRP MFN <name>`.
            "PRP" if frame.arg(0) == Some("MFN") => {
                *friendly_name = frame.arg(1).map(escape::decode).unwrap_or_default();
                self.name_seen = true;
            }
            "GTC" | "BLP" | "PRP" | "BPR" | "SBS" | "MSG" | "NOT" | "GCF" | "UBX" => {}
            // Presence and other traffic can interleave on some servers.
            _ => tracing::debug!("during sync: {}", frame.line()),
        }
        self.complete(dialect)
    }
}

impl NsSession {
    pub(super) fn on_sync_line(&mut self, out: &mut Vec<NsOutput>, frame: &Frame) {
        let complete = match &mut self.sync {
            Some(sync) => sync.line(self.dialect, frame, &mut self.roster, &mut self.friendly_name),
            None => false,
        };
        if complete {
            self.finish_sync(out);
        }
    }

    pub(super) fn finish_sync(&mut self, out: &mut Vec<NsOutput>) {
        self.sync = None;
        out.push(NsOutput::Event(Event::SignedIn {
            account: self.config.account.clone(),
            friendly_name: self.friendly_name.clone(),
            protocol: self.dialect,
        }));
        // People who added us while we were away; accepted before our
        // first status, so that it reaches them, and before the lists go
        // to the bouncer, so that they show who is still to be accepted.
        let waiting: Vec<(String, String)> = self
            .roster
            .contacts
            .values()
            .filter(|c| ipc::lists::waits_for_us(c.lists))
            .map(|c| (c.handle.clone(), c.friendly_name.clone()))
            .collect();
        for (handle, name) in waiting {
            self.someone_added_us(out, handle, name);
        }
        let (contacts, groups) = self.roster.snapshot();
        out.push(NsOutput::Event(Event::Roster { contacts, groups }));
        self.state = State::Online;
        let code = roster::status_code(self.status).unwrap_or("NLN");
        let args = self.chg_args(code);
        self.send(out, "CHG", &args, Some(Pending::Internal("initial status")));
    }
}
