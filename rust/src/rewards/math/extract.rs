//! Finding the answer in a response: `\boxed{}` / `\fbox{}`, Minerva's "Final Answer" sentence, `$...$`.

use regex::Regex;
use std::sync::OnceLock;

/// Content of every `\boxed{...}`, `\boxed x` and `\fbox{...}` in order of appearance.
pub fn boxed_answers(text: &str) -> Vec<String> {
    let mut answers = Vec::new();
    let mut rest = text;
    while let Some(start) = next_box(rest) {
        let (command_len, after) = start;
        let tail = &rest[after + command_len..];
        match box_content(tail) {
            Some((content, used)) => {
                answers.push(content.to_string());
                rest = &tail[used..];
            }
            None => rest = tail,
        }
    }
    answers
}

/// `(command length, offset)` of the first `\boxed` or `\fbox` (one linear scan).
fn next_box(text: &str) -> Option<(usize, usize)> {
    text.match_indices('\\').find_map(|(i, _)| {
        let rest = &text[i..];
        if rest.starts_with("\\boxed") {
            Some((6, i))
        } else if rest.starts_with("\\fbox") {
            Some((5, i))
        } else {
            None
        }
    })
}

/// `{balanced}` right after the command, or `\boxed 5` (up to the next space or `$`).
fn box_content(tail: &str) -> Option<(&str, usize)> {
    if let Some(inner) = tail.strip_prefix('{') {
        let end = matching_brace(inner)?;
        return Some((&inner[..end], end + 2));
    }
    let inner = tail.strip_prefix(' ')?.trim_start();
    let skipped = tail.len() - inner.len();
    let end = inner
        .find(|c: char| c == '$' || c.is_whitespace())
        .unwrap_or(inner.len());
    let content = inner[..end].trim_end_matches('.');
    (!content.is_empty()).then_some((content, skipped + end))
}

/// Byte offset of the `}` closing a group whose `{` was just consumed.
pub fn matching_brace(inner: &str) -> Option<usize> {
    let mut depth = 0usize;
    let mut escaped = false;
    for (i, c) in inner.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '{' => depth += 1,
            '}' if depth == 0 => return Some(i),
            '}' => depth -= 1,
            _ => {}
        }
    }
    None
}

/// Minerva's format: "Final Answer: The final answer is X. I hope it is correct."
pub fn minerva_answer(text: &str) -> Option<String> {
    static PATTERN: OnceLock<Regex> = OnceLock::new();
    let pattern = PATTERN.get_or_init(|| {
        Regex::new(r"(?s)Final Answer: The final answer is (.*?)\.?\s*I hope it is correct")
            .expect("valid")
    });
    pattern
        .captures_iter(text)
        .last()
        .map(|caps| caps[1].trim().to_string())
}

/// The last `$...$` (not `$$`) math span.
pub fn last_dollar_span(text: &str) -> Option<String> {
    let spans: Vec<&str> = text.split('$').collect();
    // Odd positions are inside dollar pairs; a trailing unpaired `$` leaves an even count of pieces.
    let inside = (1..spans.len().saturating_sub(1)).step_by(2).rev();
    inside
        .map(|i| spans[i].trim())
        .find(|s| !s.is_empty())
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boxed_with_nested_braces() {
        let text = "so \\boxed{\\frac{1}{2}} and then \\fbox{3} or \\boxed 7$.";
        assert_eq!(boxed_answers(text), ["\\frac{1}{2}", "3", "7"]);
    }

    #[test]
    fn unbalanced_box_is_skipped() {
        assert_eq!(boxed_answers("\\boxed{1 \\boxed{2}"), ["2"]);
        assert!(boxed_answers("\\boxed{{{{").is_empty());
    }

    #[test]
    fn minerva_sentence() {
        let text = "Final Answer: The final answer is $\\frac{3}{4}$. I hope it is correct.";
        assert_eq!(minerva_answer(text).as_deref(), Some("$\\frac{3}{4}$"));
    }

    #[test]
    fn last_dollar() {
        assert_eq!(
            last_dollar_span("we get $x=1$ so $2$ works").as_deref(),
            Some("2")
        );
        assert_eq!(last_dollar_span("cost $5").as_deref(), None);
    }
}
