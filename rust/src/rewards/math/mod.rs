//! MATH (Hendrycks) answers: extract, normalise, decide equivalence.
//!
//! Structure first ([`Answer`]: sets, tuples/intervals, matrices, equations, text), then scalar
//! equivalence by [`expr::equivalent`]. Every boxed answer in the response must match the gold answer:
//! boxing several different candidates scores 0.

pub mod expr;
pub mod extract;
pub mod normalize;

use super::{Deadline, Mode, Status, TimedOut, Verdict};
use expr::Expr;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Extraction {
    /// `\boxed{}` / `\fbox{}`, else Minerva's "Final Answer" sentence.
    Strict,
    /// Strict, else the last `$...$`.
    Flex,
    /// Only Minerva's sentence (Tülu's `strict_math`).
    MinervaOnly,
}

impl From<Mode> for Extraction {
    fn from(mode: Mode) -> Self {
        match mode {
            Mode::Strict => Extraction::Strict,
            Mode::Loose => Extraction::Flex,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum Answer {
    Expr(Expr),
    /// Tuple or interval: brackets matter, order matters.
    Sequence {
        open: char,
        close: char,
        items: Vec<Answer>,
    },
    Union(Vec<Answer>),
    /// `\{a, b\}` or a bare comma list ("find all"): order does not matter.
    Set(Vec<Answer>),
    Matrix(Vec<Vec<Answer>>),
    Equation(Box<Answer>, Box<Answer>),
    Text(String),
}

const MAX_ITEMS: usize = 64;

/// Candidate answers the response commits to (all boxes, so they can be checked for consistency).
pub fn candidates(response: &str, extraction: Extraction) -> Vec<String> {
    if extraction != Extraction::MinervaOnly {
        let boxed = extract::boxed_answers(response);
        if !boxed.is_empty() {
            return boxed;
        }
    }
    if let Some(answer) = extract::minerva_answer(response) {
        return vec![answer];
    }
    if extraction == Extraction::Flex {
        return extract::last_dollar_span(response).into_iter().collect();
    }
    Vec::new()
}

/// Split on `separator` at bracket depth 0.
fn split_top_level<'a>(text: &'a str, separator: &str) -> Vec<&'a str> {
    let mut parts = Vec::new();
    let mut depth = 0i32;
    let mut start = 0;
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'(' | b'[' | b'{' => depth += 1,
            b')' | b']' | b'}' => depth -= 1,
            b'\\' if text[i..].starts_with("\\{") || text[i..].starts_with("\\}") => {
                depth += if bytes[i + 1] == b'{' { 1 } else { -1 };
                i += 2;
                continue;
            }
            _ => {}
        }
        if depth == 0 && text[i..].starts_with(separator) {
            parts.push(&text[start..i]);
            i += separator.len();
            start = i;
            continue;
        }
        i += 1;
    }
    parts.push(&text[start..]);
    parts
}

/// Whether the bracket opening `text` closes at its last character.
fn wraps_whole(text: &str) -> bool {
    let mut depth = 0i32;
    for (i, c) in text.char_indices() {
        match c {
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' => depth -= 1,
            _ => {}
        }
        if depth == 0 {
            return i + c.len_utf8() == text.len();
        }
    }
    false
}

fn parse_items(
    parts: &[&str],
    deadline: &Deadline,
    depth: usize,
) -> Result<Option<Vec<Answer>>, TimedOut> {
    if parts.len() > MAX_ITEMS || parts.iter().any(|p| p.is_empty()) {
        return Ok(None);
    }
    let items: Result<Vec<Answer>, TimedOut> = parts
        .iter()
        .map(|p| parse_normalized(p, deadline, depth + 1))
        .collect();
    Ok(Some(items?))
}

fn parse_matrix(s: &str, deadline: &Deadline, depth: usize) -> Result<Option<Answer>, TimedOut> {
    let body = ["pmatrix", "bmatrix", "matrix", "array"]
        .iter()
        .find_map(|env| {
            let begin = format!("\\begin{{{env}}}");
            let inner = s
                .strip_prefix(&begin)?
                .strip_suffix(&format!("\\end{{{env}}}"))?;
            // `\begin{array}{cc}`: drop the column spec.
            Some(if *env == "array" && inner.starts_with('{') {
                &inner[inner.find('}')? + 1..]
            } else {
                inner
            })
        });
    let Some(body) = body else { return Ok(None) };
    let mut rows = Vec::new();
    for row in body.split("\\\\").map(str::trim).filter(|r| !r.is_empty()) {
        let cells: Vec<&str> = row.split('&').map(str::trim).collect();
        match parse_items(&cells, deadline, depth)? {
            Some(items) => rows.push(items),
            None => return Ok(None),
        }
    }
    Ok(Some(Answer::Matrix(rows)))
}

/// Parse an answer (normalisation included).
pub fn parse_answer(raw: &str, deadline: &Deadline) -> Result<Answer, TimedOut> {
    // Matrices use `\\` row separators, which normalisation would not keep apart from other text.
    let compact = raw
        .trim()
        .replace("\\left", "")
        .replace("\\right", "")
        .replace(['$', ' '], "");
    if let Some(matrix) = parse_matrix(&compact.replace("\\dfrac", "\\frac"), deadline, 0)? {
        return Ok(matrix);
    }
    parse_normalized(&normalize::normalize(raw), deadline, 0)
}

fn parse_normalized(s: &str, deadline: &Deadline, depth: usize) -> Result<Answer, TimedOut> {
    if deadline.expired() {
        return Err(TimedOut);
    }
    if depth > 8 {
        return Ok(Answer::Text(s.to_string()));
    }
    if let Some(inner) = s.strip_prefix("\\{").and_then(|r| r.strip_suffix("\\}")) {
        if let Some(items) = parse_items(&split_top_level(inner, ","), deadline, depth)? {
            return Ok(Answer::Set(items));
        }
    }
    let union = split_top_level(s, "\\cup");
    if union.len() > 1 {
        if let Some(items) = parse_items(&union, deadline, depth)? {
            return Ok(Answer::Union(items));
        }
    }
    let (first, last) = (s.chars().next(), s.chars().last());
    if let (Some(open @ ('(' | '[')), Some(close @ (')' | ']'))) = (first, last) {
        let inner = &s[1..s.len() - 1];
        let parts = split_top_level(inner, ",");
        if parts.len() > 1 && (wraps_whole(s) || open != close_of(close)) {
            if let Some(items) = parse_items(&parts, deadline, depth)? {
                return Ok(Answer::Sequence { open, close, items });
            }
        }
    }
    let parts = split_top_level(s, ",");
    if parts.len() > 1 {
        if let Some(items) = parse_items(&parts, deadline, depth)? {
            return Ok(Answer::Set(items));
        }
    }
    let sides = split_top_level(s, "=");
    if sides.len() == 2 && !sides[0].is_empty() && !sides[1].is_empty() {
        let lhs = parse_normalized(sides[0], deadline, depth + 1)?;
        let rhs = parse_normalized(sides[1], deadline, depth + 1)?;
        return Ok(Answer::Equation(Box::new(lhs), Box::new(rhs)));
    }
    Ok(match expr::parse(s, deadline)? {
        Some(e) => Answer::Expr(e),
        None => Answer::Text(s.to_string()),
    })
}

fn close_of(close: char) -> char {
    if close == ')' {
        '('
    } else {
        '['
    }
}

fn all_equivalent(a: &[Answer], b: &[Answer], deadline: &Deadline) -> Result<bool, TimedOut> {
    if a.len() != b.len() {
        return Ok(false);
    }
    for (x, y) in a.iter().zip(b) {
        if !equivalent(x, y, deadline)? {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Exact set equality: same size and a one-to-one matching.
fn same_set(a: &[Answer], b: &[Answer], deadline: &Deadline) -> Result<bool, TimedOut> {
    if a.len() != b.len() {
        return Ok(false);
    }
    let mut used = vec![false; b.len()];
    'outer: for x in a {
        for (j, y) in b.iter().enumerate() {
            if !used[j] && equivalent(x, y, deadline)? {
                used[j] = true;
                continue 'outer;
            }
        }
        return Ok(false);
    }
    Ok(true)
}

fn text_key(text: &str) -> String {
    text.chars()
        .filter(|c| !c.is_whitespace() && *c != '{' && *c != '}')
        .collect::<String>()
        .to_lowercase()
}

pub fn equivalent(a: &Answer, b: &Answer, deadline: &Deadline) -> Result<bool, TimedOut> {
    use Answer::*;
    Ok(match (a, b) {
        (Expr(x), Expr(y)) => expr::equivalent(x, y, deadline)?,
        (
            Sequence {
                open: o1,
                close: c1,
                items: i1,
            },
            Sequence {
                open: o2,
                close: c2,
                items: i2,
            },
        ) => o1 == o2 && c1 == c2 && all_equivalent(i1, i2, deadline)?,
        (Union(x), Union(y)) => all_equivalent(x, y, deadline)?,
        (Set(x), Set(y)) => same_set(x, y, deadline)?,
        (Matrix(x), Matrix(y)) => {
            x.len() == y.len() && {
                let mut same = true;
                for (rx, ry) in x.iter().zip(y) {
                    if !all_equivalent(rx, ry, deadline)? {
                        same = false;
                        break;
                    }
                }
                same
            }
        }
        (Equation(l1, r1), Equation(l2, r2)) => {
            equivalent(l1, l2, deadline)? && equivalent(r1, r2, deadline)?
        }
        // "y = 2x+1" against "2x+1": the right-hand side when the left is a single variable.
        (Equation(l, r), other) | (other, Equation(l, r)) => {
            matches!(**l, Expr(expr::Expr::Var(_))) && equivalent(r, other, deadline)?
        }
        (Text(x), Text(y)) => text_key(x) == text_key(y),
        _ => false,
    })
}

fn candidates_last(answers: &[String]) -> Option<String> {
    answers.last().cloned()
}

fn is_collection(answer: &Answer) -> bool {
    matches!(answer, Answer::Set(_))
}

pub fn verify(
    response: &str,
    ground_truth: &str,
    extraction: Extraction,
    deadline: Deadline,
) -> Verdict {
    match verify_inner(response, ground_truth, extraction, &deadline) {
        Ok(verdict) => verdict,
        Err(TimedOut) => Verdict::with_status(Status::Timeout),
    }
}

fn verify_inner(
    response: &str,
    ground_truth: &str,
    extraction: Extraction,
    deadline: &Deadline,
) -> Result<Verdict, TimedOut> {
    let mut answers = candidates(response, extraction);
    let mut seen = std::collections::HashSet::new();
    answers.retain(|a| seen.insert(a.clone()));
    let Some(last) = candidates_last(&answers) else {
        return Ok(Verdict::with_status(Status::Unparseable));
    };
    let gold_raw = extract::boxed_answers(ground_truth)
        .pop()
        .unwrap_or_else(|| ground_truth.to_string());
    let gold = parse_answer(&gold_raw, deadline)?;
    let mut all_match = true;
    for answer in &answers {
        if !equivalent(&parse_answer(answer, deadline)?, &gold, deadline)? {
            all_match = false;
            break;
        }
    }
    // "Find all" gold answered one solution per box: compare the set of boxes.
    if !all_match && answers.len() > 1 && is_collection(&gold) {
        let items: Result<Vec<Answer>, TimedOut> =
            answers.iter().map(|a| parse_answer(a, deadline)).collect();
        all_match = equivalent(&Answer::Set(items?), &gold, deadline)?;
    }
    Ok(Verdict::new(all_match, Some(last)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn check(response: &str, gold: &str) -> Status {
        verify(
            response,
            gold,
            Extraction::Strict,
            Deadline::after(Duration::from_secs(2)),
        )
        .status
    }

    fn boxed(answer: &str, gold: &str) -> Status {
        check(&format!("so the answer is \\boxed{{{answer}}}."), gold)
    }

    #[test]
    fn scalars() {
        assert_eq!(boxed("\\dfrac{1}{2}", "\\frac12"), Status::Correct);
        assert_eq!(boxed("0.5", "\\frac{1}{2}"), Status::Correct);
        assert_eq!(boxed("x = 5", "5"), Status::Correct);
        assert_eq!(boxed("45^\\circ", "45"), Status::Correct);
        assert_eq!(boxed("6", "5"), Status::Wrong);
        assert_eq!(boxed("\\text{(C)}", "\\text{(C)}"), Status::Correct);
        assert_eq!(boxed("Monday", "\\text{Monday}"), Status::Correct);
    }

    #[test]
    fn tuples_intervals_sets() {
        assert_eq!(boxed("(1, 2)", "(1,2)"), Status::Correct);
        assert_eq!(boxed("(2, 1)", "(1,2)"), Status::Wrong);
        assert_eq!(boxed("[1, 2)", "(1,2)"), Status::Wrong);
        assert_eq!(
            boxed(
                "(-\\infty, 3] \\cup (5, \\infty)",
                "(-\\infty,3]\\cup(5,\\infty)"
            ),
            Status::Correct
        );
        assert_eq!(boxed("3, 1, 2", "1, 2, 3"), Status::Correct);
        assert_eq!(boxed("\\{2, 1\\}", "\\{1,2\\}"), Status::Correct);
        assert_eq!(boxed("1, 2", "1, 2, 3"), Status::Wrong);
    }

    #[test]
    fn matrices() {
        let gold = "\\begin{pmatrix} 1 & 2 \\\\ 3 & 4 \\end{pmatrix}";
        assert_eq!(
            boxed("\\begin{pmatrix}1&2\\\\3&\\frac{8}{2}\\end{pmatrix}", gold),
            Status::Correct
        );
        assert_eq!(
            boxed("\\begin{pmatrix}1&2\\\\4&3\\end{pmatrix}", gold),
            Status::Wrong
        );
    }

    #[test]
    fn several_different_boxes_score_zero() {
        assert_eq!(check("\\boxed{5} or maybe \\boxed{6}", "5"), Status::Wrong);
        assert_eq!(check("\\boxed{5}, i.e. \\boxed{5.0}", "5"), Status::Correct);
        assert_eq!(check("\\boxed{1} and \\boxed{2}", "1, 2"), Status::Correct);
    }

    #[test]
    fn extraction_modes() {
        let minerva = "Final Answer: The final answer is $7$. I hope it is correct.";
        assert_eq!(check(minerva, "7"), Status::Correct);
        assert_eq!(check("the answer is $7$", "7"), Status::Unparseable);
        let flex = verify(
            "the answer is $7$",
            "7",
            Extraction::Flex,
            Deadline::after(Duration::from_secs(1)),
        );
        assert_eq!(flex.status, Status::Correct);
        let strict = verify(
            "\\boxed{7}",
            "7",
            Extraction::MinervaOnly,
            Deadline::after(Duration::from_secs(1)),
        );
        assert_eq!(strict.status, Status::Unparseable);
    }

    #[test]
    fn pathological_inputs_finish() {
        let bomb = format!(
            "\\boxed{{{}1{}}}",
            "\\frac{".repeat(3000),
            "}{2}".repeat(3000)
        );
        let status = check(&bomb, "1");
        assert!(matches!(
            status,
            Status::Wrong | Status::Unparseable | Status::Timeout
        ));
        let many = "\\boxed{1}".repeat(20000);
        assert_eq!(check(&many, "1"), Status::Correct);
    }
}
