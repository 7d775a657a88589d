//! Selecting a hyperparameter grid point on validation (paper 4.4: "grid search"; the paper
//! names neither the grid nor the score, we use the checkpoint rule's score): the point with
//! the best mean validation score over its runs wins, ties going to the first point in grid
//! order. The test split never takes part. The runner uses it to plan the final runs of a
//! tuned method, and the report to say which point it selected.

use fer_report::RunResult;

/// Grid points in grid order, each with the validation scores of its runs.
pub type ScoredPoints = Vec<(String, Vec<f64>)>;

/// The validation score runs are selected by (the run record's rule: ACC_average, or
/// -NRMSE for FLD-only methods, as the trainer selects its checkpoint).
pub fn validation_score(r: &RunResult) -> Option<f64> {
    r.validation_score()
}

/// The mean of the scores, `None` when there are none.
pub fn mean_score(scores: &[f64]) -> Option<f64> {
    (!scores.is_empty()).then(|| scores.iter().sum::<f64>() / scores.len() as f64)
}

/// Index of the selected point among `(label, scores)` in grid order: the highest mean score,
/// the first such point on a tie; `None` when no point has a score.
pub fn select_point(points: &[(String, Vec<f64>)]) -> Option<usize> {
    let mut best: Option<(usize, f64)> = None;
    for (i, (_, scores)) in points.iter().enumerate() {
        let Some(m) = mean_score(scores) else {
            continue;
        };
        if best.is_none_or(|(_, b)| m > b) {
            best = Some((i, m));
        }
    }
    best.map(|(i, _)| i)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_best_mean_wins_and_ties_go_to_the_first_point() {
        let p = |l: &str, v: &[f64]| (l.to_string(), v.to_vec());
        let points = [
            p("a", &[0.5, 0.7]),
            p("b", &[0.9, 0.4]),
            p("c", &[0.6, 0.6]),
        ];
        // Means 0.6, 0.65, 0.6.
        assert_eq!(select_point(&points), Some(1));
        let tied = [p("a", &[0.6]), p("b", &[0.6])];
        assert_eq!(select_point(&tied), Some(0));
        assert_eq!(select_point(&[p("a", &[])]), None);
        assert_eq!(select_point(&[p("a", &[]), p("b", &[-0.2])]), Some(1));
    }
}
