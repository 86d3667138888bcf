//! Deterministic ids and randomness: every sid, credential and random choice the simulator
//! makes is a function of the seed and a sequence number, so a run under one seed repeats.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// SplitMix64's finalizer: a bijection on u64 that scatters bits well.
pub fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// 32 hex digits from the seed and a stream number. Distinct `n` give distinct values for one
/// seed (the first half is a bijection of `n`).
pub fn hex128(seed: u64, n: u64) -> String {
    let hi = mix(n ^ mix(seed));
    let lo = mix(hi ^ seed.rotate_left(17));
    format!("{hi:016x}{lo:016x}")
}

/// Message sids: `SM` + 32 hex, unique per sequence number under one seed.
pub fn message_sid(seed: u64, seq: u64) -> String {
    format!("SM{}", hex128(seed ^ 0x5350_4D53, seq))
}

/// A random generator for one decision stream (`salt`) about one item (`n`).
pub fn rng(seed: u64, salt: u64, n: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(mix(mix(seed ^ salt) ^ n))
}

/// Whether `s` is `prefix` followed by 32 lowercase or uppercase hex digits.
pub fn is_sid(s: &str, prefix: &str) -> bool {
    s.len() == 34 && s.starts_with(prefix) && s[2..].bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sids_are_shaped_unique_and_repeatable() {
        let a = message_sid(7, 1);
        assert!(is_sid(&a, "SM"));
        assert_eq!(a, message_sid(7, 1));
        assert_ne!(a, message_sid(7, 2));
        assert_ne!(a, message_sid(8, 1));
        let all: std::collections::HashSet<_> = (0..10_000).map(|n| message_sid(3, n)).collect();
        assert_eq!(all.len(), 10_000);
    }
}
