//! The contact-list sync after login (`SYN`): groups and contacts arrive
//! (`LSG`, `LST`), with the account's own name from MSNP10 (`PRP MFN`),
//! until as many contacts as `SYN` announced have come — or a timeout,
//! because servers miscount.

use std::time::{Duration, Instant};

use super::super::codec::Frame;
use super::super::{escape, roster, roster::Roster};

/// Give up on a `SYN` whose lists never complete.
pub const SYNC_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug)]
pub struct ListSync {
    expected_contacts: Option<usize>,
    seen_contacts: usize,
    started: Instant,
}

impl ListSync {
    pub fn new(now: Instant) -> ListSync {
        ListSync {
            expected_contacts: None,
            seen_contacts: 0,
            started: now,
        }
    }

    /// When to give up waiting.
    pub fn deadline(&self) -> Instant {
        self.started + SYNC_TIMEOUT
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
                Some(header) => self.expected_contacts = Some(header.map_or(0, |h| h.contacts)),
                None => tracing::warn!("unparsable SYN reply: {}", frame.line()),
            },
            "LSG" => match roster::parse_lsg(dialect, &frame.args) {
                Some(g) => roster.groups.push(ipc::Group {
                    id: g.id,
                    name: g.name,
                }),
                None => tracing::warn!("skipped unparsable line: {}", frame.line()),
            },
            "LST" => {
                match roster::parse_lst(dialect, &frame.args) {
                    Some(c) => roster.add_listed(c),
                    None => tracing::warn!("skipped unparsable line: {}", frame.line()),
                }
                self.seen_contacts += 1;
            }
            "PRP" if frame.arg(0) == Some("MFN") => {
                *friendly_name = frame.arg(1).map(escape::decode).unwrap_or_default();
            }
            "GTC" | "BLP" | "PRP" | "BPR" | "SBS" | "MSG" | "NOT" | "GCF" | "UBX" => {}
            // Presence and other traffic can interleave on some servers.
            _ => tracing::debug!("during sync: {}", frame.line()),
        }
        self.expected_contacts.is_some_and(|n| self.seen_contacts >= n)
    }
}
