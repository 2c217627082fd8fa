use caps::CapSet;
use ipc::LayerState;

pub fn set_no_new_privs() -> LayerState {
    match nix::sys::prctl::set_no_new_privs() {
        Ok(()) => LayerState::Enforced,
        Err(e) => LayerState::Failed(format!("prctl(PR_SET_NO_NEW_PRIVS): {e}")),
    }
}

/// Empties every capability set, the bounding set included.
///
/// The bounding set limits what any later exec could gain. Shrinking it
/// takes CAP_SETPCAP: as root the worker has it; otherwise it enters a user
/// namespace of its own (where it holds CAP_SETPCAP over nothing but
/// itself), mapped to the same user and group so its files stay its own,
/// and empties the set there. Where the kernel refuses user namespaces the
/// set stays full and the layer says so: `no_new_privs` and the seccomp
/// ban on exec still leave nothing to gain through it.
pub fn drop_capabilities() -> LayerState {
    let mut problems = Vec::new();
    if let Err(e) = empty_bounding_set() {
        problems.push(format!("bounding set left full: {e}"));
    }
    for set in [
        CapSet::Ambient,
        CapSet::Inheritable,
        CapSet::Effective,
        CapSet::Permitted,
    ] {
        if let Err(e) = caps::clear(None, set) {
            problems.push(format!("{set:?}: {e}"));
        }
    }
    let left: Vec<String> = [
        CapSet::Effective,
        CapSet::Permitted,
        CapSet::Ambient,
        CapSet::Inheritable,
    ]
    .into_iter()
    .filter_map(|set| match caps::read(None, set) {
        Ok(held) if held.is_empty() => None,
        Ok(held) => Some(format!("{set:?} still holds {held:?}")),
        Err(e) => Some(format!("cannot read {set:?}: {e}")),
    })
    .collect();
    if !left.is_empty() {
        problems.extend(left);
        return LayerState::Failed(problems.join("; "));
    }
    if problems.is_empty() {
        LayerState::Enforced
    } else {
        LayerState::Partial(problems.join("; "))
    }
}

fn empty_bounding_set() -> Result<(), String> {
    let held = caps::read(None, CapSet::Bounding).map_err(|e| format!("cannot read it: {e}"))?;
    if held.is_empty() {
        return Ok(());
    }
    if !caps::has_cap(None, CapSet::Effective, caps::Capability::CAP_SETPCAP).unwrap_or(false) {
        own_user_namespace()?;
    }
    // Every capability this library knows, held or not: a kernel that
    // does not know one refuses to drop it, and then does not hold it.
    for cap in caps::all() {
        if let Err(e) = caps::drop(None, CapSet::Bounding, cap) {
            if caps::has_cap(None, CapSet::Bounding, cap).unwrap_or(true) {
                return Err(format!("{cap}: {e}"));
            }
        }
    }
    match caps::read(None, CapSet::Bounding) {
        Ok(left) if left.is_empty() => Ok(()),
        Ok(left) => Err(format!("still holds {left:?}")),
        Err(e) => Err(format!("cannot read it: {e}")),
    }
}

/// Enters a new user namespace as the same user and group.
fn own_user_namespace() -> Result<(), String> {
    let (uid, gid) = (nix::unistd::getuid(), nix::unistd::getgid());
    nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWUSER)
        .map_err(|e| format!("no CAP_SETPCAP, and no user namespace to get it in (unshare: {e})"))?;
    let write = |file: &str, text: String| {
        std::fs::write(format!("/proc/self/{file}"), text)
            .map_err(|e| format!("writing /proc/self/{file}: {e}"))
    };
    write("setgroups", "deny".into())?;
    write("uid_map", format!("{uid} {uid} 1"))?;
    write("gid_map", format!("{gid} {gid} 1"))
}
