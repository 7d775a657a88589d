//! A check of a pickle's declared lengths before candle's reader sees it. candle's pickle
//! reader allocates what a string or bytes opcode declares before reading it, so a corrupt or
//! hostile 6 KB `.pt` file that declares a 2 GB string made the process abort (found by
//! `cargo xtask fuzz`, in the legacy format and then in the zip format's data.pkl). Walking
//! the opcodes once and refusing any length beyond the bytes left makes every such file a
//! clear error. Not part of the paper: MTCNN's weights (section 4.3's face pipeline) and the
//! reference implementation's checkpoints come in these formats.

/// Walks one pickle from the start of `data` to its STOP opcode, checking that every
/// length-prefixed argument fits in the bytes that follow. Returns the pickle's length.
pub fn check_pickle_lengths(data: &[u8]) -> Result<usize, String> {
    let mut at = 0usize;
    let fixed = |n: usize| -> Option<usize> { Some(n) };
    loop {
        let Some(&op) = data.get(at) else {
            return Err(format!(
                "the pickle ends at byte {at} without a STOP opcode"
            ));
        };
        let arg_start = at + 1;
        let uint = |size: usize| -> Result<usize, String> {
            let bytes = data
                .get(arg_start..arg_start + size)
                .ok_or_else(|| format!("the pickle ends inside opcode 0x{op:02x} at byte {at}"))?;
            let mut v = [0u8; 8];
            v[..size].copy_from_slice(bytes);
            usize::try_from(u64::from_le_bytes(v)).map_err(|_| {
                format!("opcode 0x{op:02x} at byte {at} declares an impossible length")
            })
        };
        // (size of the length field, or None for a fixed-size or line argument)
        let (length_field, fixed_size): (Option<usize>, Option<usize>) = match op {
            b'.' => return Ok(at + 1),
            // Length-prefixed strings and bytes.
            b'U' | b'C' | 0x8c | 0x8a => (Some(1), None),
            b'T' | b'X' | b'B' | 0x8b => (Some(4), None),
            0x8d | 0x8e | 0x96 => (Some(8), None),
            // Fixed-size arguments.
            b'K' | b'h' | b'q' | 0x80 | 0x82 => (None, fixed(1)),
            b'M' | 0x83 => (None, fixed(2)),
            b'J' | b'j' | b'r' | 0x84 => (None, fixed(4)),
            b'G' | 0x95 => (None, fixed(8)),
            // Arguments ending at a newline (two lines for GLOBAL and INST).
            b'I' | b'L' | b'F' | b'S' | b'V' | b'P' | b'g' | b'p' | b'c' | b'i' => {
                let lines = if op == b'c' || op == b'i' { 2 } else { 1 };
                let mut end = arg_start;
                for _ in 0..lines {
                    let nl = data
                        .get(end..)
                        .and_then(|rest| rest.iter().position(|&b| b == b'\n'))
                        .ok_or_else(|| {
                            format!("the pickle ends inside opcode 0x{op:02x} at byte {at}")
                        })?;
                    end += nl + 1;
                }
                at = end;
                continue;
            }
            // No argument.
            b'(' | b'0' | b'1' | b'2' | b'N' | b')' | b']' | b'}' | b'a' | b'e' | b'l' | b't'
            | b'd' | b's' | b'u' | b'b' | b'R' | b'o' | b'Q' | 0x81 | 0x85 | 0x86 | 0x87 | 0x88
            | 0x89 | 0x8f | 0x90 | 0x91 | 0x92 | 0x93 | 0x94 | 0x97 | 0x98 => (None, fixed(0)),
            other => return Err(format!("unknown pickle opcode 0x{other:02x} at byte {at}")),
        };
        at = match (length_field, fixed_size) {
            (Some(size), _) => {
                let len = uint(size)?;
                // LONG1 / LONG4: candle's reader shifts each byte into a 64-bit integer, so
                // more than 8 bytes would shift past it.
                if matches!(op, 0x8a | 0x8b) && len > 8 {
                    return Err(format!(
                        "opcode 0x{op:02x} at byte {at} declares a {len}-byte integer; at most 8 are read"
                    ));
                }
                let end = (arg_start + size)
                    .checked_add(len)
                    .filter(|&end| end <= data.len())
                    .ok_or_else(|| {
                        format!(
                            "opcode 0x{op:02x} at byte {at} declares {len} bytes, more than the {} left",
                            data.len().saturating_sub(arg_start + size)
                        )
                    })?;
                end
            }
            (None, Some(size)) => {
                if arg_start + size > data.len() {
                    return Err(format!(
                        "the pickle ends inside opcode 0x{op:02x} at byte {at}"
                    ));
                }
                arg_start + size
            }
            (None, None) => unreachable!("every opcode arm sets one of the two"),
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_well_formed_pickle_passes_and_overlong_lengths_fail() {
        // PROTO 2, BINUNICODE "abc", SHORT_BINBYTES b"xy", BININT1 7, TUPLE3, STOP, then more.
        let mut p = vec![
            0x80, 2, b'X', 3, 0, 0, 0, b'a', b'b', b'c', b'C', 2, b'x', b'y',
        ];
        p.extend([b'K', 7, 0x87, b'.', 0xAA]);
        assert_eq!(check_pickle_lengths(&p), Ok(p.len() - 1));
        // The string declares 2 GB.
        let mut bad = p.clone();
        bad[3..7].copy_from_slice(&0x7700_0000u32.to_le_bytes());
        let e = check_pickle_lengths(&bad).unwrap_err();
        assert!(e.contains("declares 1996488704 bytes"), "{e}");
        // Truncated inside an argument, no STOP, unknown opcode.
        assert!(check_pickle_lengths(&p[..5]).unwrap_err().contains("ends"));
        assert!(check_pickle_lengths(&p[..14])
            .unwrap_err()
            .contains("without a STOP"));
        assert!(check_pickle_lengths(&[0xff, b'.'])
            .unwrap_err()
            .contains("unknown"));
        // A GLOBAL's two lines.
        assert_eq!(check_pickle_lengths(b"ctorch\nFloatStorage\n."), Ok(21));
        // LONG1 of 8 bytes (2^63 - 1, as pickle writes it) passes; of 9 bytes it is refused.
        let mut long = vec![
            0x8a, 8, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, b'.',
        ];
        assert_eq!(check_pickle_lengths(&long), Ok(11));
        long[1] = 9;
        long.insert(2, 0);
        let e = check_pickle_lengths(&long).unwrap_err();
        assert!(e.contains("9-byte integer"), "{e}");
    }
}
