use std::time::{Duration, Instant};

use bytes::BytesMut;
use ipc::{Command, CommandResult, Event, FailureKind, SignOutClass, Status};

use super::*;
use crate::msnp::codec::{Decoded, Decoder};
use crate::msnp::roster::{AL, BL, FL};

struct Harness {
    ns: NsSession,
    now: Instant,
}

impl Harness {
    fn new(min: u8, max: u8, auto_accept: bool) -> Harness {
        Harness {
            ns: NsSession::new(NsConfig {
                account: "relay@example.com".into(),
                min_version: min,
                max_version: max,
                auto_accept_contacts: auto_accept,
                machine_guid: "{7f1b6a2e-0d3c-4b8e-9f00-3a5e8c1d2b44}".into(),
            }),
            now: Instant::now(),
        }
    }

    /// Feeds server bytes; returns every output.
    fn server(&mut self, bytes: &[u8]) -> Vec<NsOutput> {
        let mut buf = BytesMut::from(bytes);
        let mut out = Vec::new();
        while let Some(d) = Decoder.decode(&mut buf).unwrap() {
            if let Decoded::Frame(f) = d {
                out.extend(self.ns.on_frame(f, self.now));
            }
        }
        out
    }
}

/// A payload command with its byte count filled in.
fn with_payload(line: &str, payload: &str) -> String {
    format!("{line} {}\r\n{payload}", payload.len())
}

fn sent(out: &[NsOutput]) -> Vec<String> {
    out.iter()
        .filter_map(|o| match o {
            NsOutput::Send(b) => Some(String::from_utf8_lossy(b).into_owned()),
            _ => None,
        })
        .collect()
}

fn events(out: &[NsOutput]) -> Vec<Event> {
    out.iter()
        .filter_map(|o| match o {
            NsOutput::Event(e) => Some(e.clone()),
            _ => None,
        })
        .collect()
}

/// A contact's list bits in the last roster among `out`.
fn lists_of(out: &[NsOutput], handle: &str) -> Option<u8> {
    let contacts = events(out).into_iter().rev().find_map(|e| match e {
        Event::Roster { contacts, .. } => Some(contacts),
        _ => None,
    })?;
    contacts.iter().find(|c| c.handle == handle).map(|c| c.lists)
}

/// Drives the Appendix C login up to the online state.
fn login(h: &mut Harness, dialect: u8) -> Vec<NsOutput> {
    let lists = match dialect < 10 {
        true => "SYN 5 42 2 1\r\nGTC A\r\nBLP AL\r\nLSG 0 Other%20Contacts 0\r\nLST bob@example.com Bob 11 0\r\nBPR MOB N\r\nLST carol@example.com Carol 8\r\n",
        false => "SYN 5 t1 t2 2 1\r\nGTC A\r\nBLP AL\r\nPRP MFN Relay%20Bot\r\nLSG Friends g1\r\nLST N=bob@example.com F=Bob C=c1 11 1 g1\r\nLST N=carol@example.com F=Carol 16 1 \r\n",
    };
    login_with_lists(h, dialect, lists)
}

/// The login up to `USR OK`, then `lists` as the server's answer to `SYN`.
fn login_with_lists(h: &mut Harness, dialect: u8, lists: &str) -> Vec<NsOutput> {
    assert_eq!(
        sent(&h.ns.start())[0],
        format!(
            "VER 1 {} CVR0\r\n",
            (h.ns.config.min_version..=h.ns.config.max_version)
                .rev()
                .map(|v| format!("MSNP{v}"))
                .collect::<Vec<_>>()
                .join(" ")
        )
    );
    let out = h.server(format!("VER 1 MSNP{dialect} CVR0\r\n").as_bytes());
    assert!(sent(&out)[0].starts_with("CVR 2 0x0409 winnt 5.1 i386 MSNMSGR "));
    assert!(sent(&out)[0].ends_with(" relay@example.com\r\n"));
    let out = h.server(b"CVR 2 5.0.0544 5.0.0544 5.0.0544 https://example.net/dl https://example.net/\r\n");
    assert_eq!(sent(&out), vec!["USR 3 TWN I relay@example.com\r\n"]);
    let out = h.server(b"USR 3 TWN S ct=1,rver=1,wp=FS_40SEC_0_COMPACT,lc=1,id=1\r\n");
    assert_eq!(
        out,
        vec![NsOutput::Authenticate {
            policy: "ct=1,rver=1,wp=FS_40SEC_0_COMPACT,lc=1,id=1".into()
        }]
    );
    assert_eq!(
        sent(&h.ns.ticket("Zk3sAqP0aTu8Lw2xYc9R")),
        vec!["USR 4 TWN S Zk3sAqP0aTu8Lw2xYc9R\r\n"]
    );
    if dialect < 10 {
        let out = h.server(b"USR 4 OK relay@example.com Relay%20Bot 1 0\r\n");
        assert_eq!(sent(&out), vec!["SYN 5 0\r\n"]);
        let profile = with_payload(
            "MSG Hotmail Hotmail",
            "MIME-Version: 1.0\r\nContent-Type: text/x-msmsgsprofile\r\n\r\n",
        );
        h.server(format!("{profile}{lists}").as_bytes())
    } else {
        let out = h.server(b"USR 4 OK relay@example.com 1 0\r\nSBS 0 null\r\n");
        assert_eq!(sent(&out), vec!["SYN 5 0 0\r\n"]);
        h.server(lists.as_bytes())
    }
}

#[test]
fn msnp8_login_follows_the_reference_transcript() {
    let mut h = Harness::new(8, 8, false);
    let out = login(&mut h, 8);
    let ev = events(&out);
    assert_eq!(
        ev[0],
        Event::SignedIn {
            account: "relay@example.com".into(),
            friendly_name: "Relay Bot".into(),
            protocol: 8
        }
    );
    let Some(Event::Roster { contacts, groups }) = ev.iter().find(|e| matches!(e, Event::Roster { .. }))
    else {
        panic!("{ev:?}")
    };
    assert_eq!((contacts.len(), groups.len()), (2, 1));
    assert_eq!(sent(&out)[0], "CHG 6 NLN 0\r\n");
    // carol has us on her list (RL) without being allowed or blocked: a request.
    assert!(ev.contains(&Event::AddRequest {
        handle: "carol@example.com".into(),
        friendly_name: "Carol".into()
    }));
    assert!(h.ns.is_online());
}

#[test]
fn msnp12_login_auto_accepts_pending_contacts() {
    let mut h = Harness::new(8, 12, true);
    let out = login(&mut h, 12);
    assert_eq!(
        events(&out)[0],
        Event::SignedIn {
            account: "relay@example.com".into(),
            friendly_name: "Relay Bot".into(),
            protocol: 12
        }
    );
    // carol is accepted first, so that our first status reaches her.
    assert_eq!(
        sent(&out),
        vec![
            "ADC 6 AL N=carol@example.com\r\n",
            "ADC 7 FL N=carol@example.com F=carol%40example.com\r\n",
            "REM 8 PL carol@example.com\r\n",
            "CHG 9 NLN 2147483648\r\n",
        ]
    );
}

#[test]
fn dispatch_redirect_is_followed() {
    let mut h = Harness::new(8, 12, true);
    h.ns.start();
    h.server(b"VER 1 MSNP12 CVR0\r\nCVR 2 a b c d e\r\n");
    let out = h.server(b"XFR 3 NS 10.0.0.5:1863 0 10.0.0.1:1863\r\n");
    assert_eq!(
        out,
        vec![NsOutput::Redirect(ServerAddr {
            host: "10.0.0.5".into(),
            port: 1863
        })]
    );
}

#[test]
fn no_common_version_is_fatal() {
    let mut h = Harness::new(8, 12, true);
    h.ns.start();
    let out = h.server(b"VER 1 0\r\n");
    assert!(matches!(
        &out[0],
        NsOutput::End {
            class: SignOutClass::Fatal,
            ..
        }
    ));
    let mut h = Harness::new(8, 9, true);
    h.ns.start();
    let out = h.server(b"VER 1 MSNP12\r\n");
    assert!(
        matches!(
            &out[0],
            NsOutput::End {
                class: SignOutClass::Fatal,
                ..
            }
        ),
        "a version we did not offer"
    );
}

#[test]
fn ticket_rejection_is_reported() {
    let mut h = Harness::new(8, 8, true);
    h.ns.start();
    h.server(b"VER 1 MSNP8 CVR0\r\nCVR 2 a b c d e\r\nUSR 3 TWN S p\r\n");
    h.ns.ticket("t");
    let out = h.server(b"911 4\r\n");
    assert_eq!(out[0], NsOutput::TicketRejected);
    assert!(matches!(
        &out[1],
        NsOutput::End {
            class: SignOutClass::Transient,
            ..
        }
    ));
}

#[test]
fn out_variants_map_to_classes() {
    for (line, class, retry) in [
        ("OUT OTH\r\n", SignOutClass::SignedInElsewhere, None),
        (
            "OUT SSD\r\n",
            SignOutClass::Transient,
            Some(Duration::from_secs(120)),
        ),
        (
            "OUT RCT 3\r\n",
            SignOutClass::Transient,
            Some(Duration::from_secs(180)),
        ),
        ("OUT\r\n", SignOutClass::Transient, None),
        ("OUT TOU\r\n", SignOutClass::Fatal, None),
    ] {
        let mut h = Harness::new(12, 12, true);
        login(&mut h, 12);
        let out = h.server(line.as_bytes());
        assert!(
            matches!(&out[0], NsOutput::End { class: c, retry_after: r, .. } if *c == class && *r == retry),
            "{line}: {out:?}"
        );
        assert!(
            h.server(b"NLN NLN bob@example.com Bob 0\r\n").is_empty(),
            "nothing after the end"
        );
    }
}

#[test]
fn presence_updates_roster_and_reports() {
    let mut h = Harness::new(12, 12, true);
    login(&mut h, 12);
    let ubx = with_payload(
        "UBX bob@example.com",
        "<Data><PSM>out</PSM><CurrentMedia></CurrentMedia></Data>",
    );
    let out = h.server(format!("ILN 6 NLN bob@example.com Bob 1342177280 %3Cmsnobj%2F%3E\r\nNLN AWY bob@example.com Bobby%20B 0\r\n{ubx}FLN bob@example.com\r\n").as_bytes());
    let ev = events(&out);
    assert_eq!(ev.len(), 4, "{ev:?}");
    assert!(
        matches!(&ev[1], Event::Presence { status: Status::Away, friendly_name: Some(n), .. } if n == "Bobby B")
    );
    assert!(matches!(&ev[2], Event::Presence { personal_message: Some(p), .. } if p == "out"));
    assert!(matches!(
        &ev[3],
        Event::Presence {
            status: Status::Offline,
            ..
        }
    ));
    assert_eq!(h.ns.roster.contacts["bob@example.com"].friendly_name, "Bobby B");
}

#[test]
fn challenges_are_answered_with_the_dialects_key() {
    let mut h = Harness::new(8, 8, true);
    login(&mut h, 8);
    let out = h.server(b"CHL 0 15570131571988941333\r\n");
    assert_eq!(
        sent(&out)[0],
        "QRY 9 msmsgs@msnmsgr.com 32\r\n8f2f5a91b72102cd28355e9fc9000d6e"
    );
    let mut h = Harness::new(12, 12, true);
    login(&mut h, 12);
    let out = h.server(b"CHL 0 13038318816579321232\r\n");
    assert!(sent(&out)[0].starts_with("QRY 10 PROD0101{0RM?UBW 32\r\n"));
}

#[test]
fn keepalive_pings_after_chg_and_detects_a_dead_server() {
    let mut h = Harness::new(12, 12, true);
    login(&mut h, 12);
    assert!(
        h.ns.tick(h.now).is_empty(),
        "no ping before the first CHG is confirmed"
    );
    h.server(b"CHG 6 NLN 0\r\n");
    let t = h.now + Duration::from_secs(2);
    assert_eq!(sent(&h.ns.tick(t)), vec!["PNG\r\n"]);
    h.now = t;
    h.server(b"QNG 1\r\n");
    let t2 = t + Duration::from_secs(1);
    assert_eq!(sent(&h.ns.tick(t2)), vec!["PNG\r\n"]);
    assert!(
        h.ns.tick(t2 + Duration::from_secs(4)).is_empty(),
        "still within the timeout"
    );
    let out = h.ns.tick(t2 + Duration::from_secs(6));
    assert!(
        matches!(&out[0], NsOutput::End { class: SignOutClass::Transient, reason, .. } if reason.contains("keep-alive"))
    );
}

#[test]
fn add_requests_while_online_in_both_dialects() {
    let mut h = Harness::new(8, 8, false);
    login(&mut h, 8);
    let out = h.server(b"ADD 0 RL 43 new@example.com New%20One\r\n");
    assert_eq!(
        events(&out),
        vec![Event::AddRequest {
            handle: "new@example.com".into(),
            friendly_name: "New One".into()
        }]
    );
    let out =
        h.ns.command(1, Command::AcceptAddRequest("new@example.com".into()));
    assert_eq!(
        sent(&out),
        vec![
            "ADD 7 AL new@example.com new@example.com\r\n",
            "ADD 8 FL new@example.com new%40example.com\r\n",
            // Our presence again, now that they may see it.
            "CHG 9 NLN 0\r\n"
        ]
    );
    assert!(h
        .server(b"ADD 7 AL 44 new@example.com new@example.com\r\n")
        .is_empty());
    let out = h.server(b"ADD 8 FL 45 new@example.com new@example.com 0\r\n");
    assert_eq!(
        out[0],
        NsOutput::CommandDone {
            id: 1,
            result: CommandResult::Ok
        }
    );
    // The bouncer learns the lists as they are now: new@ is accepted.
    assert_eq!(lists_of(&out, "new@example.com"), Some(FL | AL | RL));

    let mut h = Harness::new(12, 12, true);
    login(&mut h, 12);
    let out = h.server(b"ADC 0 RL N=x@example.com F=X\r\nNOT 5\r\nabcde");
    let lines = sent(&out);
    assert!(
        lines[0].starts_with("ADC ") && lines[0].contains(" AL N=x@example.com"),
        "{lines:?}"
    );
}

#[test]
fn command_errors_are_reported_and_harmless_ones_succeed() {
    let mut h = Harness::new(12, 12, true);
    login(&mut h, 12);
    let out = h.ns.command(5, Command::SetFriendlyName("Support Team".into()));
    assert_eq!(sent(&out), vec!["PRP 10 MFN Support%20Team\r\n"]);
    let out = h.server(b"209 10\r\n");
    assert!(
        matches!(&out[0], NsOutput::CommandDone { id: 5, result: CommandResult::Failed(f) } if f.kind == FailureKind::InvalidArgument)
    );
    let out = h.ns.command(6, Command::BlockContact("bob@example.com".into()));
    assert_eq!(
        sent(&out),
        vec!["REM 11 AL bob@example.com\r\n", "ADC 12 BL N=bob@example.com\r\n"]
    );
    h.server(b"216 11\r\n");
    let out = h.server(b"ADC 12 BL N=bob@example.com\r\n");
    assert_eq!(
        out[0],
        NsOutput::CommandDone {
            id: 6,
            result: CommandResult::Ok
        }
    );
    assert_eq!(lists_of(&out, "bob@example.com"), Some(FL | BL | RL));
    assert!(matches!(
        &h.ns.command(7, Command::SetStatus(Status::Offline))[0],
        NsOutput::CommandDone {
            result: CommandResult::Failed(_),
            ..
        }
    ));
    assert!(matches!(
        &h.ns.command(8, Command::AddContact("not an address".into()))[0],
        NsOutput::CommandDone {
            result: CommandResult::Failed(_),
            ..
        }
    ));
}

#[test]
fn msnp8_uses_rea_and_refuses_personal_messages() {
    let mut h = Harness::new(8, 8, true);
    login(&mut h, 8);
    let out = h.ns.command(1, Command::SetFriendlyName("A B".into()));
    assert_eq!(sent(&out), vec!["REA 9 relay@example.com A%20B\r\n"]);
    let out = h.ns.command(2, Command::SetPersonalMessage("x".into()));
    assert!(matches!(
        &out[0],
        NsOutput::CommandDone {
            id: 2,
            result: CommandResult::Failed(_)
        }
    ));
}

#[test]
fn switchboard_requests_are_answered_by_token() {
    let mut h = Harness::new(12, 12, true);
    login(&mut h, 12);
    let out = h.ns.request_switchboard(77);
    assert_eq!(sent(&out), vec!["XFR 10 SB\r\n"]);
    let out = h.server(b"XFR 10 SB 127.0.0.1:1864 CKI 17262740.1050826919.32308\r\n");
    assert_eq!(
        out,
        vec![NsOutput::SwitchboardReady {
            token: 77,
            addr: "127.0.0.1:1864".into(),
            cookie: "17262740.1050826919.32308".into()
        }]
    );
    h.ns.request_switchboard(78);
    let out = h.server(b"913 11\r\n");
    assert!(matches!(&out[0], NsOutput::SwitchboardRefused { token: 78, .. }));
    let out = h.server(b"RNG 11752013 10.0.0.7:1864 CKI 849102291.520491113 bob@example.com Bob\r\n");
    assert_eq!(
        out,
        vec![NsOutput::Invited {
            addr: "10.0.0.7:1864".into(),
            session_id: "11752013".into(),
            cookie: "849102291.520491113".into(),
            inviter: "bob@example.com".into()
        }]
    );
}

#[test]
fn maintenance_warnings_become_notices() {
    let mut h = Harness::new(12, 12, true);
    login(&mut h, 12);
    let payload =
        b"MIME-Version: 1.0\r\nContent-Type: application/x-msmsgssystemmessage\r\n\r\nType: 1\r\nArg1: 5\r\n";
    let mut bytes = format!("MSG Hotmail Hotmail {}\r\n", payload.len()).into_bytes();
    bytes.extend_from_slice(payload);
    let out = h.server(&bytes);
    assert_eq!(
        events(&out),
        vec![Event::Notice(
            "the MSN server goes down for maintenance in 5 minutes".into()
        )]
    );
}

#[test]
fn addresses_parse() {
    assert_eq!(
        parse_addr("[::1]:1864"),
        Some(ServerAddr {
            host: "::1".into(),
            port: 1864
        })
    );
    assert_eq!(parse_addr("h:0"), None);
    assert_eq!(parse_addr("nohost"), None);
}

#[test]
fn an_empty_contact_list_at_msnp8_still_brings_its_announced_group() {
    let mut h = Harness::new(8, 8, false);
    let out = login_with_lists(
        &mut h,
        8,
        "SYN 5 42 0 1\r\nGTC A\r\nBLP AL\r\nLSG 0 Other%20Contacts 0\r\n",
    );
    let ev = events(&out);
    let Some(Event::Roster { contacts, groups }) = ev.get(1) else {
        panic!("{ev:?}")
    };
    assert!(contacts.is_empty());
    assert_eq!(
        groups,
        &[ipc::Group {
            id: "0".into(),
            name: "Other Contacts".into()
        }]
    );
}

#[test]
fn an_empty_contact_list_at_msnp10_to_12_waits_for_the_account_name() {
    for dialect in 10..=12 {
        let mut h = Harness::new(8, 12, false);
        let out = login_with_lists(&mut h, dialect, "SYN 5 t1 t2 0 0\r\nGTC A\r\nBLP AL\r\n");
        assert!(events(&out).is_empty(), "MSNP{dialect}: {out:?}");
        assert!(!h.ns.is_online());
        let ev = events(&h.server(b"PRP MFN Example%20Shop%20Support\r\n"));
        assert_eq!(
            ev.first(),
            Some(&Event::SignedIn {
                account: "relay@example.com".into(),
                friendly_name: "Example Shop Support".into(),
                protocol: dialect
            }),
            "MSNP{dialect}"
        );
    }
}

#[test]
fn a_current_cache_answer_ends_the_sync_at_once() {
    let mut h = Harness::new(8, 12, false);
    let out = login_with_lists(&mut h, 12, "SYN 5 t1 t2\r\n");
    assert!(
        matches!(events(&out).first(), Some(Event::SignedIn { .. })),
        "{out:?}"
    );
}

#[test]
fn the_server_s_own_name_change_without_a_transaction_id_is_understood_online() {
    let mut h = Harness::new(8, 12, false);
    login(&mut h, 12);
    h.server(b"PRP MFN New%20Name\r\n");
    assert_eq!(h.ns.friendly_name, "New Name");
    h.server(b"PRP 9 MFN Newer%20Name\r\n");
    assert_eq!(h.ns.friendly_name, "Newer Name");
}
