//! The TLS listener: a real handshake, and a certificate renewed by SIGHUP.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::Duration;

use msnbnc_tests::{binaries, config_text, run_msnbnc, Bouncer, TestDir};
use nix::sys::signal::Signal;
use rustls::pki_types::{CertificateDer, ServerName};

const SOON: Duration = Duration::from_secs(10);

/// A self-signed certificate for localhost/127.0.0.1: (cert PEM, key PEM, DER).
fn certificate() -> (String, String, CertificateDer<'static>) {
    let key = rcgen::KeyPair::generate().unwrap();
    let params = rcgen::CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).unwrap();
    let cert = params.self_signed(&key).unwrap();
    (cert.pem(), key.serialize_pem(), cert.der().clone())
}

/// Logs in as alice over TLS trusting only `trusted`; returns the 001 line.
fn tls_login(port: u16, trusted: &CertificateDer<'static>) -> anyhow::Result<String> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(trusted.clone())?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let conn =
        rustls::ClientConnection::new(Arc::new(config), ServerName::try_from("localhost")?.to_owned())?;
    let tcp = TcpStream::connect(("127.0.0.1", port))?;
    tcp.set_read_timeout(Some(SOON))?;
    let mut tls = rustls::StreamOwned::new(conn, tcp);
    tls.write_all(b"PASS alice:pw\r\nNICK alice\r\nUSER alice 0 * :A\r\n")?;
    let mut reader = BufReader::new(tls);
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            anyhow::bail!("closed");
        }
        if line.contains(" 001 ") {
            return Ok(line);
        }
    }
}

#[test]
fn staff_connect_over_tls_and_a_renewed_certificate_applies_without_restart() {
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
