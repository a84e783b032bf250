//! Plain-text verifiers: `exact_match` and `string_f1` (SQuAD-style normalisation), as open-instruct's
//! `StringMatcherVerifier`/`PuzzleMatcherVerifier` and `F1Verifier` read responses ([`answer_text`]).
//! A ground truth that is a JSON (or Python) list of strings is several labels: the best one counts.

use super::ground_truth::labels;
use super::ifeval::checks::py_space;
use super::Verdict;
use regex::Regex;
use std::sync::OnceLock;

/// SQuAD's `normalize_answer` (as open-instruct copies it): lowercase, delete `string.punctuation`,
/// blank out the words a/an/the, split on white space.
pub fn normalize_answer(text: &str) -> Vec<String> {
    let lowered: String = text
        .to_lowercase()
        .chars()
        .filter(|c| !c.is_ascii_punctuation())
        .collect();
    articles()
        .replace_all(&lowered, " ")
        .split(py_space)
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect()
}

fn articles() -> &'static Regex {
    static ARTICLES: OnceLock<Regex> = OnceLock::new();
    ARTICLES.get_or_init(|| Regex::new(r"\b(a|an|the)\b").expect("valid article pattern"))
}

/// The part of a response that holds its answer, read as open-instruct's text verifiers do: the text
/// after the last `</think>` (open-instruct's `remove_thinking_section`); in it, the last
/// `<answer>…</answer>` span when there is one (its `StringMatcherVerifier`); else the text after the
/// last `answer:` marker (the usual format of QA prompts), else all of it. Only ASCII markers are
/// searched for, so every cut falls on a character boundary.
pub fn answer_text(response: &str) -> &str {
    let after_thinking = response
        .rsplit_once("</think>")
        .map_or(response, |(_, after)| after);
    if let Some((_, tagged)) = after_thinking.rsplit_once("<answer>") {
        return tagged
            .split_once("</answer>")
            .map_or(tagged, |(inside, _)| inside);
    }
    let marker = answer_marker()
        .find_iter(after_thinking)
        .last()
        .map(|m| m.end());
    let text = marker.map_or(after_thinking, |end| &after_thinking[end..]);
    text.strip_suffix("</answer>").unwrap_or(text)
}

fn answer_marker() -> &'static Regex {
    static MARKER: OnceLock<Regex> = OnceLock::new();
    MARKER.get_or_init(|| Regex::new(r"(?i)answer:").expect("valid marker pattern"))
}

/// Normalised exact match against any of the labels (a JSON list of strings is several labels).
pub fn exact_match(response: &str, ground_truth: &str) -> Result<Verdict, String> {
    let labels = labels(ground_truth)?;
    let answer = normalize_answer(answer_text(response));
    let correct = labels.iter().any(|label| normalize_answer(label) == answer);
    Ok(Verdict::new(correct, Some(answer.join(" "))))
}

/// Token-level F1 between the normalised answer and the best of the labels.
pub fn string_f1(response: &str, ground_truth: &str) -> Result<Verdict, String> {
    let labels = labels(ground_truth)?;
    let answer = normalize_answer(answer_text(response));
    let best = labels
        .iter()
        .map(|label| token_f1(&answer, &normalize_answer(label)))
        .fold(0.0, f64::max);
    Ok(Verdict::scored(best, Some(answer.join(" "))))
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

    fn em(response: &str, gold: &str) -> Status {
        exact_match(response, gold).unwrap().status
    }

    fn f1(response: &str, gold: &str) -> f64 {
        string_f1(response, gold).unwrap().score
    }

    #[test]
    fn exact_match_ignores_case_articles_and_punctuation() {
        assert_eq!(em("The Eiffel Tower.", "eiffel tower"), Status::Correct);
        assert_eq!(em("Answer: Paris", "paris"), Status::Correct);
        assert_eq!(em("Paris, France", "paris"), Status::Wrong);
    }

    #[test]
    fn f1_is_partial_credit() {
        let verdict = string_f1("red blue", "red green").unwrap();
        assert!((verdict.score - 0.5).abs() < 1e-12);
        assert_eq!(verdict.status, Status::Wrong);
        assert_eq!(f1("Red, green", "red green"), 1.0);
        assert_eq!(f1("", "x"), 0.0);
    }

    #[test]
    fn thinking_and_answer_tags() {
        assert_eq!(answer_text("<think>it is 4</think> 5"), " 5");
        assert_eq!(answer_text("<think>a</think>x<think>b</think>y"), "y");
        assert_eq!(answer_text("so <answer>Paris</answer> done"), "Paris");
        assert_eq!(answer_text("<answer>a</answer><answer>b"), "b");
        assert_eq!(answer_text("Answer: ünïcode </answer>"), " ünïcode ");
        assert_eq!(answer_text("İİİ answer: x"), " x");
        assert_eq!(
            em("<think>it is london</think><answer>Paris</answer>", "paris"),
            Status::Correct
        );
        assert_eq!(em("<think>paris</think>london", "paris"), Status::Wrong);
    }

    #[test]
    fn list_labels_any_counts() {
        assert_eq!(em("Paris", r#"["London", "paris"]"#), Status::Correct);
        assert_eq!(em("Rome", r#"["London", "paris"]"#), Status::Wrong);
        assert_eq!(f1("hello world", r#"["goodbye", "hello world"]"#), 1.0);
        assert!((f1("hello world", "['hello', 'world']") - 2.0 / 3.0).abs() < 1e-12);
        assert!(exact_match("x", "[]").is_err());
        assert!(string_f1("x", "").is_err());
    }

    /// open-instruct's own cases for `PuzzleMatcherVerifier` and `F1Verifier`
    /// (`open_instruct/test_ground_truth_utils.py`).
    #[test]
    fn open_instruct_cases() {
        let puzzle = [
            ("The answer is 42", "answer is 42", true),
            ("<think>Let me solve this</think>Paris", "paris", true),
            ("<answer>New York City!</answer>", "new york city", true),
            ("Wrong answer", "correct answer", false),
            ("<think>This is about geography</think><answer>The capital of France is Paris.</answer>", "capital of france is paris", true),
            ("42", "42", true),
            ("Hello World", "hello world", true),
            ("<think>Let me think about this...</think>42", "42", true),
            ("<think>Analysis...</think>Wrong Answer", "42", false),
            ("<answer>wrong</answer>", "42", false),
            ("<think>Thinking...</think><answer>42</answer>", "42", true),
            ("The answer is 42!", "answer is 42", true),
            ("A simple test.", "simple test", true),
            ("Hello, world!", "hello world", true),
            ("  hello   world  ", "hello world", true),
            ("hello\tworld\n", "hello world", true),
            ("42", "43", false),
            ("", "42", false),
            ("<think>Animal question</think>The elephant", "elephant", true),
            ("Romeo and Juliet by Shakespeare", "romeo and juliet by shakespeare", true),
        ];
        for (response, gold, expected) in puzzle {
            assert_eq!(
                em(response, gold) == Status::Correct,
                expected,
                "{response:?}"
            );
        }
        let f1_cases = [
            ("hello world", "hello world", 1.0),
            ("hello world", "hello", 2.0 / 3.0),
            ("hello world", "goodbye", 0.0),
            (
                "<think>Let me think...</think>hello world",
                "hello world",
                1.0,
            ),
            ("<think>Analysis</think>hello world", "hello", 2.0 / 3.0),
            ("<answer>hello world</answer>", "hello world", 1.0),
            (
                "<think>Thinking...</think><answer>hello world</answer>",
                "hello world",
                1.0,
            ),
            ("hello world", r#"["hello world", "goodbye"]"#, 1.0),
            ("hello world", r#"["hello", "world"]"#, 2.0 / 3.0),
            ("hello world", r#"["foo", "bar", "baz"]"#, 0.0),
            ("hello world", r#"["hello world"]"#, 1.0),
            (
                "<think>hmm</think>hello world",
                r#"["goodbye", "hello world"]"#,
                1.0,
            ),
        ];
        for (response, gold, expected) in f1_cases {
            assert!(
                (f1(response, gold) - expected).abs() < 1e-9,
                "{response:?} {gold:?}"
            );
        }
    }
}
