//! The contact list of MSNP13+, sans-IO: the address-book and membership
//! SOAP requests (`ABFindAll`, `FindMembership`, `AddMember`,
//! `DeleteMember`, `ABContactAdd`), reading their answers, and the `<ml>`
//! documents of `ADL`/`RML` in both directions. `docs/msnp13-18.md` §3.

use std::collections::BTreeMap;

use super::roster::{AL, BL, FL, PL, RL};
use super::xml;

const AB_NS: &str = "http://www.msn.com/webservices/AddressBook";

/// The SOAPAction of an address-book or sharing `action`.
pub fn soap_action(action: &str) -> String {
    format!("{AB_NS}/{action}")
}

/// A request to the address-book or sharing service, with the contacts
/// ticket and the partner scenario.
fn envelope(ticket: &str, scenario: &str, body: &str) -> String {
    format!(
        concat!(
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>",
            "<soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xmlns:xsd=\"http://www.w3.org/2001/XMLSchema\">",
            "<soap:Header><ABApplicationHeader xmlns=\"{ns}\"><ApplicationId>CFE80F9D-180F-4399-82AB-413F33A1FA11</ApplicationId>",
            "<IsMigration>false</IsMigration><PartnerScenario>{scenario}</PartnerScenario></ABApplicationHeader>",
            "<ABAuthHeader xmlns=\"{ns}\"><ManagedGroupRequest>false</ManagedGroupRequest><TicketToken>{ticket}</TicketToken></ABAuthHeader>",
            "</soap:Header><soap:Body>{body}</soap:Body></soap:Envelope>"
        ),
        ns = AB_NS,
        scenario = scenario,
        ticket = xml::escape(ticket),
        body = body
    )
}

pub fn find_membership(ticket: &str) -> String {
    let body = format!(
        "<FindMembership xmlns=\"{AB_NS}\"><serviceFilter><Types><ServiceType>Messenger</ServiceType></Types></serviceFilter></FindMembership>"
    );
    envelope(ticket, "Initial", &body)
}

pub fn ab_find_all(ticket: &str) -> String {
    let body = format!(
        "<ABFindAll xmlns=\"{AB_NS}\"><abId>00000000-0000-0000-0000-000000000000</abId><abView>Full</abView><deltasOnly>false</deltasOnly><lastChange>0001-01-01T00:00:00.0000000-08:00</lastChange></ABFindAll>"
    );
    envelope(ticket, "Initial", &body)
}

/// `AddMember` or `DeleteMember` (`action`) of `handle` in `role`
/// (`Allow`, `Block`, `Pending`, `Reverse`).
pub fn member(ticket: &str, action: &str, role: &str, handle: &str, scenario: &str) -> String {
    let body = format!(
        concat!(
            "<{action} xmlns=\"{ns}\"><serviceHandle><Id>0</Id><Type>Messenger</Type><ForeignId></ForeignId></serviceHandle>",
            "<memberships><Membership><MemberRole>{role}</MemberRole><Members>",
            "<Member xsi:type=\"PassportMember\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\">",
            "<Type>Passport</Type><State>Accepted</State><PassportName>{handle}</PassportName></Member>",
            "</Members></Membership></memberships></{action}>"
        ),
        action = action,
        ns = AB_NS,
        role = role,
        handle = xml::escape(handle)
    );
    envelope(ticket, scenario, &body)
}

/// `ABContactAdd` of `handle` as a messenger contact.
pub fn contact_add(ticket: &str, handle: &str) -> String {
    let body = format!(
        concat!(
            "<ABContactAdd xmlns=\"{ns}\"><abId>00000000-0000-0000-0000-000000000000</abId>",
            "<contacts><Contact><contactInfo><contactType>LivePending</contactType><passportName>{handle}</passportName>",
            "<isMessengerUser>true</isMessengerUser></contactInfo></Contact></contacts>",
            "<options><EnableAllowListManagement>true</EnableAllowListManagement></options></ABContactAdd>"
        ),
        ns = AB_NS,
        handle = xml::escape(handle)
    );
    envelope(ticket, "ContactSave", &body)
}

/// A SOAP fault's code and text, if `body` is one.
pub fn fault(body: &[u8]) -> Option<String> {
    let mut text: Option<String> = None;
    let _ = xml::walk(body, |path, t| {
        if path.iter().any(|n| n == "Fault") && !t.is_empty() {
            let f = text.get_or_insert_with(String::new);
            if f.len() < 300 {
                if !f.is_empty() {
                    f.push_str(": ");
                }
                f.push_str(t);
            }
        }
    });
    text
}

/// The account's lists as the services hold them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Lists {
    /// Lower-cased address → (address as spelled, list bits).
    pub contacts: BTreeMap<String, (String, u8)>,
    /// Display names from the address book.
    pub names: BTreeMap<String, String>,
    /// The account's own name (the address book's `Me` contact).
    pub own_name: Option<String>,
}

impl Lists {
    fn add(&mut self, handle: &str, bits: u8) {
        let entry = self
            .contacts
            .entry(handle.to_ascii_lowercase())
            .or_insert_with(|| (handle.to_owned(), 0));
        entry.1 |= bits;
    }
}

/// Reads a `FindMembership` answer into `lists`: AL, BL, RL, PL.
pub fn read_memberships(body: &[u8], lists: &mut Lists) -> Result<(), String> {
    let (mut role, mut name, mut deleted) = (0u8, String::new(), false);
    xml::walk(body, |path, text| match path.last().map(String::as_str) {
        Some("MemberRole") => {
            role = match text {
                "Allow" => AL,
                "Block" => BL,
                "Reverse" => RL,
                "Pending" => PL,
                _ => 0,
            }
        }
        Some("PassportName") if path.iter().any(|n| n == "Member") => name = text.to_owned(),
        Some("Deleted") if path.iter().any(|n| n == "Member") => deleted = text == "true",
        Some("Member") => {
            if role != 0 && !deleted && super::roster::valid_handle(&name) {
                lists.add(&name, role);
            }
            (name, deleted) = (String::new(), false);
        }
        _ => {}
    })?;
    // In both AL and BL: blocked (the server refuses an ADL with both).
    for (_, bits) in lists.contacts.values_mut() {
        if *bits & (AL | BL) == AL | BL {
            *bits &= !AL;
        }
    }
    Ok(())
}

/// Reads an `ABFindAll` answer into `lists`: FL, names, our own name.
pub fn read_address_book(body: &[u8], lists: &mut Lists) -> Result<(), String> {
    #[derive(Default)]
    struct Entry {
        kind: String,
        handle: String,
        name: String,
        messenger: bool,
        deleted: bool,
    }
    let mut e = Entry {
        messenger: true,
        ..Entry::default()
    };
    xml::walk(body, |path, text| {
        let inside_contact = path.iter().any(|n| n == "Contact");
        match path.last().map(String::as_str) {
            Some("contactType") if inside_contact => e.kind = text.to_owned(),
            Some("passportName") if inside_contact => e.handle = text.to_owned(),
            Some("displayName") if inside_contact => e.name = text.to_owned(),
            Some("isMessengerUser") if inside_contact => e.messenger = text != "false",
            Some("fDeleted") if inside_contact => e.deleted = text == "true",
            Some("Contact") => {
                let entry = std::mem::replace(
                    &mut e,
                    Entry {
                        messenger: true,
                        ..Entry::default()
                    },
                );
                if entry.kind == "Me" {
                    lists.own_name = Some(entry.name);
                } else if entry.messenger && !entry.deleted && super::roster::valid_handle(&entry.handle) {
                    lists.add(&entry.handle, FL);
                    if !entry.name.is_empty() {
                        lists.names.insert(entry.handle.to_ascii_lowercase(), entry.name);
                    }
                }
            }
            _ => {}
        }
    })
}

/// `<ml>` documents for `ADL`/`RML`: the contacts with their FL/AL/BL
/// bits (never RL or PL, which the server refuses), grouped by domain, cut
/// into documents of at most `per_document` contacts. `initial` marks the
/// sign-in list (`l="1"`); with nothing to send it is one empty document.
pub fn ml_documents(contacts: &[(String, u8)], initial: bool, per_document: usize) -> Vec<String> {
    let mut wanted: Vec<(&str, &str, u8)> = contacts
        .iter()
        .filter_map(|(h, bits)| {
            let (user, domain) = h.split_once('@')?;
            let bits = bits & (FL | AL | BL);
            (bits != 0).then_some((domain, user, bits))
        })
        .collect();
    wanted.sort();
    let open = if initial { "<ml l=\"1\">" } else { "<ml>" };
    let mut docs = Vec::new();
    for chunk in wanted.chunks(per_document.max(1)) {
        let mut doc = String::from(open);
        let mut current: Option<&str> = None;
        for (domain, user, bits) in chunk {
            if current != Some(domain) {
                if current.is_some() {
                    doc.push_str("</d>");
                }
                doc.push_str(&format!("<d n=\"{}\">", xml::escape(domain)));
                current = Some(domain);
            }
            doc.push_str(&format!("<c n=\"{}\" l=\"{bits}\" t=\"1\"/>", xml::escape(user)));
        }
        if current.is_some() {
            doc.push_str("</d>");
        }
        doc.push_str("</ml>");
        docs.push(doc);
    }
    if docs.is_empty() && initial {
        docs.push(format!("{open}</ml>"));
    }
    docs
}

/// An entry of an `<ml>` document the server sent (`ADL 0`, `RML 0`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MlEntry {
    pub handle: String,
    pub lists: u8,
    /// `f`: their friendly name, if given.
    pub friendly_name: Option<String>,
}

/// Reads an `<ml>` document: `<d n="domain"><c n="user" l=".." f=".."/>`.
pub fn parse_ml(payload: &[u8]) -> Result<Vec<MlEntry>, String> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_reader(payload);
    let (mut domain, mut out, mut buf) = (String::new(), Vec::new(), Vec::new());
    loop {
        match reader.read_event_into(&mut buf).map_err(|e| e.to_string())? {
            Event::Start(e) | Event::Empty(e) => {
                let attr = |name: &[u8]| -> Option<String> {
                    e.attributes()
                        .flatten()
                        .find(|a| a.key.as_ref() == name)
                        .and_then(|a| a.unescape_value().ok().map(|v| v.into_owned()))
                };
                match e.local_name().as_ref() {
                    b"d" => domain = attr(b"n").unwrap_or_default(),
                    b"c" => {
                        let handle = format!("{}@{domain}", attr(b"n").unwrap_or_default());
                        let lists = attr(b"l").and_then(|l| l.parse().ok()).unwrap_or(0);
                        if super::roster::valid_handle(&handle) && out.len() < 1000 {
                            out.push(MlEntry {
                                handle,
                                lists,
                                friendly_name: attr(b"f").map(|f| super::escape::decode(&f)),
                            });
                        }
                    }
                    _ => {}
                }
            }
            Event::Eof => return Ok(out),
            _ => {}
        }
        buf.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memberships_and_the_address_book_make_the_lists() {
        let memberships = br#"<soap:Envelope xmlns:soap="s"><soap:Body><FindMembershipResponse><FindMembershipResult><Services><Service><Memberships>
<Membership><MemberRole>Allow</MemberRole><Members><Member><PassportName>bob@example.com</PassportName></Member><Member><PassportName>eve@example.com</PassportName></Member><Member><PassportName>gone@example.com</PassportName><Deleted>true</Deleted></Member></Members></Membership>
<Membership><MemberRole>Block</MemberRole><Members><Member><PassportName>eve@example.com</PassportName></Member></Members></Membership>
<Membership><MemberRole>Reverse</MemberRole><Members><Member><PassportName>Bob@Example.com</PassportName></Member><Member><PassportName>carol@example.com</PassportName></Member></Members></Membership>
<Membership><MemberRole>Pending</MemberRole><Members><Member><PassportName>carol@example.com</PassportName></Member></Members></Membership>
</Memberships></Service></Services></FindMembershipResult></FindMembershipResponse></soap:Body></soap:Envelope>"#;
        let book = br#"<soap:Envelope xmlns:soap="s"><soap:Body><ABFindAllResponse><ABFindAllResult><contacts>
<Contact><contactId>1</contactId><contactInfo><contactType>Me</contactType><passportName>relay@example.com</passportName><displayName>Example &amp; Co Support</displayName></contactInfo></Contact>
<Contact><contactId>2</contactId><contactInfo><contactType>Regular</contactType><passportName>bob@example.com</passportName><displayName>Bob</displayName><isMessengerUser>true</isMessengerUser></contactInfo></Contact>
<Contact><contactId>3</contactId><contactInfo><passportName>mail@example.com</passportName><isMessengerUser>false</isMessengerUser></contactInfo></Contact>
</contacts></ABFindAllResult></ABFindAllResponse></soap:Body></soap:Envelope>"#;
        let mut lists = Lists::default();
        read_memberships(memberships, &mut lists).unwrap();
        read_address_book(book, &mut lists).unwrap();
        let bits = |h: &str| lists.contacts.get(h).map(|c| c.1);
        assert_eq!(bits("bob@example.com"), Some(FL | AL | RL));
        assert_eq!(bits("eve@example.com"), Some(BL), "blocked wins over allowed");
        assert_eq!(bits("carol@example.com"), Some(RL | PL));
        assert_eq!(bits("gone@example.com"), None);
        assert_eq!(bits("mail@example.com"), None, "not a messenger user");
        assert_eq!(lists.own_name.as_deref(), Some("Example & Co Support"));
        assert_eq!(
            lists.names.get("bob@example.com").map(String::as_str),
            Some("Bob")
        );
    }

    #[test]
    fn ml_documents_group_by_domain_leave_out_rl_and_pl_and_are_cut() {
        let contacts = vec![
            ("bob@example.com".to_owned(), FL | AL | RL),
            ("carol@example.com".to_owned(), RL | PL),
            ("dave@example.org".to_owned(), BL),
            ("eve@example.com".to_owned(), AL),
        ];
        assert_eq!(
            ml_documents(&contacts, true, 150),
            ["<ml l=\"1\"><d n=\"example.com\"><c n=\"bob\" l=\"3\" t=\"1\"/><c n=\"eve\" l=\"2\" t=\"1\"/></d><d n=\"example.org\"><c n=\"dave\" l=\"4\" t=\"1\"/></d></ml>"]
        );
        assert_eq!(ml_documents(&contacts, false, 2).len(), 2);
        assert_eq!(ml_documents(&[], true, 150), ["<ml l=\"1\"></ml>"]);
        assert!(ml_documents(&[], false, 150).is_empty());
    }

    #[test]
    fn the_server_s_ml_documents_are_read() {
        let got = parse_ml(
            br#"<ml><d n="example.com"><c n="bob" t="1" l="8" f="Bob%20Smith"/><c n="x y" l="8"/></d></ml>"#,
        )
        .unwrap();
        assert_eq!(
            got,
            [MlEntry {
                handle: "bob@example.com".into(),
                lists: 8,
                friendly_name: Some("Bob Smith".into())
            }]
        );
        assert!(
            parse_ml(b"<ml><d n=\"a\"><c n=\"").is_err()
                || parse_ml(b"<ml><d n=\"a\"><c n=\"").unwrap().is_empty()
        );
    }

    #[test]
    fn requests_carry_the_escaped_ticket_and_address() {
        let r = member(
            "t=a&p=b",
            "AddMember",
            "Allow",
            "bob@example.com",
            "MessengerPendingList",
        );
        assert!(r.contains("<TicketToken>t=a&amp;p=b</TicketToken>"));
        assert!(r.contains("<MemberRole>Allow</MemberRole>"));
        assert!(r.contains("<PassportName>bob@example.com</PassportName>"));
        assert!(r.contains("<PartnerScenario>MessengerPendingList</PartnerScenario>"));
        assert_eq!(fault(b"<E><Body><Fault><faultcode>soap:Client</faultcode><faultstring>bad</faultstring></Fault></Body></E>").as_deref(), Some("soap:Client: bad"));
        assert_eq!(fault(b"<E><Body><ok/></Body></E>"), None);
    }
}
