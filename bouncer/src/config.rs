//! The configuration file: TOML, every key documented in
//! `contrib/msnbnc.example.toml`. Each section is read and checked by its
//! own module; loading reports every mistake at once, as
//! `file: key: reason`. [`reload`] says what a SIGHUP changes.

mod account_section;
mod desk_section;
mod files_section;
mod irc_section;
mod log_section;
mod metrics_section;
mod msn_section;
pub mod reload;
mod store_section;
mod worker_section;

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

pub use account_section::PasswordSource;
pub use desk_section::DeskSettings;
pub use files_section::FilesSettings;
pub use irc_section::{parse_status, IrcSettings};
pub use log_section::LogSettings;
pub use metrics_section::MetricsSettings;
pub use msn_section::{derived_machine_guid, MsnSettings, MSNP_VERSIONS};
pub use store_section::StoreSettings;
pub use worker_section::{default_worker_path, ElsewherePolicy, RestartPolicy, WorkerSettings};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub file: PathBuf,
    pub key: String,
    pub reason: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}: {}", self.file.display(), self.key, self.reason)
    }
}

/// All the mistakes found in one file.
#[derive(Debug)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

/// Mistakes collected while the sections are checked.
pub(crate) struct Errors {
    file: PathBuf,
    list: Vec<ConfigError>,
}

impl Errors {
    fn new(file: &Path) -> Errors {
        Errors {
            file: file.to_owned(),
            list: Vec::new(),
        }
    }

    pub(crate) fn add(&mut self, key: &str, reason: String) {
        self.list.push(ConfigError {
            file: self.file.clone(),
            key: key.to_owned(),
            reason,
        });
    }
}

/// The file's shape: one table per section.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    account: account_section::RawAccount,
    #[serde(default)]
    msn: msn_section::RawMsn,
    #[serde(default)]
    worker: worker_section::RawWorker,
    #[serde(default)]
    store: store_section::RawStore,
    #[serde(default)]
    irc: irc_section::RawIrc,
    #[serde(default)]
    log: log_section::RawLog,
    #[serde(default)]
    desk: desk_section::RawDesk,
    #[serde(default)]
    metrics: metrics_section::RawMetrics,
    #[serde(default)]
    files: files_section::RawFiles,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub file: PathBuf,
    /// The account's sign-in name.
    pub account: String,
    pub password: PasswordSource,
    pub msn: MsnSettings,
    pub worker: WorkerSettings,
    pub store: StoreSettings,
    pub irc: IrcSettings,
    pub log: LogSettings,
    pub desk: DeskSettings,
    pub metrics: MetricsSettings,
    pub files: FilesSettings,
}

/// Position of a byte offset as "line L, column C" for syntax errors.
fn line_col(text: &str, offset: usize) -> String {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    format!("line {line}, column {col}")
}

pub fn load(file: &Path) -> Result<Config, ConfigErrors> {
    let text = std::fs::read_to_string(file).map_err(|e| {
        ConfigErrors(vec![ConfigError {
            file: file.to_owned(),
            key: "(file)".into(),
            reason: format!("cannot read: {e}"),
        }])
    })?;
    parse(file, &text)
}

/// The file's tables, or the one syntax or type error that stopped reading.
fn read(file: &Path, text: &str) -> Result<RawConfig, ConfigErrors> {
    let one = |key: String, reason: &str| {
        ConfigErrors(vec![ConfigError {
            file: file.to_owned(),
            key,
            reason: reason.to_owned(),
        }])
    };
    let de = toml::Deserializer::parse(text).map_err(|e| {
        let at = e.span().map(|s| line_col(text, s.start)).unwrap_or_default();
        one(format!("(syntax, {at})"), e.message())
    })?;
    serde_path_to_error::deserialize(de).map_err(|e| {
        let key = e.path().to_string();
        let key = if key == "." { "(top level)".to_owned() } else { key };
        one(key, e.into_inner().message())
    })
}

pub fn parse(file: &Path, text: &str) -> Result<Config, ConfigErrors> {
    let raw = read(file, text)?;
    let mut errors = Errors::new(file);
    let (account, password) = account_section::validate(raw.account, &mut errors);
    let msn = msn_section::validate(raw.msn, &mut errors);
    let worker = worker_section::validate(raw.worker, &msn, &mut errors);
    let store = store_section::validate(raw.store, &mut errors);
    let irc = irc_section::validate(raw.irc, &mut errors);
    let log = log_section::validate(raw.log);
    let desk = desk_section::validate(raw.desk, &irc.time_zone, &mut errors);
    let metrics = metrics_section::validate(raw.metrics, &mut errors);
    let files = files_section::validate(raw.files, &mut errors);
    if files.tls && (irc.tls_cert.is_none() || irc.tls_key.is_none()) {
        errors.add(
            "files.tls",
            "serves with the IRC certificate: set irc.tls_cert and irc.tls_key too".to_owned(),
        );
    }
    match password {
        Some(password) if errors.list.is_empty() => Ok(Config {
            file: file.to_owned(),
            account,
            password,
            msn,
            worker,
            store,
            irc,
            log,
            desk,
            metrics,
            files,
        }),
        _ => Err(ConfigErrors(errors.list)),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::time::Duration;

    pub(crate) const MINIMAL: &str = r#"
[account]
handle = "support@example.com"
password = "p@ss, word%"

[msn]
servers = ["127.0.0.1:1863"]
passport_nexus = "https://127.0.0.1:8443/rdr/pprdr.asp"
"#;

    fn errors(text: &str) -> Vec<String> {
        match parse(Path::new("/etc/msnbnc.toml"), text) {
            Ok(_) => panic!("expected errors"),
            Err(ConfigErrors(v)) => v.iter().map(ToString::to_string).collect(),
        }
    }

    #[test]
    fn minimal_config_gets_documented_defaults() {
        let c = parse(Path::new("x.toml"), MINIMAL).unwrap();
        assert_eq!(c.account, "support@example.com");
        assert_eq!(c.password.load().unwrap().expose(), "p@ss, word%");
        assert_eq!(c.msn.protocol, ipc::VersionRange { min: 8, max: 12 });
        assert_eq!(c.worker.heartbeat_interval, Duration::from_secs(5));
        assert_eq!(c.worker.restart.max, Duration::from_secs(300));
        assert_eq!(c.worker.connect_ports, vec![443, 1863, 1864]);
        assert_eq!(c.worker.restart.signed_in_elsewhere, ElsewherePolicy::Wait);
    }

    #[test]
    fn servers_accept_hosts_ipv4_ipv6_and_default_port() {
        assert_eq!(msn_section::parse_server("msn.example.com").unwrap().port, 1863);
        assert_eq!(msn_section::parse_server("10.0.0.1:1865").unwrap().port, 1865);
        let v6 = msn_section::parse_server("[::1]:1999").unwrap();
        assert_eq!((v6.host.as_str(), v6.port), ("::1", 1999));
        assert!(msn_section::parse_server("::1:1863").is_err());
        assert!(msn_section::parse_server("host:0").is_err());
        assert!(msn_section::parse_server("host:99999").is_err());
    }

    #[test]
    fn syntax_error_names_file_and_position() {
        let e = errors("[account\nhandle = 1");
        assert_eq!(e.len(), 1);
        assert!(
            e[0].starts_with("/etc/msnbnc.toml: (syntax, line 1, column"),
            "{e:?}"
        );
    }

    #[test]
    fn wrong_type_names_the_key() {
        let e = errors(&MINIMAL.replace("[msn]", "[worker]\nheartbeat_interval_secs = \"soon\"\n[msn]"));
        assert_eq!(e.len(), 1);
        assert!(
            e[0].starts_with("/etc/msnbnc.toml: worker.heartbeat_interval_secs: "),
            "{e:?}"
        );
    }

    #[test]
    fn unknown_key_is_refused_with_its_section() {
        let e = errors(&MINIMAL.replace("[msn]", "[msn]\nserver = \"typo\""));
        assert!(e[0].starts_with("/etc/msnbnc.toml: msn"), "{e:?}");
        assert!(e[0].contains("unknown field `server`"), "{e:?}");
    }

    #[test]
    fn every_semantic_mistake_is_reported_at_once() {
        let text = r#"
[account]
handle = "not-an-address"
password = "x"
password_file = "/run/pw"

[msn]
servers = ["host:70000"]
protocol_min = 12
protocol_max = 7
login_timeout_secs = 1

[worker]
heartbeat_interval_secs = 10
heartbeat_timeout_secs = 5
read_paths = ["relative/path"]

[irc]
time_zone = "Mars/Olympus"
max_unregistered_per_address = 0

[desk]
alert_after_secs = 600
alert_again_after_secs = 300
time_zone = "Atlantis/Capital"

[desk.hours]
mon = "9-17"
funday = "10:00-11:00"
"#;
        let e = errors(text);
        let keys: Vec<&str> = e.iter().map(|l| l.split(": ").nth(1).unwrap_or("")).collect();
        for key in [
            "account.handle",
            "account.password",
            "msn.servers[0]",
            "msn.protocol_max",
            "msn.protocol_min",
            "msn.login_timeout_secs",
            "worker.heartbeat_timeout_secs",
            "worker.read_paths[0]",
            "irc.time_zone",
            "irc.max_unregistered_per_address",
            "desk.alert_again_after_secs",
            "desk.time_zone",
            "desk.hours.mon",
            "desk.hours.funday",
        ] {
            assert!(keys.contains(&key), "{key} missing from {e:#?}");
        }
    }

    #[test]
    fn passport_urls_must_be_https_unless_explicitly_allowed() {
        let plain = MINIMAL.replace("https://127.0.0.1:8443", "http://127.0.0.1:8080");
        let e = errors(&plain);
        assert!(
            e[0].starts_with("/etc/msnbnc.toml: msn.passport_nexus: sends the password over plain HTTP"),
            "{e:?}"
        );
        let allowed = plain.replace("[msn]", "[msn]\nallow_plain_http_login = true");
        assert!(parse(Path::new("x"), &allowed).is_ok());
        let none = MINIMAL.replace("passport_nexus = \"https://127.0.0.1:8443/rdr/pprdr.asp\"\n", "");
        assert!(errors(&none)[0].contains("msn.passport_nexus: set the Passport nexus URL"));
        assert!(errors(&MINIMAL.replace("https://127.0.0.1:8443", "ftp://x"))[0]
            .contains("is not an https:// URL"));
        // What the worker could not use is refused here already.
        assert!(errors(&MINIMAL.replace("127.0.0.1:8443", "127.0.0.1:99999"))[0]
            .starts_with("/etc/msnbnc.toml: msn.passport_nexus: "));
    }

    #[test]
    fn msnp13_and_later_need_the_web_services_and_a_well_formed_machine_guid() {
        let modern = MINIMAL.replace("[msn]", "[msn]\nprotocol_max = 18");
        assert!(errors(&modern)[0].contains("msn.web_services: MSNP18 needs the server's web services"));
        let with = modern.replace("[msn]", "[msn]\nweb_services = \"https://127.0.0.1:8443\"");
        let c = parse(Path::new("x"), &with).unwrap();
        let services = c.msn.web_services.unwrap();
        assert_eq!(services.rst, "https://127.0.0.1:8443/RST.srf");
        assert_eq!(
            services.address_book,
            "https://127.0.0.1:8443/abservice/abservice.asmx"
        );
        // The worker may reach them through its sandbox.
        assert!(
            c.worker.connect_ports.contains(&8443),
            "{:?}",
            c.worker.connect_ports
        );
        let bad = with.replace("[msn]", "[msn]\nmachine_guid = \"not-a-guid\"");
        assert!(errors(&bad)[0].contains("msn.machine_guid: \"not-a-guid\" is not a GUID"));
        let plain = with.replace("https://127.0.0.1:8443\"", "http://127.0.0.1:8080\"");
        assert!(errors(&plain)[0].contains("msn.web_services"));
    }

    #[test]
    fn the_derived_machine_guid_is_stable_per_account_and_well_formed() {
        let a = msn_section::derived_machine_guid("support@example.com");
        assert_eq!(a, msn_section::derived_machine_guid("support@example.com"));
        assert_ne!(a, msn_section::derived_machine_guid("other@example.com"));
        assert!(msn_section::valid_guid(&a), "{a}");
        assert_eq!(&a[15..16], "4", "{a}");
    }

    #[test]
    fn the_files_section_names_its_listener_link_limit_and_lifetime() {
        let off = parse(Path::new("x"), MINIMAL).unwrap();
        assert_eq!((off.files.listen, off.files.max_bytes), (None, 20 * 1024 * 1024));
        let on = MINIMAL.to_owned() + "\n[files]\nlisten = \"127.0.0.1:8088\"\nkeep_days = 7\n";
        let c = parse(Path::new("x"), &on).unwrap();
        assert_eq!(c.files.public_url, "http://127.0.0.1:8088");
        assert_eq!(c.files.keep, std::time::Duration::from_secs(7 * 86_400));
        let bad = MINIMAL.to_owned()
            + "\n[files]\nlisten = \"nowhere\"\npublic_url = \"ftp://x\"\nmax_bytes = 0\nkeep_days = 0\n";
        let e = errors(&bad).join("\n");
        for key in [
            "files.listen",
            "files.public_url",
            "files.max_bytes",
            "files.keep_days",
        ] {
            assert!(e.contains(key), "{key} missing: {e}");
        }
    }

    #[test]
    fn missing_password_is_an_error() {
        let e = errors(
            "[account]\nhandle = \"a@b.c\"\n[msn]\nservers = [\"h\"]\npassport_login = \"https://h/login\"\n",
        );
        assert_eq!(e, vec!["/etc/msnbnc.toml: account.password: no password: set one of password, password_file or password_credential"]);
    }

    #[test]
    fn password_file_is_read_and_trailing_newline_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("pw");
        std::fs::write(&f, "s3cret, with spaces\n").unwrap();
        let src = PasswordSource::File(f.clone());
        assert_eq!(src.load().unwrap().expose(), "s3cret, with spaces");
        std::fs::write(&f, "\n").unwrap();
        assert!(src.load().unwrap_err().contains("is empty"));
    }
}
