//! Files kept for staff, served by msnbnc's download listener: a kept
//! file comes back byte-identical with the type its bytes say; unknown
//! and malformed links are 404.

use std::time::Duration;

use msnbnc::files::FileStore;
use msnbnc_tests::http::{get, location, upload};
use msnbnc_tests::msn_env::{config, sim};
use msnbnc_tests::worker::PASSWORD;
use msnbnc_tests::{Bouncer, TestDir};

const SOON: Duration = Duration::from_secs(15);

#[test]
fn a_kept_file_downloads_byte_identical_with_its_true_type_and_bad_links_do_not() {
    let e = with_files(1 << 20);
    let (port, text) = (e.files, std::fs::read_to_string(&e.cfg).unwrap());

    // The files directory next to the database, as msnbnc keeps it.
    let _ = text;
    let files = FileStore::new(files_dir(&e), 1 << 20);
    let mut picture = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
    picture.extend((0..=255u8).cycle().take(5000));
    let mut upload = files.begin("error screen.png", picture.len() as u64).unwrap();
    upload.write(0, &picture).unwrap();
    let kept = upload.finish().unwrap();
    assert_eq!(kept.name, "error_screen.png");

    let (head, body) = get(port, &format!("/f/{}/{}", kept.token, kept.name));
    assert_eq!(head[0], "HTTP/1.1 200 OK", "{head:?}");
    assert!(
        head.iter()
            .any(|h| h.eq_ignore_ascii_case("content-type: image/png")),
        "{head:?}"
    );
    assert_eq!(body, picture, "byte-identical");
    for bad in [
        format!("/f/{}/other.png", kept.token),
        "/f/00000000000000000000000000000000/error_screen.png".to_owned(),
        "/f/../../etc/passwd".to_owned(),
    ] {
        let (head, _) = get(port, &bad);
        assert_eq!(head[0], "HTTP/1.1 404 Not Found", "{bad}: {head:?}");
    }
}

/// msnbnc with downloads on (files of at most `max` bytes), and alice.
struct Env {
    s: msnbnc_tests::msn_env::Sim,
    dir: TestDir,
    cfg: std::path::PathBuf,
    _bouncer: Bouncer,
    irc: u16,
    files: u16,
}

fn with_files(max: u64) -> Env {
    let s = sim();
    let dir = TestDir::new();
    let cfg = config(&dir, &s.sim, PASSWORD, true);
    let text = std::fs::read_to_string(&cfg).unwrap();
    std::fs::write(
        &cfg,
        format!("{text}\n[files]\nlisten = \"127.0.0.1:0\"\nmax_bytes = {max}\n"),
    )
    .unwrap();
    msnbnc_tests::add_staff(&cfg, "alice", "pw", true);
    // Test stores are reused between runs: so would their files be.
    let stale = Env::files_of(&cfg);
    let _ = std::fs::remove_dir_all(&stale);
    let bouncer = Bouncer::run(&cfg);
    let files = msnbnc_tests::http::files_port(&bouncer);
    let irc = msnbnc_tests::msn_env::signed_in_port(&bouncer, &s);
    Env {
        s,
        dir,
        cfg,
        _bouncer: bouncer,
        irc,
        files,
    }
}

#[test]
fn a_customer_s_picture_becomes_a_link_every_staff_member_can_open() {
    let e = with_files(1 << 20);
    let (s, irc, files) = (&e.s, e.irc, e.files);
    let mut alice = msnbnc_tests::irc::IrcClient::log_in(irc, "alice:pw", "").unwrap();
    alice.expect(" JOIN &msn", SOON).unwrap();
    let bob = s.sim.customer("bob@example.com");
    bob.sign_in("NLN");
    let mut picture = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
    picture.extend((0..=250u8).cycle().take(5000));
    let sent =
        s.rt.block_on(bob.send_file(
            msnbnc_tests::worker::ACCOUNT,
            "error.png",
            &picture,
            msn_sim::FileData::Honest,
        ))
        .unwrap();
    assert_eq!(sent, msn_sim::FileSent::Delivered);
    let line = alice
        .expect(
            ":bob!bob@example.com PRIVMSG #bob :\x01ACTION sent error.png (5 KiB): http://127.0.0.1:",
            SOON,
        )
        .unwrap();
    let path = line
        .split(&format!("127.0.0.1:{files}"))
        .nth(1)
        .unwrap()
        .trim_end_matches('\x01');
    let (head, body) = get(files, path);
    assert_eq!(head[0], "HTTP/1.1 200 OK", "{head:?}");
    assert_eq!(body, picture, "byte-identical");
    // Kept in history, link and all: *msn history, CHATHISTORY, transcripts.
    alice.send("PRIVMSG *msn :history #bob 5");
    alice
        .expect("* bob sent error.png (5 KiB): http://127.0.0.1:", SOON)
        .unwrap();
    let caps = "draft/chathistory batch server-time message-tags";
    let mut phone = msnbnc_tests::irc::IrcClient::log_in(irc, "alice:pw", caps).unwrap();
    phone.send("CHATHISTORY LATEST #bob * 5");
    let replayed = phone
        .expect("PRIVMSG #bob :\x01ACTION sent error.png", SOON)
        .unwrap();
    assert!(replayed.contains(path), "{replayed}");
    let cfg = e.cfg.to_string_lossy().into_owned();
    let (status, transcript, stderr) = msnbnc_tests::run_msnbnc(&["transcript", "--config", &cfg, "#bob"]);
    assert!(status.success(), "{stderr}");
    assert!(
        transcript.contains("sent error.png (5 KiB): http://127.0.0.1:") && transcript.contains(path),
        "{transcript}"
    );
}

#[test]
fn oversize_and_lying_files_are_refused_with_nothing_left_behind() {
    let e = with_files(4096);
    let (s, dir, irc) = (&e.s, &e.dir, e.irc);
    let mut alice = msnbnc_tests::irc::IrcClient::log_in(irc, "alice:pw", "").unwrap();
    alice.expect(" JOIN &msn", SOON).unwrap();
    let bob = s.sim.customer("bob@example.com");
    bob.sign_in("NLN");
    let big = vec![7u8; 10_000];
    let sent =
        s.rt.block_on(bob.send_file(
            msnbnc_tests::worker::ACCOUNT,
            "big.zip",
            &big,
            msn_sim::FileData::Honest,
        ))
        .unwrap();
    assert_eq!(sent, msn_sim::FileSent::Declined);
    alice
        .expect("NOTICE #bob :bob@example.com offered big.zip (10 KiB); declined: larger than the 4 KiB limit; they were told", SOON)
        .unwrap();
    assert!(
        bob.texts()
            .iter()
            .any(|t| t.contains("files over 4 KiB cannot be received")),
        "{:?}",
        bob.texts()
    );
    // Offsets that skip ahead: the transfer ends, nothing is kept.
    let small = vec![1u8; 3000];
    s.rt.block_on(bob.send_file(
        msnbnc_tests::worker::ACCOUNT,
        "skip.bin",
        &small,
        msn_sim::FileData::SkipAhead,
    ))
    .unwrap();
    alice
        .expect("skip.bin from bob@example.com did not arrive: ", SOON)
        .unwrap();
    // A size that lies: the same.
    s.rt.block_on(bob.send_file(
        msnbnc_tests::worker::ACCOUNT,
        "lie.bin",
        &small,
        msn_sim::FileData::WrongTotal,
    ))
    .unwrap();
    alice
        .expect("lie.bin from bob@example.com did not arrive: ", SOON)
        .unwrap();
    let _ = dir;
    assert_eq!(walk(&files_dir(&e)), 0, "{:?}", walkdir_names(&files_dir(&e)));
}

/// Bob says hello, so #bob is a live conversation.
fn bob_writes(e: &Env, alice: &mut msnbnc_tests::irc::IrcClient) -> msn_sim::Customer {
    let bob = e.s.sim.customer("bob@example.com");
    bob.sign_in("NLN");
    e.s.rt
        .block_on(bob.say(msnbnc_tests::worker::ACCOUNT, "can you send me the invoice?"))
        .unwrap();
    alice.expect("can you send me the invoice?", SOON).unwrap();
    bob
}

#[test]
fn a_staff_upload_reaches_the_customer_byte_identical_with_every_step_told() {
    let e = with_files(1 << 20);
    let mut alice = msnbnc_tests::irc::IrcClient::log_in(e.irc, "alice:pw", "").unwrap();
    // Clients that know soju's convention find where to upload.
    let isupport = alice.expect(" 005 ", SOON).unwrap();
    let filehost = format!("soju.im/FILEHOST=http://127.0.0.1:{}/upload", e.files);
    let mut isupport = isupport;
    while !isupport.contains("soju.im/FILEHOST") {
        isupport = alice.expect(" 005 ", SOON).unwrap();
    }
    assert!(isupport.contains(&filehost), "{isupport}");
    alice.expect(" JOIN &msn", SOON).unwrap();

    // Only staff may upload; a wrong password keeps nothing.
    let invoice: Vec<u8> = (0..40_000u32).map(|i| (i * 7 % 256) as u8).collect();
    let (head, _) = upload(e.files, "alice:wrong", "invoice.pdf", &invoice);
    assert!(head[0].starts_with("HTTP/1.1 401"), "{head:?}");
    let (head, body) = upload(e.files, "alice:pw", "invoice 12.pdf", &vec![0; 2 << 20]);
    assert!(head[0].starts_with("HTTP/1.1 413"), "{head:?}");
    assert!(body.contains("over the 1.0 MiB limit"), "{body}");
    let (head, body) = upload(e.files, "alice:pw", "invoice 12.pdf", &invoice);
    assert!(head[0].starts_with("HTTP/1.1 201"), "{head:?}");
    let link = location(&head);
    assert_eq!(body, link);
    assert!(link.ends_with("/invoice_12.pdf"), "{link}");
    let (_, back) = get(e.files, link.split(&format!(":{}", e.files)).nth(1).unwrap());
    assert_eq!(back, invoice, "the upload itself is byte-identical");

    // Writing the link in the conversation sends the file itself.
    let bob = bob_writes(&e, &mut alice);
    alice.send(&format!("PRIVMSG #bob :{link}"));
    alice
        .expect(
            "NOTICE #bob :offering invoice_12.pdf (40 KiB) to bob@example.com",
            SOON,
        )
        .unwrap();
    let got =
        e.s.rt
            .block_on(bob.receive_file(msnbnc_tests::worker::ACCOUNT, msn_sim::FileAnswer::Accept, SOON))
            .unwrap();
    assert_eq!(
        (got.name.as_str(), got.size),
        ("invoice_12.pdf", invoice.len() as u64)
    );
    assert_eq!(
        got.bytes.as_deref(),
        Some(&invoice[..]),
        "byte-identical at the customer"
    );
    alice
        .expect(
            "NOTICE #bob :bob@example.com accepted invoice_12.pdf; sending",
            SOON,
        )
        .unwrap();
    alice
        .expect(
            "NOTICE #bob :invoice_12.pdf (40 KiB) reached bob@example.com",
            SOON,
        )
        .unwrap();
    assert!(
        !bob.texts().iter().any(|t| t.contains("/f/")),
        "the customer got the file, not the link: {:?}",
        bob.texts()
    );
    // History keeps who sent which file, and what became of it.
    alice.send("PRIVMSG *msn :history #bob 10");
    alice.expect(&format!("<alice> {link}"), SOON).unwrap();
    alice
        .expect("invoice_12.pdf (40 KiB) reached bob@example.com", SOON)
        .unwrap();
}

#[test]
fn a_file_the_customer_declines_is_reported_and_bad_links_are_refused() {
    let e = with_files(1 << 20);
    let mut alice = msnbnc_tests::irc::IrcClient::log_in(e.irc, "alice:pw", "").unwrap();
    alice.expect(" JOIN &msn", SOON).unwrap();
    let (head, _) = upload(e.files, "alice:pw", "terms.txt", b"our terms, in full");
    let link = location(&head);
    let bob = bob_writes(&e, &mut alice);

    // *msn send, for clients that cannot upload: everyone sees who sent what.
    alice.send(&format!("PRIVMSG *msn :send #bob {link}"));
    alice
        .expect(
            &format!("PRIVMSG #bob :\x01ACTION sends a file: {link}\x01"),
            SOON,
        )
        .unwrap();
    let got =
        e.s.rt
            .block_on(bob.receive_file(msnbnc_tests::worker::ACCOUNT, msn_sim::FileAnswer::Decline, SOON))
            .unwrap();
    assert_eq!(got.bytes, None);
    alice
        .expect(
            "NOTICE #bob :terms.txt did not reach bob@example.com: bob@example.com declined it",
            SOON,
        )
        .unwrap();

    // A link to nothing kept here: nothing is sent, the sender is told.
    let token = "0123456789abcdef0123456789abcdef";
    alice.send(&format!(
        "PRIVMSG *msn :send #bob http://127.0.0.1:{}/f/{token}/gone.pdf",
        e.files
    ));
    alice
        .expect(
            "failed: send #bob: no file gone.pdf here (unknown, or expired)",
            SOON,
        )
        .unwrap();
    // The same link written in the conversation: not shown, not sent.
    alice.send(&format!(
        "PRIVMSG #bob :http://127.0.0.1:{}/f/{token}/gone.pdf",
        e.files
    ));
    alice
        .expect(
            "NOTICE #bob :no file gone.pdf here (unknown, or expired); nothing was sent",
            SOON,
        )
        .unwrap();
    assert!(
        !bob.texts().iter().any(|t| t.contains("gone.pdf")),
        "{:?}",
        bob.texts()
    );
    alice.send("PRIVMSG *msn :send #nobody http://x/f/a/b");
    alice.expect("no conversation #nobody", SOON).unwrap();
}

#[test]
fn a_sender_that_never_stops_leaves_exactly_the_file_it_announced() {
    let e = with_files(1 << 20);
    let mut alice = msnbnc_tests::irc::IrcClient::log_in(e.irc, "alice:pw", "").unwrap();
    alice.expect(" JOIN &msn", SOON).unwrap();
    let bob = e.s.sim.customer("bob@example.com");
    bob.sign_in("NLN");
    let file: Vec<u8> = (0..10_000u32).map(|i| (i % 253) as u8).collect();
    e.s.rt
        .block_on(bob.send_file(
            msnbnc_tests::worker::ACCOUNT,
            "endless.bin",
            &file,
            msn_sim::FileData::Endless,
        ))
        .unwrap();
    let line = alice
        .expect("sent endless.bin (10 KiB): http://127.0.0.1:", SOON)
        .unwrap();
    // Twenty times the file came again, past its end: none of it is kept.
    e.s.rt
        .block_on(bob.say(msnbnc_tests::worker::ACCOUNT, "done"))
        .unwrap();
    alice.expect("done", SOON).unwrap();
    let path = line
        .split(&format!("127.0.0.1:{}", e.files))
        .nth(1)
        .unwrap()
        .trim_end_matches('\x01');
    let (_, body) = get(e.files, path);
    assert_eq!(body, file);
    let stored: u64 = walk(&files_dir(&e));
    let listing: Vec<_> = walkdir_names(&files_dir(&e));
    assert_eq!(
        stored,
        file.len() as u64,
        "the files directory holds the file and nothing more: {listing:?}"
    );
}

/// Bytes under `dir`, every file.
fn walk(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| match e.file_type() {
                    Ok(t) if t.is_dir() => walk(&e.path()),
                    _ => e.metadata().map_or(0, |m| m.len()),
                })
                .sum()
        })
        .unwrap_or(0)
}

/// The files directory next to the database, as msnbnc keeps it.
fn files_dir(e: &Env) -> std::path::PathBuf {
    Env::files_of(&e.cfg)
}

impl Env {
    fn files_of(cfg: &std::path::Path) -> std::path::PathBuf {
        let text = std::fs::read_to_string(cfg).unwrap();
        let store_path = text
            .lines()
            .find_map(|l| l.strip_prefix("path = \""))
            .and_then(|p| p.strip_suffix('"'))
            .map(std::path::PathBuf::from)
            .unwrap();
        msnbnc::config::FilesSettings::dir(&store_path)
    }
}

fn walkdir_names(dir: &std::path::Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .flat_map(|e| match e.file_type() {
                    Ok(t) if t.is_dir() => walkdir_names(&e.path()),
                    _ => vec![format!(
                        "{} {}",
                        e.path().display(),
                        e.metadata().map_or(0, |m| m.len())
                    )],
                })
                .collect()
        })
        .unwrap_or_default()
}
