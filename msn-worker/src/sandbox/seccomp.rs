//! The system-call allow-list. Everything not listed fails with EPERM
//! (rather than killing the process) so that a denied call surfaces as an
//! ordinary error the worker reports, and `check-sandbox` can probe it.
//!
//! Notably absent: execve/execveat, fork/vfork/clone/clone3, ptrace,
//! process_vm_*, unlink/rename/mkdir/… and any open that could create or
//! write a file.

use std::collections::BTreeMap;

use ipc::LayerState;
use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter, SeccompRule,
    TargetArch,
};

/// Calls allowed with any arguments: I/O on descriptors we already hold,
/// memory, time, signals, the tokio reactor and the exit path.
const ALWAYS: &[libc::c_long] = &[
    libc::SYS_read,
    libc::SYS_write,
    libc::SYS_readv,
    libc::SYS_writev,
    libc::SYS_pread64,
    libc::SYS_close,
    libc::SYS_lseek,
    libc::SYS_fstat,
    libc::SYS_newfstatat,
    libc::SYS_statx,
    libc::SYS_recvfrom,
    libc::SYS_sendto,
    libc::SYS_recvmsg,
    libc::SYS_sendmsg,
    libc::SYS_recvmmsg,
    libc::SYS_sendmmsg,
    libc::SYS_connect,
    libc::SYS_bind,
    libc::SYS_getsockopt,
    libc::SYS_setsockopt,
    libc::SYS_getsockname,
    libc::SYS_getpeername,
    libc::SYS_shutdown,
    libc::SYS_epoll_create1,
    libc::SYS_epoll_ctl,
    libc::SYS_epoll_pwait,
    libc::SYS_epoll_pwait2,
    libc::SYS_eventfd2,
    libc::SYS_ppoll,
    libc::SYS_futex,
    libc::SYS_mmap,
    libc::SYS_munmap,
    libc::SYS_mremap,
    libc::SYS_mprotect,
    libc::SYS_madvise,
    libc::SYS_brk,
    libc::SYS_clock_gettime,
    libc::SYS_clock_getres,
    libc::SYS_gettimeofday,
    libc::SYS_nanosleep,
    libc::SYS_clock_nanosleep,
    libc::SYS_rt_sigaction,
    libc::SYS_rt_sigprocmask,
    libc::SYS_rt_sigreturn,
    libc::SYS_sigaltstack,
    libc::SYS_getrandom,
    libc::SYS_sched_yield,
    libc::SYS_sched_getaffinity,
    libc::SYS_getpid,
    libc::SYS_gettid,
    libc::SYS_uname,
    libc::SYS_getdents64,
    // Reading our own capability sets (check-sandbox verifies they are empty).
    libc::SYS_capget,
    libc::SYS_restart_syscall,
    libc::SYS_exit,
    libc::SYS_exit_group,
    #[cfg(target_arch = "x86_64")]
    libc::SYS_epoll_wait,
    #[cfg(target_arch = "x86_64")]
    libc::SYS_poll,
];

fn condition(arg: u8, op: SeccompCmpOp, value: u64) -> Result<SeccompCondition, seccompiler::BackendError> {
    SeccompCondition::new(arg, SeccompCmpArgLen::Dword, op, value)
}

/// Rules allowing a call only when argument `arg` is one of `values`.
fn one_of(arg: u8, values: &[u64]) -> Result<Vec<SeccompRule>, String> {
    let err = |e: seccompiler::BackendError| e.to_string();
    values
        .iter()
        .map(|v| SeccompRule::new(vec![condition(arg, SeccompCmpOp::Eq, *v).map_err(err)?]).map_err(err))
        .collect()
}

fn build() -> Result<BpfProgram, String> {
    let arch = TargetArch::try_from(std::env::consts::ARCH).map_err(|e| e.to_string())?;
    let mut rules: BTreeMap<i64, Vec<SeccompRule>> = ALWAYS.iter().map(|&nr| (nr, Vec::new())).collect();

    let err = |e: seccompiler::BackendError| e.to_string();
    // Open files read-only, never creating, truncating or appending.
    let write_flags = (libc::O_WRONLY
        | libc::O_RDWR
        | libc::O_CREAT
        | libc::O_TRUNC
        | libc::O_APPEND
        | (libc::O_TMPFILE & !libc::O_DIRECTORY)) as u64;
    rules.insert(
        libc::SYS_openat,
        vec![SeccompRule::new(vec![
            condition(2, SeccompCmpOp::MaskedEq(write_flags), 0).map_err(err)?
        ])
        .map_err(err)?],
    );
    // Internet sockets only (MSN over TCP, DNS over UDP).
    rules.insert(
        libc::SYS_socket,
        one_of(0, &[libc::AF_INET as u64, libc::AF_INET6 as u64])?,
    );
    // fcntl: descriptor and status flags only (what non-blocking I/O needs).
    let fcntl = [
        libc::F_GETFD,
        libc::F_SETFD,
        libc::F_GETFL,
        libc::F_SETFL,
        libc::F_DUPFD_CLOEXEC,
    ];
    rules.insert(libc::SYS_fcntl, one_of(1, &fcntl.map(|c| c as u64))?);
    // Signals only to ourselves (abort on panic): never to the bouncer,
    // which may run as the same user.
    rules.insert(
        libc::SYS_tgkill,
        vec![SeccompRule::new(vec![SeccompCondition::new(
            0,
            SeccompCmpArgLen::Dword,
            SeccompCmpOp::Eq,
            u64::from(std::process::id()),
        )
        .map_err(err)?])
        .map_err(err)?],
    );
    // ioctl: only toggling non-blocking mode and close-on-exec. (The request
    // type differs between libc targets, hence the cast.)
    #[allow(clippy::unnecessary_cast)]
    rules.insert(
        libc::SYS_ioctl,
        one_of(1, &[libc::FIONBIO as u64, libc::FIOCLEX as u64])?,
    );

    // prctl only to read the bounding and ambient capability sets.
    rules.insert(
        libc::SYS_prctl,
        vec![
            SeccompRule::new(vec![
                condition(0, SeccompCmpOp::Eq, libc::PR_CAPBSET_READ as u64).map_err(err)?
            ])
            .map_err(err)?,
            SeccompRule::new(vec![
                condition(0, SeccompCmpOp::Eq, libc::PR_CAP_AMBIENT as u64).map_err(err)?,
                condition(1, SeccompCmpOp::Eq, libc::PR_CAP_AMBIENT_IS_SET as u64).map_err(err)?,
            ])
            .map_err(err)?,
        ],
    );

    let filter = SeccompFilter::new(
        rules,
        SeccompAction::Errno(libc::EPERM as u32),
        SeccompAction::Allow,
        arch,
    )
    .map_err(|e| e.to_string())?;
    filter
        .try_into()
        .map_err(|e: seccompiler::BackendError| e.to_string())
}

pub fn apply() -> LayerState {
    let program = match build() {
        Ok(p) => p,
        Err(e) => return LayerState::Unavailable(format!("no seccomp filter for this platform: {e}")),
    };
    // On every thread (there should be only one), so none escapes the filter.
    match seccompiler::apply_filter_all_threads(&program) {
        Ok(()) => LayerState::Enforced,
        Err(e) => LayerState::Failed(e.to_string()),
    }
}
