//! Ids of the providers' objects: a prefix and random characters (`pa_x7k2m9q4`,
//! `msg_2fy6I9KODnHzw7Zf0ZGmMs8gEN9`), or sequential digits with
//! [`SimConfig::deterministic_ids`](crate::SimConfig::deterministic_ids), and webhook secrets.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use sha2::{Digest, Sha256};

use super::Shared;

const BASE36: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
const BASE62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// The counter of a sequential engine id (`…-000000000042` → 42).
fn counter(s: &Shared) -> u64 {
    let id = s.engine.next_id();
    id.rsplit('-').next().and_then(|n| n.parse().ok()).unwrap_or(0)
}

fn random_digits(alphabet: &[u8], len: usize) -> String {
    let base = alphabet.len() as u128;
    let mut out = String::with_capacity(len);
    while out.len() < len {
        let mut x = uuid::Uuid::new_v4().as_u128();
        for _ in 0..12 {
            if out.len() == len {
                break;
            }
            let digit = usize::try_from(x % base).unwrap_or(0);
            out.push(char::from(alphabet.get(digit).copied().unwrap_or(b'0')));
            x /= base;
        }
    }
    out
}

fn make_id(s: &Shared, prefix: &str, len: usize, alphabet: &[u8]) -> String {
    if s.config.deterministic_ids {
        format!("{prefix}{:0len$}", counter(s))
    } else {
        format!("{prefix}{}", random_digits(alphabet, len))
    }
}

/// `pa_x7k2m9q4`-style ids: the prefix and `len` lower-case letters and digits (sequential
/// digits with `deterministic_ids`).
pub(crate) fn new_id(s: &Shared, prefix: &str, len: usize) -> String {
    make_id(s, prefix, len, BASE36)
}

/// Svix-style ids (`ep_2fy6I9KODnHzw7Zf0ZGmMs8gEN9`, `msg_…`): 27 mixed-case characters.
pub(crate) fn new_svix_id(s: &Shared, prefix: &str) -> String {
    make_id(s, prefix, 27, BASE62)
}

/// A fresh `whsec_<base64 of 24 bytes>` (derived from a counter with `deterministic_ids`).
pub(crate) fn new_secret(s: &Shared) -> String {
    let bytes: Vec<u8> = if s.config.deterministic_ids {
        Sha256::digest(format!("paycycle-sim webhook secret {}", counter(s)).as_bytes())
            .iter()
            .take(24)
            .copied()
            .collect()
    } else {
        let mut b = uuid::Uuid::new_v4().as_bytes().to_vec();
        b.extend_from_slice(uuid::Uuid::new_v4().as_bytes());
        b.truncate(24);
        b
    };
    format!("whsec_{}", BASE64.encode(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_ids_have_the_length_and_alphabet() {
        let id = random_digits(BASE36, 8);
        assert_eq!(id.len(), 8);
        assert!(id.bytes().all(|b| BASE36.contains(&b)));
        assert_eq!(random_digits(BASE62, 27).len(), 27);
    }
}
