//! Verifiable rewards: score a model response against a dataset's ground truth.
//!
//! A verifier is picked by the name the dataset gives it (Tülu 3 RLVR: `gsm8k`, `math`, `ifeval`, plus
//! `strict_math`, `string_f1`, `exact_match`). Every verifier is a pure function of
//! `(response, ground truth, prompt)`; [`verify_batch`] runs a batch on the process's rayon pool.
//!
//! Rules shared by all verifiers, because a policy optimised against them will look for holes:
//! - a response longer than [`Options::max_response_bytes`] is not parsed at all (`Unparseable`);
//! - text copied from the prompt is removed before extracting an answer (see [`strip_prompt_copies`]);
//! - work is bounded by a per-row [`Deadline`]; running past it gives `Timeout`, never a hang;
//! - a panic inside one row is caught and reported as an error for that row.

pub mod gsm8k;
pub mod ifeval;
pub mod math;
pub mod python;
pub mod text;

use rayon::prelude::*;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::{Duration, Instant};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Correct,
    Wrong,
    Unparseable,
    Timeout,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Correct => "correct",
            Status::Wrong => "wrong",
            Status::Unparseable => "unparseable",
            Status::Timeout => "timeout",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Verdict {
    /// Reward in [0, 1].
    pub score: f64,
    pub status: Status,
    /// The answer the verifier read from the response, when it found one.
    pub extracted: Option<String>,
}

impl Verdict {
    pub fn new(correct: bool, extracted: Option<String>) -> Self {
        let status = if correct {
            Status::Correct
        } else {
            Status::Wrong
        };
        Verdict {
            score: if correct { 1.0 } else { 0.0 },
            status,
            extracted,
        }
    }

    pub fn scored(score: f64, extracted: Option<String>) -> Self {
        let score = if score.is_finite() {
            score.clamp(0.0, 1.0)
        } else {
            0.0
        };
        let status = if score >= 1.0 {
            Status::Correct
        } else {
            Status::Wrong
        };
        Verdict {
            score,
            status,
            extracted,
        }
    }

    pub fn with_status(status: Status) -> Self {
        Verdict {
            score: 0.0,
            status,
            extracted: None,
        }
    }
}

/// How strictly answers are read.
///
/// `Strict`: math reads only `\boxed{}` / Minerva's "Final Answer" sentence, IFEval checks the response
/// as written. `Loose`: math also accepts the last `$...$`, IFEval passes a constraint when any of its 8
/// loose variants of the response passes (IFEval's "loose" accuracy).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Strict,
    Loose,
}

impl Mode {
    pub fn parse(name: &str) -> Option<Mode> {
        match name {
            "strict" => Some(Mode::Strict),
            "loose" | "flex" => Some(Mode::Loose),
            _ => None,
        }
    }
}

#[derive(Clone, Debug)]
pub struct Options {
    pub mode: Mode,
    /// IFEval: score the fraction of constraints followed instead of all-or-nothing.
    pub partial: bool,
    pub max_response_bytes: usize,
    pub timeout: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            mode: Mode::Strict,
            partial: false,
            max_response_bytes: 200_000,
            timeout: Duration::from_secs(2),
        }
    }
}

/// Wall-clock budget of one row; long-running loops poll [`Deadline::expired`].
#[derive(Clone, Copy, Debug)]
pub struct Deadline(Instant);

impl Deadline {
    pub fn after(budget: Duration) -> Self {
        Deadline(Instant::now() + budget)
    }

    pub fn expired(&self) -> bool {
        Instant::now() >= self.0
    }
}

/// The ran-out-of-time marker carried up through `Result`s.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimedOut;

/// A row that cannot be verified at all (unknown verifier, malformed ground truth, internal panic).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifyError {
    pub row: usize,
    pub message: String,
}

pub const VERIFIERS: [&str; 7] = [
    "gsm8k",
    "math",
    "strict_math",
    "ifeval",
    "ifbench",
    "string_f1",
    "exact_match",
];

/// One row: `verifier` named as in the dataset, `ground_truth` as stored there.
pub fn verify_one(
    verifier: &str,
    response: &str,
    ground_truth: &str,
    prompt: Option<&str>,
    options: &Options,
) -> Result<Verdict, String> {
    if response.len() > options.max_response_bytes {
        return Ok(Verdict::with_status(Status::Unparseable));
    }
    let deadline = Deadline::after(options.timeout);
    let verdict = match verifier.trim().to_ascii_lowercase().as_str() {
        "gsm8k" => gsm8k::verify(&strip_prompt_copies(response, prompt), ground_truth),
        "math" => math::verify(
            &strip_prompt_copies(response, prompt),
            ground_truth,
            math::Extraction::from(options.mode),
            deadline,
        ),
        "strict_math" => math::verify(
            &strip_prompt_copies(response, prompt),
            ground_truth,
            math::Extraction::MinervaOnly,
            deadline,
        ),
        "ifeval" | "ifbench" => ifeval::verify(response, ground_truth, prompt, options)?,
        "string_f1" => text::string_f1(response, ground_truth),
        "exact_match" => text::exact_match(response, ground_truth),
        other => {
            return Err(format!(
                "unknown verifier {other:?} (known: {})",
                VERIFIERS.join(", ")
            ))
        }
    };
    Ok(verdict)
}

/// Verify a batch in parallel; `verifiers` has one name per row, or a single name for all rows.
pub fn verify_batch(
    verifiers: &[String],
    responses: &[String],
    ground_truths: &[String],
    prompts: Option<&[Option<String>]>,
    options: &Options,
) -> Result<Vec<Verdict>, VerifyError> {
    let n = responses.len();
    let shape_error = |message: String| Err(VerifyError { row: 0, message });
    if ground_truths.len() != n {
        return shape_error(format!(
            "{n} responses but {} ground truths",
            ground_truths.len()
        ));
    }
    if verifiers.len() != n && verifiers.len() != 1 {
        return shape_error(format!(
            "{n} responses but {} verifier names",
            verifiers.len()
        ));
    }
    if let Some(p) = prompts {
        if p.len() != n {
            return shape_error(format!("{n} responses but {} prompts", p.len()));
        }
    }
    let row = |i: usize| -> Result<Verdict, VerifyError> {
        let verifier = if verifiers.len() == 1 {
            &verifiers[0]
        } else {
            &verifiers[i]
        };
        let prompt = prompts.and_then(|p| p[i].as_deref());
        let result = catch_unwind(AssertUnwindSafe(|| {
            verify_one(verifier, &responses[i], &ground_truths[i], prompt, options)
        }));
        match result {
            Ok(Ok(verdict)) => Ok(verdict),
            Ok(Err(message)) => Err(VerifyError { row: i, message }),
            Err(_) => Err(VerifyError {
                row: i,
                message: "internal error (panic) while verifying".to_string(),
            }),
        }
    };
    crate::parallel::install(|| (0..n).into_par_iter().map(row).collect())
}

/// Remove text the response copied from the prompt, so an answer that only appears in a restatement
/// of the question is not credited: every occurrence of the whole (trimmed) prompt, then every response
/// line of at least 16 characters that occurs verbatim in the prompt.
pub fn strip_prompt_copies(response: &str, prompt: Option<&str>) -> String {
    let prompt = match prompt.map(str::trim) {
        Some(p) if !p.is_empty() => p,
        _ => return response.to_string(),
    };
    let without_prompt = response.replace(prompt, "\n");
    without_prompt
        .split('\n')
        .filter(|line| {
            let line = line.trim();
            line.len() < 16 || !prompt.contains(line)
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(verifier: &str, pairs: &[(&str, &str)]) -> Vec<Verdict> {
        let responses: Vec<String> = pairs.iter().map(|p| p.0.to_string()).collect();
        let truths: Vec<String> = pairs.iter().map(|p| p.1.to_string()).collect();
        verify_batch(
            &[verifier.to_string()],
            &responses,
            &truths,
            None,
            &Options::default(),
        )
        .unwrap()
    }

    #[test]
    fn batch_keeps_row_order() {
        let verdicts = batch(
            "gsm8k",
            &[("so 18", "18"), ("so 17", "18"), ("no number", "3")],
        );
        let statuses: Vec<Status> = verdicts.iter().map(|v| v.status).collect();
        assert_eq!(
            statuses,
            [Status::Correct, Status::Wrong, Status::Unparseable]
        );
    }

    #[test]
    fn unknown_verifier_reports_its_row() {
        let responses = vec!["1".to_string(), "2".to_string()];
        let truths = vec!["1".to_string(), "2".to_string()];
        let names = vec!["gsm8k".to_string(), "nope".to_string()];
        let err = verify_batch(&names, &responses, &truths, None, &Options::default()).unwrap_err();
        assert_eq!(err.row, 1);
        assert!(err.message.contains("nope"));
    }

    #[test]
    fn overlong_response_is_not_parsed() {
        let options = Options {
            max_response_bytes: 10,
            ..Options::default()
        };
        let verdict = verify_one("gsm8k", "the answer is 18 indeed", "18", None, &options).unwrap();
        assert_eq!(verdict.status, Status::Unparseable);
    }

    #[test]
    fn answer_only_in_restated_question_is_not_credited() {
        let prompt = "Tom has 12 apples and buys 6 more. How many apples does Tom have?";
        let response =
            "I think it is 17.\nTom has 12 apples and buys 6 more. How many apples does Tom have?";
        let verdict =
            verify_one("gsm8k", response, "6", Some(prompt), &Options::default()).unwrap();
        assert_eq!(verdict.status, Status::Wrong);
        assert_eq!(verdict.extracted.as_deref(), Some("17"));
    }
}
