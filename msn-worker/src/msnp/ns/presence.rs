//! Contacts' presence on the notification server: `ILN`, `NLN` and `FLN`
//! in every dialect's form (MSNP13+ through [`handles`]), and personal
//! messages (`UBX`). Our own account's other places (MSNP16+) are not a
//! contact.

use ipc::{Event, Status};

use super::super::codec::Frame;
use super::super::{handles, roster};
use super::{NsOutput, NsSession};

impl NsSession {
    /// `ILN`, `NLN`, `FLN`: a contact's presence.
    pub(super) fn presence_line(&mut self, out: &mut Vec<NsOutput>, frame: &Frame) {
        let args = handles::presence_args(self.dialect, &frame.cmd, &frame.args);
        let parsed = match frame.cmd.as_str() {
            "ILN" => roster::parse_iln(&args).map(|p| (p.handle, p.status, p.friendly_name)),
            "NLN" => roster::parse_nln(&args).map(|p| (p.handle, p.status, p.friendly_name)),
            _ => roster::parse_fln(&args).map(|h| (h, Status::Offline, None)),
        };
        // Our own account's other places (MSNP16+) are not a contact.
        if parsed
            .as_ref()
            .is_some_and(|p| p.0.eq_ignore_ascii_case(&self.config.account))
        {
            return;
        }
        match parsed {
            Some((handle, status, name)) => self.presence(out, handle, status, name),
            // An ILN we cannot read is only a stale snapshot.
            None if frame.cmd == "ILN" => {}
            None => tracing::warn!("skipped unparsable line: {}", frame.line()),
        }
    }

    /// `UBX`: a contact's personal message.
    pub(super) fn personal_message(&mut self, out: &mut Vec<NsOutput>, frame: &Frame) {
        let (Some(handle), Some(payload)) = (frame.arg(0).map(handles::email), &frame.payload) else {
            return;
        };
        let handle = handle.as_str();
        // About ourselves (MSNP16+): the places signed in to the account.
        if handle.eq_ignore_ascii_case(&self.config.account) {
            if self.dialect >= 16 {
                let ours = self.config.machine_guid.to_ascii_lowercase();
                let places = handles::places(payload)
                    .into_iter()
                    .map(|(guid, name)| ipc::Place {
                        ours: guid == ours,
                        guid,
                        name,
                    })
                    .collect();
                out.push(NsOutput::Event(Event::Places(places)));
            }
            return;
        }
        let psm = roster::parse_psm(payload);
        let known = self.roster.get_mut(handle).map(|c| {
            c.personal_message = psm.clone();
            c.status
        });
        if let Some(status) = known {
            out.push(NsOutput::Event(Event::Presence {
                handle: handle.to_owned(),
                status,
                friendly_name: None,
                personal_message: Some(psm),
            }));
        }
    }

    pub(super) fn presence(
        &mut self,
        out: &mut Vec<NsOutput>,
        handle: String,
        status: Status,
        name: Option<String>,
    ) {
        if let Some(c) = self.roster.get_mut(&handle) {
            c.status = status;
            if let Some(n) = &name {
                c.friendly_name = n.clone();
            }
        }
        out.push(NsOutput::Event(Event::Presence {
            handle,
            status,
            friendly_name: name,
            personal_message: None,
        }));
    }
}
