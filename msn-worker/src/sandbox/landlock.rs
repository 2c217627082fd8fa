use ipc::{LayerState, SandboxPolicy};
use landlock::{
    Access, AccessFs, AccessNet, CompatLevel, Compatible, NetPort, PathBeneath, PathFd, Ruleset, RulesetAttr,
    RulesetCreatedAttr, RulesetStatus, Scope, ABI,
};

/// The newest ABI this code was written and tested against; newer kernels
/// are used at this level, older ones at theirs (best effort).
const TARGET_ABI: ABI = ABI::V6;

/// Denies every filesystem access except reading the configured paths,
/// every TCP bind and every TCP connect except to the configured ports,
/// and signals or abstract-socket connections to processes outside.
pub fn apply(policy: &SandboxPolicy) -> LayerState {
    let mut missing_paths = Vec::new();
    let result = (|| -> Result<_, landlock::RulesetError> {
        let read = AccessFs::ReadFile | AccessFs::ReadDir;
        let mut ruleset = Ruleset::default()
            .set_compatibility(CompatLevel::BestEffort)
            .handle_access(AccessFs::from_all(TARGET_ABI))?
            .handle_access(AccessNet::from_all(TARGET_ABI))?
            .scope(Scope::from_all(TARGET_ABI))?
            .create()?;
        for path in &policy.read_paths {
            match PathFd::new(path) {
                Ok(fd) => {
                    let is_dir = path.is_dir();
                    let access = if is_dir { read } else { AccessFs::ReadFile.into() };
                    ruleset = ruleset.add_rule(PathBeneath::new(fd, access))?;
                }
                Err(_) => missing_paths.push(path.display().to_string()),
            }
        }
        for port in &policy.connect_ports {
            ruleset = ruleset.add_rule(NetPort::new(*port, AccessNet::ConnectTcp))?;
        }
        ruleset.restrict_self()
    })();
    if !missing_paths.is_empty() {
        tracing::warn!(
            "sandbox: readable paths that do not exist: {}",
            missing_paths.join(", ")
        );
    }
    match result {
        Ok(status) => match status.ruleset {
            RulesetStatus::FullyEnforced => LayerState::Enforced,
            RulesetStatus::PartiallyEnforced => LayerState::Partial(format!(
                "kernel supports only part of Landlock ABI {}; older ABIs lack network (v4) and scope (v6) rules",
                TARGET_ABI as i32
            )),
            RulesetStatus::NotEnforced => {
                LayerState::Unavailable("Landlock is not supported or not enabled by this kernel".into())
            }
        },
        Err(e) => LayerState::Failed(e.to_string()),
    }
}
