//! The worker's sandbox, verified by its effects: `msnbnc check-sandbox`
//! makes the sandboxed worker attempt each forbidden thing.

use msnbnc_tests::{binaries, config_text, run_msnbnc, TestDir};

#[test]
fn check_sandbox_reports_every_layer_and_every_forbidden_attempt_blocked() {
    let dir = TestDir::new();
    let config = dir.write("msnbnc.toml", &config_text(&binaries().worker, ""));
    let (status, stdout, stderr) = run_msnbnc(&["check-sandbox", "--config", &config.to_string_lossy()]);
    assert!(status.success(), "stdout:\n{stdout}\nstderr:\n{stderr}");

    for layer in ["no_new_privs", "capabilities", "rlimits", "landlock", "seccomp"] {
        let line = stdout
            .lines()
            .find(|l| l.starts_with(layer))
            .unwrap_or_else(|| panic!("no {layer} row:\n{stdout}"));
        assert!(line.contains("enforced"), "{line}");
    }
    for attempt in [
        "read /etc/passwd",
        "create ",
        "spawn /bin/sh",
        "exec /bin/sh",
        "ptrace(PTRACE_TRACEME)",
        "connect to 127.0.0.1:",
    ] {
        let line = stdout
            .lines()
            .find(|l| l.starts_with(attempt))
            .unwrap_or_else(|| panic!("no {attempt:?} row:\n{stdout}"));
        assert!(line.contains(" blocked "), "{line}");
    }
    assert!(!stdout.contains("ALLOWED"), "{stdout}");
}
