//! The places signed in to the account (MSNP16+: a person's own
//! Messenger beside msnbnc): staff hear when one comes or goes, and
//! `*msn endpoints` names them.

use super::Hub;
use crate::untrusted::short;

/// The places signed in to the account changed (MSNP16+): staff hear of
/// each other place that comes or goes.
pub(super) fn changed(hub: &mut Hub, places: &[ipc::Place]) {
    let others =
        |list: &[ipc::Place]| -> Vec<ipc::Place> { list.iter().filter(|p| !p.ours).cloned().collect() };
    let (before, after) = (others(&hub.worker.places), others(places));
    for p in after.iter().filter(|p| !before.iter().any(|b| b.guid == p.guid)) {
        hub.roster_notice(&format!(
            "another place signed in to the account: {} — both stay signed in; /msg *msn endpoints lists them",
            place_name(p)
        ));
    }
    for p in before.iter().filter(|p| !after.iter().any(|a| a.guid == p.guid)) {
        hub.roster_notice(&format!("a place signed out of the account: {}", place_name(p)));
    }
    hub.worker.places = places.to_vec();
}

/// A place as staff read it: its name and GUID.
pub(super) fn place_name(p: &ipc::Place) -> String {
    match p.name.as_str() {
        "" => format!("an unnamed place {}", p.guid),
        name => format!("{} {}", short(name), p.guid),
    }
}
