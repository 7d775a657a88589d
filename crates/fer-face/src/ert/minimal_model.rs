//! A minimal valid dlib shape-predictor file, written byte by byte in dlib's serialisation:
//! for the tests of the `.dat` reader and as the seed of its fuzzing (`cargo xtask fuzz`), so
//! that neither needs the 99 MB model. Not part of the paper.

/// dlib's integer encoding: control byte (size | 0x80 when negative), magnitude bytes LE.
pub fn dlib_int(out: &mut Vec<u8>, v: i64) {
    let mut magnitude = v.unsigned_abs();
    let mut bytes = Vec::new();
    loop {
        bytes.push((magnitude & 0xff) as u8);
        magnitude >>= 8;
        if magnitude == 0 {
            break;
        }
    }
    out.push(bytes.len() as u8 | if v < 0 { 0x80 } else { 0 });
    out.extend(bytes);
}

/// A float as mantissa * 2^exponent.
pub fn dlib_float(out: &mut Vec<u8>, mantissa: i64, exponent: i64) {
    dlib_int(out, mantissa);
    dlib_int(out, exponent);
}

/// A two-part model: one level with one depth-1 tree comparing the pixels under the two
/// parts; left (first pixel brighter) moves part 0 right by 1/8 of the box, right moves
/// part 1 down by 1/8.
pub fn minimal_model() -> Vec<u8> {
    let mut b = Vec::new();
    dlib_int(&mut b, 1); // version
    dlib_int(&mut b, -4); // initial shape: 4 x 1, new format
    dlib_int(&mut b, -1);
    for (m, e) in [(1, -2), (1, -2), (3, -2), (3, -2)] {
        dlib_float(&mut b, m, e); // (0.25, 0.25), (0.75, 0.75)
    }
    dlib_int(&mut b, 1); // one level
    dlib_int(&mut b, 1); // one tree
    dlib_int(&mut b, 1); // one split: pixel 0 - pixel 1 > 0
    dlib_int(&mut b, 0);
    dlib_int(&mut b, 1);
    dlib_float(&mut b, 0, 0);
    dlib_int(&mut b, 2); // two leaves of 4 values
    for leaf in [
        [(1, -3), (0, 0), (0, 0), (0, 0)],
        [(0, 0), (0, 0), (0, 0), (1, -3)],
    ] {
        dlib_int(&mut b, -4);
        dlib_int(&mut b, -1);
        for (m, e) in leaf {
            dlib_float(&mut b, m, e);
        }
    }
    dlib_int(&mut b, 1); // anchors: one level, pixels anchored at parts 0 and 1
    dlib_int(&mut b, 2);
    dlib_int(&mut b, 0);
    dlib_int(&mut b, 1);
    dlib_int(&mut b, 1); // deltas: one level, both pixels on their anchors
    dlib_int(&mut b, 2);
    for _ in 0..4 {
        dlib_float(&mut b, 0, 0);
    }
    b
}
