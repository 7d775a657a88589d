//! The largest tensor a process may allocate, checked before the allocation.
//!
//! Why: a model's fully connected layers and activation maps grow with the square of the
//! input size, so a large `--size` once asked the allocator for hundreds of gigabytes and the
//! process aborted with a backtrace. Parameters, input batches and our kernels' large buffers
//! call [`check_tensor`] first, which refuses with an error naming the tensor, its size and
//! how to raise the limit. Not a framework feature of the paper; it protects shared machines.
//!
//! The limit is process-wide: `FER_MAX_TENSOR_MEMORY` (e.g. `8GiB`, `512MB`, `1000000`
//! bytes), which `--max-tensor-memory` sets for the process and the workers it starts, else
//! [`DEFAULT_MAX_TENSOR_BYTES`].

use std::sync::atomic::{AtomicU64, Ordering};

/// The environment variable that holds the limit.
pub const MAX_TENSOR_MEMORY_VAR: &str = "FER_MAX_TENSOR_MEMORY";

/// 4 GiB: about three times the largest tensor of any paper setting (all 35,887 FER2013
/// images at 100 px as one f32 tensor is 1.4 GB; base-dcnn-fer's largest weight at 100 px,
/// 0.3 GB).
pub const DEFAULT_MAX_TENSOR_BYTES: u64 = 4 << 30;

/// 0 until the limit is first read or set.
static LIMIT: AtomicU64 = AtomicU64::new(0);

/// Parses a byte count: a number with an optional unit (B, KB, MB, GB, TB powers of 1000;
/// KiB, MiB, GiB, TiB powers of 1024), case-insensitive.
pub fn parse_bytes(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (number, unit) = (&t[..split], t[split..].trim());
    let value: f64 = number
        .parse()
        .map_err(|_| format!("'{text}' is not a byte count (e.g. 8GiB, 512MB)"))?;
    let scale: f64 = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "kb" => 1e3,
        "mb" => 1e6,
        "gb" => 1e9,
        "tb" => 1e12,
        "kib" => 1024.0,
        "mib" => 1024.0 * 1024.0,
        "gib" => 1024.0 * 1024.0 * 1024.0,
        "tib" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        _ => {
            return Err(format!(
                "'{text}': unknown unit '{unit}' (B, KB, MB, GB, TB, KiB, MiB, GiB, TiB)"
            ))
        }
    };
    let bytes = value * scale;
    if !(1.0..=u64::MAX as f64).contains(&bytes) {
        return Err(format!("'{text}' is not a positive byte count"));
    }
    Ok(bytes as u64)
}

/// Sets the limit for this process.
pub fn set_max_tensor_bytes(bytes: u64) {
    LIMIT.store(bytes.max(1), Ordering::Relaxed);
}

/// The limit from `FER_MAX_TENSOR_MEMORY`, or the default; an unreadable value is an error
/// naming the variable (the command line checks it once at start, see xtask).
pub fn limit_from_env() -> Result<u64, String> {
    match std::env::var(MAX_TENSOR_MEMORY_VAR) {
        Ok(v) => parse_bytes(&v).map_err(|e| format!("{MAX_TENSOR_MEMORY_VAR}: {e}")),
        Err(std::env::VarError::NotPresent) => Ok(DEFAULT_MAX_TENSOR_BYTES),
        Err(std::env::VarError::NotUnicode(_)) => {
            Err(format!("{MAX_TENSOR_MEMORY_VAR} is not valid UTF-8"))
        }
    }
}

/// The limit in bytes.
pub fn max_tensor_bytes() -> u64 {
    match LIMIT.load(Ordering::Relaxed) {
        0 => {
            let l = limit_from_env().unwrap_or(DEFAULT_MAX_TENSOR_BYTES);
            LIMIT.store(l, Ordering::Relaxed);
            l
        }
        l => l,
    }
}

fn human(bytes: f64) -> String {
    if bytes >= (1u64 << 30) as f64 {
        format!("{:.1} GiB", bytes / (1u64 << 30) as f64)
    } else {
        format!("{:.1} MiB", bytes / (1u64 << 20) as f64)
    }
}

/// Refuses a tensor of `elements` elements of `bytes_per_element` bytes over the limit, before
/// it is allocated. `what` names it (a parameter, a batch, a kernel's buffer).
pub fn check_tensor(
    what: &str,
    elements: usize,
    bytes_per_element: usize,
) -> candle_core::Result<()> {
    match refusal(what, elements, bytes_per_element, max_tensor_bytes()) {
        Some(message) => Err(candle_core::Error::Msg(message)),
        None => Ok(()),
    }
}

/// The message refusing a tensor over `limit` bytes, or None when it fits.
fn refusal(what: &str, elements: usize, bytes_per_element: usize, limit: u64) -> Option<String> {
    let bytes = elements as f64 * bytes_per_element as f64;
    (bytes > limit as f64).then(|| {
        format!(
            "{what} needs a tensor of {elements} elements ({}), over the tensor memory limit of {}: a smaller --size or batch shrinks it, or raise the limit with --max-tensor-memory / {MAX_TENSOR_MEMORY_VAR}",
            human(bytes),
            human(limit as f64)
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units_and_refuses_nonsense() {
        assert_eq!(parse_bytes("4GiB"), Ok(4 << 30));
        assert_eq!(parse_bytes("512 MB"), Ok(512_000_000));
        assert_eq!(parse_bytes("1.5kib"), Ok(1536));
        assert_eq!(parse_bytes("1000"), Ok(1000));
        for bad in ["", "GiB", "-1GB", "4 parsecs", "0", "1e400"] {
            assert!(parse_bytes(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn refuses_over_the_limit_with_the_name_and_the_remedy() {
        // The process-wide limit is left alone: other tests run beside this one.
        assert_eq!(refusal("fc.weight", 1 << 18, 4, 1 << 20), None);
        let e = refusal("fc.weight", (1 << 18) + 1, 4, 1 << 20).unwrap();
        assert!(
            e.contains("fc.weight") && e.contains("1.0 MiB") && e.contains(MAX_TENSOR_MEMORY_VAR),
            "{e}"
        );
        assert!(check_tensor("small", 10, 4).is_ok());
    }
}
