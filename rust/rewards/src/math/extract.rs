//! Finding the answer in a response.
//!
//! - [`last_boxes`]: the last `\boxed{}` / `\fbox{}`, together with the boxes just before it that
//!   belong to the same answer (math-verify's rule: fewer than 10 characters between them, or fewer
//!   than 70 with a separator — a comma, semicolon, "and", "or" — and a different content).
//! - [`minerva_answer`]: Minerva's sentence, "Final Answer: The final answer is X. I hope it is
//!   correct."
//! - [`flex_answer`]: what a grader reads, in math-verify's order of preference: Minerva's sentence,
//!   then the boxed answer or "final answer ... is X", then the math after the word "answer", then the
//!   last math in the response (`$...$`, `$$...$$`, `\[...\]`, `\(...\)`, a number in the text).
//!
//! All positions are byte offsets of char boundaries (found by `char_indices`, `find` or a regex).

use regex::Regex;
use std::sync::OnceLock;

fn regex(cell: &'static OnceLock<Regex>, pattern: &str) -> &'static Regex {
    cell.get_or_init(|| Regex::new(pattern).expect("valid extraction pattern"))
}

/// One `\boxed{...}`: its content and where the command starts and the box ends.
#[derive(Clone, Debug)]
struct Boxed<'a> {
    content: &'a str,
    start: usize,
    end: usize,
}

/// Every closed box, in order.
fn all_boxes(text: &str) -> Vec<Boxed<'_>> {
    let mut boxes = Vec::new();
    let mut from = 0;
    while let Some((start, command_len)) = next_box(text, from) {
        let after = start + command_len;
        match box_content(&text[after..]) {
            Some((content, used)) => {
                boxes.push(Boxed {
                    content,
                    start,
                    end: after + used,
                });
                from = after + used;
            }
            None => from = after,
        }
    }
    boxes
}

/// `(offset, command length)` of the next `\boxed` or `\fbox` at or after `from`.
fn next_box(text: &str, from: usize) -> Option<(usize, usize)> {
    let rest = text.get(from..)?;
    rest.match_indices('\\').find_map(|(i, _)| {
        let tail = &rest[i..];
        if tail.starts_with("\\boxed") {
            Some((from + i, 6))
        } else if tail.starts_with("\\fbox") {
            Some((from + i, 5))
        } else {
            None
        }
    })
}

/// `{balanced}` after the command (spaces allowed before it), or `\boxed 5` (up to a space or `$`).
/// Returns the content and the bytes used after the command.
fn box_content(tail: &str) -> Option<(&str, usize)> {
    let trimmed = tail.trim_start();
    let skipped = tail.len() - trimmed.len();
    if let Some(inner) = trimmed.strip_prefix('{') {
        let end = matching_brace(inner)?;
        return Some((&inner[..end], skipped + 1 + end + 1));
    }
    if skipped == 0 {
        return None;
    }
    let end = trimmed
        .find(|c: char| c == '$' || c.is_whitespace())
        .unwrap_or(trimmed.len());
    let content = trimmed[..end].trim_end_matches('.');
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

fn has_separator(between: &str) -> bool {
    static SEPARATOR: OnceLock<Regex> = OnceLock::new();
    regex(&SEPARATOR, r"\b(?:and|or)\b|,|;").is_match(between)
}

/// Contents of the last box and the boxes grouped with it (see the module docs), in order;
/// consecutive repeats are kept once.
pub fn last_boxes(text: &str) -> Vec<String> {
    last_boxes_with_end(text).0
}

fn last_boxes_with_end(text: &str) -> (Vec<String>, usize) {
    let boxes = all_boxes(text);
    let Some(last) = boxes.last() else {
        return (Vec::new(), 0);
    };
    let mut group = vec![last.content];
    let mut next_start = last.start;
    for previous in boxes.iter().rev().skip(1) {
        let between = text.get(previous.end..next_start).unwrap_or("");
        let length = between.chars().count();
        let joined = length < 10
            || (length < 70
                && has_separator(between)
                && group.last().is_some_and(|c| *c != previous.content));
        if !joined {
            break;
        }
        if group.last() != Some(&previous.content) {
            group.push(previous.content);
        }
        next_start = previous.start;
    }
    group.reverse();
    (group.into_iter().map(str::to_string).collect(), last.end)
}

/// Minerva's format: "Final Answer: The final answer is X. I hope it is correct."
pub fn minerva_answer(text: &str) -> Option<String> {
    static PATTERN: OnceLock<Regex> = OnceLock::new();
    let pattern = regex(
        &PATTERN,
        r"(?s)Final Answer: The final answer is (.*?)\.?\s*I hope it is correct",
    );
    pattern
        .captures_iter(text)
        .last()
        .map(|caps| caps[1].trim().to_string())
}

/// A piece of math found in running text.
#[derive(Clone, Debug)]
struct Span {
    start: usize,
    end: usize,
    content: String,
}

/// `$$...$$`, `\[...\]`, `$...$` (one line), `\(...\)` spans, in order of their end.
fn math_spans(text: &str) -> Vec<Span> {
    static DISPLAY: OnceLock<Regex> = OnceLock::new();
    let display = regex(
        &DISPLAY,
        r"(?s)\$\$(.+?)\$\$|\\\[(.+?)\\\]|\\\((.+?)\\\)|\$((?:\\\$|[^$\n])+?)\$",
    );
    let mut spans = Vec::new();
    for caps in display.captures_iter(text) {
        let whole = caps.get(0).expect("group 0");
        // `\$5 and \$6` are dollar amounts, and a `$` right after a digit is a price ("costs 5$").
        let before = text[..whole.start()].chars().next_back();
        if whole.as_str().starts_with('$')
            && before.is_some_and(|c| c == '\\' || c.is_ascii_digit())
        {
            continue;
        }
        let content = (1..=4)
            .find_map(|g| caps.get(g))
            .map_or("", |m| m.as_str())
            .trim();
        if !content.is_empty() {
            spans.push(Span {
                start: whole.start(),
                end: whole.end(),
                content: content.to_string(),
            });
        }
    }
    spans
}

/// Numbers written in plain text ("7,425,000", "1 000", ".4", "3/4", "$1,000.99", "28 percent",
/// a bare `\frac{10}{9}`).
fn text_numbers(text: &str) -> Vec<Span> {
    static NUMBER: OnceLock<Regex> = OnceLock::new();
    let number = regex(
        &NUMBER,
        r"(?:^|[\s=(:*])(?:\\?\$|[€£¥₹])?(-?(?:\d{1,3}(?:,\d{3})+|\d{1,3}(?: \d{3})+\b|\d+|(?:\d+)?\.\d+|\\[dtc]?frac\{-?\d+\}\{-?\d+\})(?:\.\d+)?(?:\s*/\s*\d+)?(?:\s*(?:%|percent\b|pct\b))?)",
    );
    number
        .captures_iter(text)
        .filter_map(|caps| {
            let m = caps.get(1)?;
            // "3.14." ends a sentence; "3-5" is a range (the match starts after a letter or digit).
            Some(Span {
                start: m.start(),
                end: m.end(),
                content: m.as_str().to_string(),
            })
        })
        .collect()
}

/// Spans joined by "and", "or" or commas ("$x=1$ and $x=2$") before `spans[last]`, with it.
fn joined_spans(text: &str, spans: &[Span], last: usize) -> Vec<String> {
    static JOINER: OnceLock<Regex> = OnceLock::new();
    let joiner = regex(&JOINER, r"^\s*(?:,?\s*(?:and|or)|,)\s*$");
    let mut group = vec![spans[last].content.clone()];
    let mut i = last;
    while i > 0 && group.len() < 6 {
        let between = text.get(spans[i - 1].end..spans[i].start).unwrap_or("x");
        if !joiner.is_match(between) {
            break;
        }
        group.push(spans[i - 1].content.clone());
        i -= 1;
    }
    group.reverse();
    group
}

/// A math span, or a number outside every span.
enum Item {
    Span(usize),
    Number(String),
}

/// The math item after `from`: with a `window`, the first one starting within it (math after the
/// word "answer"); without, the one ending last in the text. A span brings the spans joined to it.
fn math_after(text: &str, from: usize, window: Option<usize>) -> Option<Vec<String>> {
    let spans = math_spans(text);
    let mut items: Vec<(usize, usize, Item)> = spans
        .iter()
        .enumerate()
        .map(|(i, s)| (s.start, s.end, Item::Span(i)))
        .collect();
    for number in text_numbers(text) {
        if !spans
            .iter()
            .any(|s| s.start <= number.start && number.end <= s.end)
        {
            items.push((number.start, number.end, Item::Number(number.content)));
        }
    }
    let candidates = items
        .into_iter()
        .filter(|(start, _, _)| *start >= from && window.map_or(true, |w| *start <= from + w));
    let chosen = match window {
        Some(_) => candidates.min_by_key(|(start, _, _)| *start),
        // The rightmost end; on a tie the longer item (a span around a number).
        None => candidates.max_by_key(|(start, end, _)| (*end, usize::MAX - *start)),
    };
    match chosen?.2 {
        Item::Span(i) => Some(joined_spans(text, &spans, i)),
        Item::Number(n) => Some(vec![n]),
    }
}

/// What a grader reads as the final answer (see the module docs); each string is one part of it.
pub fn flex_answer(text: &str) -> Option<Vec<String>> {
    static MINERVA: OnceLock<Regex> = OnceLock::new();
    static FINAL_IS: OnceLock<Regex> = OnceLock::new();
    static ANSWER: OnceLock<Regex> = OnceLock::new();
    let minerva = regex(&MINERVA, r"(?i)final answer is:?\s*([^\n]*?)\.?\s?I hope");
    if let Some(caps) = minerva.captures_iter(text).last() {
        let answer = caps[1].trim();
        if !answer.is_empty() {
            return Some(vec![answer.to_string()]);
        }
    }
    let (boxes, boxes_end) = last_boxes_with_end(text);
    // "The final answer is 5" after the last box wins over it, as in math-verify (rightmost first).
    let final_is = regex(&FINAL_IS, r"(?i)final answer.{0,100}?\s+is:?\s*")
        .find_iter(text)
        .last()
        .filter(|m| boxes.is_empty() || m.end() > boxes_end)
        .and_then(|m| math_after(text, m.end(), Some(10)));
    if final_is.is_some() {
        return final_is;
    }
    if !boxes.is_empty() {
        return Some(boxes);
    }
    let answer_word = regex(&ANSWER, r"(?i)answer(?:\s+is)?\s*:?");
    let anchors: Vec<usize> = answer_word.find_iter(text).map(|m| m.end()).collect();
    for end in anchors.into_iter().rev() {
        if let Some(answer) = math_after(text, end, Some(50)) {
            return Some(answer);
        }
    }
    math_after(text, 0, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boxed_with_nested_braces() {
        let text = "so \\boxed{\\frac{1}{2}}";
        assert_eq!(last_boxes(text), ["\\frac{1}{2}"]);
        assert_eq!(last_boxes("\\fbox{3} or \\boxed 7$."), ["3", "7"]);
    }

    #[test]
    fn grouped_boxes() {
        assert_eq!(last_boxes("$\\boxed{1}\\boxed{2}$"), ["1", "2"]);
        assert_eq!(last_boxes("\\boxed{1} and \\boxed{2}"), ["1", "2"]);
        assert_eq!(last_boxes("\\boxed{5} so \\boxed{5}"), ["5"]);
        let far =
            "\\boxed{3}. Wait: that ignores the second condition. Redoing the computation with \
                   both conditions gives another value: \\boxed{5}";
        assert_eq!(last_boxes(far), ["5"]);
    }

    #[test]
    fn unbalanced_box_is_skipped() {
        assert_eq!(last_boxes("\\boxed{1 \\boxed{2}"), ["2"]);
        assert!(last_boxes("\\boxed{{{{").is_empty());
    }

    #[test]
    fn minerva_sentence() {
        let text = "Final Answer: The final answer is $\\frac{3}{4}$. I hope it is correct.";
        assert_eq!(minerva_answer(text).as_deref(), Some("$\\frac{3}{4}$"));
    }

    #[test]
    fn flex_reading() {
        let read = |t: &str| flex_answer(t).map(|v| v.join(" | "));
        assert_eq!(read("we get $x=1$ so $2$ works").as_deref(), Some("2"));
        assert_eq!(
            read("The answer is 7,425,000.").as_deref(),
            Some("7,425,000")
        );
        assert_eq!(read("Answer: \\[ 9 \\]").as_deref(), Some("9"));
        assert_eq!(read("so $$5$$").as_deref(), Some("5"));
        assert_eq!(read("so \\(5\\)").as_deref(), Some("5"));
        assert_eq!(read("roots $1$ and $2$").as_deref(), Some("1 | 2"));
        assert_eq!(read("It costs \\$5 and \\$6.").as_deref(), Some("6"));
        assert_eq!(read("no math here"), None);
    }
}
