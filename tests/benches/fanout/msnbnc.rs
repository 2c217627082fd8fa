//! msnbnc under test: the simulator as the MSN server, the real release
//! msnbnc and msn-worker, K devices of one staff user attached.

use std::time::Duration;

use msn_sim::{Customer, SimConfig, Simulator};
use msnbnc_tests::worker::{ACCOUNT, PASSWORD};
use msnbnc_tests::{add_staff, msn_env, Bouncer, TestDir};

use super::fleet::{Fleet, Upstream};

const SOON: Duration = Duration::from_secs(30);
pub const CUSTOMER: &str = "bob@example.com";

pub struct Msnbnc {
    pub sim: Simulator,
    pub bouncer: Bouncer,
    pub worker_pid: u32,
    pub port: u16,
    _dir: TestDir,
}

impl Msnbnc {
    pub async fn start() -> anyhow::Result<Msnbnc> {
        let sim = Simulator::start(
            SimConfig::default()
                .account(ACCOUNT, PASSWORD, "Support Desk")
                .customer(CUSTOMER, "Bob")
                .friends(ACCOUNT, CUSTOMER),
        )
        .await?;
        let dir = TestDir::new();
        let config = msn_env::config(&dir, &sim, PASSWORD, true);
        add_staff(&config, "staff", "pw", false);
        let bouncer = tokio::task::block_in_place(|| Bouncer::run(&config));
        let (port, worker_pid) = tokio::task::block_in_place(|| -> anyhow::Result<(u16, u32)> {
            let (_, line) = bouncer.wait_for("IRC listening on 127.0.0.1:", SOON)?;
            let port = line
                .rsplit(':')
                .next()
                .and_then(|p| p.trim().parse().ok())
                .ok_or_else(|| anyhow::anyhow!("no port in {line:?}"))?;
            let (_, pid) = bouncer.wait_worker_ready(0, SOON)?;
            bouncer.wait_for(&format!("worker state: signed in as {ACCOUNT}"), SOON)?;
            Ok((port, pid))
        })?;
        anyhow::ensure!(
            sim.wait_until(SOON, |s| s.is_online(ACCOUNT)).await,
            "never signed in"
        );
        sim.customer(CUSTOMER).sign_in("NLN");
        Ok(Msnbnc {
            sim,
            bouncer,
            worker_pid,
            port,
            _dir: dir,
        })
    }

    /// K devices of the staff user, registered and in `&msn`.
    pub async fn fleet(&self, k: usize) -> anyhow::Result<Fleet> {
        Fleet::attach(
            self.port,
            k,
            |i| {
                vec![
                    format!("PASS staff@dev{i}:pw"),
                    "NICK staff".to_owned(),
                    "USER staff 0 * :Staff".to_owned(),
                ]
            },
            " 366 staff &msn ",
        )
        .await
    }

    pub fn customer(&self) -> MsnCustomer {
        MsnCustomer(self.sim.customer(CUSTOMER))
    }
}

pub struct MsnCustomer(Customer);

impl Upstream for MsnCustomer {
    async fn send(&mut self, text: &str) -> anyhow::Result<()> {
        self.0.say(ACCOUNT, text).await.map(|_| ())
    }
}
