//! Splitting one array of tasks into arrays Slurm accepts: every array task id must be below
//! the cluster's MaxArraySize (`scontrol show config`), so a sweep with more unfinished runs
//! than that becomes several arrays, each with ids from 0.

use std::ops::Range;

use crate::error::{bail, Result};

/// The runs `0..tasks` in consecutive chunks of at most `max_array_size` (each chunk becomes
/// one array whose task `k` runs entry `start + k`).
pub fn split_array(tasks: usize, max_array_size: usize) -> Result<Vec<Range<usize>>> {
    if max_array_size == 0 {
        bail!("job arrays are disabled on this cluster (MaxArraySize = 0 in `scontrol show config`): ask its administrators, or run with --executor local");
    }
    Ok((0..tasks)
        .step_by(max_array_size)
        .map(|start| start..(start + max_array_size).min(tasks))
        .collect())
}

/// The `--array` value for `tasks` tasks at most `parallelism` at a time (`0-N%P`).
pub fn array_range(tasks: usize, parallelism: Option<usize>) -> String {
    let last = tasks.saturating_sub(1);
    match parallelism {
        Some(p) if p > 0 => format!("0-{last}%{p}"),
        _ => format!("0-{last}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arrays_are_split_below_max_array_size() {
        // MaxArraySize = 3 allows ids 0, 1, 2: seven runs become 3 + 3 + 1.
        assert_eq!(split_array(7, 3).unwrap(), vec![0..3, 3..6, 6..7]);
        assert_eq!(split_array(3, 3).unwrap(), vec![0..3]);
        assert_eq!(split_array(4, 1001).unwrap(), vec![0..4]);
        assert_eq!(split_array(2, 1).unwrap(), vec![0..1, 1..2]);
        assert!(split_array(0, 3).unwrap().is_empty());
        let e = split_array(4, 0).unwrap_err().to_string();
        assert!(e.contains("MaxArraySize = 0"), "{e}");
        // Every chunk's largest task id is below the limit, and together they cover every run.
        for (n, max) in [(10, 3), (1001, 1000), (5, 7)] {
            let chunks = split_array(n, max).unwrap();
            assert!(chunks.iter().all(|c| c.len() <= max && !c.is_empty()));
            let covered: Vec<usize> = chunks.into_iter().flatten().collect();
            assert_eq!(covered, (0..n).collect::<Vec<_>>());
        }
    }

    #[test]
    fn the_array_range_caps_concurrency() {
        assert_eq!(array_range(12, Some(4)), "0-11%4");
        assert_eq!(array_range(1, None), "0-0");
        assert_eq!(array_range(5, Some(0)), "0-4");
    }
}
