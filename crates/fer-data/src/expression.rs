//! The facial expression labels that occur in the paper's datasets (paper 4.1).
//!
//! One enum for all datasets; each dataset's manifest says which of these it uses and in which
//! order (its class list), so a label index always means "position in that dataset's class list".

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

use crate::error::DataError;

/// The 8 expression labels that occur in RAF-DB, SFEW 2.0, CK+, Oulu-CASIA and FER2013.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Expression {
    Neutral,
    Happiness,
    Sadness,
    Surprise,
    Fear,
    Disgust,
    Anger,
    Contempt,
}

impl Expression {
    /// All labels, in the enum's order.
    pub const ALL: [Expression; 8] = [
        Expression::Neutral,
        Expression::Happiness,
        Expression::Sadness,
        Expression::Surprise,
        Expression::Fear,
        Expression::Disgust,
        Expression::Anger,
        Expression::Contempt,
    ];

    /// The six basic expressions of Ekman, used by the transfer experiments (paper 5.3).
    pub const BASIC_SIX: [Expression; 6] = [
        Expression::Happiness,
        Expression::Sadness,
        Expression::Surprise,
        Expression::Fear,
        Expression::Disgust,
        Expression::Anger,
    ];

    /// The canonical lowercase name (as written in manifests and result files).
    pub fn name(self) -> &'static str {
        match self {
            Expression::Neutral => "neutral",
            Expression::Happiness => "happiness",
            Expression::Sadness => "sadness",
            Expression::Surprise => "surprise",
            Expression::Fear => "fear",
            Expression::Disgust => "disgust",
            Expression::Anger => "anger",
            Expression::Contempt => "contempt",
        }
    }
}

impl fmt::Display for Expression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Expression {
    type Err = DataError;

    /// Accepts the canonical names and the spellings the datasets use for their folders
    /// (`happy`, `sad`, `angry`, `surprised`, ...), case-insensitively.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let lower = s.trim().to_ascii_lowercase();
        let e = match lower.as_str() {
            "neutral" | "ne" => Expression::Neutral,
            "happiness" | "happy" | "ha" | "joy" => Expression::Happiness,
            "sadness" | "sad" | "sa" => Expression::Sadness,
            "surprise" | "surprised" | "su" => Expression::Surprise,
            "fear" | "fearful" | "fe" => Expression::Fear,
            "disgust" | "disgusted" | "di" => Expression::Disgust,
            "anger" | "angry" | "an" => Expression::Anger,
            "contempt" | "co" => Expression::Contempt,
            _ => {
                return Err(DataError::UnknownExpression {
                    name: s.to_string(),
                })
            }
        };
        Ok(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_dataset_spellings() {
        assert_eq!(
            "happy".parse::<Expression>().ok(),
            Some(Expression::Happiness)
        );
        assert_eq!("Angry".parse::<Expression>().ok(), Some(Expression::Anger));
        assert_eq!(
            "sadness".parse::<Expression>().ok(),
            Some(Expression::Sadness)
        );
        assert!("smirk".parse::<Expression>().is_err());
        for e in Expression::ALL {
            assert_eq!(e.name().parse::<Expression>().ok(), Some(e));
        }
    }
}
