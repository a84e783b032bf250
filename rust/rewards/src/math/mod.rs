//! MATH-style answers: find the final answer, parse it into a structure, decide equivalence with the
//! ground truth. No sympy, no evaluation of model text: a LaTeX parser and exact arithmetic in Rust.
//!
//! **Reading the answer** ([`extract`]). `strict` is Tülu 3's rule: the last `\boxed{}` (with the
//! boxes written next to it, `\boxed{1}, \boxed{2}`), else Minerva's "Final Answer: The final answer is
//! X. I hope it is correct." `strict_math` reads only Minerva's sentence. `flex` reads what a grader
//! would, in math-verify's order: Minerva's sentence, the boxed answer or "final answer ... is X",
//! the math after the word "answer", else the last math in the response (`$...$`, `$$...$$`, `\[...\]`,
//! `\(...\)`, or a number in plain text such as "The answer is 7,425,000").
//!
//! **Structure** ([`Answer`]): unordered sets (`\{a,b\}`, bare `a, b` or `a; b` lists, several boxes,
//! the two values of `a \pm b`), tuples and intervals (brackets matter), unions, matrices (`pmatrix`,
//! `bmatrix`, `\left[\begin{array}...\right]`), relation chains (`=`, `<`, `\le`, `\ne`, ...), `x \in S`
//! and text. A labelled answer (`x = 5`, `(p,q) = (3,2)`, `x = 1 + 4 = 5`) compares by its value
//! when the other side is not an equation. Equations are equal when `lhs - rhs` agree up to a non-zero
//! factor, inequalities up to a positive one (or flipped: `5 \ge x` = `x \le 5`). An inequality in one
//! variable equals the interval it describes (`-2 \le x \le 7` = `[-2, 7]`).
//!
//! **Numbers** ([`number`], [`expr`]). Integers and rationals are exact at any size up to 2^16384
//! (`10^{400}` ≠ `\infty`, `2^{1024}` ≠ `2^{1025}`, `1e400` ≠ `2e400`); larger values, infinities and
//! undefined values never equal a finite value, and hostile sizes (`10^{10^{10}}`) are refused
//! early. `28\%` equals 28 and 0.28.
//!
//! **The tolerance rule**, the only one: a decimal written with k places (0.0833333333333333,
//! 4.123105625617661) stands for an exact value v (1/12, √17) when it is v rounded or truncated to
//! k places (|d − v| < 10^−k, or within a relative 10^−15: the noise of a printed double) and
//! within a relative 10^−6 (|d − v| ≤ 10^−6·|v|). A decimal inside a
//! larger expression must be within the relative 10^−6. Two decimals, or two exact values, must be
//! equal. (Evaluating exact expressions such as √12 and 2√3 in f64 allows only rounding noise, 10^−9.)

pub mod equivalence;
pub mod expr;
pub mod extract;
pub mod normalize;
pub mod number;
pub mod parse;
pub mod value;

pub use equivalence::equivalent;
pub use parse::parse_answer;
use parse::{assigned_values, set_of};

use super::{Deadline, Mode, Status, TimedOut, Verdict};
use expr::Expr;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Extraction {
    /// Tülu 3: the last box (group), else Minerva's "Final Answer" sentence.
    Strict,
    /// What a grader reads (math-verify's order of preference).
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

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Relation {
    Eq,
    /// `\approx`: the value before it is the answer.
    Approx,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    In,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Answer {
    Expr(Expr),
    /// Order does not matter.
    Set(Vec<Answer>),
    /// Order and brackets matter; two items in `(`/`[` and `)`/`]` are also an interval.
    Tuple {
        open: char,
        close: char,
        items: Vec<Answer>,
    },
    Union(Vec<Answer>),
    Matrix(Vec<Vec<Answer>>),
    /// `terms[0] ops[0] terms[1] ops[1] ...`
    Chain {
        terms: Vec<Answer>,
        ops: Vec<Relation>,
    },
    /// `p = 5, q = 2`: values named by different labels.
    Assignments(Vec<(Answer, Answer)>),
    Text(String),
}

/// The answer the response commits to, as parts (several parts form one set), or `None`.
pub fn candidates(response: &str, extraction: Extraction) -> Option<Vec<String>> {
    let parts = match extraction {
        Extraction::Strict => {
            let boxes = extract::last_boxes(response);
            if boxes.is_empty() {
                extract::minerva_answer(response).map(|a| vec![a])
            } else {
                Some(boxes)
            }
        }
        Extraction::Flex => extract::flex_answer(response),
        Extraction::MinervaOnly => extract::minerva_answer(response).map(|a| vec![a]),
    }?;
    let parts: Vec<String> = parts.into_iter().filter(|p| !p.trim().is_empty()).collect();
    (!parts.is_empty()).then_some(parts)
}

// ---------------------------------------------------------------- verify

/// The ground truth's answer: its last box group or Minerva sentence when it is a full solution,
/// else itself (Tülu 3's ground truths are plain answers: `\frac{1}{2}`, `(1,2)`, `\text{(C)}`).
fn gold_answer(ground_truth: &str) -> String {
    let boxes = extract::last_boxes(ground_truth);
    if !boxes.is_empty() {
        return boxes.join(", ");
    }
    extract::minerva_answer(ground_truth).unwrap_or_else(|| ground_truth.to_string())
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
    let Some(parts) = candidates(response, extraction) else {
        return Ok(Verdict::with_status(Status::Unparseable));
    };
    let extracted = parts.join(", ");
    let gold = parse_answer(&gold_answer(ground_truth), deadline)?;
    let answer = if parts.len() == 1 {
        parse_answer(&parts[0], deadline)?
    } else {
        let mut items = Vec::with_capacity(parts.len());
        for part in &parts {
            items.push(parse_answer(part, deadline)?);
        }
        // `\boxed{k = 45} and \boxed{n = 2}`
        assigned_values(&items).unwrap_or_else(|| set_of(items))
    };
    Ok(Verdict::new(
        equivalent(&gold, &answer, deadline)?,
        Some(extracted),
    ))
}

#[cfg(test)]
mod tests;
