//! MSNP13+ on the notification server: single sign-on, the lists from
//! the web services, list edits made twice.

use std::time::Instant;

use bytes::BytesMut;
use ipc::{Command, CommandResult, Event};

use super::super::{NsConfig, NsOutput, NsSession};
use super::{Service, SoapCall};
use crate::msnp::codec::{Decoded, Decoder};
use crate::msnp::sso;

const GUID: &str = "{7f1b6a2e-0d3c-4b8e-9f00-3a5e8c1d2b44}";
const SECRET: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYX";
const NONCE: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4v";

fn session(max: u8, auto_accept: bool) -> NsSession {
    NsSession::new(NsConfig {
        account: "relay@example.com".into(),
        min_version: 8,
        max_version: max,
        auto_accept_contacts: auto_accept,
        machine_guid: GUID.into(),
    })
}

fn server(ns: &mut NsSession, bytes: &[u8]) -> Vec<NsOutput> {
    let mut buf = BytesMut::from(bytes);
    let mut out = Vec::new();
    while let Some(d) = Decoder.decode(&mut buf).unwrap() {
        if let Decoded::Frame(f) = d {
            out.extend(ns.on_frame(f, Instant::now()));
        }
    }
    out
}

fn sent(out: &[NsOutput]) -> Vec<String> {
    out.iter()
        .filter_map(|o| match o {
            NsOutput::Send(b) => Some(String::from_utf8_lossy(b).into_owned()),
            _ => None,
        })
        .collect()
}

fn soap(out: &[NsOutput]) -> Vec<SoapCall> {
    out.iter()
        .filter_map(|o| match o {
            NsOutput::Soap(c) => Some(c.clone()),
            _ => None,
        })
        .collect()
}

fn tokens() -> Vec<sso::Token> {
    vec![
        sso::Token {
            address: sso::MESSENGER.into(),
            ticket: "t=msgr&p=".into(),
            secret: Some(SECRET.into()),
        },
        sso::Token {
            address: sso::CONTACTS.into(),
            ticket: "t=ab&p=".into(),
            secret: None,
        },
    ]
}

const MEMBERSHIPS: &str = "<Envelope><Body><FindMembershipResponse><Memberships>\
<Membership><MemberRole>Allow</MemberRole><Members><Member><PassportName>bob@example.com</PassportName></Member></Members></Membership>\
<Membership><MemberRole>Reverse</MemberRole><Members><Member><PassportName>bob@example.com</PassportName></Member><Member><PassportName>carol@example.com</PassportName></Member></Members></Membership>\
<Membership><MemberRole>Pending</MemberRole><Members><Member><PassportName>carol@example.com</PassportName></Member></Members></Membership>\
</Memberships></FindMembershipResponse></Body></Envelope>";

const BOOK: &str = "<Envelope><Body><ABFindAllResponse><contacts>\
<Contact><contactInfo><contactType>Me</contactType><passportName>relay@example.com</passportName><displayName>Relay Bot</displayName></contactInfo></Contact>\
<Contact><contactInfo><contactType>Regular</contactType><passportName>bob@example.com</passportName><displayName>Bob</displayName></contactInfo></Contact>\
</contacts></ABFindAllResponse></Body></Envelope>";

/// Up to `USR OK` and through both list fetches.
fn sign_in(ns: &mut NsSession, dialect: u8) -> Vec<NsOutput> {
    ns.start();
    let out = server(ns, format!("VER 1 MSNP{dialect}\r\n").as_bytes());
    assert!(sent(&out)[0].contains(" MSNMSGR 14.0.8117.0416 msmsgs relay@example.com") || dialect < 16);
    let out = server(
        ns,
        b"CVR 2 14.0.8117.0416 14.0.8117.0416 14.0.8117.0416 https://x https://y\r\n",
    );
    let method = if dialect >= 15 { "SSO" } else { "TWN" };
    assert_eq!(sent(&out), [format!("USR 3 {method} I relay@example.com\r\n")]);
    let challenge = match dialect {
        15.. => format!("GCF 0 13\r\n<Policies/>\r\nUSR 3 SSO S MBI_KEY_OLD {NONCE}\r\n"),
        _ => "USR 3 TWN S ct=1,rver=1\r\n".to_owned(),
    };
    let out = server(ns, challenge.as_bytes());
    assert_eq!(
        out,
        [NsOutput::SingleSignOn {
            policy: "MBI_KEY_OLD".into()
        }]
    );
    let out = ns.signed_on(tokens(), [0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88]);
    let usr = sent(&out).remove(0);
    match dialect {
        16.. => {
            let proof =
                sso::mbi_proof(SECRET, NONCE, [0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88]).unwrap();
            assert_eq!(usr, format!("USR 4 SSO S t=msgr&p= {proof} {GUID}\r\n"));
        }
        15 => assert!(
            usr.starts_with("USR 4 SSO S t=msgr&p= HAAAAAEAAAADZgAABIAAAAgAAAAUAAAASAAAA")
                && !usr.contains(GUID)
        ),
        _ => assert_eq!(usr, "USR 4 TWN S t=msgr&p=\r\n"),
    }
    let out = server(ns, b"USR 4 OK relay@example.com 1 0\r\nSBS 0 null\r\n");
    let calls = soap(&out);
    assert_eq!(calls.len(), 1, "{out:?}");
    assert_eq!(calls[0].service, Service::Sharing);
    assert_eq!(
        calls[0].action,
        "http://www.msn.com/webservices/AddressBook/FindMembership"
    );
    assert!(calls[0].body.contains("<TicketToken>t=ab&amp;p=</TicketToken>"));
    let out = ns.soap_answer(
        calls[0].token,
        Ok(MEMBERSHIPS.as_bytes().to_vec()),
        Instant::now(),
    );
    let calls = soap(&out);
    assert_eq!(
        (calls[0].service, calls[0].action.ends_with("/ABFindAll")),
        (Service::AddressBook, true)
    );
    ns.soap_answer(calls[0].token, Ok(BOOK.as_bytes().to_vec()), Instant::now())
}

#[test]
fn msnp18_signs_in_with_single_sign_on_and_reads_the_lists_from_the_web_services() {
    let mut ns = session(18, false);
    let out = sign_in(&mut ns, 18);
    let lines = sent(&out);
    assert_eq!(lines[0], "BLP 5 AL\r\n");
    // bob: FL|AL (RL is never sent); carol is only pending: not in it.
    let adl = "<ml l=\"1\"><d n=\"example.com\"><c n=\"bob\" l=\"3\" t=\"1\"/></d></ml>";
    assert_eq!(lines[1], format!("ADL 6 {}\r\n{adl}", adl.len()));
    assert_eq!(lines.last().unwrap(), "CHG 7 NLN 2147483648:0 0\r\n");
    let events: Vec<&Event> = out
        .iter()
        .filter_map(|o| match o {
            NsOutput::Event(e) => Some(e),
            _ => None,
        })
        .collect();
    assert!(
        matches!(events[0], Event::SignedIn { friendly_name, protocol: 18, .. } if friendly_name == "Relay Bot")
    );
    assert!(events
        .iter()
        .any(|e| matches!(e, Event::AddRequest { handle, .. } if handle == "carol@example.com")));
    assert!(ns.is_online());
    // Presence in the MSNP18 forms; our own other places are not a contact.
    let out = server(
        &mut ns,
        b"NLN BSY 1:bob@example.com Bob 2789003324:48 0\r\nNLN NLN 1:relay@example.com Relay 0:0 0\r\nFLN 1:carol@example.com 0:0\r\n",
    );
    let presence: Vec<(String, ipc::Status)> = out
        .iter()
        .filter_map(|o| match o {
            NsOutput::Event(Event::Presence { handle, status, .. }) => Some((handle.clone(), *status)),
            _ => None,
        })
        .collect();
    assert_eq!(
        presence,
        [
            ("bob@example.com".to_owned(), ipc::Status::Busy),
            ("carol@example.com".to_owned(), ipc::Status::Offline)
        ]
    );
}

#[test]
fn msnp15_proves_without_a_machine_guid_and_msnp13_uses_the_rst_ticket_with_twn() {
    let out = sign_in(&mut session(15, false), 15);
    assert_eq!(sent(&out).last().unwrap(), "CHG 7 NLN 2147483648 0\r\n");
    let out = sign_in(&mut session(13, false), 13);
    assert!(sent(&out).iter().any(|l| l.starts_with("ADL 6 ")));
}

#[test]
fn accepting_at_msnp18_goes_through_the_membership_service_then_adl() {
    let mut ns = session(18, false);
    sign_in(&mut ns, 18);
    let out = ns.command(9, Command::AcceptAddRequest("carol@example.com".into()));
    let calls = soap(&out);
    assert_eq!(calls.len(), 1);
    assert!(
        calls[0].body.contains("<DeleteMember") && calls[0].body.contains("<MemberRole>Pending</MemberRole>")
    );
    let out = ns.soap_answer(calls[0].token, Ok(b"<ok/>".to_vec()), Instant::now());
    let calls = soap(&out);
    assert!(calls[0].body.contains("<AddMember") && calls[0].body.contains("<MemberRole>Allow</MemberRole>"));
    // Already a member: harmless, the edit goes on.
    let fault = b"<E><Body><Fault><faultstring>MemberAlreadyExists</faultstring></Fault></Body></E>".to_vec();
    let out = ns.soap_answer(calls[0].token, Ok(fault), Instant::now());
    let calls = soap(&out);
    assert!(calls[0].body.contains("<ABContactAdd"));
    let out = ns.soap_answer(calls[0].token, Ok(b"<ok/>".to_vec()), Instant::now());
    let adl = "<ml><d n=\"example.com\"><c n=\"carol\" l=\"3\" t=\"1\"/></d></ml>";
    assert_eq!(sent(&out), [format!("ADL 9 {}\r\n{adl}", adl.len())]);
    let out = server(&mut ns, b"ADL 9 OK\r\n");
    assert_eq!(
        out[0],
        NsOutput::CommandDone {
            id: 9,
            result: CommandResult::Ok
        }
    );
    // A failing service fails the command.
    let out = ns.command(10, Command::BlockContact("bob@example.com".into()));
    let calls = soap(&out);
    let out = ns.soap_answer(calls[0].token, Err("HTTP 503".into()), Instant::now());
    assert!(
        matches!(&out[0], NsOutput::CommandDone { id: 10, result: CommandResult::Failed(f) } if f.detail == "HTTP 503")
    );
}

#[test]
fn someone_adding_us_at_msnp13_plus_arrives_as_adl_0() {
    let mut ns = session(18, false);
    sign_in(&mut ns, 18);
    let ml = "<ml><d n=\"example.com\"><c n=\"dave\" t=\"1\" l=\"8\" f=\"Dave%20D\"/></d></ml>";
    let out = server(&mut ns, format!("ADL 0 {}\r\n{ml}", ml.len()).as_bytes());
    assert!(out.contains(&NsOutput::Event(Event::AddRequest {
        handle: "dave@example.com".into(),
        friendly_name: "Dave D".into()
    })));
}

#[test]
fn a_contact_list_service_that_fails_ends_the_login_as_transient() {
    let mut ns = session(18, false);
    ns.start();
    server(&mut ns, b"VER 1 MSNP18\r\nCVR 2 a b c d e\r\n");
    server(&mut ns, format!("USR 3 SSO S MBI_KEY_OLD {NONCE}\r\n").as_bytes());
    ns.signed_on(tokens(), [0; 8]);
    let out = server(&mut ns, b"USR 4 OK relay@example.com 1 0\r\n");
    let call = soap(&out).remove(0);
    let out = ns.soap_answer(call.token, Ok(b"<a><b></a>".to_vec()), Instant::now());
    assert!(
        matches!(&out[0], NsOutput::End { class: ipc::SignOutClass::Transient, reason, .. } if reason.contains("memberships"))
    );
}
