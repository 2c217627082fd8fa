//! Framing: a 4-byte big-endian length, then a `postcard` payload of exactly
//! that many bytes. Sans-IO: [`FrameCodec`] works on byte buffers and plugs
//! into `tokio_util::codec::Framed` for the async side.

use std::marker::PhantomData;

use bytes::{Buf, BufMut, BytesMut};
use serde::{de::DeserializeOwned, Serialize};
use tokio_util::codec::{Decoder, Encoder};
use zeroize::Zeroize;

use crate::ProtocolError;

/// Hard upper bound on one frame's payload. Rosters of a few thousand
/// contacts fit comfortably; anything larger is a broken or hostile peer.
pub const MAX_FRAME_LEN: usize = 1024 * 1024;

const HEADER_LEN: usize = 4;

/// Decodes `In` frames and encodes `Out` frames.
#[derive(Debug)]
pub struct FrameCodec<In, Out> {
    max_len: usize,
    _types: PhantomData<fn(Out) -> In>,
}

impl<In, Out> Default for FrameCodec<In, Out> {
    fn default() -> Self {
        Self::with_max_len(MAX_FRAME_LEN)
    }
}

impl<In, Out> FrameCodec<In, Out> {
    pub fn with_max_len(max_len: usize) -> Self {
        FrameCodec {
            max_len,
            _types: PhantomData,
        }
    }
}

/// Decodes one payload (without the length header). Trailing bytes are an
/// error: a frame is exactly one message.
pub fn decode_payload<T: DeserializeOwned>(payload: &[u8]) -> Result<T, ProtocolError> {
    match postcard::take_from_bytes::<T>(payload) {
        Ok((value, [])) => Ok(value),
        Ok((_, rest)) => Err(ProtocolError::Malformed(format!(
            "{} trailing bytes after the message",
            rest.len()
        ))),
        Err(e) => Err(ProtocolError::Malformed(e.to_string())),
    }
}

impl<In: DeserializeOwned, Out> Decoder for FrameCodec<In, Out> {
    type Item = In;
    type Error = ProtocolError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<In>, ProtocolError> {
        let Some(header) = src.get(..HEADER_LEN) else {
            return Ok(None);
        };
        let mut len_bytes = [0u8; HEADER_LEN];
        len_bytes.copy_from_slice(header);
        let len = u32::from_be_bytes(len_bytes) as usize;
        // Refuse before buffering: a hostile length must not make us allocate.
        if len > self.max_len {
            return Err(ProtocolError::Oversize {
                len,
                max: self.max_len,
            });
        }
        if src.len() < HEADER_LEN + len {
            src.reserve(HEADER_LEN + len - src.len());
            return Ok(None);
        }
        src.advance(HEADER_LEN);
        let mut payload = src.split_to(len);
        let decoded = decode_payload(&payload);
        // Frames may carry the account password; do not leave copies behind.
        payload.as_mut().zeroize();
        decoded.map(Some)
    }

    fn decode_eof(&mut self, src: &mut BytesMut) -> Result<Option<In>, ProtocolError> {
        match self.decode(src)? {
            Some(frame) => Ok(Some(frame)),
            None if src.is_empty() => Ok(None),
            None => {
                let need = match src.get(..HEADER_LEN) {
                    Some(h) => HEADER_LEN + u32::from_be_bytes([h[0], h[1], h[2], h[3]]) as usize,
                    None => HEADER_LEN,
                };
                Err(ProtocolError::Truncated {
                    have: src.len(),
                    need,
                })
            }
        }
    }
}

impl<In, Out: Serialize> Encoder<Out> for FrameCodec<In, Out> {
    type Error = ProtocolError;

    fn encode(&mut self, item: Out, dst: &mut BytesMut) -> Result<(), ProtocolError> {
        let mut payload = postcard::to_stdvec(&item)
            .map_err(|e| ProtocolError::Malformed(format!("cannot encode: {e}")))?;
        let result = if payload.len() > self.max_len {
            Err(ProtocolError::Oversize {
                len: payload.len(),
                max: self.max_len,
            })
        } else {
            dst.reserve(HEADER_LEN + payload.len());
            // Cannot truncate: max_len is far below u32::MAX.
            dst.put_u32(payload.len() as u32);
            dst.extend_from_slice(&payload);
            Ok(())
        };
        payload.zeroize();
        result
    }
}

/// Encodes one message into a standalone frame (header included).
pub fn encode_frame<T: Serialize>(item: &T) -> Result<Vec<u8>, ProtocolError> {
    let mut payload =
        postcard::to_stdvec(item).map_err(|e| ProtocolError::Malformed(format!("cannot encode: {e}")))?;
    if payload.len() > MAX_FRAME_LEN {
        let len = payload.len();
        payload.zeroize();
        return Err(ProtocolError::Oversize {
            len,
            max: MAX_FRAME_LEN,
        });
    }
    let len = payload.len() as u32;
    let mut frame = Vec::with_capacity(HEADER_LEN + payload.len());
    frame.extend_from_slice(&len.to_be_bytes());
    frame.extend_from_slice(&payload);
    payload.zeroize();
    Ok(frame)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::*;
    use crate::worker_config::*;
    use crate::Secret;

    type WorkerSide = FrameCodec<ToWorker, FromWorker>;
    type BouncerSide = FrameCodec<FromWorker, ToWorker>;

    fn sample_config() -> WorkerConfig {
        WorkerConfig {
            account: "support@example.com".into(),
            servers: vec![ServerAddr {
                host: "127.0.0.1".into(),
                port: 1863,
            }],
            protocol: VersionRange { min: 8, max: 12 },
            trust: TrustConfig {
                webpki_roots: true,
                ca_file: Some("/etc/msnbnc/ca.pem".into()),
            },
            passport: PassportConfig {
                nexus_url: Some("https://nexus.example.com/rdr/pprdr.asp".into()),
                login_url: None,
                allow_plain_http: false,
            },
            auto_accept_contacts: true,
            sandbox: SandboxPolicy {
                read_paths: vec!["/etc/resolv.conf".into()],
                connect_ports: vec![1863, 1864, 443],
                max_open_files: 256,
            },
            heartbeat_interval_ms: 5000,
            first_conversation: 1,
            login_timeout_ms: 60_000,
            web_services: None,
            machine_guid: "{00000000-0000-4000-8000-000000000001}".into(),
        }
    }

    fn every_to_worker() -> Vec<ToWorker> {
        let target = ConversationTarget::Contact("bob@example.com".into());
        let commands = vec![
            Command::SendMessage {
                to: ConversationTarget::Existing(7),
                text: "héllo\r\nworld".into(),
                format: TextFormat {
                    font: Some("Segoe UI".into()),
                    bold: true,
                    italic: false,
                    underline: true,
                    strikethrough: false,
                    color: Some([255, 0, 0]),
                },
            },
            Command::SendTyping { to: target.clone() },
            Command::SendNudge { to: target },
            Command::OpenConversation {
                contacts: vec!["a@x".into(), "b@y".into()],
            },
            Command::CloseConversation(3),
            Command::SetStatus(Status::BeRightBack),
            Command::SetFriendlyName("Support".into()),
            Command::SetPersonalMessage("Mon-Fri".into()),
            Command::AddContact("c@z".into()),
            Command::RemoveContact("c@z".into()),
            Command::BlockContact("c@z".into()),
            Command::UnblockContact("c@z".into()),
            Command::AcceptAddRequest("c@z".into()),
            Command::SignOut,
        ];
        let mut all = vec![
            ToWorker::Hello(Hello {
                protocol_version: crate::PROTOCOL_VERSION,
                build: "test".into(),
            }),
            ToWorker::Configure(sample_config()),
            ToWorker::ProbeSandbox(ProbeRequest {
                forbidden_file: "/etc/shadow".into(),
                scratch_dir: "/tmp".into(),
                program: "/bin/true".into(),
                forbidden_port: 9,
            }),
            ToWorker::Credentials(Credentials {
                password: Secret::new("p@ss, word%".into()),
            }),
            ToWorker::Heartbeat { nonce: u64::MAX },
            ToWorker::Shutdown,
        ];
        all.extend(
            commands
                .into_iter()
                .enumerate()
                .map(|(i, command)| ToWorker::Command {
                    id: i as u64,
                    command,
                }),
        );
        all
    }

    fn every_from_worker() -> Vec<FromWorker> {
        let failure = Failure {
            kind: FailureKind::ContactOffline,
            detail: "217".into(),
        };
        let events = vec![
            Event::LoginProgress(LoginStage::Connecting(ServerAddr {
                host: "::1".into(),
                port: 1863,
            })),
            Event::LoginProgress(LoginStage::Negotiated { protocol: 12 }),
            Event::LoginProgress(LoginStage::Authenticating),
            Event::LoginProgress(LoginStage::Synchronising),
            Event::SignedIn {
                account: "support@example.com".into(),
                friendly_name: "Support".into(),
                protocol: 12,
            },
            Event::Roster {
                contacts: vec![Contact {
                    handle: "bob@example.com".into(),
                    friendly_name: "Bob".into(),
                    lists: 11,
                    groups: vec!["0".into()],
                    status: Status::Away,
                    personal_message: "gone fishing".into(),
                }],
                groups: vec![Group {
                    id: "0".into(),
                    name: "Customers".into(),
                }],
            },
            Event::Presence {
                handle: "bob@example.com".into(),
                status: Status::Offline,
                friendly_name: None,
                personal_message: Some(String::new()),
            },
            Event::ConversationJoined {
                conversation: 1,
                handle: "bob@example.com".into(),
                friendly_name: "Bob".into(),
            },
            Event::ConversationLeft {
                conversation: 1,
                handle: "bob@example.com".into(),
            },
            Event::ConversationClosed(1),
            Event::Message {
                conversation: 1,
                from: "bob@example.com".into(),
                text: "hi".into(),
                format: TextFormat::default(),
            },
            Event::Typing {
                conversation: 1,
                from: "bob@example.com".into(),
            },
            Event::Nudge {
                conversation: 1,
                from: "bob@example.com".into(),
            },
            Event::AddRequest {
                handle: "new@example.com".into(),
                friendly_name: "New".into(),
            },
            Event::Delivery {
                command_id: 9,
                outcome: Delivery::Delivered,
            },
            Event::Delivery {
                command_id: 10,
                outcome: Delivery::Failed(failure.clone()),
            },
            Event::Notice("server going down in 5 minutes".into()),
            Event::SignedOut {
                class: SignOutClass::SignedInElsewhere,
                reason: "OUT OTH".into(),
                retry_after_secs: None,
            },
        ];
        let mut all = vec![
            FromWorker::Hello(Hello {
                protocol_version: 1,
                build: "w".into(),
            }),
            FromWorker::Configured(SandboxReport {
                layers: vec![
                    LayerReport {
                        layer: SandboxLayer::Landlock,
                        state: LayerState::Partial("no network rules".into()),
                    },
                    LayerReport {
                        layer: SandboxLayer::Seccomp,
                        state: LayerState::Enforced,
                    },
                ],
            }),
            FromWorker::ProbeReport(ProbeReport {
                results: vec![ProbeResult {
                    attempt: "exec /bin/true".into(),
                    blocked: true,
                    detail: "EPERM".into(),
                }],
            }),
            FromWorker::Ready,
            FromWorker::CommandResult {
                id: 1,
                result: CommandResult::Ok,
            },
            FromWorker::CommandResult {
                id: 2,
                result: CommandResult::Failed(failure),
            },
            FromWorker::HeartbeatAck { nonce: 0 },
        ];
        all.extend(
            events
                .into_iter()
                .enumerate()
                .map(|(i, event)| FromWorker::Event { seq: i as u64, event }),
        );
        all
    }

    #[test]
    fn every_message_to_the_worker_round_trips() {
        let mut codec = BouncerSide::default();
        let mut worker = WorkerSide::default();
        let mut buf = BytesMut::new();
        let all = every_to_worker();
        for msg in &all {
            codec.encode(msg.clone(), &mut buf).unwrap();
        }
        for msg in &all {
            assert_eq!(worker.decode(&mut buf).unwrap().as_ref(), Some(msg));
        }
        assert!(buf.is_empty());
    }

    #[test]
    fn every_message_from_the_worker_round_trips() {
        let mut worker = WorkerSide::default();
        let mut bouncer = BouncerSide::default();
        let mut buf = BytesMut::new();
        let all = every_from_worker();
        for msg in &all {
            worker.encode(msg.clone(), &mut buf).unwrap();
        }
        for msg in &all {
            assert_eq!(bouncer.decode(&mut buf).unwrap().as_ref(), Some(msg));
        }
    }

    #[test]
    fn frame_split_across_reads_waits_for_the_rest() {
        let frame = encode_frame(&FromWorker::HeartbeatAck { nonce: 300 }).unwrap();
        let mut codec = BouncerSide::default();
        let mut buf = BytesMut::new();
        for (i, byte) in frame.iter().enumerate() {
            buf.put_u8(*byte);
            let out = codec.decode(&mut buf).unwrap();
            if i + 1 < frame.len() {
                assert!(out.is_none(), "decoded early at byte {i}");
            } else {
                assert_eq!(out, Some(FromWorker::HeartbeatAck { nonce: 300 }));
            }
        }
    }

    #[test]
    fn truncated_frame_at_eof_is_reported_as_truncated() {
        let frame = encode_frame(&FromWorker::Ready).unwrap();
        let mut buf = BytesMut::from(&frame[..frame.len() - 1]);
        let mut half_header = BytesMut::from(&[0u8, 0][..]);
        let mut codec = BouncerSide::default();
        assert!(matches!(
            codec.decode_eof(&mut buf),
            Err(ProtocolError::Truncated { have, need }) if have + 1 == need
        ));
        assert!(matches!(
            codec.decode_eof(&mut half_header),
            Err(ProtocolError::Truncated { have: 2, need: 4 })
        ));
    }

    #[test]
    fn oversize_length_is_refused_before_buffering() {
        let mut buf = BytesMut::from(&u32::MAX.to_be_bytes()[..]);
        let mut codec = BouncerSide::default();
        assert!(matches!(
            codec.decode(&mut buf),
            Err(ProtocolError::Oversize { len, max: MAX_FRAME_LEN }) if len == u32::MAX as usize
        ));
        assert!(buf.capacity() < 1024, "must not reserve the hostile length");
    }

    #[test]
    fn oversize_message_is_refused_by_the_encoder() {
        let mut codec = FrameCodec::<ToWorker, FromWorker>::with_max_len(16);
        let mut buf = BytesMut::new();
        let big = FromWorker::Event {
            seq: 1,
            event: Event::Notice("x".repeat(100)),
        };
        assert!(matches!(
            codec.encode(big, &mut buf),
            Err(ProtocolError::Oversize { .. })
        ));
        assert!(buf.is_empty());
    }

    #[test]
    fn garbage_payload_is_malformed_not_a_panic() {
        let mut codec = BouncerSide::default();
        // Variant index 200 does not exist.
        let mut buf = BytesMut::from(&[0u8, 0, 0, 3, 200, 1, 2][..]);
        assert!(matches!(codec.decode(&mut buf), Err(ProtocolError::Malformed(_))));
        // A valid message followed by junk inside the same frame.
        let mut payload = postcard::to_stdvec(&FromWorker::Ready).unwrap();
        payload.push(0xff);
        let mut framed = BytesMut::new();
        framed.put_u32(payload.len() as u32);
        framed.extend_from_slice(&payload);
        assert!(matches!(
            codec.decode(&mut framed),
            Err(ProtocolError::Malformed(m)) if m.contains("trailing")
        ));
    }

    #[test]
    fn invalid_utf8_in_a_string_is_malformed() {
        // Event(seq 0, Notice(<2 bytes: ff fe>))
        let mut payload = postcard::to_stdvec(&FromWorker::Event {
            seq: 0,
            event: Event::Notice("ab".into()),
        })
        .unwrap();
        let n = payload.len();
        payload[n - 2] = 0xff;
        payload[n - 1] = 0xfe;
        assert!(matches!(
            decode_payload::<FromWorker>(&payload),
            Err(ProtocolError::Malformed(_))
        ));
    }
}
