//! PyO3 bindings of the verifiers (the only file of `rewards` that knows about Python).

use super::{Mode, Options};
use pyo3::create_exception;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use std::time::Duration;

create_exception!(
    _native,
    VerifierError,
    PyValueError,
    "Misuse of the verifier API: args are (message, row), row None when no row is at fault."
);

/// `(score, status, extracted, error)`.
type PyVerdict = (f64, &'static str, Option<String>, Option<String>);

fn misuse(message: String, row: Option<usize>) -> PyErr {
    VerifierError::new_err((message, row))
}

/// Verify a batch. `verifiers` names one verifier per row, or one for all rows.
/// Returns `(score, status, extracted, error)` per row; a row that cannot be verified has status
/// "error" and its reason in `error`. Raises `VerifierError(message, row)` only for an unknown
/// verifier name or lengths that differ, and `ValueError` for a bad mode or timeout.
#[pyfunction]
#[pyo3(signature = (verifiers, responses, ground_truths, prompts=None, mode="strict", partial=false, max_response_bytes=200_000, timeout_s=2.0))]
#[allow(clippy::too_many_arguments)]
fn verify_batch(
    py: Python<'_>,
    verifiers: Vec<String>,
    responses: Vec<String>,
    ground_truths: Vec<String>,
    prompts: Option<Vec<Option<String>>>,
    mode: &str,
    partial: bool,
    max_response_bytes: usize,
    timeout_s: f64,
) -> PyResult<Vec<PyVerdict>> {
    let mode = Mode::parse(mode).ok_or_else(|| {
        PyValueError::new_err(format!("mode must be strict, loose or flex, not {mode:?}"))
    })?;
    if !(timeout_s.is_finite() && timeout_s > 0.0) {
        return Err(PyValueError::new_err("timeout_s must be a positive number"));
    }
    let options = Options {
        mode,
        partial,
        max_response_bytes,
        timeout: Duration::from_secs_f64(timeout_s.min(3600.0)),
    };
    let result = py.detach(|| {
        super::verify_batch(
            &verifiers,
            &responses,
            &ground_truths,
            prompts.as_deref(),
            &options,
        )
    });
    match result {
        Ok(verdicts) => Ok(verdicts
            .into_iter()
            .map(|v| (v.score, v.status.as_str(), v.extracted, v.error))
            .collect()),
        Err(err) => Err(misuse(err.message, Some(err.row))),
    }
}

/// Per row, `None` when its ground truth parses for its verifier, else why not (one line).
/// `verifiers` names one verifier per row, or one for all rows.
#[pyfunction]
fn ground_truth_errors(
    py: Python<'_>,
    verifiers: Vec<String>,
    ground_truths: Vec<String>,
) -> PyResult<Vec<Option<String>>> {
    py.detach(|| super::ground_truth_errors(&verifiers, &ground_truths))
        .map_err(|err| misuse(err.message, None))
}

/// The verifier a dataset's name stands for (case-insensitive, trimmed, aliases resolved).
#[pyfunction]
fn canonical_verifier(name: &str) -> PyResult<&'static str> {
    super::canonical_verifier(name).map_err(|message| misuse(message, None))
}

/// Names of the registered verifiers.
#[pyfunction]
fn verifier_names() -> Vec<&'static str> {
    super::VERIFIERS.to_vec()
}

/// Other names of the verifiers, as `(alias, verifier)` pairs.
#[pyfunction]
fn verifier_aliases() -> Vec<(&'static str, &'static str)> {
    super::ALIASES.to_vec()
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(verify_batch, m)?)?;
    m.add_function(wrap_pyfunction!(ground_truth_errors, m)?)?;
    m.add_function(wrap_pyfunction!(canonical_verifier, m)?)?;
    m.add_function(wrap_pyfunction!(verifier_names, m)?)?;
    m.add_function(wrap_pyfunction!(verifier_aliases, m)?)?;
    m.add("VerifierError", m.py().get_type::<VerifierError>())?;
    Ok(())
}
