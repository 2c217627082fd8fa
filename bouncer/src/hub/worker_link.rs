//! The hub's side of the worker: what it is doing (as staff are told),
//! command ids, and the `*msn` commands waiting for its answer. Commands
//! never block the hub: a supervisor that cannot take one at once answers
//! it with a failure.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use crate::irc::local_time::LocalTime;

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
    /// Since when the worker is in this state (a login: since its start).
    since: Instant,
    /// How long into the current login `&msn` was last told of it.
    login_told: Duration,
    /// The MSNP version of the current login (0: none yet).
    pub protocol: u8,
    /// The places signed in to the account (MSNP16+), as last told.
    pub places: Vec<ipc::Place>,
    /// Offline messages kept in history on this run, by id: the same one
    /// announced again (not yet deleted on the server) is not kept twice.
    pub offline_kept: std::collections::HashSet<String>,
}

/// A login this slow is mentioned in `&msn`, and again each time it has
/// taken twice as long.
const LOGIN_SLOW: Duration = Duration::from_secs(15);

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
            since: Instant::now(),
            login_told: Duration::ZERO,
            protocol: 0,
            places: Vec::new(),
            offline_kept: std::collections::HashSet::new(),
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
        // The steps of one login count from its start.
        let same_login = matches!(
            (&self.state, state),
            (WorkerState::LoggingIn { pid: a, .. }, WorkerState::LoggingIn { pid: b, .. }) if a == b
        );
        if !same_login {
            self.since = Instant::now();
            self.login_told = Duration::ZERO;
        }
        self.shown = short(&state.to_string());
        self.state = state.clone();
    }

    /// What the worker is doing, in a few words (for the `&msn` topic).
    pub fn shown(&self) -> &str {
        &self.shown
    }

    /// What the worker is doing, with its times: how long a login has
    /// taken, and when the next attempt after a failure is (in `local`
    /// time).
    pub fn described(&self, local: &LocalTime, now: Instant) -> String {
        let so_far = now.saturating_duration_since(self.since);
        let text = match &self.state {
            WorkerState::LoggingIn {
                server,
                step,
                gives_up_after,
                ..
            } => format!(
                "logging in to {server} ({step}), {} s so far; gives up after {} s",
                so_far.as_secs(),
                gives_up_after.as_secs()
            ),
            WorkerState::Restarting { after, reason } => {
                let left = after.saturating_sub(so_far);
                let at = crate::store::now_ms() + i64::try_from(left.as_millis()).unwrap_or(0);
                format!(
                    "restarting in {} s (at {}): {reason}; an administrator can try now with /msg *msn worker restart",
                    left.as_secs_f64().ceil() as u64,
                    local.clock_seconds(at)
                )
            }
            _ => return self.shown.clone(),
        };
        short(&text)
    }

    /// A login that is taking long, when `&msn` should hear of it again.
    pub fn login_is_slow(&mut self, now: Instant) -> bool {
        if !matches!(self.state, WorkerState::LoggingIn { .. }) {
            return false;
        }
        let so_far = now.saturating_duration_since(self.since);
        let next = match self.login_told.is_zero() {
            true => LOGIN_SLOW,
            false => self.login_told * 2,
        };
        if so_far < next {
            return false;
        }
        self.login_told = next;
        true
    }

    /// The state's name, for metrics.
    pub fn state_name(&self) -> &'static str {
        match self.state {
            WorkerState::Starting => "starting",
            WorkerState::LoggingIn { .. } => "logging_in",
            WorkerState::SignedIn { .. } => "signed_in",
            WorkerState::Restarting { .. } => "restarting",
            WorkerState::Held { .. } => "held",
            WorkerState::Stopped => "stopped",
        }
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
