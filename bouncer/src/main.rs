//! `msnbnc`: a multi-user IRC bouncer whose network is one shared MSN
//! Messenger account. This process is the long-lived supervisor: it owns
//! everything durable and never parses MSNP; the MSN connection lives in a
//! sandboxed `msn-worker` child that it restarts as needed.
#![forbid(unsafe_code)]
// No function over 80 lines (clippy.toml sets the threshold).
#![warn(clippy::too_many_lines)]

use msnbnc::users_cli::UserAction;
use msnbnc::{check_login, check_sandbox, config, daemon, supervisor, users_cli};

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;

#[derive(Parser)]
#[command(version, about = "Share one MSN Messenger account between staff over IRC")]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run against the built-in MSN server simulator, with customers who chat.
    Demo,
    /// Run the bouncer.
    Run {
        #[arg(long, short)]
        config: PathBuf,
    },
    /// Manage staff accounts (passwords are read from the terminal or stdin,
    /// never from the command line).
    User {
        #[arg(long, short, global = true, default_value = "/etc/msnbnc/msnbnc.toml")]
        config: PathBuf,
        #[command(subcommand)]
        action: UserAction,
    },
    /// The history store: its size, and pruning by the retention policy.
    Store {
        #[arg(long, short, global = true, default_value = "/etc/msnbnc/msnbnc.toml")]
        config: PathBuf,
        #[command(subcommand)]
        action: msnbnc::store_cli::StoreAction,
    },
    /// Write one conversation (#bob, its latest under that name) or one
    /// customer's whole history (bob@example.com) to standard output.
    Transcript {
        #[arg(long, short, default_value = "/etc/msnbnc/msnbnc.toml")]
        config: PathBuf,
        /// `#channel` or an MSN address.
        who: String,
        /// Only lines from this day on (YYYY-MM-DD, in the desk's zone).
        #[arg(long)]
        since: Option<String>,
        #[arg(long, value_enum, default_value = "text")]
        format: msnbnc::transcript_cli::Format,
        /// Only what the customer saw: no staff notes or server notices.
        #[arg(long)]
        customer_view: bool,
    },
    /// Validate a configuration file and exit.
    CheckConfig {
        #[arg(long, short)]
        config: PathBuf,
    },
    /// Start a worker, let it sandbox itself, and show what each layer
    /// enforces and what it stops.
    CheckSandbox {
        #[arg(long, short)]
        config: PathBuf,
    },
    /// Sign in to MSN with a sandboxed worker, report the protocol version,
    /// the account's name and its contact list size, and sign out.
    CheckLogin {
        #[arg(long, short)]
        config: PathBuf,
    },
}

fn init_logging() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
}

fn load_config(path: &std::path::Path) -> Result<config::Config, ExitCode> {
    config::load(path).map_err(|errors| {
        eprintln!("{errors}");
        ExitCode::from(2)
    })
}

/// Runs `f` as a task, on the runtime's thread with every other task,
/// rather than on the main thread where `block_on` would poll it: the hub
/// and the sockets it feeds then hand work over without waking a thread.
async fn on_the_runtime_thread<F>(f: F) -> anyhow::Result<()>
where
    F: std::future::Future<Output = anyhow::Result<()>> + Send + 'static,
{
    tokio::spawn(f)
        .await
        .unwrap_or_else(|e| Err(anyhow::anyhow!("the main task failed: {e}")))
}

/// `msnbnc demo`, when this build carries the MSN simulator.
#[cfg(feature = "demo")]
fn demo(runtime: &tokio::runtime::Runtime) -> ExitCode {
    match runtime.block_on(on_the_runtime_thread(msnbnc::demo::run())) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("msnbnc: {e:#}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(not(feature = "demo"))]
fn demo(_: &tokio::runtime::Runtime) -> ExitCode {
    eprintln!("msnbnc: this build has no demo (it was built without the `demo` feature)");
    ExitCode::from(2)
}

/// `Ok` as success, an error printed as `msnbnc: …` and failure.
fn report(result: anyhow::Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("msnbnc: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// A check's verdict: passed, failed (`why`), or could not run.
fn verdict(result: anyhow::Result<bool>, why: &str) -> ExitCode {
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => {
            if !why.is_empty() {
                eprintln!("msnbnc: {why}");
            }
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("msnbnc: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn check_config(path: &std::path::Path) -> ExitCode {
    let cfg = match load_config(path) {
        Ok(c) => c,
        Err(code) => return code,
    };
    if let Err(e) = cfg.password.load() {
        eprintln!("{}: account: {e}", path.display());
        return ExitCode::from(2);
    }
    println!("{}: OK", path.display());
    ExitCode::SUCCESS
}

fn run(path: PathBuf, runtime: &tokio::runtime::Runtime) -> ExitCode {
    let cfg = match load_config(&path) {
        Ok(c) => c,
        Err(code) => return code,
    };
    if let Err(e) = supervisor::spawn::preflight(&cfg.worker) {
        eprintln!("msnbnc: {e}");
        return ExitCode::from(2);
    }
    let daemon = daemon::run(path, cfg);
    match runtime.block_on(on_the_runtime_thread(daemon)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            ExitCode::FAILURE
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging();
    // We hold the MSN password (and later staff secrets): no core dumps, and
    // no ptrace or /proc/<pid>/mem access by same-user processes.
    if let Err(e) = nix::sys::prctl::set_dumpable(false) {
        tracing::warn!("cannot mark msnbnc non-dumpable: {e}");
    }
    msnbnc::malloc_tuning::return_large_blocks_to_the_system();
    // One thread runs every task (the hub, the IPC reader, each client's
    // reader and writer): state has one owner anyway, and hand-offs between
    // tasks on one thread cost no cross-thread wake-ups. SQLite runs on the
    // store's own threads; Argon2 and TLS handshakes' blocking parts go to
    // the blocking pool.
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("msnbnc: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let configured = |path: &std::path::Path| load_config(path);
    match cli.command {
        Cmd::CheckConfig { config } => check_config(&config),
        Cmd::Demo => demo(&runtime),
        Cmd::Run { config } => run(config, &runtime),
        Cmd::CheckSandbox { config } => match configured(&config) {
            Ok(cfg) => verdict(
                runtime.block_on(check_sandbox::run(&cfg)),
                "the worker sandbox is incomplete (see above)",
            ),
            Err(code) => code,
        },
        Cmd::CheckLogin { config } => match configured(&config) {
            Ok(cfg) => verdict(runtime.block_on(check_login::run(&cfg)), ""),
            Err(code) => code,
        },
        Cmd::User { config, action } => match configured(&config) {
            Ok(cfg) => report(users_cli::run(&cfg, action)),
            Err(code) => code,
        },
        Cmd::Store { config, action } => match configured(&config) {
            Ok(cfg) => report(msnbnc::store_cli::run(&cfg, action)),
            Err(code) => code,
        },
        Cmd::Transcript {
            config,
            who,
            since,
            format,
            customer_view,
        } => match configured(&config) {
            Ok(cfg) => {
                let request = msnbnc::transcript_cli::Request {
                    who,
                    since,
                    format,
                    customer_view,
                };
                report(msnbnc::transcript_cli::run(&cfg, &request))
            }
            Err(code) => code,
        },
    }
}
