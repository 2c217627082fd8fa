use caps::CapSet;
use ipc::LayerState;

pub fn set_no_new_privs() -> LayerState {
    match nix::sys::prctl::set_no_new_privs() {
        Ok(()) => LayerState::Enforced,
        Err(e) => LayerState::Failed(format!("prctl(PR_SET_NO_NEW_PRIVS): {e}")),
    }
}

/// Empties every capability set. The bounding set can only be emptied while
/// we still hold CAP_SETPCAP (i.e. when running as root); without it the
/// bounding set is harmless because `no_new_privs` forbids gaining anything
/// through exec, and exec is forbidden anyway.
pub fn drop_capabilities() -> LayerState {
    let mut problems = Vec::new();
    let may_shrink_bounding =
        caps::has_cap(None, CapSet::Effective, caps::Capability::CAP_SETPCAP).unwrap_or(false);
    if may_shrink_bounding {
        for cap in caps::all() {
            if let Err(e) = caps::drop(None, CapSet::Bounding, cap) {
                problems.push(format!("bounding {cap}: {e}"));
            }
        }
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
    let left: Vec<String> = [CapSet::Effective, CapSet::Permitted, CapSet::Ambient]
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
