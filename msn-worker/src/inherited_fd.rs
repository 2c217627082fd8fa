//! Taking ownership of the IPC socket the bouncer passed us as a file
//! descriptor. This is the crate's only `unsafe` code.

#![allow(unsafe_code)]

use std::os::fd::{BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;

use nix::sys::socket::{getsockopt, sockopt::SockType, SockType as Kind};
use nix::sys::stat::{fstat, SFlag};

#[derive(Debug, thiserror::Error)]
pub enum InheritError {
    #[error("file descriptor {0} is not open (msn-worker must be started by msnbnc)")]
    NotOpen(RawFd),
    #[error("file descriptor {0} is not a Unix stream socket (msn-worker must be started by msnbnc)")]
    NotASocket(RawFd),
    #[error("file descriptor {fd} is reserved for standard I/O")]
    Reserved { fd: RawFd },
}

/// Takes the inherited socketpair end at `fd`.
///
/// Called once, at start-up, before anything else in the process opens files,
/// so nothing else can own `fd`.
pub fn take_ipc_socket(fd: RawFd) -> Result<UnixStream, InheritError> {
    if (0..=2).contains(&fd) {
        return Err(InheritError::Reserved { fd });
    }
    // SAFETY: F_GETFD only reads the descriptor's flags; any integer is a
    // valid argument and an unopened one yields EBADF.
    if unsafe { libc::fcntl(fd, libc::F_GETFD) } == -1 {
        return Err(InheritError::NotOpen(fd));
    }
    // SAFETY: `fd` was just shown to be open, and it stays open for the
    // whole borrow (nothing in this single-threaded start-up path closes it).
    let borrowed = unsafe { BorrowedFd::borrow_raw(fd) };
    let stat = fstat(borrowed).map_err(|_| InheritError::NotOpen(fd))?;
    if SFlag::from_bits_truncate(stat.st_mode) & SFlag::S_IFMT != SFlag::S_IFSOCK {
        return Err(InheritError::NotASocket(fd));
    }
    match getsockopt(&borrowed, SockType) {
        Ok(Kind::Stream) => {}
        _ => return Err(InheritError::NotASocket(fd)),
    }
    // SAFETY: `fd` is an open stream socket that nothing else in this process
    // refers to: it was inherited across exec and is taken exactly once, here,
    // before any other code could have wrapped it. From now on the OwnedFd is
    // its only owner and closes it.
    let owned = unsafe { OwnedFd::from_raw_fd(fd) };
    Ok(UnixStream::from(owned))
}

/// Closes every descriptor above `keep` that we inherited by accident (a
/// leaky parent, socket activation …): Landlock and seccomp do not restrict
/// descriptors that are already open, so none may slip into the sandbox.
///
/// Called first thing in `main`, before anything in this process opens a
/// file, so every descriptor above `keep` is an inherited stranger.
pub fn close_strays(keep: RawFd) {
    let Ok(first) = u32::try_from(keep + 1) else {
        return;
    };
    // SAFETY: close_range only closes descriptors; at this point nothing in
    // the process owns any descriptor above `keep` (see above), so no Rust
    // object is left holding a closed fd.
    let rc = unsafe { libc::close_range(first, u32::MAX, 0) };
    if rc != 0 {
        tracing::warn!(
            "close_range failed ({}); inherited descriptors may remain open",
            std::io::Error::last_os_error()
        );
    }
}
