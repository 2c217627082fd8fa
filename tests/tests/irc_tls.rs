//! The TLS listener: a real handshake, a certificate renewed by SIGHUP, and
//! logins by client certificate (SASL EXTERNAL).

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::Duration;

use msnbnc_tests::{binaries, config_text, run_msnbnc, Bouncer, TestDir};
use nix::sys::signal::Signal;
use rustls::pki_types::{CertificateDer, PrivatePkcs8KeyDer, ServerName};

const SOON: Duration = Duration::from_secs(10);

/// A self-signed certificate for localhost/127.0.0.1: (cert PEM, key PEM, DER).
fn certificate() -> (String, String, CertificateDer<'static>) {
    let key = rcgen::KeyPair::generate().unwrap();
    let params = rcgen::CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).unwrap();
    let cert = params.self_signed(&key).unwrap();
    (cert.pem(), key.serialize_pem(), cert.der().clone())
}

/// A client's own certificate: (DER, PKCS#8 key).
struct Identity(CertificateDer<'static>, Vec<u8>);

fn identity() -> Identity {
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["alice".to_owned()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    Identity(cert.der().clone(), key.serialize_der())
}

type Tls = BufReader<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>;

/// Connects over TLS trusting only `trusted`, presenting `me` if given, and
/// sends `lines`.
fn tls_connect(
    port: u16,
    trusted: &CertificateDer<'static>,
    me: Option<&Identity>,
    lines: &[&str],
) -> anyhow::Result<Tls> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(trusted.clone())?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots);
    let config = match me {
        Some(Identity(der, key)) => {
            builder.with_client_auth_cert(vec![der.clone()], PrivatePkcs8KeyDer::from(key.clone()).into())?
        }
        None => builder.with_no_client_auth(),
    };
    let conn =
        rustls::ClientConnection::new(Arc::new(config), ServerName::try_from("localhost")?.to_owned())?;
    let tcp = TcpStream::connect(("127.0.0.1", port))?;
    tcp.set_read_timeout(Some(SOON))?;
    let mut tls = rustls::StreamOwned::new(conn, tcp);
    for l in lines {
        tls.write_all(format!("{l}\r\n").as_bytes())?;
    }
    Ok(BufReader::new(tls))
}

/// Reads up to the first line containing `needle`.
fn read_until(tls: &mut Tls, needle: &str) -> anyhow::Result<String> {
    loop {
        let mut line = String::new();
        if tls.read_line(&mut line)? == 0 {
            anyhow::bail!("closed before {needle:?}");
        }
        if line.contains(needle) {
            return Ok(line);
        }
    }
}

/// Logs in as alice over TLS trusting only `trusted`; returns the 001 line.
fn tls_login(port: u16, trusted: &CertificateDer<'static>) -> anyhow::Result<String> {
    let mut tls = tls_connect(
        port,
        trusted,
        None,
        &["PASS alice:pw", "NICK alice", "USER alice 0 * :A"],
    )?;
    read_until(&mut tls, " 001 ")
}

/// SASL EXTERNAL with `me`, naming the device in USER.
fn external_login(
    port: u16,
    trusted: &CertificateDer<'static>,
    me: Option<&Identity>,
) -> anyhow::Result<Tls> {
    tls_connect(
        port,
        trusted,
        me,
        &[
            "CAP LS 302",
            "CAP REQ :sasl",
            "AUTHENTICATE EXTERNAL",
            "AUTHENTICATE +",
            "NICK x",
            "USER alice@tablet 0 * :A",
            "CAP END",
        ],
    )
}

/// A bouncer with a TLS listener: (dir, config, bouncer, TLS port, server cert).
fn tls_bouncer() -> (TestDir, std::path::PathBuf, Bouncer, u16, CertificateDer<'static>) {
    let dir = TestDir::new();
    let (cert, key, der) = certificate();
    let cert_path = dir.write("cert.pem", &cert);
    let key_path = dir.write("key.pem", &key);
    let text = config_text(&binaries().worker, "").replace(
        "listen = [\"127.0.0.1:0\"]",
        &format!(
            "listen = [\"127.0.0.1:0\"]\ntls_listen = [\"127.0.0.1:0\"]\ntls_cert = \"{}\"\ntls_key = \"{}\"",
            cert_path.display(),
            key_path.display()
        ),
    );
    let config = dir.write("msnbnc.toml", &text);
    msnbnc_tests::add_staff(&config, "alice", "pw", false);
    let bouncer = Bouncer::run(&config);
    let (_, line) = bouncer
        .wait_for("IRC (TLS) listening on 127.0.0.1:", SOON)
        .unwrap();
    let port: u16 = line.rsplit(':').next().unwrap().trim().parse().unwrap();
    (dir, config, bouncer, port, der)
}

fn sha256_hex(der: &[u8]) -> String {
    ring::digest::digest(&ring::digest::SHA256, der)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[test]
fn a_registered_client_certificate_logs_in_with_sasl_external() {
    let (_dir, config, _bouncer, port, server) = tls_bouncer();
    let mine = identity();
    let fp = sha256_hex(mine.0.as_ref());

    // Before registering it, the certificate logs nobody in.
    let mut tls = external_login(port, &server, Some(&mine)).unwrap();
    read_until(&mut tls, " 904 ").unwrap();

    // Log in by password over TLS with the certificate, and register it.
    let mut tls = tls_connect(
        port,
        &server,
        Some(&mine),
        &[
            "PASS alice:pw",
            "NICK alice",
            "USER alice 0 * :A",
            "PRIVMSG *msn :cert add",
        ],
    )
    .unwrap();
    let added = read_until(&mut tls, "NOTICE alice :added").unwrap();
    assert!(added.contains(&fp), "{added} should name {fp}");
    tls.get_mut().write_all(b"PRIVMSG *msn :cert list\r\n").unwrap();
    assert!(read_until(&mut tls, "(this connection)").unwrap().contains(&fp));

    // Now SASL EXTERNAL logs alice in, with no password.
    let mut tls = external_login(port, &server, Some(&mine)).unwrap();
    read_until(&mut tls, "sasl=PLAIN,EXTERNAL").unwrap();
    let ok = read_until(&mut tls, " 900 ").unwrap();
    assert!(ok.contains("You are now logged in as alice"), "{ok}");
    read_until(&mut tls, " 001 alice ").unwrap();

    // Another certificate, or none, is refused.
    let mut tls = external_login(port, &server, Some(&identity())).unwrap();
    read_until(&mut tls, " 904 ").unwrap();
    let mut tls = external_login(port, &server, None).unwrap();
    assert!(read_until(&mut tls, " 904 ")
        .unwrap()
        .contains("no TLS client certificate"));

    // Removed from the command line, it stops working.
    let out = std::process::Command::new(&binaries().msnbnc)
        .args(["user", "--config"])
        .arg(&config)
        .args(["cert", "alice", "del", &fp])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let mut tls = external_login(port, &server, Some(&mine)).unwrap();
    read_until(&mut tls, " 904 ").unwrap();
}

#[test]
fn staff_connect_over_tls_and_a_renewed_certificate_applies_without_restart() {
    let (dir, _config, bouncer, port, der) = tls_bouncer();
    assert!(tls_login(port, &der).unwrap().contains("Welcome"));

    // Renew: new files, SIGHUP; new connections see the new certificate.
    let (cert2, key2, der2) = certificate();
    dir.write("cert.pem", &cert2);
    dir.write("key.pem", &key2);
    let before = bouncer.log_len();
    bouncer.signal(Signal::SIGHUP);
    bouncer
        .wait_for_from(before, "TLS certificate reloaded", SOON)
        .unwrap();
    assert!(tls_login(port, &der2).unwrap().contains("Welcome"));
    assert!(tls_login(port, &der).is_err(), "the old certificate must be gone");
}

#[test]
fn a_missing_certificate_is_a_configuration_error() {
    let dir = TestDir::new();
    let text = config_text(&binaries().worker, "").replace(
        "listen = [\"127.0.0.1:0\"]",
        "listen = [\"127.0.0.1:0\"]\ntls_listen = [\"127.0.0.1:0\"]\ntls_cert = \"/nonexistent/cert.pem\"\ntls_key = \"/nonexistent/key.pem\"",
    );
    let config = dir.write("msnbnc.toml", &text);
    let (status, _, stderr) = run_msnbnc(&["check-config", "--config", &config.to_string_lossy()]);
    assert_eq!(status.code(), Some(2));
    assert!(
        stderr.contains("irc.tls_cert: /nonexistent/cert.pem:"),
        "{stderr}"
    );
}

#[test]
fn the_files_listener_serves_https_with_the_irc_certificate_and_advertises_it() {
    let dir = TestDir::new();
    let (cert, key, der) = certificate();
    let cert_path = dir.write("cert.pem", &cert);
    let key_path = dir.write("key.pem", &key);
    let text = config_text(&binaries().worker, "").replace(
        "listen = [\"127.0.0.1:0\"]",
        &format!(
            "listen = [\"127.0.0.1:0\"]\ntls_cert = \"{}\"\ntls_key = \"{}\"",
            cert_path.display(),
            key_path.display()
        ),
    ) + "\n[files]\nlisten = \"127.0.0.1:0\"\ntls = true\n";
    let config = dir.write("msnbnc.toml", &text);
    msnbnc_tests::add_staff(&config, "alice", "pw", false);
    let bouncer = Bouncer::run(&config);
    let (_, line) = bouncer.wait_for("files listening on 127.0.0.1:", SOON).unwrap();
    assert!(line.contains("(HTTPS)"), "{line}");
    let port = msnbnc_tests::http::files_port(&bouncer);
    let mut https = tls_connect(
        port,
        &der,
        None,
        &[
            "GET /f/00000000000000000000000000000000/x.png HTTP/1.1",
            "Host: localhost",
            "Connection: close",
            "",
        ],
    )
    .unwrap();
    read_until(&mut https, "HTTP/1.1 404").unwrap();
    // Staff clients learn the HTTPS upload address.
    let (_, line) = bouncer.wait_for("IRC listening on 127.0.0.1:", SOON).unwrap();
    let irc: u16 = line.rsplit(':').next().unwrap().trim().parse().unwrap();
    let mut alice = msnbnc_tests::irc::IrcClient::log_in(irc, "alice:pw", "").unwrap();
    alice
        .expect(&format!("soju.im/FILEHOST=https://127.0.0.1:{port}/upload"), SOON)
        .unwrap();
}
