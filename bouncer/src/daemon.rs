//! The running msnbnc: opens the store and the listeners, starts the
//! worker's supervisor and the store threads, then feeds the hub one
//! event at a time — client events, worker updates, store events,
//! housekeeping ticks — and looks after the process itself: signals,
//! systemd (ready, status, watchdog, stopping), SIGHUP reloads, shutdown.

use std::path::PathBuf;
use std::time::Duration;

use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use crate::config::{self, reload, Config, LogSettings};
use crate::hub::{Continuation, Hub, Preload, Settings};
use crate::irc::{admission::Admission, auth::Auth, conn::ClientEvent, server, tls};
use crate::store::threads::StoreThreads;
use crate::store::writer::StoreEvent;
use crate::store::{Store, StoreError};
use crate::supervisor::{Control, Supervisor, Update, WorkerState};
use crate::systemd;

/// SIGTERM must end the process within 5 s: the store writer gets this
/// long to finish, the supervisor this long to see the worker out.
const STORE_BUDGET: Duration = Duration::from_secs(1);
const SHUTDOWN_BUDGET: Duration = Duration::from_secs(3);

/// At most this many queued events of one kind share one turn's batch
/// (group commit).
const GROUP: usize = 256;

/// What the daemon itself keeps: the configuration in force and the
/// handles it reloads.
struct Daemon {
    config_path: PathBuf,
    config: Config,
    worker_state: WorkerState,
    control: mpsc::Sender<Control>,
    /// The current TLS certificate for new IRC connections.
    tls: Option<watch::Sender<tokio_rustls::TlsAcceptor>>,
}

/// Opens every listener, plain and TLS, before READY (a taken port stops
/// us here).
async fn listen(
    config: &Config,
    auth: &Auth,
    events: &mpsc::Sender<ClientEvent>,
) -> anyhow::Result<Option<watch::Sender<tokio_rustls::TlsAcceptor>>> {
    let irc = &config.irc;
    let doors = server::Doors {
        server: irc.server_name.clone(),
        auth: auth.clone(),
        hub: events.clone(),
        admission: Admission::new(irc.unregistered),
    };
    for l in server::listen(&irc.listen, "IRC").await? {
        server::spawn_accept(l, doors.clone());
    }
    let (false, Some(cert), Some(key)) = (irc.tls_listen.is_empty(), &irc.tls_cert, &irc.tls_key) else {
        return Ok(None);
    };
    let acceptor = tls::acceptor(cert, key).map_err(|e| anyhow::anyhow!(e))?;
    let (tx, rx) = watch::channel(acceptor);
    for l in server::listen(&irc.tls_listen, "IRC (TLS)").await? {
        server::spawn_accept_tls(l, rx.clone(), doors.clone());
    }
    Ok(Some(tx))
}

/// How often the hub does its housekeeping: often enough to close idle
/// conversations on time.
fn housekeeping(config: &Config) -> tokio::time::Interval {
    let every = (config.irc.idle_close / 2).clamp(Duration::from_secs(1), Duration::from_secs(30));
    tokio::time::interval(every)
}

/// `MSNBNC_DESK_NOW=2026-12-07T08:30:00Z` starts the desk's clock (business
/// hours, waits) at that instant: for tests, which must not wait for a
/// Monday morning.
fn desk_clock(hub: &mut Hub) -> anyhow::Result<()> {
    let Ok(text) = std::env::var("MSNBNC_DESK_NOW") else {
        return Ok(());
    };
    let at: jiff::Timestamp = text
        .parse()
        .map_err(|e| anyhow::anyhow!("MSNBNC_DESK_NOW={text:?} is not an RFC 3339 time: {e}"))?;
    tracing::warn!("the desk's clock starts at {at} (MSNBNC_DESK_NOW), not the system's");
    hub.set_desk_clock(at.as_millisecond());
    Ok(())
}

/// What the loop drains.
struct Inputs {
    clients: mpsc::Receiver<ClientEvent>,
    updates: mpsc::Receiver<Update>,
    stored: mpsc::UnboundedReceiver<StoreEvent<Continuation>>,
    supervisor: tokio::task::JoinHandle<()>,
}

/// The store is up before we say READY (a broken database stops us
/// here); what the hub needs from it is read now.
fn open_store(config: &Config) -> anyhow::Result<Preload> {
    let mut store = Store::open(&config.store.path)?;
    tracing::info!(
        "store {} (schema version {})",
        config.store.path.display(),
        store.schema_version()?
    );
    index_the_rest(&mut store)?;
    Ok(Preload::read(&store)?)
}

/// Lines stored just before msnbnc stopped may not be searchable yet:
/// they are indexed now, a bounded chunk at a time.
fn index_the_rest(store: &mut Store) -> Result<(), StoreError> {
    const CHUNK: usize = 10_000;
    let mut added = 0;
    loop {
        let missing = store.unindexed_lines(CHUNK)?;
        if missing.is_empty() {
            break;
        }
        added += missing.len();
        let plain: Vec<(i64, String)> = missing
            .into_iter()
            .map(|(id, text)| (id, crate::irc::format::from_irc(&text).text))
            .collect();
        store.index_lines(&plain)?;
    }
    if added > 0 {
        tracing::info!("added {added} lines stored at the last stop to the search index");
    }
    Ok(())
}

pub async fn run(config_path: PathBuf, mut config: Config) -> anyhow::Result<()> {
    let preload = open_store(&config)?;
    let auth = Auth::start(config.store.path.clone());
    let (irc_tx, clients) = mpsc::channel(1024);
    let tls = listen(&config, &auth, &irc_tx).await?;
    let (updates_tx, updates) = mpsc::channel(256);
    let (control_tx, control_rx) = mpsc::channel(1024);
    let (threads, stored) = StoreThreads::start(&config.store.path)?;
    if let Some(addr) = config.files.listen {
        serve_files(addr, &mut config, &auth, tls.as_ref()).await?;
    }
    let settings = Settings {
        irc: config.irc.clone(),
        store: config.store.clone(),
        desk: config.desk.clone(),
        files: config.files.clone(),
    };
    let mut hub = Hub::new(settings, preload, threads, control_tx.clone(), irc_tx.clone());
    desk_clock(&mut hub)?;
    if let Some(addr) = config.metrics.listen {
        crate::metrics::serve(addr, hub.metrics()).await?;
    }
    let shutdown = CancellationToken::new();
    let supervisor = Supervisor::new(config.clone(), updates_tx, control_rx, shutdown.clone());
    let mut inputs = Inputs {
        clients,
        updates,
        stored,
        supervisor: tokio::spawn(supervisor.run()),
    };
    let mut daemon = Daemon {
        config_path,
        config,
        worker_state: WorkerState::Starting,
        control: control_tx,
        tls,
    };
    tracing::info!("msnbnc {} running", env!("CARGO_PKG_VERSION"));
    systemd::ready();
    daemon.serve(&mut hub, &mut inputs).await?;
    systemd::stopping();
    hub.shut_down(STORE_BUDGET);
    shutdown.cancel();
    daemon.stop(&mut inputs).await;
    tracing::info!("stopped");
    Ok(())
}

impl Daemon {
    /// Feeds the hub until SIGTERM or SIGINT.
    async fn serve(&mut self, hub: &mut Hub, inputs: &mut Inputs) -> anyhow::Result<()> {
        let mut sigterm = signal(SignalKind::terminate())?;
        let mut sigint = signal(SignalKind::interrupt())?;
        let mut sighup = signal(SignalKind::hangup())?;
        let mut ticks = housekeeping(&self.config);
        let mut second = tokio::time::interval(crate::hub::SECOND);
        second.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let watchdog_period = systemd::watchdog_period();
        let mut watchdog = tokio::time::interval(watchdog_period.unwrap_or(Duration::from_secs(3600)));
        loop {
            tokio::select! {
                _ = sigterm.recv() => { tracing::info!("SIGTERM: shutting down"); return Ok(()); }
                _ = sigint.recv() => { tracing::info!("SIGINT: shutting down"); return Ok(()); }
                _ = sighup.recv() => {
                    if self.reload(hub) {
                        ticks = housekeeping(&self.config);
                    }
                }
                Some(update) = inputs.updates.recv() => {
                    self.worker_update(&update);
                    hub.on_worker(&update);
                    // Group commit: whatever else the worker already sent
                    // goes into the same batch, then it is all shown.
                    for _ in 0..GROUP {
                        let Ok(update) = inputs.updates.try_recv() else { break };
                        self.worker_update(&update);
                        hub.on_worker(&update);
                    }
                    hub.end_turn();
                }
                Some(event) = inputs.clients.recv() => {
                    hub.on_client(event);
                    hub.end_turn();
                }
                Some(event) = inputs.stored.recv() => {
                    hub.on_store(event);
                    for _ in 0..GROUP {
                        let Ok(event) = inputs.stored.try_recv() else { break };
                        hub.on_store(event);
                    }
                    hub.end_turn();
                }
                _ = ticks.tick() => {
                    hub.tick(std::time::Instant::now());
                    hub.end_turn();
                }
                _ = second.tick() => {
                    hub.every_second(std::time::Instant::now());
                    hub.end_turn();
                }
                _ = watchdog.tick(), if watchdog_period.is_some() => systemd::watchdog(),
                _ = &mut inputs.supervisor => anyhow::bail!("the worker supervisor stopped unexpectedly"),
            }
        }
    }

    /// Lets the supervisor see the worker out, reading what it says
    /// meanwhile so it never blocks on a full channel.
    async fn stop(&mut self, inputs: &mut Inputs) {
        let finished = tokio::time::timeout(SHUTDOWN_BUDGET, async {
            loop {
                tokio::select! {
                    biased;
                    Some(update) = inputs.updates.recv() => self.worker_update(&update),
                    _ = &mut inputs.supervisor => break,
                }
            }
        })
        .await;
        if finished.is_err() {
            tracing::warn!("worker supervisor did not stop in time; killing the worker");
            inputs.supervisor.abort();
        }
        // Whatever it said last (its final state) is still worth reporting.
        while let Ok(update) = inputs.updates.try_recv() {
            self.worker_update(&update);
        }
    }

    /// The worker's state, for the log and systemd's STATUS=.
    fn worker_update(&mut self, update: &Update) {
        match update {
            Update::State(state) if *state != self.worker_state => {
                // A login's steps are in STATUS= and at debug; its start at info.
                let next_step = matches!(
                    (&self.worker_state, state),
                    (WorkerState::LoggingIn { pid: a, .. }, WorkerState::LoggingIn { pid: b, .. }) if a == b
                );
                match next_step {
                    true => tracing::debug!("worker state: {state}"),
                    false => tracing::info!("worker state: {state}"),
                }
                systemd::status(&state.to_string());
                self.worker_state = state.clone();
            }
            Update::Event(e) => log_event(e, self.config.log),
            Update::CommandResult { id, result } => tracing::debug!(id, ?result, "command result"),
            Update::State(_) => {}
        }
    }

    /// SIGHUP: re-read the configuration and apply what can change at run
    /// time; a broken file keeps the old one. Returns whether it applied.
    fn reload(&mut self, hub: &mut Hub) -> bool {
        systemd::reloading();
        let applied = match config::load(&self.config_path) {
            Ok(new) => {
                self.apply(new, hub);
                true
            }
            Err(errors) => {
                tracing::error!("configuration reload failed; keeping the running configuration:\n{errors}");
                systemd::status(&format!(
                    "reload failed: {}",
                    errors.0.first().map(ToString::to_string).unwrap_or_default()
                ));
                false
            }
        };
        systemd::ready();
        applied
    }

    fn apply(&mut self, mut new: Config, hub: &mut Hub) {
        tracing::info!("configuration reloaded from {}", self.config_path.display());
        let changes = reload::changes(&self.config, &new);
        if !changes.now.is_empty() {
            tracing::info!("applied now: {}", changes.now.join(", "));
        }
        if !changes.next_worker.is_empty() {
            tracing::info!(
                "applied at the next worker start: {}",
                changes.next_worker.join(", ")
            );
        }
        if !changes.restart.is_empty() {
            tracing::warn!(
                "take effect only when msnbnc restarts: {}",
                changes.restart.join(", ")
            );
        }
        // What needs a restart stays as it is until then.
        let (old, now) = (&self.config, &mut new);
        now.irc.listen.clone_from(&old.irc.listen);
        now.irc.tls_listen.clone_from(&old.irc.tls_listen);
        now.irc.server_name.clone_from(&old.irc.server_name);
        now.irc.network.clone_from(&old.irc.network);
        now.store.path.clone_from(&old.store.path);
        now.files.clone_from(&old.files);
        // A renewed certificate applies to new connections at once.
        if let (Some(tx), Some(cert), Some(key)) = (&self.tls, &new.irc.tls_cert, &new.irc.tls_key) {
            match tls::acceptor(cert, key) {
                Ok(a) => {
                    let _ = tx.send(a);
                    tracing::info!("TLS certificate reloaded from {}", cert.display());
                }
                Err(e) => tracing::error!("keeping the old TLS certificate: {e}"),
            }
        }
        hub.reconfigure(Settings {
            irc: new.irc.clone(),
            store: new.store.clone(),
            desk: new.desk.clone(),
            files: new.files.clone(),
        });
        // Never block on the supervisor.
        if self
            .control
            .try_send(Control::Reconfigure(Box::new(new.clone())))
            .is_err()
        {
            tracing::error!("the supervisor is busy; reload again in a moment");
        }
        self.config = new;
    }
}

/// What happened on MSN, for the log. What concerns the account is said
/// at INFO; what concerns a customer only at DEBUG, and never what they
/// wrote (customer text stays out of logs).
fn log_event(event: &ipc::Event, log: LogSettings) {
    use crate::untrusted::short as u;
    use ipc::Event as E;
    match event {
        E::SignedIn {
            account,
            friendly_name,
            protocol,
        } => tracing::info!(
            "msn: signed in as {} ({}) with MSNP{protocol}",
            u(account),
            u(friendly_name)
        ),
        E::Roster { contacts, groups } => {
            tracing::info!("msn: {} contacts in {} groups", contacts.len(), groups.len());
        }
        E::AddRequest { handle, .. } => tracing::info!("msn: {} wants to add the account", u(handle)),
        E::Notice(text) => tracing::info!("msn: {}", u(text)),
        E::SignedOut { class, reason, .. } => tracing::info!("msn: signed out ({class:?}): {}", u(reason)),
        E::Message {
            conversation,
            from,
            text,
            ..
        } => {
            tracing::debug!(conv = conversation, bytes = text.len(), "msn: customer message");
            if log.message_text {
                tracing::trace!(conv = conversation, from = %u(from), text = %u(text), "msn: customer message text");
            }
        }
        E::Delivery { command_id, outcome } => tracing::debug!(command_id, ?outcome, "msn: delivery"),
        other => tracing::debug!(conv = other.conversation(), "msn: {}", other.kind()),
    }
}

/// Serves the files customers and staff exchange (over HTTPS with the
/// IRC certificate if `files.tls`), and removes them when their links
/// expire (hourly). Links name the port really bound unless a public URL
/// is set.
async fn serve_files(
    addr: std::net::SocketAddr,
    config: &mut Config,
    auth: &Auth,
    irc_tls: Option<&watch::Sender<tokio_rustls::TlsAcceptor>>,
) -> anyhow::Result<()> {
    let listener = crate::http_listener::bind(addr, "files").await?;
    let bound = listener.local_addr()?;
    let scheme = if config.files.tls { "https" } else { "http" };
    if config.files.public_url == format!("{scheme}://{addr}") {
        config.files.public_url = format!("{scheme}://{bound}");
    }
    let tls = match (
        config.files.tls,
        irc_tls,
        &config.irc.tls_cert,
        &config.irc.tls_key,
    ) {
        (false, ..) => None,
        (true, Some(irc), ..) => Some(irc.subscribe()),
        (true, None, Some(cert), Some(key)) => {
            let acceptor = tls::acceptor(cert, key).map_err(|e| anyhow::anyhow!(e))?;
            Some(watch::channel(acceptor).1)
        }
        (true, None, ..) => anyhow::bail!("files.tls needs irc.tls_cert and irc.tls_key"),
    };
    let dir = crate::config::FilesSettings::dir(&config.store.path);
    let store = crate::files::FileStore::new(dir, config.files.max_bytes);
    let keep = config.files.keep;
    let downloads = crate::files::download::Downloads {
        store: store.clone(),
        keep,
    };
    let uploads = crate::files::upload::Uploads {
        store: store.clone(),
        auth: auth.clone(),
        public_url: config.files.public_url.clone(),
        encrypted: config.files.tls || config.files.public_url.starts_with("https://"),
    };
    // An upload of the largest file over a slow line takes a while.
    let options = crate::http_listener::Options {
        limit: std::time::Duration::from_secs(600),
        tls,
        ..crate::http_listener::Options::default()
    };
    crate::files::site::serve(listener, options, downloads, uploads)?;
    tokio::spawn(async move {
        let mut hourly = tokio::time::interval(std::time::Duration::from_secs(3600));
        loop {
            hourly.tick().await;
            let store = store.clone();
            let _ = tokio::task::spawn_blocking(move || store.prune(keep)).await;
        }
    });
    Ok(())
}
