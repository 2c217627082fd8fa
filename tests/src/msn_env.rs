//! msnbnc against the in-process MSN simulator: the simulator on its own
//! runtime, and configurations pointing at it.

use msn_sim::{SimConfig, Simulator};

use crate::worker::{ACCOUNT, PASSWORD};
use crate::{binaries, TestDir};

/// The simulator runs on its own runtime's threads while the test thread
/// blocks on processes and logs.
pub struct Sim {
    pub rt: tokio::runtime::Runtime,
    pub sim: Simulator,
}

pub fn sim() -> Sim {
    sim_with(|c| c)
}

/// [`sim`] with settings changed, e.g. a slow switchboard.
pub fn sim_with(adjust: impl FnOnce(SimConfig) -> SimConfig) -> Sim {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let sim = rt
        .block_on(Simulator::start(adjust(
            SimConfig::default()
                .account(ACCOUNT, PASSWORD, "Support Desk")
                .customer("bob@example.com", "Bob")
                .customer("carol@example.com", "Carol")
                // Not on the account's lists: a stranger who may add it.
                .customer("dave@example.com", "Dave")
                .friends(ACCOUNT, "bob@example.com")
                .friends(ACCOUNT, "carol@example.com"),
        )))
        .expect("simulator");
    Sim { rt, sim }
}

/// A configuration for msnbnc pointing at the simulator.
pub fn config(dir: &TestDir, sim: &Simulator, password: &str, trust_ca: bool) -> std::path::PathBuf {
    config_for(dir, sim, password, trust_ca, 12)
}

pub fn config_for(
    dir: &TestDir,
    sim: &Simulator,
    password: &str,
    trust_ca: bool,
    dialect: u8,
) -> std::path::PathBuf {
    let ca = dir.write("ca.pem", sim.ca_pem());
    let trust = if trust_ca {
        format!("ca_file = \"{}\"", ca.display())
    } else {
        String::new()
    };
    let ports: Vec<String> = sim.ports().iter().map(u16::to_string).collect();
    dir.write(
        "msnbnc.toml",
        &format!(
            r#"[account]
handle = "{ACCOUNT}"
password = "{password}"

[msn]
servers = ["{}"]
passport_nexus = "{}"
protocol_min = {dialect}
protocol_max = {dialect}
{trust}

[store]
path = "{}"

[irc]
listen = ["127.0.0.1:0"]

[worker]
path = "{}"
user = "nobody"
heartbeat_interval_secs = 1
heartbeat_timeout_secs = 5
restart_initial_secs = 1
restart_max_secs = 2
connect_ports = [{}]
"#,
            sim.server_addr(),
            sim.nexus_url(),
            crate::fresh_store_path().display(),
            binaries().worker.display(),
            ports.join(", ")
        ),
    )
}
