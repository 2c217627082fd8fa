//! What ships in contrib/ is accepted by the tools that will read it.

use std::path::Path;
use std::process::Command;

use msnbnc_tests::{binaries, TestDir};

fn contrib(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../contrib")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn systemd_accepts_the_unit_without_warnings() {
    let Ok(version) = Command::new("systemd-analyze").arg("--version").output() else {
        eprintln!("systemd-analyze is not installed; skipping");
        return;
    };
    assert!(version.status.success());
    let dir = TestDir::new();
    // verify insists that ExecStart= exists: point it at the built binary.
    let unit =
        contrib("msnbnc.service").replace("/usr/local/bin/msnbnc", &binaries().msnbnc.to_string_lossy());
    let path = dir.write("msnbnc.service", &unit);
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&path)
        .output()
        .unwrap_or_else(|e| panic!("systemd-analyze: {e}"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        !stderr.contains("msnbnc.service"),
        "systemd-analyze complained about the unit:\n{stderr}"
    );
}

#[test]
fn the_example_configuration_is_valid() {
    let dir = TestDir::new();
    let config = dir.write("msnbnc.toml", &contrib("msnbnc.example.toml"));
    dir.write("msn-password", "example password\n");
    let out = Command::new(&binaries().msnbnc)
        .args(["check-config", "--config", &config.to_string_lossy()])
        .env("CREDENTIALS_DIRECTORY", dir.path())
        .output()
        .unwrap_or_else(|e| panic!("msnbnc: {e}"));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn the_demo_signs_in_to_the_simulator_and_customers_talk_without_their_text_in_the_log() {
    let mut demo = msnbnc_tests::Bouncer::start(&["demo"], &[("RUST_LOG", "debug")]);
    let soon = std::time::Duration::from_secs(30);
    demo.wait_for(
        "msn: signed in as support@example.com (Example Shop Support) with MSNP18",
        soon,
    )
    .unwrap();
    demo.wait_for("conv=1 bytes=", soon).unwrap();
    // bob's picture reaches the desk as a file.
    demo.wait_for("demo: bob's picture: Ok(Delivered)", soon).unwrap();
    demo.wait_for("receiving a file", soon).unwrap();
    // Even at DEBUG, in both processes: sizes and ids, never the text.
    let leaked: Vec<String> = demo
        .lines()
        .into_iter()
        .filter(|l| l.contains("blue lamp"))
        .collect();
    assert!(leaked.is_empty(), "customer text in the log: {leaked:#?}");
    demo.signal(nix::sys::signal::Signal::SIGINT);
    assert_eq!(
        demo.wait_exit(std::time::Duration::from_secs(5)).unwrap().code(),
        Some(0)
    );
}
