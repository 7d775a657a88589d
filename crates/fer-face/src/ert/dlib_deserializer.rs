//! A reader for dlib's binary serialisation format (dlib/serialize.h, float_details.h,
//! matrix.h, geometry/vector.h): the primitives from which a shape predictor `.dat` file is
//! built. Every error names the file and the byte offset where decoding stopped.
//!
//! The encodings, as dlib writes them:
//! - integers: one control byte, then `size` little-endian magnitude bytes. The low 4 bits of
//!   the control byte are `size` (1..=8); bit 0x80 is the sign for signed types (the magnitude
//!   is negated). Bits 0x70 are always zero, which is how floats tell the new binary format from
//!   the old ASCII one.
//! - floating point (float and double alike): a `float_details`, i.e. an int64 mantissa
//!   followed by an int16 exponent, both as integers above; the value is
//!   `mantissa * 2^exponent`, with exponents 32000/32001/32002 meaning +inf/-inf/NaN.
//! - `std::vector<T>`: the length as `unsigned long`, then the elements.
//! - `matrix<T,NR,NC>`: rows and columns as `long` (both negated by dlib 19.x and later,
//!   which marks the newer format), then the elements row by row.
//! - `dlib::vector<T,2>`: x then y.

use crate::{FaceError, Result};
use std::path::{Path, PathBuf};

/// `float_details` exponents that stand for the non-finite values.
const EXPONENT_POS_INF: i64 = 32000;
const EXPONENT_NEG_INF: i64 = 32001;
const EXPONENT_NAN: i64 = 32002;

/// A cursor over the bytes of one dlib-serialised file.
pub struct DlibDeserializer<'a> {
    bytes: &'a [u8],
    offset: usize,
    path: PathBuf,
}

impl<'a> DlibDeserializer<'a> {
    /// `path` is only used to name the file in errors.
    pub fn new(bytes: &'a [u8], path: &Path) -> Self {
        Self {
            bytes,
            offset: 0,
            path: path.to_path_buf(),
        }
    }

    /// Bytes consumed so far.
    pub fn offset(&self) -> usize {
        self.offset
    }

    /// Bytes not yet consumed.
    pub fn remaining(&self) -> usize {
        self.bytes.len() - self.offset
    }

    /// A format error at the given byte offset of this file.
    pub fn error_at(&self, offset: usize, message: impl Into<String>) -> FaceError {
        FaceError::ModelFormat {
            path: self.path.clone(),
            offset: offset as u64,
            message: message.into(),
        }
    }

    fn next_byte(&mut self, what: &str) -> Result<u8> {
        match self.bytes.get(self.offset) {
            Some(&b) => {
                self.offset += 1;
                Ok(b)
            }
            None => Err(self.error_at(
                self.offset,
                format!("file ends while reading {what} (truncated file?)"),
            )),
        }
    }

    /// The control byte and magnitude of one integer; `max_bytes` is the size of the C++ type.
    /// Returns (magnitude, negative flag, offset of the control byte).
    fn read_int_parts(&mut self, max_bytes: usize, what: &str) -> Result<(u64, bool, usize)> {
        let start = self.offset;
        let control = self.next_byte(what)?;
        let negative = control & 0x80 != 0;
        let size = usize::from(control & 0x0F);
        // Bits 0x70 are reserved and always written as zero: anything else is not dlib data.
        if control & 0x70 != 0 || size == 0 || size > max_bytes {
            return Err(self.error_at(
                start,
                format!("invalid integer control byte 0x{control:02x} while reading {what}"),
            ));
        }
        let Some(payload) = self.bytes.get(self.offset..self.offset + size) else {
            return Err(self.error_at(
                start,
                format!("file ends inside an integer while reading {what} (truncated file?)"),
            ));
        };
        // Little-endian: the first byte after the control byte is the least significant.
        let magnitude = payload
            .iter()
            .rev()
            .fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
        self.offset += size;
        Ok((magnitude, negative, start))
    }

    /// A signed integer of a C++ type `max_bytes` wide (`int`: 4, `long`/`int64`: 8, `int16`: 2).
    pub fn read_signed(&mut self, max_bytes: usize, what: &str) -> Result<i64> {
        let (magnitude, negative, start) = self.read_int_parts(max_bytes, what)?;
        let limit = if negative {
            1u64 << (8 * max_bytes - 1)
        } else {
            (1u64 << (8 * max_bytes - 1)) - 1
        };
        if magnitude > limit {
            return Err(self.error_at(start, format!("integer out of range while reading {what}")));
        }
        // magnitude <= 2^63, so the negation below cannot overflow i128.
        let value = if negative {
            -(i128::from(magnitude))
        } else {
            i128::from(magnitude)
        };
        i64::try_from(value)
            .map_err(|_| self.error_at(start, format!("integer out of range while reading {what}")))
    }

    /// An `unsigned long` (8 bytes on the 64-bit Linux builds that write these files). dlib's
    /// unsigned reader keeps the sign bit in the size, so a set sign bit is an error there too.
    pub fn read_unsigned(&mut self, what: &str) -> Result<u64> {
        let (magnitude, negative, start) = self.read_int_parts(8, what)?;
        if negative {
            return Err(self.error_at(
                start,
                format!("negative value where an unsigned integer was expected ({what})"),
            ));
        }
        Ok(magnitude)
    }

    /// A C++ `int`.
    pub fn read_int(&mut self, what: &str) -> Result<i32> {
        let v = self.read_signed(4, what)?;
        // read_signed(4, ..) keeps the value within i32.
        i32::try_from(v).map_err(|_| self.error_at(self.offset, "integer out of range"))
    }

    /// A C++ `long` (8 bytes).
    pub fn read_long(&mut self, what: &str) -> Result<i64> {
        self.read_signed(8, what)
    }

    /// A length or index (`unsigned long`) that must fit in memory.
    pub fn read_usize(&mut self, what: &str) -> Result<usize> {
        let start = self.offset;
        let v = self.read_unsigned(what)?;
        usize::try_from(v).map_err(|_| self.error_at(start, format!("{what} too large: {v}")))
    }

    /// The (mantissa, exponent) pair of a `float_details`, checking the binary-format marker.
    fn read_float_details(&mut self, what: &str) -> Result<(i64, i64, usize)> {
        let start = self.offset;
        match self.bytes.get(self.offset) {
            Some(b) if b & 0x70 != 0 => {
                return Err(self.error_at(
                    start,
                    format!(
                        "{what}: dlib's old ASCII float format (byte 0x{b:02x}) is not supported"
                    ),
                ))
            }
            _ => {}
        }
        let mantissa = self.read_signed(8, what)?;
        let exponent = self.read_signed(2, what)?;
        Ok((mantissa, exponent, start))
    }

    /// A `float`: dlib converts the mantissa to float and then scales by 2^exponent (ldexp in
    /// float), so the value is rounded once, at the int64 -> float conversion.
    pub fn read_f32(&mut self, what: &str) -> Result<f32> {
        let (mantissa, exponent, _) = self.read_float_details(what)?;
        Ok(match exponent {
            EXPONENT_POS_INF => f32::INFINITY,
            EXPONENT_NEG_INF => f32::NEG_INFINITY,
            e if e >= EXPONENT_NAN => f32::NAN,
            // Scaling an f32 by a power of two in f64 is exact, and the final rounding to f32
            // is the same single rounding ldexpf performs (overflow -> inf, underflow -> subnormal).
            e => ldexp_f64(f64::from(mantissa as f32), e) as f32,
        })
    }

    /// A `double`, as `ldexp((double)mantissa, exponent)`.
    pub fn read_f64(&mut self, what: &str) -> Result<f64> {
        let (mantissa, exponent, _) = self.read_float_details(what)?;
        Ok(match exponent {
            EXPONENT_POS_INF => f64::INFINITY,
            EXPONENT_NEG_INF => f64::NEG_INFINITY,
            e if e >= EXPONENT_NAN => f64::NAN,
            e => ldexp_f64(mantissa as f64, e),
        })
    }

    /// A `matrix<float,0,1>` (column vector); any stored shape with one column is accepted.
    pub fn read_column_f32(&mut self, what: &str) -> Result<Vec<f32>> {
        let start = self.offset;
        let mut rows = self.read_long(what)?;
        let mut cols = self.read_long(what)?;
        // Newer dlib writes both dimensions negated to mark its format; the values are the same.
        if rows < 0 || cols < 0 {
            // Saturating: i64::MIN from a hostile file becomes a size the checks below refuse.
            rows = rows.saturating_neg();
            cols = cols.saturating_neg();
        }
        if cols != 1 || rows < 0 {
            return Err(self.error_at(
                start,
                format!("{what}: expected a column vector, found a {rows}x{cols} matrix"),
            ));
        }
        let len = self.checked_len(rows as u64, 2, start, what)?;
        (0..len).map(|_| self.read_f32(what)).collect()
    }

    /// The length of a `std::vector`, checked against the bytes left so that a corrupt length
    /// cannot make us reserve gigabytes: every element takes at least `min_element_bytes`.
    pub fn read_vec_len(&mut self, min_element_bytes: usize, what: &str) -> Result<usize> {
        let start = self.offset;
        let len = self.read_unsigned(what)?;
        self.checked_len(len, min_element_bytes, start, what)
    }

    fn checked_len(
        &self,
        len: u64,
        min_element_bytes: usize,
        start: usize,
        what: &str,
    ) -> Result<usize> {
        let fits = usize::try_from(len)
            .ok()
            .filter(|&n| n.saturating_mul(min_element_bytes) <= self.remaining());
        fits.ok_or_else(|| {
            self.error_at(
                start,
                format!(
                    "{what}: length {len} exceeds the {} bytes left (truncated or corrupt file?)",
                    self.remaining()
                ),
            )
        })
    }
}

/// `m * 2^e` in f64, exact whenever the result is a normal f64 (two steps so that a large |e|
/// does not overflow the power of two itself).
fn ldexp_f64(m: f64, e: i64) -> f64 {
    let e = e.clamp(-2200, 2200) as i32;
    let half = e / 2;
    m * 2f64.powi(half) * 2f64.powi(e - half)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reader(bytes: &[u8]) -> DlibDeserializer<'_> {
        DlibDeserializer::new(bytes, Path::new("test.dat"))
    }

    #[test]
    fn integers_are_a_control_byte_then_little_endian_magnitude() -> Result<()> {
        // 1: one byte; 300 = 0x012c: two bytes, low first; -136: sign bit 0x80 with size 1.
        let bytes = [
            0x01, 0x01, 0x02, 0x2c, 0x01, 0x81, 0x88, 0x03, 0x01, 0x00, 0x01,
        ];
        let mut r = reader(&bytes);
        assert_eq!(r.read_int("a")?, 1);
        assert_eq!(r.read_unsigned("b")?, 300);
        assert_eq!(r.read_long("c")?, -136);
        assert_eq!(r.read_usize("d")?, 0x01_00_01);
        assert_eq!(r.remaining(), 0);
        Ok(())
    }

    #[test]
    fn floats_are_mantissa_then_exponent() -> Result<()> {
        // 0.75 = 3 * 2^-2; dlib itself writes it as 0xc0 * 2^-8 (frexp gives 0.75 * 2^0, the
        // mantissa is scaled by 2^24 for a float and its two zero low bytes are shifted off);
        // -1.5 = -3 * 2^-1; the start of the 68-point model's initial shape: mantissa
        // 0xf1384d (3 bytes), exponent -29.
        let bytes = [
            0x01, 0x03, 0x81, 0x02, // 0.75
            0x01, 0xc0, 0x81, 0x08, // 0.75 as dlib writes it
            0x81, 0x03, 0x81, 0x01, // -1.5
            0x03, 0x4d, 0x38, 0xf1, 0x81, 0x1d, // 0xf1384d * 2^-29
            0x01, 0x00, 0x02, 0x00, 0x7d, // exponent 32000: +inf
        ];
        let mut r = reader(&bytes);
        assert_eq!(r.read_f32("a")?, 0.75);
        assert_eq!(r.read_f32("a2")?, 0.75);
        assert_eq!(r.read_f64("b")?, -1.5);
        assert_eq!(r.read_f32("c")?, 0xf1384d as f32 / (1u64 << 29) as f32);
        assert_eq!(r.read_f32("d")?, f32::INFINITY);
        Ok(())
    }

    #[test]
    fn matrices_accept_both_dimension_signs() -> Result<()> {
        // New format: rows -2, cols -1; old format: rows 1, cols 1.
        let bytes = [
            0x81, 0x02, 0x81, 0x01, // 2 x 1, new format
            0x01, 0x01, 0x01, 0x00, // 1 * 2^0
            0x01, 0x02, 0x01, 0x00, // 2 * 2^0
            0x01, 0x01, 0x01, 0x01, // 1 x 1, old format
            0x01, 0x03, 0x01, 0x00, // 3 * 2^0
        ];
        let mut r = reader(&bytes);
        assert_eq!(r.read_column_f32("m")?, vec![1.0, 2.0]);
        assert_eq!(r.read_column_f32("n")?, vec![3.0]);
        Ok(())
    }

    #[test]
    fn truncation_and_bad_control_bytes_name_the_offset() {
        let mut r = reader(&[0x02, 0x2c]);
        let err = r
            .read_unsigned("a length")
            .map(|_| ())
            .unwrap_err()
            .to_string();
        assert!(err.contains("test.dat: byte 0:"), "{err}");
        let mut r = reader(&[0x01, 0x05, 0x35]);
        r.read_int("first").ok();
        let err = r.read_int("second").map(|_| ()).unwrap_err().to_string();
        assert!(err.contains("byte 2") && err.contains("0x35"), "{err}");
        // A vector claiming more elements than there are bytes left.
        let mut r = reader(&[0x02, 0xff, 0xff, 0x00]);
        assert!(r.read_vec_len(1, "v").is_err());
    }
}
