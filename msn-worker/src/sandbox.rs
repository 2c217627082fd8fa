//! The worker's sandbox, applied after it receives its configuration and
//! before it receives the account password.
//!
//! Layers, in order: `no_new_privs`, capabilities, rlimits, Landlock,
//! seccomp. Each is independent: a layer the kernel lacks is reported (and
//! logged once, loudly) and the others still apply.

mod landlock;
mod privileges;
pub mod probe;
mod rlimits;
mod seccomp;

use ipc::{LayerReport, LayerState, SandboxLayer, SandboxPolicy, SandboxReport};

pub fn apply(policy: &SandboxPolicy) -> SandboxReport {
    let layers = vec![
        LayerReport {
            layer: SandboxLayer::NoNewPrivs,
            state: privileges::set_no_new_privs(),
        },
        LayerReport {
            layer: SandboxLayer::Capabilities,
            state: privileges::drop_capabilities(),
        },
        LayerReport {
            layer: SandboxLayer::Rlimits,
            state: rlimits::apply(policy.max_open_files),
        },
        LayerReport {
            layer: SandboxLayer::Landlock,
            state: landlock::apply(policy),
        },
        // Last: the filter also forbids the system calls the layers above need.
        LayerReport {
            layer: SandboxLayer::Seccomp,
            state: seccomp::apply(),
        },
    ];
    for report in &layers {
        match &report.state {
            LayerState::Enforced => tracing::debug!(layer = report.layer.name(), "sandbox layer enforced"),
            // The bouncer warns about gaps (once, not at every restart).
            other => tracing::debug!(
                layer = report.layer.name(),
                state = other.label(),
                "sandbox layer not fully enforced: {}",
                other.detail()
            ),
        }
    }
    SandboxReport { layers }
}
