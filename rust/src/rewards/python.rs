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
    "A row could not be verified: args are (message, row)."
);

/// Verify a batch. `verifiers` names one verifier per row, or one for all rows.
/// Returns `(score, status, extracted)` per row; raises `VerifierError(message, row)`.
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
) -> PyResult<Vec<(f64, &'static str, Option<String>)>> {
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
            .map(|v| (v.score, v.status.as_str(), v.extracted))
            .collect()),
        Err(err) => Err(VerifierError::new_err((err.message, err.row))),
    }
}

/// Names of the registered verifiers.
#[pyfunction]
fn verifier_names() -> Vec<&'static str> {
    super::VERIFIERS.to_vec()
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(verify_batch, m)?)?;
    m.add_function(wrap_pyfunction!(verifier_names, m)?)?;
    m.add("VerifierError", m.py().get_type::<VerifierError>())?;
    Ok(())
}
