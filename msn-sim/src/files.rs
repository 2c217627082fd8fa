//! A scripted customer sending a file through the switchboard
//! (docs/msnp2p.md), written from the reference on its own: the MSNSLP
//! `INVITE` with the file's context, the receiver's `200 OK` or `603`,
//! the data in 1202-byte P2P packets, the `BYE`. Tests can also send
//! data that lies (wrong offsets, sizes).

use std::time::Duration;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;

use crate::state::Received;
use crate::Customer;

/// How a transfer went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sent {
    /// Accepted, and every byte sent.
    Delivered,
    /// Declined (`603`).
    Declined,
    /// No answer within the time.
    NoAnswer,
}

/// How the data is sent (tests of a receiver's bounds lie here).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Data {
    /// As it should be.
    Honest,
    /// Skips ahead after the first packet.
    SkipAhead,
    /// Says the whole is larger than the file announced.
    WrongTotal,
    /// Sends the file, then goes on: the data again, and data past its
    /// end claiming a larger whole.
    Endless,
}

const CHUNK: usize = 1202;

fn packet(session: u32, id: u32, offset: u64, total: u64, flags: u32, data: &[u8], footer: u32) -> Vec<u8> {
    let mut out = Vec::with_capacity(48 + data.len() + 4);
    out.extend_from_slice(&session.to_le_bytes());
    out.extend_from_slice(&id.to_le_bytes());
    out.extend_from_slice(&offset.to_le_bytes());
    out.extend_from_slice(&total.to_le_bytes());
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out.extend_from_slice(&flags.to_le_bytes());
    out.extend_from_slice(&id.wrapping_mul(7).to_le_bytes());
    out.extend_from_slice(&[0; 12]);
    out.extend_from_slice(data);
    out.extend_from_slice(&footer.to_be_bytes());
    out
}

fn context(name: &str, size: u64) -> String {
    let mut raw = Vec::with_capacity(574);
    raw.extend_from_slice(&574u32.to_le_bytes());
    raw.extend_from_slice(&2u32.to_le_bytes());
    raw.extend_from_slice(&size.to_le_bytes());
    raw.extend_from_slice(&1u32.to_le_bytes());
    for unit in name.encode_utf16().take(259) {
        raw.extend_from_slice(&unit.to_le_bytes());
    }
    raw.resize(574, 0);
    B64.encode(raw)
}

fn slp(first: &str, from: &str, to: &str, call: &str, content: &str, body: &str) -> Vec<u8> {
    let body = format!("{body}\r\n");
    let text = format!(
        "{first}\r\nTo: <msnmsgr:{to}>\r\nFrom: <msnmsgr:{from}>\r\nVia: MSNSLP/1.0/TLP ;branch={{3C0FE5A1-0000-4000-8000-00000000B00B}}\r\nCSeq: 0 \r\nCall-ID: {call}\r\nMax-Forwards: 0\r\nContent-Type: {content}\r\nContent-Length: {}\r\n\r\n{body}\0",
        body.len() + 1
    );
    text.into_bytes()
}

impl Customer {
    async fn p2p(&self, to: &str, packet: Vec<u8>) -> anyhow::Result<()> {
        let mut payload =
            format!("MIME-Version: 1.0\r\nContent-Type: application/x-msnmsgrp2p\r\nP2P-Dest: {to}\r\n\r\n")
                .into_bytes();
        payload.extend_from_slice(&packet);
        self.send_payload(to, &payload).await.map(|_| ())
    }

    /// Sends an MSNSLP message as P2P session 0, in packets.
    async fn slp_to(&self, to: &str, id: u32, message: &[u8]) -> anyhow::Result<()> {
        let total = message.len() as u64;
        for (i, piece) in message.chunks(CHUNK).enumerate() {
            let offset = (i * CHUNK) as u64;
            self.p2p(to, packet(0, id, offset, total, 0, piece, 0)).await?;
        }
        Ok(())
    }

    /// The MSNSLP answer `to` gave to call `call`, if any came in time.
    async fn slp_answer(&self, to: &str, call: &str, timeout: Duration) -> Option<String> {
        let found = self
            .wait_for(timeout, |r| match r {
                Received::P2p { from, body, .. } if from.eq_ignore_ascii_case(to) => {
                    let text = String::from_utf8_lossy(body.get(48..).unwrap_or_default());
                    text.starts_with("MSNSLP/1.0 ") && text.contains(call)
                }
                _ => false,
            })
            .await?;
        let Received::P2p { body, .. } = found else {
            return None;
        };
        Some(String::from_utf8_lossy(&body[48..]).into_owned())
    }

    /// Offers `bytes` as file `name` to `to` and, if taken, sends it.
    pub async fn send_file(&self, to: &str, name: &str, bytes: &[u8], data: Data) -> anyhow::Result<Sent> {
        // Each transfer its own session and call.
        let session = 700_000 + (self.lock().id() % 100_000) as u32;
        let call = format!("{{F11E0000-0000-4000-8000-{:012X}}}", session);
        let body = format!(
            "EUF-GUID: {{5D3E02AB-6190-11D3-BBBB-00C04F795683}}\r\nSessionID: {session}\r\nAppID: 2\r\nContext: {}\r\n",
            context(name, bytes.len() as u64)
        );
        let invite = slp(
            &format!("INVITE MSNMSGR:{to} MSNSLP/1.0"),
            self.email(),
            to,
            &call,
            "application/x-msnmsgr-sessionreqbody",
            &body,
        );
        self.slp_to(to, 1000, &invite).await?;
        let Some(answer) = self.slp_answer(to, &call, Duration::from_secs(10)).await else {
            return Ok(Sent::NoAnswer);
        };
        if !answer.starts_with("MSNSLP/1.0 200") {
            return Ok(Sent::Declined);
        }
        let total = match data {
            Data::WrongTotal => bytes.len() as u64 * 2,
            _ => bytes.len() as u64,
        };
        for (i, piece) in bytes.chunks(CHUNK).enumerate() {
            let mut offset = (i * CHUNK) as u64;
            if data == Data::SkipAhead && i > 0 {
                offset += 100;
            }
            self.p2p(to, packet(session, 2000, offset, total, 0x0100_0030, piece, 2))
                .await?;
        }
        if data == Data::Endless {
            for round in 0..20u64 {
                for (i, piece) in bytes.chunks(CHUNK).enumerate() {
                    let offset = (i * CHUNK) as u64 + round * total;
                    let claimed = total * (round + 2);
                    self.p2p(to, packet(session, 2000, offset, claimed, 0x0100_0030, piece, 2))
                        .await?;
                }
            }
        }
        let bye = slp(
            &format!("BYE MSNMSGR:{to} MSNSLP/1.0"),
            self.email(),
            to,
            &call,
            "application/x-msnmsgr-sessionclosebody",
            &format!("SessionID: {session}\r\n"),
        );
        self.slp_to(to, 3000, &bye).await?;
        Ok(Sent::Delivered)
    }
}

/// What a scripted customer does with a file offered to them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    Accept,
    Decline,
}

/// A file offered to a scripted customer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Offered {
    pub name: String,
    pub size: u64,
    /// The bytes, if they took it and all of it came.
    pub bytes: Option<Vec<u8>>,
}

fn u32_le(b: &[u8], at: usize) -> u32 {
    b.get(at..at + 4)
        .and_then(|s| s.try_into().ok())
        .map_or(0, u32::from_le_bytes)
}

fn u64_le(b: &[u8], at: usize) -> u64 {
    b.get(at..at + 8)
        .and_then(|s| s.try_into().ok())
        .map_or(0, u64::from_le_bytes)
}

/// A `Key: value` line of an MSNSLP message.
fn slp_value<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    text.split("\r\n")
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
        .map(str::trim)
}

/// Name and size from a file context (version 2 or 3).
fn read_context(b64: &str) -> Option<(String, u64)> {
    let raw = B64.decode(b64).ok()?;
    let size = u64_le(&raw, 8);
    let units: Vec<u16> = raw
        .get(20..540)?
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .take_while(|u| *u != 0)
        .collect();
    Some((String::from_utf16_lossy(&units), size))
}

impl Customer {
    /// Waits for `from` to offer a file not answered yet, answers, and (if accepted)
    /// collects the data until all of it came; acknowledges it as a
    /// Messenger does.
    pub async fn receive_file(
        &self,
        from: &str,
        answer: Answer,
        timeout: Duration,
    ) -> anyhow::Result<Offered> {
        let answered = self
            .lock()
            .account(self.email())
            .map(|a| a.answered.clone())
            .unwrap_or_default();
        let invite = self
            .wait_for(timeout, |r| match r {
                Received::P2p { from: f, body, .. } if f.eq_ignore_ascii_case(from) => {
                    let text = String::from_utf8_lossy(body.get(48..).unwrap_or_default());
                    let call = slp_value(&text, "Call-ID").unwrap_or_default();
                    text.starts_with("INVITE ")
                        && text.contains("sessionreqbody")
                        && !answered.iter().any(|a| a == call)
                }
                _ => false,
            })
            .await
            .ok_or_else(|| anyhow::anyhow!("{from} offered no file within {timeout:?}"))?;
        let Received::P2p { body, .. } = invite else {
            anyhow::bail!("not a P2P packet");
        };
        let len = u32_le(&body, 24) as usize;
        let text = String::from_utf8_lossy(body.get(48..48 + len).unwrap_or_default()).into_owned();
        let call = slp_value(&text, "Call-ID").unwrap_or_default().to_owned();
        let session: u32 = slp_value(&text, "SessionID")
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| anyhow::anyhow!("an INVITE without a SessionID"))?;
        let (name, size) = slp_value(&text, "Context")
            .and_then(read_context)
            .ok_or_else(|| anyhow::anyhow!("an INVITE without a file context"))?;
        if let Some(a) = self.lock().account_mut(self.email()) {
            a.answered.push(call.clone());
        }
        let (code, reason) = match answer {
            Answer::Accept => (200, "OK"),
            Answer::Decline => (603, "Decline"),
        };
        let reply = slp(
            &format!("MSNSLP/1.0 {code} {reason}"),
            self.email(),
            from,
            &call,
            "application/x-msnmsgr-sessionreqbody",
            &format!("SessionID: {session}\r\n"),
        );
        self.slp_to(from, 4000, &reply).await?;
        if answer == Answer::Decline {
            return Ok(Offered {
                name,
                size,
                bytes: None,
            });
        }
        // The data may take longer than the offer took to come.
        let deadline = std::time::Instant::now() + timeout.max(Duration::from_secs(60));
        loop {
            // Every data packet of the session so far, in order.
            let mut bytes = Vec::new();
            let mut last = None;
            for r in self.inbox() {
                let Received::P2p { from: f, body, .. } = r else {
                    continue;
                };
                if !f.eq_ignore_ascii_case(from) || u32_le(&body, 0) != session || u32_le(&body, 28) & 2 != 0
                {
                    continue;
                }
                let (offset, n) = (u64_le(&body, 8), u32_le(&body, 24) as usize);
                if offset != bytes.len() as u64 {
                    anyhow::bail!("data at {offset} where {} was next", bytes.len());
                }
                bytes.extend_from_slice(body.get(48..48 + n).unwrap_or_default());
                last = Some((u32_le(&body, 4), u64_le(&body, 16)));
            }
            if let (true, Some((identifier, total))) = (bytes.len() as u64 == size, last) {
                // The acknowledgement of the whole data message.
                let mut ack = packet(session, 5000, 0, total, 2, &[], 0);
                ack[32..36].copy_from_slice(&identifier.to_le_bytes());
                ack[40..48].copy_from_slice(&total.to_le_bytes());
                self.p2p(from, ack).await?;
                return Ok(Offered {
                    name,
                    size,
                    bytes: Some(bytes),
                });
            }
            if std::time::Instant::now() > deadline {
                anyhow::bail!("{} of {size} bytes came within {timeout:?}", bytes.len());
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}
