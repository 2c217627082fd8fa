//! Answers to the notification server's `CHL` challenges (msnp.md §3).

use md5::{Digest, Md5};

/// A product id (sent in clear in `QRY`) and its key (used in the hash).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProductKey {
    pub id: &'static str,
    pub key: &'static str,
}

/// The well-known pair for MSNP8–10 (MSN Messenger 5–6).
pub const MSNP8_KEY: ProductKey = ProductKey {
    id: "msmsgs@msnmsgr.com",
    key: "Q1P7W2E4J9R8U3S5",
};

/// The pair of MSN Messenger 7.0 for MSNP11–12.
pub const MSNP11_KEY: ProductKey = ProductKey {
    id: "PROD0101{0RM?UBW",
    key: "CFHUR$52U_{VIX5T",
};

/// The pair of Windows Live Messenger 2009 (14.0.8089), for MSNP13+.
pub const MSNP18_KEY: ProductKey = ProductKey {
    id: "PROD0120PW!CCV9@",
    key: "C1BX{V4W}Q3*10SM",
};

/// The product pair and answer for `challenge` under `dialect`.
pub fn answer(dialect: u8, challenge: &str) -> (ProductKey, String) {
    match dialect {
        13.. => (MSNP18_KEY, msnp11(challenge, MSNP18_KEY)),
        11 | 12 => (MSNP11_KEY, msnp11(challenge, MSNP11_KEY)),
        _ => (MSNP8_KEY, msnp8(challenge, MSNP8_KEY)),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// MSNP6–10: lowercase hex of MD5(challenge ‖ key).
pub fn msnp8(challenge: &str, product: ProductKey) -> String {
    let mut md5 = Md5::new();
    md5.update(challenge.as_bytes());
    md5.update(product.key.as_bytes());
    hex(&md5.finalize())
}

/// MSNP11+: the keyed hash of msnp.md §3.4, XORed with the unmasked digest words.
pub fn msnp11(challenge: &str, product: ProductKey) -> String {
    const P: u64 = 0x7FFF_FFFF;
    let mut md5 = Md5::new();
    md5.update(challenge.as_bytes());
    md5.update(product.key.as_bytes());
    let digest = md5.finalize();
    let word = |b: &[u8]| u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
    let h: [u32; 4] = std::array::from_fn(|i| word(&digest[4 * i..4 * i + 4]));
    let k: [u64; 4] = h.map(|x| u64::from(x & 0x7FFF_FFFF));

    let mut s = [challenge.as_bytes(), product.id.as_bytes()].concat();
    while s.len() % 8 != 0 {
        s.push(b'0');
    }
    let w: Vec<u64> = s.chunks_exact(4).map(|c| u64::from(word(c))).collect();

    let (mut high, mut low) = (0u64, 0u64);
    for pair in w.chunks_exact(2) {
        let t = (pair[0] * 0x0E79_A9C1) % P;
        let t = (k[0] * (t + high) + k[1]) % P;
        high = (k[2] * ((pair[1] + t) % P) + k[3]) % P;
        low += high + t;
    }
    high = (high + k[1]) % P;
    low = (low + k[3]) % P;
    // Both are below 2^31 after the modulo.
    let (high, low) = (high as u32, low as u32);
    let out: Vec<u8> = [h[0] ^ high, h[1] ^ low, h[2] ^ high, h[3] ^ low]
        .iter()
        .flat_map(|x| x.to_le_bytes())
        .collect();
    hex(&out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn msnp8_matches_the_published_example() {
        assert_eq!(
            msnp8("15570131571988941333", MSNP8_KEY),
            "8f2f5a91b72102cd28355e9fc9000d6e"
        );
    }

    /// The three vectors of the NINA MSNP15 page (product PROD0113H11T8$X_).
    #[test]
    fn msnp11_matches_the_published_vectors() {
        let nina = ProductKey {
            id: "PROD0113H11T8$X_",
            key: "RG@XY*28Q5QHS%Q5",
        };
        for (challenge, expected) in [
            ("11533365622852247127", "f086d1ded067186deca8dba2231602cf"),
            ("13038318816579321232", "3b25f5aab8143dd9a47971541666ae0e"),
            ("13676118092332012962", "e9ccbb3e90fabb047bad055f1d025cde"),
        ] {
            assert_eq!(msnp11(challenge, nina), expected, "challenge {challenge}");
        }
    }

    #[test]
    fn the_pair_follows_the_dialect() {
        assert_eq!(answer(8, "1").0, MSNP8_KEY);
        assert_eq!(answer(10, "1").0, MSNP8_KEY);
        assert_eq!(answer(11, "1").0, MSNP11_KEY);
        assert_eq!(answer(12, "1").1.len(), 32);
    }

    #[test]
    fn odd_challenges_do_not_panic() {
        for c in ["", "x", "ééé", "12345678901234567890123456789"] {
            assert_eq!(msnp11(c, MSNP11_KEY).len(), 32);
        }
    }
}
