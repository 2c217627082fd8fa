//! Attempts, from inside the sandbox, the things the sandbox must forbid,
//! so `msnbnc check-sandbox` and the tests verify the sandbox by its
//! effects instead of trusting the set-up code's return values.

use std::io::ErrorKind;
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::time::Duration;

use ipc::{ProbeReport, ProbeRequest, ProbeResult};

/// Errors that mean "the sandbox said no" (Landlock: EACCES; seccomp:
/// EPERM; rlimit on processes: EAGAIN).
fn denied(e: &std::io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EACCES) | Some(libc::EPERM) | Some(libc::EAGAIN)
    )
}

fn result(attempt: String, outcome: std::io::Result<String>) -> ProbeResult {
    match outcome {
        Ok(what) => ProbeResult {
            attempt,
            blocked: false,
            detail: what,
        },
        Err(e) => ProbeResult {
            attempt,
            blocked: denied(&e),
            detail: e.to_string(),
        },
    }
}

pub fn run(req: &ProbeRequest) -> ProbeReport {
    let mut results = Vec::new();

    results.push(result(
        format!("read {}", req.forbidden_file.display()),
        std::fs::read(&req.forbidden_file).map(|b| format!("read {} bytes", b.len())),
    ));

    let scratch = req
        .scratch_dir
        .join(format!("msn-worker-probe-{}", std::process::id()));
    results.push(result(
        format!("create {}", scratch.display()),
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&scratch)
            .map(|_| {
                let _ = std::fs::remove_file(&scratch);
                "file created".to_owned()
            }),
    ));

    results.push(result(
        format!("spawn {}", req.program.display()),
        std::process::Command::new(&req.program).spawn().map(|mut child| {
            let _ = child.kill();
            let _ = child.wait();
            "process started".to_owned()
        }),
    ));

    // If exec succeeds this process is gone and the report never arrives,
    // which the caller treats as a failed check.
    let program = std::ffi::CString::new(req.program.as_os_str().as_encoded_bytes())
        .unwrap_or_else(|_| c"/nonexistent".to_owned());
    let exec = nix::unistd::execv(&program, &[&program]).map_err(std::io::Error::from);
    results.push(result(
        format!("exec {}", req.program.display()),
        exec.map(|never| match never {}),
    ));

    results.push(result(
        "ptrace(PTRACE_TRACEME)".into(),
        nix::sys::ptrace::traceme()
            .map(|()| "tracing allowed".to_owned())
            .map_err(std::io::Error::from),
    ));

    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, req.forbidden_port));
    let connect = TcpStream::connect_timeout(&addr, Duration::from_secs(2));
    results.push(match connect {
        Ok(_) => result(format!("connect to {addr}"), Ok("connected".into())),
        // The connection attempt left the sandbox; nobody was listening.
        Err(e) if e.kind() == ErrorKind::ConnectionRefused => ProbeResult {
            attempt: format!("connect to {addr}"),
            blocked: false,
            detail: e.to_string(),
        },
        Err(e) => result(format!("connect to {addr}"), Err(e)),
    });

    results.push(capabilities_held());

    ProbeReport { results }
}

/// Every capability set, the bounding set included, must be empty.
fn capabilities_held() -> ProbeResult {
    use caps::CapSet;
    let attempt = "hold a capability (effective, permitted, inheritable, ambient or bounding)".to_owned();
    let mut held = Vec::new();
    for set in [
        CapSet::Effective,
        CapSet::Permitted,
        CapSet::Inheritable,
        CapSet::Ambient,
        CapSet::Bounding,
    ] {
        match caps::read(None, set) {
            Ok(caps) if caps.is_empty() => {}
            Ok(caps) => held.push(format!("{set:?} holds {}", caps.len())),
            Err(e) => {
                return ProbeResult {
                    attempt,
                    blocked: false,
                    detail: format!("cannot read {set:?}: {e}"),
                }
            }
        }
    }
    ProbeResult {
        attempt,
        blocked: held.is_empty(),
        detail: match held.is_empty() {
            true => "every set is empty".into(),
            false => held.join(", "),
        },
    }
}
