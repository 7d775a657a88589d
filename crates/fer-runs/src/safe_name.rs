//! Safe names: the parts of a run's path (experiment, dataset, method, tag) come from YAML
//! files and the command line, and each becomes a folder under results/. A name with `..`, a
//! `/` or a leading `.` could write outside the results folder or hide there, so only plain
//! names are accepted.

/// The rule, as error messages state it. `>` is allowed for the dataset of a transfer run,
/// `<train>-><test>` (Table 9); it cannot climb out of a folder.
pub const SAFE_NAME_RULE: &str =
    "letters, digits, '-', '_', '.' and '>', not starting with '.' (it becomes a folder under results/)";

/// Whether `name` may become one folder under results/.
pub fn is_safe_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.' | '>'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_names_are_safe() {
        for ok in [
            "table4",
            "ckplus48",
            "base-dcnn-fer",
            "table4-quick",
            "v1.2",
            "hps_λ",
        ] {
            assert!(is_safe_name(ok), "{ok}");
        }
        for bad in [
            "", "..", "../../x", "a/b", ".hidden", "a\\b", "x y", "a\nb", "ck+",
        ] {
            assert!(!is_safe_name(bad), "{bad:?}");
        }
    }
}
