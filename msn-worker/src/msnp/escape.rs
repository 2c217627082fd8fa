//! Percent-encoding of command parameters (friendly names, group names).
//!
//! Sending: every byte outside `A–Z a–z 0–9 - _ . ~` is escaped, which every
//! server accepts. Receiving: lenient — servers differ in what they escape
//! (Escargot only escapes `%`, space, CR and LF, so raw UTF-8 and even a raw
//! `%` arrive); a `%` not followed by two hex digits is kept literally, and
//! invalid UTF-8 is replaced rather than rejected.

pub fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for &b in text.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0x0f)]));
        }
    }
    out
}

const HEX: &[u8; 16] = b"0123456789ABCDEF";

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

pub fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            if let (Some(h), Some(l)) = (
                bytes.get(i + 1).copied().and_then(hex_value),
                bytes.get(i + 2).copied().and_then(hex_value),
            ) {
                out.push(h << 4 | l);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_everything_but_unreserved_bytes() {
        assert_eq!(encode("Relay Bot"), "Relay%20Bot");
        assert_eq!(encode("a+b,c%d@e"), "a%2Bb%2Cc%25d%40e");
        assert_eq!(encode("café"), "caf%C3%A9");
        assert_eq!(encode("A-z_0.9~"), "A-z_0.9~");
    }

    #[test]
    fn decodes_leniently() {
        assert_eq!(decode("Relay%20Bot"), "Relay Bot");
        // Escargot sends raw UTF-8 and may send a raw percent sign.
        assert_eq!(decode("café 100%"), "café 100%");
        assert_eq!(decode("100%25"), "100%");
        assert_eq!(decode("%zz%4"), "%zz%4");
        assert_eq!(decode("%ff"), "\u{fffd}");
        assert_eq!(decode("a+b"), "a+b", "'+' is not a space");
    }

    #[test]
    fn round_trips() {
        for s in ["", "plain", "with space", "ünïcödé ✓", "%%%", "a,b=c;d"] {
            assert_eq!(decode(&encode(s)), s);
        }
    }
}
