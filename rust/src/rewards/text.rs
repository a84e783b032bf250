//! Plain-text verifiers: `exact_match` and `string_f1` (SQuAD-style normalisation).

use super::Verdict;

/// SQuAD normalisation: lowercase, drop punctuation and the articles a/an/the, collapse whitespace.
pub fn normalize_answer(text: &str) -> Vec<String> {
    let lowered: String = text
        .to_lowercase()
        .chars()
        .map(|c| if c.is_ascii_punctuation() { ' ' } else { c })
        .collect();
    lowered
        .split_whitespace()
        .filter(|w| !matches!(*w, "a" | "an" | "the"))
        .map(str::to_string)
        .collect()
}

/// Text after the last "answer:" marker when there is one (the usual format of QA prompts).
fn answer_part(response: &str) -> &str {
    let lower = response.to_lowercase();
    match lower.rfind("answer:") {
        // `to_lowercase` can change byte lengths; only cut when the offsets still line up.
        Some(i) if lower.len() == response.len() && response.is_char_boundary(i + 7) => {
            &response[i + 7..]
        }
        _ => response,
    }
}

pub fn exact_match(response: &str, ground_truth: &str) -> Verdict {
    let answer = normalize_answer(answer_part(response));
    Verdict::new(
        answer == normalize_answer(ground_truth),
        Some(answer.join(" ")),
    )
}

/// Token-level F1 between the normalised answer and gold.
pub fn string_f1(response: &str, ground_truth: &str) -> Verdict {
    let answer = normalize_answer(answer_part(response));
    let gold = normalize_answer(ground_truth);
    Verdict::scored(token_f1(&answer, &gold), Some(answer.join(" ")))
}

fn token_f1(answer: &[String], gold: &[String]) -> f64 {
    if answer.is_empty() || gold.is_empty() {
        return if answer == gold { 1.0 } else { 0.0 };
    }
    let mut remaining: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    for token in gold {
        *remaining.entry(token.as_str()).or_default() += 1;
    }
    let mut common = 0usize;
    for token in answer {
        if let Some(count) = remaining.get_mut(token.as_str()).filter(|c| **c > 0) {
            *count -= 1;
            common += 1;
        }
    }
    if common == 0 {
        return 0.0;
    }
    let precision = common as f64 / answer.len() as f64;
    let recall = common as f64 / gold.len() as f64;
    2.0 * precision * recall / (precision + recall)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rewards::Status;

    #[test]
    fn exact_match_ignores_case_articles_and_punctuation() {
        assert_eq!(
            exact_match("The Eiffel Tower.", "eiffel tower").status,
            Status::Correct
        );
        assert_eq!(
            exact_match("Answer: Paris", "paris").status,
            Status::Correct
        );
        assert_eq!(exact_match("Paris, France", "paris").status, Status::Wrong);
    }

    #[test]
    fn f1_is_partial_credit() {
        let verdict = string_f1("red blue", "red green");
        assert!((verdict.score - 0.5).abs() < 1e-12);
        assert_eq!(verdict.status, Status::Wrong);
        assert_eq!(string_f1("Red, green", "red green").score, 1.0);
        assert_eq!(string_f1("", "x").score, 0.0);
    }
}
