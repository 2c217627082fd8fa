use ipc::LayerState;
use nix::sys::resource::{getrlimit, setrlimit, Resource};

/// No core dumps (they would contain the password), no file growth, a
/// bounded number of open files, and no new processes or threads: the
/// worker runs a single-threaded runtime and resolves names asynchronously
/// in it, so a `clone` can only be an attack. (This is also why the worker
/// must never use `spawn_blocking`, `tokio::fs` or `lookup_host`.)
pub fn apply(max_open_files: u64) -> LayerState {
    // Without CAP_SYS_RESOURCE a limit can only be lowered: never ask for
    // more descriptors than the current hard limit.
    let (nofile, clamped) = match getrlimit(Resource::RLIMIT_NOFILE) {
        Ok((_, hard)) if hard < max_open_files => (hard, true),
        _ => (max_open_files, false),
    };
    let limits = [
        (Resource::RLIMIT_CORE, 0, "RLIMIT_CORE"),
        (Resource::RLIMIT_FSIZE, 0, "RLIMIT_FSIZE"),
        (Resource::RLIMIT_NOFILE, nofile, "RLIMIT_NOFILE"),
        (Resource::RLIMIT_NPROC, 0, "RLIMIT_NPROC"),
    ];
    let failures: Vec<String> = limits
        .into_iter()
        .filter_map(|(resource, value, name)| {
            setrlimit(resource, value, value)
                .err()
                .map(|e| format!("{name}={value}: {e}"))
        })
        .collect();
    if !failures.is_empty() {
        LayerState::Failed(failures.join("; "))
    } else if clamped {
        LayerState::Partial(format!(
            "RLIMIT_NOFILE is {nofile}, below the configured {max_open_files} (the hard limit)"
        ))
    } else {
        LayerState::Enforced
    }
}
