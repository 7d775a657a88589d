//! The mutations of `cargo xtask fuzz`: byte-level ones (bit flips, boundary bytes, inserted,
//! deleted, duplicated and spliced ranges, truncation) and format-aware ones (a number replaced
//! by a hostile one, a separator or keyword inserted), one to four per input, seeded.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Inputs never grow beyond this (the parsers' own limits are tested, not the fuzzer's memory).
const MAX_INPUT: usize = 1 << 20;

/// Numbers that break naive parsers: non-finite, huge, negative, off-by-one, overflowing.
const HOSTILE_NUMBERS: [&str; 16] = [
    "NaN",
    "nan",
    "inf",
    "-inf",
    "1e39",
    "-1",
    "0",
    "-0",
    "1e308",
    "4294967296",
    "18446744073709551616",
    "9223372036854775807",
    "2147483648",
    "65536",
    "0.5",
    "",
];

/// Tokens of the text formats (CSV, YAML): separators and structure.
const TOKENS: [&str; 14] = [
    ",", "\n", "\r\n", ":", ": ", "- ", "{", "}", "[", "]", "\"", "'", "\0", "\u{feff}",
];

/// Byte values at type boundaries.
const BOUNDARY_BYTES: [u8; 8] = [0x00, 0x01, 0x7f, 0x80, 0xfe, 0xff, 0x20, 0x0a];

pub struct InputMutator {
    rng: ChaCha8Rng,
}

impl InputMutator {
    pub fn new(seed: u64) -> Self {
        Self {
            rng: ChaCha8Rng::seed_from_u64(seed),
        }
    }

    /// An index in 0..n (n > 0).
    pub fn below(&mut self, n: usize) -> usize {
        self.rng.gen_range(0..n.max(1))
    }

    /// A mutated copy of `input`; `other` is another corpus entry to splice from.
    pub fn mutate(&mut self, input: &[u8], other: &[u8]) -> Vec<u8> {
        let mut out = input.to_vec();
        for _ in 0..1 + self.below(4) {
            self.mutate_once(&mut out, other);
        }
        out.truncate(MAX_INPUT);
        out
    }

    fn range(&mut self, len: usize) -> (usize, usize) {
        let start = self.below(len + 1);
        let end = (start + 1 + self.below(64)).min(len);
        (start, end.max(start))
    }

    fn mutate_once(&mut self, out: &mut Vec<u8>, other: &[u8]) {
        let len = out.len();
        match self.below(10) {
            0 if len > 0 => {
                let i = self.below(len);
                out[i] ^= 1 << self.below(8);
            }
            1 if len > 0 => {
                let i = self.below(len);
                out[i] = BOUNDARY_BYTES[self.below(BOUNDARY_BYTES.len())];
            }
            2 => {
                let at = self.below(len + 1);
                let n = 1 + self.below(8);
                let bytes: Vec<u8> = (0..n).map(|_| self.rng.gen::<u8>()).collect();
                out.splice(at..at, bytes);
            }
            3 if len > 0 => {
                let (a, b) = self.range(len);
                out.drain(a..b);
            }
            4 if len > 0 => {
                let (a, b) = self.range(len);
                let copy = out[a..b].to_vec();
                let at = self.below(len + 1);
                out.splice(at..at, copy);
            }
            5 if !other.is_empty() => {
                let (a, b) = self.range(other.len());
                let at = self.below(len + 1);
                out.splice(at..at, other[a..b].iter().copied());
            }
            6 => self.replace_number(out),
            7 => {
                let at = self.below(len + 1);
                let token = TOKENS[self.below(TOKENS.len())];
                out.splice(at..at, token.bytes());
            }
            8 if len > 0 => {
                let keep = self.below(len);
                out.truncate(keep);
            }
            _ => self.replace_number(out),
        }
    }

    /// Replaces one run of digits (with its sign, point and exponent) by a hostile number.
    fn replace_number(&mut self, out: &mut Vec<u8>) {
        let starts: Vec<usize> = (0..out.len())
            .filter(|&i| out[i].is_ascii_digit() && (i == 0 || !out[i - 1].is_ascii_digit()))
            .collect();
        if starts.is_empty() {
            return;
        }
        let mut a = starts[self.below(starts.len())];
        if a > 0 && out[a - 1] == b'-' {
            a -= 1;
        }
        let mut b = a + 1;
        while b < out.len() && (out[b].is_ascii_digit() || b".eE+-".contains(&out[b])) {
            b += 1;
        }
        let number = HOSTILE_NUMBERS[self.below(HOSTILE_NUMBERS.len())];
        out.splice(a..b, number.bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mutations_are_seeded_bounded_and_varied() {
        let seed = b"image,x_0,y_0\na.png,12.5,-3\n";
        let run = |s| {
            let mut m = InputMutator::new(s);
            (0..200)
                .map(|_| m.mutate(seed, b"other,1,2"))
                .collect::<Vec<_>>()
        };
        let a = run(1);
        assert_eq!(a, run(1), "same seed, same inputs");
        assert_ne!(a, run(2));
        let distinct: std::collections::HashSet<&Vec<u8>> = a.iter().collect();
        assert!(distinct.len() > 150, "{}", distinct.len());
        assert!(a
            .iter()
            .any(|x| x.windows(3).any(|w| w == b"NaN" || w == b"inf")));
        assert!(a.iter().all(|x| x.len() <= MAX_INPUT));
    }
}
