//! Contact lists and presence lines, per dialect (msnp.md §4–5). Every
//! parser takes the frame's arguments and returns `None` for a line it
//! cannot make sense of; callers log and skip those.

use std::collections::BTreeMap;

use ipc::Status;

use super::escape;

pub use ipc::lists::{AL, BL, FL, PL, RL};

pub fn parse_status(code: &str) -> Option<Status> {
    Some(match code {
        "NLN" => Status::Online,
        "BSY" => Status::Busy,
        "IDL" => Status::Idle,
        "BRB" => Status::BeRightBack,
        "AWY" => Status::Away,
        "PHN" => Status::OnThePhone,
        "LUN" => Status::OutToLunch,
        "HDN" => Status::Hidden,
        "FLN" => Status::Offline,
        _ => return None,
    })
}

/// The code to send in `CHG`; `None` for offline, which cannot be set.
pub fn status_code(status: Status) -> Option<&'static str> {
    Some(match status {
        Status::Online => "NLN",
        Status::Busy => "BSY",
        Status::Idle => "IDL",
        Status::BeRightBack => "BRB",
        Status::Away => "AWY",
        Status::OnThePhone => "PHN",
        Status::OutToLunch => "LUN",
        Status::Hidden => "HDN",
        Status::Offline => return None,
    })
}

/// An e-mail-like handle: something@something, no spaces or control characters.
pub fn valid_handle(h: &str) -> bool {
    let Some((user, domain)) = h.split_once('@') else {
        return false;
    };
    !user.is_empty()
        && !domain.is_empty()
        && h.len() <= 129
        && !h.chars().any(|c| c.is_whitespace() || c.is_control() || c == ',')
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncHeader {
    pub contacts: usize,
    pub groups: usize,
}

/// `SYN` reply. `Some(None)` is the "your cache is current" form (no lists follow).
pub fn parse_syn(dialect: u8, args: &[String]) -> Option<Option<SyncHeader>> {
    // args[0] is the TrID.
    let counts = if dialect >= 10 {
        args.get(3..5)
    } else {
        args.get(2..4)
    };
    match counts {
        Some([c, g]) => Some(Some(SyncHeader {
            contacts: c.parse().ok().filter(|&n: &usize| n <= 100_000)?,
            groups: g.parse().ok().filter(|&n: &usize| n <= 10_000)?,
        })),
        _ if args.len() >= 2 => Some(None),
        _ => None,
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedGroup {
    pub id: String,
    pub name: String,
}

/// `LSG` inside a `SYN` (no TrID).
pub fn parse_lsg(dialect: u8, args: &[String]) -> Option<ListedGroup> {
    if dialect >= 10 {
        // LSG <name> <guid-or-number>
        let [name, id, ..] = args else { return None };
        Some(ListedGroup {
            id: id.clone(),
            name: escape::decode(name),
        })
    } else {
        // LSG <id> <name> 0
        let [id, name, ..] = args else { return None };
        id.parse::<u32>().ok()?;
        Some(ListedGroup {
            id: id.clone(),
            name: escape::decode(name),
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedContact {
    pub handle: String,
    pub friendly_name: String,
    pub guid: Option<String>,
    pub lists: u8,
    pub groups: Vec<String>,
}

/// `LST` inside a `SYN` (no TrID).
pub fn parse_lst(dialect: u8, args: &[String]) -> Option<ListedContact> {
    if dialect < 10 {
        // LST <email> <nick> <bits> [<group,ids>]
        let [handle, nick, bits, rest @ ..] = args else {
            return None;
        };
        if !valid_handle(handle) {
            return None;
        }
        return Some(ListedContact {
            handle: handle.clone(),
            friendly_name: escape::decode(nick),
            guid: None,
            lists: bits.parse().ok()?,
            groups: rest.first().map(|g| split_groups(g)).unwrap_or_default(),
        });
    }
    // LST N=<email> F=<nick> [C=<guid>] <bits> [<network-id> (12)] [<groups>]
    let (mut handle, mut nick, mut guid) = (None, None, None);
    let mut rest = args;
    while let Some((first, tail)) = rest.split_first() {
        if let Some(v) = first.strip_prefix("N=") {
            handle = Some(v.to_owned());
        } else if let Some(v) = first.strip_prefix("F=") {
            nick = Some(escape::decode(v));
        } else if let Some(v) = first.strip_prefix("C=") {
            guid = Some(v.to_owned());
        } else {
            break;
        }
        rest = tail;
    }
    let handle = handle.filter(|h| valid_handle(h))?;
    let (bits, mut rest) = rest.split_first()?;
    let lists = bits.parse().ok()?;
    if dialect >= 12 {
        if let Some((net, tail)) = rest.split_first() {
            if net.bytes().all(|b| b.is_ascii_digit()) {
                rest = tail;
            }
        }
    }
    Some(ListedContact {
        friendly_name: nick.unwrap_or_else(|| handle.clone()),
        handle,
        guid,
        lists,
        groups: rest.first().map(|g| split_groups(g)).unwrap_or_default(),
    })
}

fn split_groups(s: &str) -> Vec<String> {
    s.split(',')
        .filter(|g| !g.is_empty())
        .map(str::to_owned)
        .collect()
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresenceLine {
    pub handle: String,
    pub status: Status,
    pub friendly_name: Option<String>,
}

/// `ILN <t> <status> <email> <name> <client-id> [<msnobj>]`.
pub fn parse_iln(args: &[String]) -> Option<PresenceLine> {
    parse_nln(args.get(1..)?)
}

/// `NLN <status> <email> <name> [<client-id> [<msnobj>]]`.
pub fn parse_nln(args: &[String]) -> Option<PresenceLine> {
    let [status, handle, rest @ ..] = args else {
        return None;
    };
    let status = parse_status(status)?;
    valid_handle(handle).then(|| PresenceLine {
        handle: handle.clone(),
        status,
        friendly_name: rest.first().map(|n| escape::decode(n)),
    })
}

/// `FLN <email>` (MSNP14+ would add a network id; tolerated).
pub fn parse_fln(args: &[String]) -> Option<String> {
    let handle = args.first()?;
    valid_handle(handle).then(|| handle.clone())
}

/// Someone added us: `ADD 0 RL [<ver>] <email> <name>` (8–9) or
/// `ADC 0 RL N=<email> F=<name>` (10–12). Returns handle and friendly name.
pub fn parse_added_me(args: &[String]) -> Option<(String, String)> {
    if args.first().map(String::as_str) != Some("0") || args.get(1).map(String::as_str) != Some("RL") {
        return None;
    }
    let rest = &args[2..];
    if rest.iter().any(|a| a.starts_with("N=")) {
        let handle = rest.iter().find_map(|a| a.strip_prefix("N="))?.to_owned();
        let name = rest
            .iter()
            .find_map(|a| a.strip_prefix("F="))
            .map(escape::decode)
            .unwrap_or_else(|| handle.clone());
        return valid_handle(&handle).then_some((handle, name));
    }
    // With or without the list version (builds differ).
    let rest = match rest.first() {
        Some(v) if v.bytes().all(|b| b.is_ascii_digit()) => &rest[1..],
        _ => rest,
    };
    let handle = rest.first()?.clone();
    let name = rest
        .get(1)
        .map(|n| escape::decode(n))
        .unwrap_or_else(|| handle.clone());
    valid_handle(&handle).then_some((handle, name))
}

/// Someone removed us: `REM 0 RL [<ver>] <email>` (strips an `N=` prefix).
pub fn parse_removed_me(args: &[String]) -> Option<String> {
    if args.first().map(String::as_str) != Some("0") || args.get(1).map(String::as_str) != Some("RL") {
        return None;
    }
    let handle = args[2..]
        .iter()
        .map(|a| a.strip_prefix("N=").unwrap_or(a))
        .find(|a| valid_handle(a))?;
    Some(handle.to_owned())
}

/// The personal message in a `UBX` payload: the text of `<PSM>` wherever it is.
pub fn parse_psm(payload: &[u8]) -> String {
    let text = String::from_utf8_lossy(payload);
    let Some(start) = text.find("<PSM>") else {
        return String::new();
    };
    let inner = &text[start + 5..];
    let end = inner.find("</PSM>").unwrap_or(inner.len());
    xml_unescape(&inner[..end])
}

fn xml_unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

/// A `UUX` with the personal message; from MSNP13 with our machine GUID.
pub fn uux_payload(personal_message: &str, machine_guid: Option<&str>) -> Vec<u8> {
    let guid = machine_guid
        .map(|g| format!("<MachineGuid>{}</MachineGuid>", super::xml::escape(g)))
        .unwrap_or_default();
    format!(
        "<Data><PSM>{}</PSM><CurrentMedia></CurrentMedia>{guid}</Data>",
        super::xml::escape(personal_message)
    )
    .into_bytes()
}

/// The account's view of its contacts, rebuilt at every login.
#[derive(Debug, Default, Clone)]
pub struct Roster {
    /// Keyed by lower-cased handle.
    pub contacts: BTreeMap<String, ipc::Contact>,
    pub guids: BTreeMap<String, String>,
    pub groups: Vec<ipc::Group>,
}

impl Roster {
    pub fn key(handle: &str) -> String {
        handle.to_ascii_lowercase()
    }

    pub fn add_listed(&mut self, c: ListedContact) {
        if let Some(guid) = &c.guid {
            self.guids.insert(Self::key(&c.handle), guid.clone());
        }
        self.contacts.insert(
            Self::key(&c.handle),
            ipc::Contact {
                handle: c.handle,
                friendly_name: c.friendly_name,
                lists: c.lists,
                groups: c.groups,
                status: Status::Offline,
                personal_message: String::new(),
            },
        );
    }

    pub fn get_mut(&mut self, handle: &str) -> Option<&mut ipc::Contact> {
        self.contacts.get_mut(&Self::key(handle))
    }

    pub fn lists(&self, handle: &str) -> u8 {
        self.contacts.get(&Self::key(handle)).map_or(0, |c| c.lists)
    }

    /// Adds list bits, creating the contact if needed.
    pub fn set_lists(&mut self, handle: &str, add: u8, remove: u8) {
        let entry = self
            .contacts
            .entry(Self::key(handle))
            .or_insert_with(|| ipc::Contact {
                handle: handle.to_owned(),
                friendly_name: handle.to_owned(),
                lists: 0,
                groups: Vec::new(),
                status: Status::Offline,
                personal_message: String::new(),
            });
        entry.lists = (entry.lists | add) & !remove;
    }

    pub fn snapshot(&self) -> (Vec<ipc::Contact>, Vec<ipc::Group>) {
        (self.contacts.values().cloned().collect(), self.groups.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &str) -> Vec<String> {
        line.split(' ')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect()
    }

    #[test]
    fn msnp8_lists() {
        assert_eq!(
            parse_syn(8, &args("5 42 2 1")),
            Some(Some(SyncHeader {
                contacts: 2,
                groups: 1
            }))
        );
        assert_eq!(parse_syn(8, &args("5 42")), Some(None));
        assert_eq!(
            parse_lsg(8, &args("0 Other%20Contacts 0")),
            Some(ListedGroup {
                id: "0".into(),
                name: "Other Contacts".into()
            })
        );
        let bob = parse_lst(8, &args("bob@example.com Bob%20B 11 0,3")).unwrap();
        assert_eq!(
            (bob.lists, bob.groups.clone(), bob.friendly_name.as_str()),
            (11, vec!["0".into(), "3".into()], "Bob B")
        );
        let carol = parse_lst(8, &args("carol@example.com Carol 8")).unwrap();
        assert!(carol.groups.is_empty());
        assert_eq!(parse_lst(8, &args("not-a-handle X 1")), None);
        assert_eq!(parse_lst(8, &args("a@b X notbits")), None);
    }

    #[test]
    fn msnp10_to_12_lists_with_and_without_guid_and_network() {
        let g = "3e2f9c2a-0c1d-4c67-9a0b-5d1e7f00aa01";
        assert_eq!(
            parse_syn(
                12,
                &args("5 2024-01-01T00:00:00.0-00:00 2024-01-01T00:00:00.0-00:00 2 1")
            ),
            Some(Some(SyncHeader {
                contacts: 2,
                groups: 1
            }))
        );
        assert_eq!(parse_lsg(12, &args(&format!("Friends {g}"))).unwrap().id, g);
        let bob = parse_lst(12, &args(&format!("N=bob@example.com F=Bob C=9b1c 11 1 {g}"))).unwrap();
        assert_eq!(
            (bob.guid.as_deref(), bob.lists, bob.groups.len()),
            (Some("9b1c"), 11, 1)
        );
        // No C= (not on FL), trailing space, no groups.
        let carol = parse_lst(12, &args("N=carol@example.com F=Carol 8 1 ")).unwrap();
        assert_eq!((carol.guid, carol.lists, carol.groups.len()), (None, 8, 0));
        // MSNP10/11: no network id; a group follows the bits directly.
        let dave = parse_lst(11, &args(&format!("N=dave@example.com F=D%25ve C=x 1 {g}"))).unwrap();
        assert_eq!(
            (dave.friendly_name.as_str(), dave.groups[0].as_str()),
            ("D%ve", g)
        );
        assert_eq!(parse_lst(12, &args("F=NoHandle 1 1")), None);
    }

    #[test]
    fn presence_lines() {
        let iln = parse_iln(&args("6 NLN bob@example.com Bob 268435456 %3Cmsnobj%2F%3E")).unwrap();
        assert_eq!(
            (iln.status, iln.handle.as_str(), iln.friendly_name.as_deref()),
            (Status::Online, "bob@example.com", Some("Bob"))
        );
        let nln = parse_nln(&args("AWY bob@example.com Bobby 0")).unwrap();
        assert_eq!(nln.status, Status::Away);
        assert_eq!(parse_nln(&args("XYZ bob@example.com Bob 0")), None);
        assert_eq!(
            parse_fln(&args("bob@example.com")).as_deref(),
            Some("bob@example.com")
        );
        assert_eq!(parse_fln(&args("")), None);
    }

    #[test]
    fn reverse_list_notices_in_every_form() {
        assert_eq!(
            parse_added_me(&args("0 RL 43 new@example.com New%20One")),
            Some(("new@example.com".into(), "New One".into()))
        );
        assert_eq!(
            parse_added_me(&args("0 RL new@example.com New")),
            Some(("new@example.com".into(), "New".into()))
        );
        assert_eq!(
            parse_added_me(&args("0 RL N=new@example.com F=New")),
            Some(("new@example.com".into(), "New".into()))
        );
        assert_eq!(parse_added_me(&args("7 FL N=x@y F=X")), None);
        assert_eq!(
            parse_removed_me(&args("0 RL 44 gone@example.com")).as_deref(),
            Some("gone@example.com")
        );
        assert_eq!(
            parse_removed_me(&args("0 RL N=gone@example.com")).as_deref(),
            Some("gone@example.com")
        );
    }

    #[test]
    fn personal_messages() {
        assert_eq!(
            parse_psm(b"<Data><PSM>at lunch &amp; back</PSM><CurrentMedia></CurrentMedia></Data>"),
            "at lunch & back"
        );
        assert_eq!(parse_psm(b"<PSM>bare</PSM>"), "bare");
        assert_eq!(parse_psm(b""), "");
        assert_eq!(parse_psm(b"<PSM>unterminated"), "unterminated");
        assert_eq!(uux_payload("", None).len(), 53);
        assert!(String::from_utf8_lossy(&uux_payload("", Some("{g}")))
            .ends_with("<MachineGuid>{g}</MachineGuid></Data>"));
        assert_eq!(parse_psm(&uux_payload("<b>&'\"", None)), "<b>&'\"");
    }

    #[test]
    fn statuses_round_trip() {
        for s in [
            Status::Online,
            Status::Busy,
            Status::Idle,
            Status::BeRightBack,
            Status::Away,
            Status::OnThePhone,
            Status::OutToLunch,
            Status::Hidden,
        ] {
            assert_eq!(parse_status(status_code(s).unwrap()), Some(s));
        }
        assert_eq!(status_code(Status::Offline), None);
    }
}
