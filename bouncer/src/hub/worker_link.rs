//! The hub's side of the worker: what it is doing (as staff are told),
//! command ids, and the `*msn` commands waiting for its answer. Commands
//! never block the hub: a supervisor that cannot take one at once answers
//! it with a failure.

use std::collections::HashMap;

use tokio::sync::mpsc;

use crate::irc::conn::ClientId;
use crate::supervisor::{Control, WorkerState};
use crate::untrusted::short;

pub struct WorkerLink {
    control: mpsc::Sender<Control>,
    next_id: u64,
    state: WorkerState,
    /// `state` as staff see it (strings from the worker are made safe).
    shown: String,
    /// `*msn` commands waiting for the worker: who asked, and what.
    service: HashMap<u64, (ClientId, String)>,
    /// The MSN status last asked for (by `*msn status`, or by staff
    /// attaching and leaving).
    pub account_status: Option<ipc::Status>,
    /// Staff were told of the outage going on.
    outage_told: bool,
}

impl WorkerLink {
    pub fn new(control: mpsc::Sender<Control>) -> WorkerLink {
        WorkerLink {
            control,
            next_id: 1,
            state: WorkerState::Starting,
            shown: "starting".into(),
            service: HashMap::new(),
            account_status: None,
            outage_told: false,
        }
    }

    /// An id for a new command.
    pub fn next_id(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    /// Hands a command to the supervisor; `false` if it is busy.
    pub fn send(&self, id: u64, command: ipc::Command) -> bool {
        self.control.try_send(Control::Command { id, command }).is_ok()
    }

    /// A control message for the supervisor; `false` if it is busy.
    pub fn control(&self, control: Control) -> bool {
        self.control.try_send(control).is_ok()
    }

    /// Whether this is the first word of an outage to staff (the next
    /// ones are not, until the worker has signed in again).
    pub fn first_word_of_outage(&mut self) -> bool {
        !std::mem::replace(&mut self.outage_told, true)
    }

    pub fn set_state(&mut self, state: &WorkerState) {
        if matches!(state, WorkerState::SignedIn { .. }) {
            self.outage_told = false;
        }
        self.shown = short(&state.to_string());
        self.state = state.clone();
    }

    /// What staff are told the worker is doing.
    pub fn shown(&self) -> &str {
        &self.shown
    }

    pub fn signed_in(&self) -> bool {
        matches!(self.state, WorkerState::SignedIn { .. })
    }

    /// The worker is gone (restarting, held, stopped).
    pub fn lost(state: &WorkerState) -> bool {
        matches!(
            state,
            WorkerState::Restarting { .. } | WorkerState::Held { .. } | WorkerState::Stopped
        )
    }

    /// A `*msn` command waits for the worker's answer.
    pub fn await_for_service(&mut self, id: u64, client: ClientId, what: String) {
        self.service.insert(id, (client, what));
    }

    pub fn service_answer(&mut self, id: u64) -> Option<(ClientId, String)> {
        self.service.remove(&id)
    }
}
