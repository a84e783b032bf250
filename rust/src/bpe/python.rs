//! Python binding of the byte-level BPE encoder (`tulu_lightning._native.BpeEncoder`; used by
//! `tulu_lightning.chat`). Texts are copied out of Python, then encoded with the GIL released, in parallel
//! over the process's pool; ids and labels come back as flat little-endian buffers with row offsets.

use std::panic::{catch_unwind, AssertUnwindSafe};

use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use rayon::prelude::*;
use tulu_parallel as parallel;

use super::{encode_labelled, Encoder, Unsupported};

type Encoded = Result<Vec<(Vec<u32>, Vec<i32>)>, Unsupported>;

/// Runs `f`, turning a panic into a RuntimeError instead of unwinding into Python.
fn guarded<T>(f: impl FnOnce() -> T) -> PyResult<T> {
    catch_unwind(AssertUnwindSafe(f)).map_err(|panic| {
        let message = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".to_owned());
        PyRuntimeError::new_err(format!("internal error in the BPE encoder: {message}"))
    })
}

/// A byte-level BPE tokenizer.json's encoder. `BpeEncoder(json)` raises ValueError naming the part of the
/// tokenizer it does not support.
#[pyclass(frozen, module = "tulu_lightning._native")]
pub struct BpeEncoder {
    inner: Encoder,
}

#[pymethods]
impl BpeEncoder {
    #[new]
    fn new(py: Python<'_>, tokenizer_json: &str) -> PyResult<Self> {
        let json = tokenizer_json.to_owned();
        let inner = py
            .detach(|| guarded(|| Encoder::from_json(&json)))?
            .map_err(|e| PyValueError::new_err(format!("unsupported tokenizer: {e}")))?;
        Ok(Self { inner })
    }

    /// (ids u32, labels i32, row offsets u64) of `texts`, each text's tokens labelled where their first
    /// character lies in one of its char `spans` (as on `tokenizers`' offsets). `threads` 1 encodes in this
    /// thread (inside a worker process), else over the process's pool. ValueError when a text cannot be
    /// encoded here (the caller then uses `tokenizers`).
    #[pyo3(signature = (texts, spans, threads = 0))]
    fn encode_labelled<'py>(
        &self,
        py: Python<'py>,
        texts: Vec<String>,
        spans: Vec<Vec<(i64, i64)>>,
        threads: usize,
    ) -> PyResult<(
        Bound<'py, PyBytes>,
        Bound<'py, PyBytes>,
        Bound<'py, PyBytes>,
    )> {
        if spans.len() != texts.len() {
            return Err(PyValueError::new_err(
                "encode_labelled: one spans list per text",
            ));
        }
        // a negative bound is before every token's start (as a Python comparison reads it)
        let spans: Vec<Vec<(usize, usize)>> = spans
            .iter()
            .map(|row| {
                row.iter()
                    .map(|&(s, e)| (s.max(0) as usize, e.max(0) as usize))
                    .collect()
            })
            .collect();
        let encoder = &self.inner;
        let encoded: Encoded = py.detach(|| {
            guarded(|| {
                let one = |(text, spans): (&String, &Vec<(usize, usize)>)| {
                    encode_labelled(encoder, text, spans)
                };
                if threads == 1 {
                    texts.iter().zip(&spans).map(one).collect()
                } else {
                    parallel::install(|| texts.par_iter().zip(&spans).map(one).collect())
                }
            })
        })?;
        let rows = encoded.map_err(|e| PyValueError::new_err(e.to_string()))?;
        let total: usize = rows.iter().map(|(ids, _)| ids.len()).sum();
        let (mut ids, mut labels) = (Vec::with_capacity(total * 4), Vec::with_capacity(total * 4));
        let mut offsets = Vec::with_capacity((rows.len() + 1) * 8);
        let mut position = 0u64;
        offsets.extend(position.to_le_bytes());
        for (row_ids, row_labels) in rows {
            ids.extend(row_ids.iter().flat_map(|i| i.to_le_bytes()));
            labels.extend(row_labels.iter().flat_map(|l| l.to_le_bytes()));
            position += row_ids.len() as u64;
            offsets.extend(position.to_le_bytes());
        }
        Ok((
            PyBytes::new(py, &ids),
            PyBytes::new(py, &labels),
            PyBytes::new(py, &offsets),
        ))
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<BpeEncoder>()
}
