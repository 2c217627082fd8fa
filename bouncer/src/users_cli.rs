//! `msnbnc user …`: staff accounts from the command line.

use std::io::{BufRead, IsTerminal};

use anyhow::{bail, Context};
use clap::Subcommand;
use zeroize::Zeroizing;

use crate::config::Config;
use crate::store::users::Role;
use crate::store::Store;

/// A new password: prompted twice on a terminal, else one line of stdin.
fn read_password(name: &str) -> anyhow::Result<Zeroizing<String>> {
    if std::io::stdin().is_terminal() {
        let first = Zeroizing::new(rpassword::prompt_password(format!("password for {name}: "))?);
        let again = Zeroizing::new(rpassword::prompt_password("again: ")?);
        if *first != *again {
            bail!("the passwords differ");
        }
        return Ok(first);
    }
    let mut line = Zeroizing::new(String::new());
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("reading the password from stdin")?;
    let trimmed = Zeroizing::new(line.trim_end_matches(['\r', '\n']).to_owned());
    if trimmed.is_empty() {
        bail!("no password on stdin");
    }
    Ok(trimmed)
}

#[derive(Subcommand)]
pub enum UserAction {
    /// Add a staff member (`--admin` for an administrator).
    Add {
        name: String,
        #[arg(long)]
        admin: bool,
    },
    /// Remove a staff member.
    Del { name: String },
    /// Set a staff member's password.
    Passwd { name: String },
    /// List staff members and their roles.
    List,
    /// Set a staff member's role: admin or staff.
    Role { name: String, role: String },
    /// A staff member's TLS client certificates (SASL EXTERNAL), by SHA-256
    /// fingerprint: `cert NAME list`, `cert NAME add FP`, `cert NAME del FP`.
    Cert {
        name: String,
        #[arg(value_parser = ["list", "add", "del"])]
        action: String,
        fingerprint: Option<String>,
    },
}

pub fn run(config: &Config, action: UserAction) -> anyhow::Result<()> {
    let mut store = Store::open(&config.store.path)?;
    match action {
        UserAction::Add { name, admin } => {
            let password = read_password(&name)?;
            let role = if admin { Role::Admin } else { Role::Staff };
            store.add_user(&name, &password, role)?;
            println!("added {name} ({})", role.as_str());
        }
        UserAction::Del { name } => {
            store.delete_user(&name)?;
            println!("deleted {name}");
        }
        UserAction::Passwd { name } => {
            let password = read_password(&name)?;
            store.set_password(&name, &password)?;
            println!("password of {name} changed");
        }
        UserAction::List => {
            for u in store.users()? {
                println!("{}\t{}", u.name, u.role.as_str());
            }
        }
        UserAction::Role { name, role } => {
            let Some(r) = Role::parse(&role) else {
                bail!("{role:?} is not a role (admin or staff)");
            };
            store.set_role(&name, r)?;
            println!("{name} is now {}", r.as_str());
        }
        UserAction::Cert {
            name,
            action,
            fingerprint,
        } => match (action.as_str(), fingerprint) {
            ("list", None) => {
                for fp in store.certs(&name)? {
                    println!("{fp}");
                }
            }
            ("add", Some(fp)) => println!("added {} to {name}", store.add_cert(&name, &fp)?),
            ("del", Some(fp)) => {
                store.delete_cert(&name, &fp)?;
                println!("deleted {fp} from {name}");
            }
            ("list", Some(_)) => bail!("cert {name} list takes no fingerprint"),
            (_, None) => bail!("cert {name} {action} needs the certificate's SHA-256 fingerprint"),
            _ => bail!("unknown action {action:?} (list, add or del)"),
        },
    }
    Ok(())
}
