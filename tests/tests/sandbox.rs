//! The worker's sandbox, verified by its effects: `msnbnc check-sandbox`
//! makes the sandboxed worker attempt each forbidden thing.

use msnbnc_tests::{binaries, config_text, run_msnbnc, TestDir};

#[test]
fn check_sandbox_reports_every_layer_and_every_forbidden_attempt_blocked() {
    let dir = TestDir::new();
    let config = dir.write("msnbnc.toml", &config_text(&binaries().worker, ""));
    let (status, stdout, stderr) = run_msnbnc(&["check-sandbox", "--config", &config.to_string_lossy()]);
    assert!(status.success(), "stdout:\n{stdout}\nstderr:\n{stderr}");

    let row = |name: &str| {
        stdout
            .lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("no {name} row:\n{stdout}"))
            .to_owned()
    };
    for layer in ["no_new_privs", "capabilities", "rlimits", "seccomp"] {
        assert!(row(layer).contains(" enforced "), "{}", row(layer));
    }
    // Landlock network and scope rules need Linux 6.7 and 6.12. On an older
    // kernel, say so loudly and check what the other layers guarantee.
    let landlock = row("landlock");
    if !landlock.contains(" enforced ") {
        eprintln!("WARNING: this kernel's Landlock is incomplete ({landlock}); checking the seccomp guarantees only");
        for attempt in [
            "create ",
            "spawn /bin/sh",
            "exec /bin/sh",
            "ptrace(PTRACE_TRACEME)",
            "hold a capability",
        ] {
            assert!(row(attempt).contains(" blocked "), "{}", row(attempt));
        }
        return;
    }
    for attempt in [
        "read /etc/passwd",
        "create ",
        "spawn /bin/sh",
        "exec /bin/sh",
        "ptrace(PTRACE_TRACEME)",
        "connect to 127.0.0.1:",
        // Every set, the bounding set included.
        "hold a capability",
    ] {
        let line = stdout
            .lines()
            .find(|l| l.starts_with(attempt))
            .unwrap_or_else(|| panic!("no {attempt:?} row:\n{stdout}"));
        assert!(line.contains(" blocked "), "{line}");
    }
    assert!(!stdout.contains("ALLOWED"), "{stdout}");
}
