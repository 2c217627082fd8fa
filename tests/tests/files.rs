//! Files kept for staff, served by msnbnc's download listener: a kept
//! file comes back byte-identical with the type its bytes say; unknown
//! and malformed links are 404.

use std::io::{Read, Write};
use std::time::Duration;

use msnbnc::files::FileStore;
use msnbnc_tests::msn_env::{config, sim};
use msnbnc_tests::worker::PASSWORD;
use msnbnc_tests::{Bouncer, TestDir};

const SOON: Duration = Duration::from_secs(15);

/// `GET path`: the head's lines and the body's bytes.
fn get(port: u16, path: &str) -> (Vec<String>, Vec<u8>) {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut reply = Vec::new();
    s.read_to_end(&mut reply).unwrap();
    let end = reply
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or(reply.len());
    let head = String::from_utf8_lossy(&reply[..end])
        .lines()
        .map(str::to_owned)
        .collect();
    (head, reply.get(end + 4..).unwrap_or_default().to_vec())
}

#[test]
fn a_kept_file_downloads_byte_identical_with_its_true_type_and_bad_links_do_not() {
    let e = with_files(1 << 20);
    let (port, text) = (e.files, std::fs::read_to_string(&e.cfg).unwrap());

    // The files directory next to the database, as msnbnc keeps it.
    let store_path = text
        .lines()
        .find_map(|l| l.strip_prefix("path = \""))
        .and_then(|p| p.strip_suffix('"'))
        .map(std::path::PathBuf::from)
        .unwrap();
    let files = FileStore::new(msnbnc::config::FilesSettings::dir(&store_path), 1 << 20);
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
    let bouncer = Bouncer::run(&cfg);
    let (_, line) = bouncer
        .wait_for("file downloads listening on 127.0.0.1:", SOON)
        .unwrap();
    let files: u16 = line
        .rsplit(':')
        .next()
        .and_then(|p| p.trim().parse().ok())
        .unwrap();
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
    // Kept in history, link and all.
    alice.send("PRIVMSG *msn :history #bob 5");
    alice
        .expect("* bob sent error.png (5 KiB): http://127.0.0.1:", SOON)
        .unwrap();
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
    let kept: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    let files_dir = kept.iter().find(|p| p.ends_with("files"));
    if let Some(d) = files_dir {
        let left: Vec<_> = std::fs::read_dir(d).unwrap().collect();
        assert!(left.is_empty(), "{left:?}");
    }
}
