//! Bad configuration is refused up front, naming file, key and reason.

use msnbnc_tests::{binaries, config_text, run_msnbnc, TestDir};

#[test]
fn check_config_accepts_a_valid_file() {
    let dir = TestDir::new();
    let config = dir.write("msnbnc.toml", &config_text(&binaries().worker, ""));
    let (status, stdout, _) = run_msnbnc(&["check-config", "--config", &config.to_string_lossy()]);
    assert!(status.success());
    assert!(stdout.ends_with(": OK\n"), "{stdout}");
}

#[test]
fn every_mistake_is_reported_as_file_key_reason() {
    let dir = TestDir::new();
    let text = config_text(&binaries().worker, "heartbeat_timeout_secs = 1")
        .replace("heartbeat_timeout_secs = 3\n", "")
        .replace(
            &format!("servers = [\"127.0.0.1:{}\"]", msnbnc_tests::silent_server_port()),
            "servers = [\"127.0.0.1:99999\"]",
        )
        .replace("support@example.com", "support");
    let config = dir.write("bad.toml", &text);
    let path = config.to_string_lossy().into_owned();
    for command in ["check-config", "run"] {
        let (status, _, stderr) = run_msnbnc(&[command, "--config", &path]);
        assert_eq!(status.code(), Some(2), "{command}: {stderr}");
        for key in [
            "account.handle",
            "msn.servers[0]",
            "worker.heartbeat_timeout_secs",
        ] {
            assert!(
                stderr.lines().any(|l| l.starts_with(&format!("{path}: {key}: "))),
                "{command}: {key} missing in:\n{stderr}"
            );
        }
    }
}

#[test]
fn unreadable_file_and_syntax_errors_are_clear() {
    let (status, _, stderr) = run_msnbnc(&["check-config", "--config", "/nonexistent/msnbnc.toml"]);
    assert_eq!(status.code(), Some(2));
    assert!(
        stderr.starts_with("/nonexistent/msnbnc.toml: (file): cannot read:"),
        "{stderr}"
    );

    let dir = TestDir::new();
    let config = dir.write("x.toml", "[account]\nhandle = \"a@b.c\"\npassword = \n");
    let (status, _, stderr) = run_msnbnc(&["check-config", "--config", &config.to_string_lossy()]);
    assert_eq!(status.code(), Some(2));
    assert!(stderr.contains("x.toml: (syntax, line 3, column"), "{stderr}");
}

#[test]
fn missing_password_file_is_caught_by_check_config() {
    let dir = TestDir::new();
    let text = config_text(&binaries().worker, "").replace(
        "password = \"correct horse, battery%staple\"",
        "password_file = \"/nonexistent/pw\"",
    );
    let config = dir.write("msnbnc.toml", &text);
    let (status, _, stderr) = run_msnbnc(&["check-config", "--config", &config.to_string_lossy()]);
    assert_eq!(status.code(), Some(2));
    assert!(
        stderr.contains("account: cannot read /nonexistent/pw"),
        "{stderr}"
    );
}

#[test]
fn missing_worker_binary_is_an_error_at_start_not_a_restart_loop() {
    let dir = TestDir::new();
    let config = dir.write(
        "msnbnc.toml",
        &config_text(std::path::Path::new("/nonexistent/msn-worker"), ""),
    );
    let started = std::time::Instant::now();
    let (status, _, stderr) = run_msnbnc(&["run", "--config", &config.to_string_lossy()]);
    assert_eq!(status.code(), Some(2), "{stderr}");
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    assert!(
        stderr.contains("worker binary /nonexistent/msn-worker: No such file or directory"),
        "{stderr}"
    );
}

#[test]
fn version_flag_prints_the_version() {
    let (status, stdout, _) = run_msnbnc(&["--version"]);
    assert!(status.success());
    assert_eq!(stdout.trim(), format!("msnbnc {}", env!("CARGO_PKG_VERSION")));
}
