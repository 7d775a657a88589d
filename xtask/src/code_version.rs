//! The code version this binary was built from (xtask/build.rs), recorded in every run's
//! metrics.json so that committed run records say which code produced them.

use fer_train::CodeVersion;

/// The git commit and dirty flag seen when this binary was built.
pub fn current() -> CodeVersion {
    CodeVersion {
        commit: env!("FER_GIT_COMMIT"),
        dirty: matches!(env!("FER_GIT_DIRTY"), "true"),
    }
}
