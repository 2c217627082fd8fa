//! Feeds arbitrary bytes to the bouncer's frame decoder (worker frames are
//! untrusted) and to the worker's, in arbitrary read sizes, through the phase
//! tracker. Any panic is a bug; errors are the expected outcome.
#![no_main]

use bytes::BytesMut;
use ipc::{
    Credentials, FrameCodec, FromWorker, Hello, PhaseTracker, SandboxPolicy, Secret, ToWorker, TrustConfig,
    VersionRange, WorkerConfig,
};
use libfuzzer_sys::fuzz_target;
use tokio_util::codec::Decoder;

fuzz_target!(|data: &[u8]| {
    // The first byte picks the chunk size, so split reads are explored too.
    let Some((&chunk, rest)) = data.split_first() else {
        return;
    };
    let chunk = usize::from(chunk).max(1);

    let mut bouncer = FrameCodec::<FromWorker, ToWorker>::default();
    // The bouncer has sent its Hello, so the phase table sees the worker's
    // frames as it would in a real connection.
    let mut phases = PhaseTracker::default();
    let _ = phases.to_worker(&ToWorker::Hello(Hello {
        protocol_version: ipc::PROTOCOL_VERSION,
        build: "fuzz".into(),
    }));
    let mut buf = BytesMut::new();
    'outer: for piece in rest.chunks(chunk) {
        buf.extend_from_slice(piece);
        loop {
            match bouncer.decode(&mut buf) {
                Ok(Some(msg)) => {
                    if phases.from_worker(&msg).is_err() {
                        break 'outer;
                    }
                    // Answer what the bouncer would answer, to walk the table.
                    let reply = match &msg {
                        FromWorker::Hello(_) => Some(ToWorker::Configure(config())),
                        FromWorker::Configured(_) => Some(ToWorker::Credentials(Credentials {
                            password: Secret::new("x".into()),
                        })),
                        FromWorker::Ready => Some(ToWorker::Heartbeat { nonce: 1 }),
                        _ => None,
                    };
                    if let Some(reply) = reply {
                        let _ = phases.to_worker(&reply);
                    }
                }
                Ok(None) => break,
                Err(_) => break 'outer,
            }
        }
    }
    let _ = bouncer.decode_eof(&mut buf);

    let mut worker = FrameCodec::<ToWorker, FromWorker>::default();
    let mut buf = BytesMut::from(rest);
    while let Ok(Some(_)) = worker.decode(&mut buf) {}
});

fn config() -> WorkerConfig {
    WorkerConfig {
        account: "a@b.c".into(),
        servers: vec![],
        protocol: VersionRange { min: 8, max: 12 },
        trust: TrustConfig {
            webpki_roots: true,
            ca_file: None,
        },
        passport: ipc::PassportConfig {
            nexus_url: None,
            login_url: None,
            allow_plain_http: false,
        },
        auto_accept_contacts: true,
        sandbox: SandboxPolicy {
            read_paths: vec![],
            connect_ports: vec![],
            max_open_files: 64,
        },
        heartbeat_interval_ms: 1000,
        first_conversation: 1,
        login_timeout_ms: 60_000,
        web_services: None,
        machine_guid: "{00000000-0000-4000-8000-000000000001}".into(),
    }
}
