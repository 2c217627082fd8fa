//! MSNP2P (version 1), sans-IO: the binary packets that carry MSNSLP and
//! file data inside switchboard messages (`Content-Type:
//! application/x-msnmsgrp2p`; `docs/msnp2p.md`). A packet is a 48-byte
//! little-endian header, its data, and a 4-byte big-endian footer (the
//! application: 0 for MSNSLP, 2 for file transfer). Reading is bounded:
//! a header whose lengths do not match the bytes, or that claims more
//! than it may, is refused.

/// Header length.
pub const HEADER: usize = 48;
/// Footer length.
pub const FOOTER: usize = 4;
/// Most data one packet carries through a switchboard.
pub const MAX_CHUNK: usize = 1202;

/// Flags of a packet.
pub mod flags {
    /// MSNSLP, or data without a flag (handshakes).
    pub const NONE: u32 = 0;
    /// An acknowledgement of a whole message.
    pub const ACK: u32 = 0x02;
    /// The receiver is waiting for a reply (`RAK`).
    pub const WAIT: u32 = 0x04;
    /// Error in the binary header.
    pub const ERROR: u32 = 0x08;
    /// Data of an MSN object (display picture, emoticon).
    pub const MSN_OBJECT: u32 = 0x20;
    /// The receiver cancelled (`BYE`-less abort).
    pub const ABORT: u32 = 0x40;
    /// The sender cancelled.
    pub const CANCELLED: u32 = 0x80;
    /// Data of a file transfer.
    pub const FILE_DATA: u32 = 0x0100_0030;
}

/// Applications named in the footer.
pub mod app {
    pub const SLP: u32 = 0;
    pub const MSN_OBJECT: u32 = 1;
    pub const FILE: u32 = 2;
}

/// The binary header of one packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Header {
    /// 0 for MSNSLP; the session's id for its data.
    pub session: u32,
    /// The message's id (all its packets share it).
    pub identifier: u32,
    /// Where this packet's data starts in the whole message.
    pub offset: u64,
    /// The whole message's size.
    pub total: u64,
    /// This packet's data length.
    pub length: u32,
    pub flags: u32,
    /// In an ACK: the acknowledged message's identifier …
    pub ack_session: u32,
    /// … its "ack session" value …
    pub ack_identifier: u32,
    /// … and its size.
    pub ack_size: u64,
}

/// One packet read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet {
    pub header: Header,
    pub data: Vec<u8>,
    /// The footer's application (absent in some direct-connection
    /// packets; always there through a switchboard).
    pub app: u32,
}

/// Why a packet was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum P2pError {
    #[error("a P2P packet of {0} bytes is shorter than its header and footer")]
    Short(usize),
    #[error("a P2P header announces {announced} data bytes where {present} are present")]
    Length { announced: u32, present: usize },
    #[error("a P2P packet's data ({offset} + {length}) runs past its message's size {total}")]
    PastTotal { offset: u64, length: u32, total: u64 },
}

fn u32_at(b: &[u8], i: usize) -> u32 {
    u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]])
}

fn u64_at(b: &[u8], i: usize) -> u64 {
    u64::from(u32_at(b, i)) | (u64::from(u32_at(b, i + 4)) << 32)
}

impl Header {
    /// Reads the first 48 bytes of `b` (which has at least that many).
    fn read(b: &[u8]) -> Header {
        Header {
            session: u32_at(b, 0),
            identifier: u32_at(b, 4),
            offset: u64_at(b, 8),
            total: u64_at(b, 16),
            length: u32_at(b, 24),
            flags: u32_at(b, 28),
            ack_session: u32_at(b, 32),
            ack_identifier: u32_at(b, 36),
            ack_size: u64_at(b, 40),
        }
    }

    fn write(&self, out: &mut Vec<u8>) {
        for w in [self.session, self.identifier] {
            out.extend_from_slice(&w.to_le_bytes());
        }
        out.extend_from_slice(&self.offset.to_le_bytes());
        out.extend_from_slice(&self.total.to_le_bytes());
        for w in [self.length, self.flags, self.ack_session, self.ack_identifier] {
            out.extend_from_slice(&w.to_le_bytes());
        }
        out.extend_from_slice(&self.ack_size.to_le_bytes());
    }
}

/// Reads one packet (the body of a switchboard `MSG` after its MIME
/// headers).
pub fn parse(body: &[u8]) -> Result<Packet, P2pError> {
    if body.len() < HEADER + FOOTER {
        return Err(P2pError::Short(body.len()));
    }
    let header = Header::read(body);
    let present = body.len() - HEADER - FOOTER;
    if header.length as usize != present {
        return Err(P2pError::Length {
            announced: header.length,
            present,
        });
    }
    let past = header
        .offset
        .checked_add(u64::from(header.length))
        .is_none_or(|end| end > header.total);
    if past && header.flags & flags::ACK == 0 {
        return Err(P2pError::PastTotal {
            offset: header.offset,
            length: header.length,
            total: header.total,
        });
    }
    let footer = &body[HEADER + present..];
    Ok(Packet {
        header,
        data: body[HEADER..HEADER + present].to_vec(),
        app: u32::from_be_bytes([footer[0], footer[1], footer[2], footer[3]]),
    })
}

/// The bytes of a packet: header (its length set from `data`), data,
/// footer.
pub fn build(mut header: Header, data: &[u8], app: u32) -> Vec<u8> {
    header.length = u32::try_from(data.len()).unwrap_or(u32::MAX);
    let mut out = Vec::with_capacity(HEADER + data.len() + FOOTER);
    header.write(&mut out);
    out.extend_from_slice(data);
    out.extend_from_slice(&app.to_be_bytes());
    out
}

/// The acknowledgement of a whole message whose last packet was `got`,
/// with our next `identifier`.
pub fn ack(got: &Header, identifier: u32) -> Vec<u8> {
    let header = Header {
        session: got.session,
        identifier,
        offset: 0,
        total: got.total,
        length: 0,
        flags: flags::ACK,
        ack_session: got.identifier,
        ack_identifier: got.ack_session,
        ack_size: got.total,
    };
    build(header, &[], 0)
}

/// The packets of a whole message `data` (at most [`MAX_CHUNK`] bytes
/// each), all with `identifier`.
pub fn chunks(
    session: u32,
    identifier: u32,
    flags: u32,
    data: &[u8],
    app: u32,
    ack_session: u32,
) -> Vec<Vec<u8>> {
    let total = data.len() as u64;
    let pieces: Vec<&[u8]> = match data.is_empty() {
        true => vec![&[][..]],
        false => data.chunks(MAX_CHUNK).collect(),
    };
    let mut offset = 0u64;
    pieces
        .into_iter()
        .map(|piece| {
            let header = Header {
                session,
                identifier,
                offset,
                total,
                flags,
                ack_session,
                ..Header::default()
            };
            offset += piece.len() as u64;
            build(header, piece, app)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_packet_round_trips_through_its_bytes() {
        let header = Header {
            session: 0,
            identifier: 14_092_530,
            offset: 0,
            total: 5,
            flags: flags::NONE,
            ack_session: 0x1234_5678,
            ..Header::default()
        };
        let bytes = build(header, b"hello", app::SLP);
        assert_eq!(bytes.len(), 48 + 5 + 4);
        assert_eq!(&bytes[4..8], &14_092_530u32.to_le_bytes());
        assert_eq!(&bytes[24..28], &5u32.to_le_bytes(), "the data length");
        assert_eq!(&bytes[53..], &[0, 0, 0, 0]);
        let p = parse(&bytes).unwrap();
        assert_eq!((p.header.length, p.data.as_slice(), p.app), (5, &b"hello"[..], 0));
        assert_eq!(p.header.ack_session, 0x1234_5678);
    }

    #[test]
    fn lengths_that_lie_are_refused() {
        let good = build(
            Header {
                total: 3,
                ..Header::default()
            },
            b"abc",
            app::FILE,
        );
        assert!(parse(&good).is_ok());
        assert_eq!(parse(&good[..20]), Err(P2pError::Short(20)));
        let mut lying = good.clone();
        lying[24] = 200;
        assert_eq!(
            parse(&lying),
            Err(P2pError::Length {
                announced: 200,
                present: 3
            })
        );
        let past = build(
            Header {
                offset: 2,
                total: 3,
                ..Header::default()
            },
            b"abc",
            app::FILE,
        );
        assert!(matches!(parse(&past), Err(P2pError::PastTotal { .. })));
        let overflow = build(
            Header {
                offset: u64::MAX,
                total: 3,
                ..Header::default()
            },
            b"abc",
            2,
        );
        assert!(matches!(parse(&overflow), Err(P2pError::PastTotal { .. })));
    }

    #[test]
    fn a_message_goes_in_chunks_and_is_acked_whole() {
        let data = vec![7u8; 3000];
        let packets = chunks(9, 100, flags::FILE_DATA, &data, app::FILE, 55);
        assert_eq!(packets.len(), 3);
        let read: Vec<Packet> = packets.iter().map(|p| parse(p).unwrap()).collect();
        assert_eq!(
            read.iter().map(|p| p.header.offset).collect::<Vec<_>>(),
            [0, 1202, 2404]
        );
        assert!(read
            .iter()
            .all(|p| p.header.total == 3000 && p.app == app::FILE && p.header.identifier == 100));
        let a = parse(&ack(&read[2].header, 200)).unwrap();
        assert_eq!(
            (
                a.header.flags,
                a.header.ack_session,
                a.header.ack_identifier,
                a.header.ack_size
            ),
            (flags::ACK, 100, 55, 3000)
        );
        assert_eq!(
            chunks(0, 1, 0, b"", 0, 0).len(),
            1,
            "an empty message is one packet"
        );
    }
}
