use ipc::LayerState;
use nix::sys::resource::{setrlimit, Resource};

/// No core dumps (they would contain the password), no file growth, a
/// bounded number of open files, and no new processes or threads: the
/// worker runs a single-threaded runtime, so a `clone` can only be an attack.
pub fn apply(max_open_files: u64) -> LayerState {
    let limits = [
        (Resource::RLIMIT_CORE, 0, "RLIMIT_CORE"),
        (Resource::RLIMIT_FSIZE, 0, "RLIMIT_FSIZE"),
        (Resource::RLIMIT_NOFILE, max_open_files, "RLIMIT_NOFILE"),
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
    if failures.is_empty() {
        LayerState::Enforced
    } else {
        LayerState::Failed(failures.join("; "))
    }
}
