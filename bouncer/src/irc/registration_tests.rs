//! Tests of connection registration.

use super::*;

fn feed(r: &mut Registration, lines: &[&str]) -> Vec<Output> {
    lines
        .iter()
        .flat_map(|l| r.on_message(&l.parse::<Message>().unwrap()))
        .collect()
}

fn sent(out: &[Output]) -> Vec<String> {
    out.iter()
        .filter_map(|o| match o {
            Output::Send(s) => Some(s.clone()),
            _ => None,
        })
        .collect()
}

fn plain(user: &str, pass: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(format!("\0{user}\0{pass}"))
}

#[test]
fn pass_login_with_a_device() {
    let mut r = Registration::new("msnbnc");
    let out = feed(
        &mut r,
        &[
            "PASS :alice@laptop:s3cret: with colon",
            "NICK alice",
            "USER alice 0 * :Alice",
        ],
    );
    let login = Login {
        user: "alice".into(),
        device: Some("laptop".into()),
    };
    assert_eq!(
        out,
        vec![Output::Verify {
            login: login.clone(),
            password: "s3cret: with colon".into(),
            via: Via::Pass
        }]
    );
    let out = r.verified(login.clone(), Via::Pass, true);
    assert!(matches!(&out[0], Output::Registered(r) if r.login == login && r.nick == "alice"));
}

#[test]
fn wrong_password_gets_464_and_close() {
    let mut r = Registration::new("msnbnc");
    feed(&mut r, &["PASS alice:nope", "NICK alice", "USER alice 0 * :A"]);
    let out = r.verified(
        Login {
            user: "alice".into(),
            device: None,
        },
        Via::Pass,
        false,
    );
    assert_eq!(sent(&out), vec![":msnbnc 464 alice :Password incorrect"]);
    assert!(matches!(out.last(), Some(Output::Close(_))));
}

#[test]
fn no_password_at_all_is_refused() {
    let mut r = Registration::new("msnbnc");
    let out = feed(&mut r, &["NICK alice", "USER alice 0 * :A"]);
    assert!(sent(&out)[0].starts_with(":msnbnc 464 alice :"));
    assert!(matches!(out.last(), Some(Output::Close(_))));
}

#[test]
fn pipelined_cap_sasl_registration() {
    let mut r = Registration::new("msnbnc");
    let out = feed(
        &mut r,
        &[
            "CAP LS 302",
            "NICK alice",
            "USER alice 0 * :A",
            "CAP REQ :sasl",
            "AUTHENTICATE PLAIN",
        ],
    );
    assert_eq!(
        sent(&out),
        vec![
            ":msnbnc CAP * LS :sasl=PLAIN message-tags server-time echo-message away-notify account-tag multi-prefix userhost-in-names cap-notify batch labeled-response extended-join setname draft/chathistory draft/read-marker znc.in/self-message znc.in/playback",
            ":msnbnc CAP alice ACK :sasl",
            "AUTHENTICATE +"
        ]
    );
    let out = feed(&mut r, &[&format!("AUTHENTICATE {}", plain("alice@phone", "pw"))]);
    let login = Login {
        user: "alice".into(),
        device: Some("phone".into()),
    };
    assert_eq!(
        out,
        vec![Output::Verify {
            login: login.clone(),
            password: "pw".into(),
            via: Via::Sasl
        }]
    );
    let out = r.verified(login.clone(), Via::Sasl, true);
    assert_eq!(sent(&out)[1], ":msnbnc 903 alice :SASL authentication successful");
    assert!(feed(&mut r, &["CAP END"])
        .iter()
        .any(|o| matches!(o, Output::Registered(r) if r.login == login)));
}

#[test]
fn sasl_in_400_byte_chunks() {
    let mut r = Registration::new("s");
    feed(&mut r, &["CAP REQ :sasl", "AUTHENTICATE PLAIN"]);
    let long = plain("alice", &"p".repeat(400));
    assert!(long.len() > 400);
    let (a, b) = long.split_at(400);
    assert!(feed(&mut r, &[&format!("AUTHENTICATE {a}")]).is_empty());
    let out = feed(&mut r, &[&format!("AUTHENTICATE {b}")]);
    assert!(matches!(&out[0], Output::Verify { password, .. } if password.len() == 400));
}

#[test]
fn sasl_failures_and_mechanisms() {
    let mut r = Registration::new("s");
    feed(&mut r, &["CAP REQ :sasl"]);
    let out = feed(&mut r, &["AUTHENTICATE SCRAM-SHA-256"]);
    assert_eq!(
        sent(&out),
        vec![
            ":s 908 * PLAIN :are available SASL mechanisms",
            ":s 904 * :SASL authentication failed"
        ]
    );
    // EXTERNAL needs a client certificate.
    assert_eq!(
        sent(&feed(&mut r, &["AUTHENTICATE EXTERNAL"])),
        vec![":s 904 * :SASL authentication failed: no TLS client certificate"]
    );
    feed(&mut r, &["AUTHENTICATE PLAIN"]);
    assert_eq!(
        sent(&feed(&mut r, &["AUTHENTICATE bm90IHZhbGlk"])),
        vec![":s 904 * :SASL authentication failed"]
    );
    feed(&mut r, &["AUTHENTICATE PLAIN"]);
    assert_eq!(
        sent(&feed(&mut r, &["AUTHENTICATE *"])),
        vec![":s 906 * :SASL authentication aborted"]
    );
    let out = r.verified(
        Login {
            user: "a".into(),
            device: None,
        },
        Via::Sasl,
        false,
    );
    assert_eq!(sent(&out), vec![":s 904 * :SASL authentication failed"]);
}

#[test]
fn sasl_external_asks_for_the_certificates_owner() {
    let fp = "ab".repeat(32);
    let mut r = Registration::new("s").with_cert(Some(fp.clone()));
    let out = feed(&mut r, &["CAP LS 302"]);
    assert!(sent(&out)[0].contains("sasl=PLAIN,EXTERNAL"), "{out:?}");
    let out = feed(
        &mut r,
        &[
            "CAP REQ :sasl",
            "AUTHENTICATE EXTERNAL",
            "AUTHENTICATE +",
            "NICK x",
            "USER alice@laptop 0 * :A",
        ],
    );
    assert!(sent(&out).contains(&"AUTHENTICATE +".to_owned()));
    assert!(out.contains(&Output::VerifyCert {
        fingerprint: fp.clone(),
        wanted: None
    }));
    let owner = Login {
        user: "alice".into(),
        device: None,
    };
    let out = r.verified(owner, Via::Sasl, true);
    assert_eq!(sent(&out)[1], ":s 903 x :SASL authentication successful");
    // USER's `alice@laptop` names the device the certificate did not.
    let out = feed(&mut r, &["CAP END"]);
    assert!(
        out.iter().any(|o| matches!(o, Output::Registered(r)
            if r.login.user == "alice" && r.login.device.as_deref() == Some("laptop") && r.realname == "A")),
        "{out:?}"
    );

    // An authzid names user and device; garbage is refused.
    let mut r = Registration::new("s").with_cert(Some(fp.clone()));
    let authzid = base64::engine::general_purpose::STANDARD.encode("alice@phone");
    let out = feed(
        &mut r,
        &[
            "CAP REQ :sasl",
            "AUTHENTICATE EXTERNAL",
            &format!("AUTHENTICATE {authzid}"),
        ],
    );
    assert!(out.contains(&Output::VerifyCert {
        fingerprint: fp.clone(),
        wanted: Some(Login {
            user: "alice".into(),
            device: Some("phone".into())
        })
    }));
    let mut r = Registration::new("s").with_cert(Some(fp));
    let out = feed(
        &mut r,
        &["CAP REQ :sasl", "AUTHENTICATE EXTERNAL", "AUTHENTICATE %%%"],
    );
    assert_eq!(sent(&out).last().unwrap(), ":s 904 * :SASL authentication failed");
}

#[test]
fn bad_input_gets_standard_numerics() {
    let mut r = Registration::new("s");
    assert_eq!(
        sent(&feed(&mut r, &["NICK 9lives"])),
        vec![":s 432 * 9lives :Erroneous nickname"]
    );
    assert_eq!(
        sent(&feed(&mut r, &["NICK"])),
        vec![":s 431 * :No nickname given"]
    );
    assert_eq!(
        sent(&feed(&mut r, &["USER a"])),
        vec![":s 461 * USER :Not enough parameters"]
    );
    assert_eq!(
        sent(&feed(&mut r, &["JOIN #x"])),
        vec![":s 451 * :You have not registered"]
    );
    assert_eq!(
        sent(&feed(&mut r, &["CAP REQ :bogus"])),
        vec![":s CAP * NAK :bogus"]
    );
    assert_eq!(sent(&feed(&mut r, &["PING :123"])), vec![":s PONG s :123"]);
}

#[test]
fn logins_and_nicks() {
    assert_eq!(
        parse_login("alice"),
        Some(Login {
            user: "alice".into(),
            device: None
        })
    );
    assert_eq!(
        parse_login("alice@work-pc"),
        Some(Login {
            user: "alice".into(),
            device: Some("work-pc".into())
        })
    );
    assert_eq!(parse_login("alice@"), None);
    assert_eq!(parse_login("a b"), None);
    assert!(valid_nick("alice") && valid_nick("[away]") && valid_nick("a-1"));
    assert!(!valid_nick("1a") && !valid_nick("") && !valid_nick("a b") && !valid_nick(&"a".repeat(31)));
}

#[test]
fn an_empty_real_name_or_ping_without_origin_get_their_numerics() {
    let mut r = Registration::new("msnbnc");
    let got = sent(&feed(&mut r, &["PING", "NICK alice", "USER alice 0 * :"]));
    assert_eq!(
        got,
        [
            ":msnbnc 409 * :No origin specified",
            ":msnbnc 461 alice USER :Not enough parameters",
        ]
    );
}

#[test]
fn cap_end_in_the_middle_of_sasl_aborts_it_and_the_login_goes_on_with_pass() {
    let mut r = Registration::new("msnbnc");
    let out = feed(
        &mut r,
        &[
            "CAP LS 302",
            "CAP REQ :sasl",
            "PASS :alice:pw",
            "NICK alice",
            "USER alice 0 * :A",
            "AUTHENTICATE PLAIN",
            "CAP END",
        ],
    );
    assert!(sent(&out).iter().any(|l| l.contains(" 906 alice ")), "{out:?}");
    assert!(
        out.iter()
            .any(|o| matches!(o, Output::Verify { via: Via::Pass, .. })),
        "no hanging: {out:?}"
    );
}

#[test]
fn an_overlong_sasl_payload_fails_once_and_the_next_try_starts_clean() {
    let mut r = Registration::new("msnbnc");
    feed(
        &mut r,
        &[
            "CAP LS 302",
            "CAP REQ :sasl",
            "NICK alice",
            "USER alice 0 * :A",
            "AUTHENTICATE PLAIN",
        ],
    );
    let chunk = format!("AUTHENTICATE {}", "A".repeat(400));
    let mut lines: Vec<&str> = vec![chunk.as_str(); 14];
    lines.push("AUTHENTICATE AAAA");
    let got = sent(&feed(&mut r, &lines));
    assert_eq!(
        got,
        [
            ":msnbnc 905 alice :SASL message too long",
            ":msnbnc 904 alice :SASL authentication failed",
        ]
    );
    let again = sent(&feed(&mut r, &["AUTHENTICATE PLAIN"]));
    assert_eq!(again, ["AUTHENTICATE +"]);
}

#[test]
fn authenticate_without_the_sasl_capability_says_what_to_do() {
    let mut r = Registration::new("msnbnc");
    let got = sent(&feed(&mut r, &["NICK alice", "AUTHENTICATE PLAIN"]));
    assert!(
        got[0].contains(" 904 alice :") && got[0].contains("CAP REQ :sasl"),
        "{got:?}"
    );
}
