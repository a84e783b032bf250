//! Verifiable rewards: score a model response against a dataset's ground truth.
//!
//! A verifier is picked by the name the dataset gives it (Tülu 3 RLVR: `gsm8k`, `math`, `ifeval`, plus
//! `strict_math`, `string_f1`, `exact_match`), case-insensitively and under a few other names datasets
//! use ([`canonical_verifier`]). Every verifier is a pure function of `(response, ground truth, prompt)`;
//! [`verify_batch`] runs a batch on the process's rayon pool.
//!
//! Rules shared by all verifiers, because a policy optimised against them will look for holes:
//! - a response longer than [`Options::max_response_bytes`] is not parsed at all (`Unparseable`);
//! - text copied from the prompt is removed before extracting an answer (see [`strip_prompt_copies`]);
//! - work is bounded by a per-row [`Deadline`]; running past it gives `Timeout`, never a hang;
//! - a row never fails its batch: a ground truth that does not parse, or a panic inside the row, gives
//!   that row the status `Error` (score 0, the message in [`Verdict::error`]); only misuse of the API
//!   (an unknown verifier name, lengths that differ) is a [`VerifyError`].

pub mod ground_truth;
pub mod gsm8k;
pub mod ifeval;
pub mod math;
pub mod text;

use rayon::prelude::*;
use std::cell::Cell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Once;
use std::time::{Duration, Instant};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Correct,
    Wrong,
    Unparseable,
    Timeout,
    /// The row could not be verified: its ground truth does not parse, or the verifier panicked.
    Error,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Correct => "correct",
            Status::Wrong => "wrong",
            Status::Unparseable => "unparseable",
            Status::Timeout => "timeout",
            Status::Error => "error",
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
    /// Why the row could not be verified (status `Error` only).
    pub error: Option<String>,
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
            error: None,
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
            error: None,
        }
    }

    pub fn with_status(status: Status) -> Self {
        Verdict {
            score: 0.0,
            status,
            extracted: None,
            error: None,
        }
    }

    /// A row that could not be verified: score 0, status `Error`, with the reason.
    pub fn error(message: String) -> Self {
        Verdict {
            error: Some(message),
            ..Verdict::with_status(Status::Error)
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

/// Misuse of the batch API: an unknown verifier name (`row` is its row) or lengths that differ.
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

/// Other names datasets and open-instruct give our verifiers.
/// - `ifeval_old`: open-instruct's verifier of Tülu 3's `{"func_name": ...}` labels, which `ifeval` reads;
/// - `string_matcher`, `puzzle`: open-instruct's normalised exact match (of the `<answer>` span, and of
///   the text after `</think>`), which `exact_match` does (see [`text`]).
pub const ALIASES: [(&str, &str); 3] = [
    ("ifeval_old", "ifeval"),
    ("string_matcher", "exact_match"),
    ("puzzle", "exact_match"),
];

/// The verifier a dataset's name stands for: trimmed, case-insensitive (`MATH` is `math`), aliases
/// resolved. The error lists the known names.
pub fn canonical_verifier(name: &str) -> Result<&'static str, String> {
    let key = name.trim().to_lowercase();
    if let Some(found) = VERIFIERS.iter().find(|v| **v == key) {
        return Ok(found);
    }
    if let Some((_, target)) = ALIASES.iter().find(|(alias, _)| *alias == key) {
        return Ok(target);
    }
    let aliases: Vec<String> = ALIASES.iter().map(|(a, t)| format!("{a} = {t}")).collect();
    Err(format!(
        "unknown verifier {name:?} (known: {}; also {})",
        VERIFIERS.join(", "),
        aliases.join(", ")
    ))
}

/// Why `ground_truth` cannot be verified by `verifier`, or `None` when it parses as that verifier
/// expects. The same reading [`verify_one`] does, without a response; a `combination:repeat_prompt`
/// constraint without its text is accepted (it repeats the row's prompt at verification).
pub fn ground_truth_error(verifier: &str, ground_truth: &str) -> Option<String> {
    let name = match canonical_verifier(verifier) {
        Ok(name) => name,
        Err(message) => return Some(message),
    };
    let checked = match name {
        "ifeval" | "ifbench" => ifeval::build_constraints(ground_truth, Some("")).map(|_| ()),
        "string_f1" | "exact_match" => ground_truth::labels(ground_truth).map(|_| ()),
        _ => answer_ground_truth(ground_truth),
    };
    checked.err()
}

/// `ground_truth_error` of every row, in parallel; `verifiers` has one name per row or one for all.
pub fn ground_truth_errors(
    verifiers: &[String],
    ground_truths: &[String],
) -> Result<Vec<Option<String>>, VerifyError> {
    let n = ground_truths.len();
    if verifiers.len() != n && verifiers.len() != 1 {
        return Err(VerifyError {
            row: 0,
            message: format!("{n} ground truths but {} verifier names", verifiers.len()),
        });
    }
    let row = |i: usize| {
        let verifier = &verifiers[if verifiers.len() == 1 { 0 } else { i }];
        catch_row_panic(|| ground_truth_error(verifier, &ground_truths[i])).unwrap_or_else(Some)
    };
    Ok(tulu_parallel::install(|| {
        (0..n).into_par_iter().map(row).collect()
    }))
}

/// A math or GSM8K answer: any text but an empty one (an empty gold would credit an empty response).
fn answer_ground_truth(ground_truth: &str) -> Result<(), String> {
    if ground_truth.trim().is_empty() {
        Err("ground truth is empty".to_string())
    } else {
        Ok(())
    }
}

/// One row's verdict: its error, or a panic inside it, becomes [`Verdict::error`].
fn guarded(verify: impl FnOnce() -> Result<Verdict, String>) -> Verdict {
    match catch_row_panic(verify) {
        Ok(Ok(verdict)) => verdict,
        Ok(Err(message)) | Err(message) => Verdict::error(message),
    }
}

thread_local! {
    /// Whether this thread is inside [`catch_row_panic`] (the panic hook stays silent then).
    static IN_ROW: Cell<bool> = const { Cell::new(false) };
}

/// Run one row's work, turning a panic inside it into the row's error message. The panic is reported
/// there, in the row's `error`, so the process's panic hook does not also print it to stderr: a hook
/// installed once stays silent while the panicking thread is inside a row, and hands every other panic
/// to the hook that was in place before it (by default Rust's, which prints the message).
pub fn catch_row_panic<R>(work: impl FnOnce() -> R) -> Result<R, String> {
    static QUIET_ROW_PANICS: Once = Once::new();
    QUIET_ROW_PANICS.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !IN_ROW.try_with(Cell::get).unwrap_or(false) {
                previous(info);
            }
        }));
    });
    let outer = IN_ROW.replace(true);
    let result = catch_unwind(AssertUnwindSafe(work));
    IN_ROW.set(outer);
    result.map_err(|payload| panic_message(payload.as_ref()))
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    let detail = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_default();
    let detail: String = detail.chars().take(200).collect();
    format!("internal error (panic) while verifying: {detail}")
}

/// One row: `verifier` named as in the dataset, `ground_truth` as stored there.
pub fn verify_one(
    verifier: &str,
    response: &str,
    ground_truth: &str,
    prompt: Option<&str>,
    options: &Options,
) -> Result<Verdict, String> {
    if response.len() > options.max_response_bytes {
        // Not parsed; but a ground truth that does not parse stays the row's error, whatever the response
        // (as `ground_truth_error` reports it before training).
        return match ground_truth_error(verifier, ground_truth) {
            Some(message) => Err(message),
            None => Ok(Verdict::with_status(Status::Unparseable)),
        };
    }
    let name = canonical_verifier(verifier)?;
    if matches!(name, "gsm8k" | "math" | "strict_math") {
        answer_ground_truth(ground_truth)?;
    }
    let deadline = Deadline::after(options.timeout);
    let verdict = match name {
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
        "string_f1" => text::string_f1(response, ground_truth)?,
        "exact_match" => text::exact_match(response, ground_truth)?,
        other => unreachable!("canonical_verifier returned {other:?}"),
    };
    Ok(verdict)
}

/// Verify a batch in parallel; `verifiers` has one name per row, or a single name for all rows.
///
/// Fails only on misuse (lengths that differ, an unknown verifier name); a row that cannot be
/// verified gets [`Verdict::error`] and the other rows are scored.
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
    for (i, verifier) in verifiers.iter().enumerate() {
        canonical_verifier(verifier).map_err(|message| VerifyError { row: i, message })?;
    }
    let row = |i: usize| -> Verdict {
        let verifier = &verifiers[if verifiers.len() == 1 { 0 } else { i }];
        let prompt = prompts.and_then(|p| p[i].as_deref());
        guarded(|| verify_one(verifier, &responses[i], &ground_truths[i], prompt, options))
    };
    Ok(tulu_parallel::install(|| {
        (0..n).into_par_iter().map(row).collect()
    }))
}

/// Remove text the response copied from the prompt, so an answer that only appears in a restatement
/// of the question is not credited: every occurrence of the whole (trimmed) prompt, then every response
/// line of at least 16 characters that occurs verbatim in the prompt. (No byte offsets: only whole
/// lines and whole matches are removed, so any UTF-8 text is safe.)
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
            line.chars().count() < 16 || !prompt.contains(line)
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
    fn a_bad_ground_truth_is_the_error_even_of_an_overlong_response() {
        let long = "7 ".repeat(200_000);
        for (verifier, truth) in [
            ("gsm8k", ""),
            ("math", ""),
            ("ifeval", "{not json"),
            ("exact_match", "[]"),
        ] {
            let verdict = &batch(verifier, &[(long.as_str(), truth)])[0];
            assert_eq!(verdict.status, Status::Error, "{verifier} {truth:?}");
            assert_eq!(verdict.error, ground_truth_error(verifier, truth));
        }
        assert_eq!(
            batch("gsm8k", &[(long.as_str(), "7")])[0].status,
            Status::Unparseable
        );
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
    fn a_bad_row_is_an_error_row_and_the_others_are_scored() {
        let responses = ["so 3", "x", "so 5"].map(String::from);
        let truths = ["3", "{not json", ""].map(String::from);
        let names = ["GSM8K", "IFEval", "math"].map(String::from);
        let verdicts =
            verify_batch(&names, &responses, &truths, None, &Options::default()).unwrap();
        let statuses: Vec<Status> = verdicts.iter().map(|v| v.status).collect();
        assert_eq!(statuses, [Status::Correct, Status::Error, Status::Error]);
        assert!(verdicts[1]
            .error
            .as_deref()
            .unwrap()
            .contains("neither JSON"));
        assert_eq!(verdicts[2].error.as_deref(), Some("ground truth is empty"));
        assert_eq!(verdicts[0].error, None);
    }

    #[test]
    fn a_panic_is_caught_as_its_row_error() {
        let verdict = guarded(|| panic!("boom at byte 3"));
        assert_eq!((verdict.status, verdict.score), (Status::Error, 0.0));
        assert_eq!(
            verdict.error.as_deref(),
            Some("internal error (panic) while verifying: boom at byte 3")
        );
        let verdict = guarded(|| Err("bad".to_string()));
        assert_eq!(verdict.error.as_deref(), Some("bad"));
    }

    #[test]
    fn names_and_ground_truth_checks() {
        assert_eq!(canonical_verifier(" MATH "), Ok("math"));
        assert_eq!(canonical_verifier("ifeval_old"), Ok("ifeval"));
        assert!(canonical_verifier("maths")
            .unwrap_err()
            .contains("known: gsm8k"));
        let names = ["ifeval".to_string()];
        let truths = [
            "[{'instruction_id': ['punctuation:no_comma'], 'kwargs': [None]}]",
            "{'instruction_id': ['no:such'], 'kwargs': [{}]}",
            r#"{"func_name": "validate_repeat_prompt"}"#,
        ]
        .map(String::from);
        let errors = ground_truth_errors(&names, &truths).unwrap();
        assert_eq!(errors[0], None);
        assert!(errors[1].as_deref().unwrap().contains("no:such"));
        assert_eq!(errors[2], None, "repeat_prompt repeats the row's prompt");
        assert!(ground_truth_errors(&["a".into(), "b".into()], &truths).is_err());
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
