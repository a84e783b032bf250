//! Python bindings of the decontamination core (`tulu_lightning._native`; facade `tulu_lightning.decontam`).
//!
//! Inputs are copied out of Python objects first, then the GIL is released for the work. Every entry point
//! runs inside `catch_unwind`, so no panic crosses into Python: it becomes a RuntimeError.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use pyo3::exceptions::{PyOSError, PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use rayon::prelude::*;

use super::fields::FieldPath;
use super::index::{BenchmarkIndex, IndexBuilder, DEFAULT_N};
use super::matching::{Matcher, PairMatch};
use super::normalize::{self, NORMALIZER_VERSION};
use super::scan::{self, BatchResult, JsonlScan, ScanOptions, Skipped, DEFAULT_CHUNK_BYTES};
use super::DecontamError;
use tulu_parallel as parallel;

fn to_py_err(err: DecontamError) -> PyErr {
    match err {
        DecontamError::Io(message) => PyOSError::new_err(message),
        other => PyValueError::new_err(other.to_string()),
    }
}

/// Runs `f`, turning a panic into an error instead of unwinding into Python.
fn guarded<T>(f: impl FnOnce() -> Result<T, DecontamError>) -> PyResult<T> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(result) => result.map_err(to_py_err),
        Err(panic) => {
            let message = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".to_owned());
            Err(PyRuntimeError::new_err(format!(
                "internal error in the decontamination core: {message}"
            )))
        }
    }
}

fn parse_fields(fields: &[String]) -> Result<Vec<FieldPath>, DecontamError> {
    if fields.is_empty() {
        return Err(DecontamError::Invalid(
            "at least one field is needed".to_owned(),
        ));
    }
    fields.iter().map(|field| FieldPath::parse(field)).collect()
}

/// (instance, shared_ngrams, covered_tokens, longest_span, coverage)
type PyPairMatch = (u32, u32, u32, u32, f64);
/// (line, id, matches)
type PyContaminated = (u64, Option<String>, Vec<PyPairMatch>);
/// (docs, bytes, contaminated, malformed)
type PyBatch = (u64, u64, Vec<PyContaminated>, Vec<Skipped>);
/// (docs, bytes, contaminated, malformed, keep)
type PyRecordsBatch = (u64, u64, Vec<PyContaminated>, Vec<Skipped>, Vec<bool>);

fn py_match(m: &PairMatch) -> PyPairMatch {
    (
        m.instance,
        m.shared_ngrams,
        m.covered_tokens,
        m.longest_span,
        m.coverage,
    )
}

fn py_batch(batch: BatchResult) -> PyBatch {
    let contaminated = batch
        .contaminated
        .into_iter()
        .map(|doc| (doc.line, doc.id, doc.matches.iter().map(py_match).collect()))
        .collect();
    (batch.docs, batch.bytes, contaminated, batch.malformed)
}

/// The normalized text (normalizer version `NORMALIZER_VERSION`).
#[pyfunction]
fn normalize_text(py: Python<'_>, text: &str) -> PyResult<String> {
    let text = text.to_owned();
    py.detach(|| guarded(|| Ok(normalize::normalize(&text))))
}

/// The word tokens of the normalized text.
#[pyfunction]
fn tokenize_text(py: Python<'_>, text: &str) -> PyResult<Vec<String>> {
    let text = text.to_owned();
    py.detach(|| guarded(|| Ok(normalize::tokenize(&text))))
}

/// The benchmark side: n-gram hashes of each benchmark instance, in an exact hash table.
#[pyclass(module = "tulu_lightning._native", frozen)]
struct NgramIndex {
    inner: Arc<BenchmarkIndex>,
}

#[pymethods]
impl NgramIndex {
    /// Builds an index from (benchmark, id, text segments) triples.
    #[staticmethod]
    #[pyo3(signature = (instances, n = DEFAULT_N, seed = 0))]
    fn build(
        py: Python<'_>,
        instances: Vec<(String, String, Vec<String>)>,
        n: usize,
        seed: u64,
    ) -> PyResult<Self> {
        py.detach(|| {
            guarded(|| {
                let mut builder = IndexBuilder::new(n, seed)?;
                for (benchmark, id, segments) in &instances {
                    builder.add(benchmark, id, segments);
                }
                Ok(Self {
                    inner: Arc::new(builder.build()),
                })
            })
        })
    }

    #[staticmethod]
    fn load(py: Python<'_>, path: PathBuf) -> PyResult<Self> {
        py.detach(|| {
            guarded(|| {
                Ok(Self {
                    inner: Arc::new(BenchmarkIndex::load(&path)?),
                })
            })
        })
    }

    fn save(&self, py: Python<'_>, path: PathBuf) -> PyResult<()> {
        py.detach(|| guarded(|| self.inner.save(&path)))
    }

    #[getter]
    fn n(&self) -> usize {
        self.inner.n
    }

    #[getter]
    fn seed(&self) -> u64 {
        self.inner.seed
    }

    #[getter]
    fn normalizer_version(&self) -> u32 {
        NORMALIZER_VERSION
    }

    #[getter]
    fn benchmarks(&self) -> Vec<String> {
        self.inner.benchmarks.clone()
    }

    #[getter]
    fn num_ngrams(&self) -> usize {
        self.inner.num_ngrams()
    }

    #[getter]
    fn num_distinct_ngrams(&self) -> usize {
        self.inner.num_distinct_ngrams()
    }

    fn __len__(&self) -> usize {
        self.inner.instances.len()
    }

    /// (benchmark name, id, number of tokens, number of n-grams) of every instance, in index order.
    fn instances(&self) -> Vec<(String, String, u32, usize)> {
        let benchmarks = &self.inner.benchmarks;
        let row = |i: &super::index::Instance| {
            (
                benchmarks[i.benchmark as usize].clone(),
                i.id.clone(),
                i.num_tokens,
                i.ngram_hashes.len(),
            )
        };
        self.inner.instances.iter().map(row).collect()
    }

    /// Matches in-memory documents (each a list of text segments) in parallel.
    #[pyo3(signature = (documents, min_coverage = 0.5))]
    fn match_documents(
        &self,
        py: Python<'_>,
        documents: Vec<Vec<String>>,
        min_coverage: f64,
    ) -> PyResult<Vec<Vec<PyPairMatch>>> {
        let index = &*self.inner;
        py.detach(|| {
            guarded(|| {
                Ok(parallel::install(|| {
                    documents
                        .par_iter()
                        .map_init(
                            || Matcher::new(index),
                            |matcher, segments| {
                                matcher
                                    .match_document(segments, min_coverage)
                                    .iter()
                                    .map(py_match)
                                    .collect()
                            },
                        )
                        .collect()
                }))
            })
        })
    }
}

/// A streaming scan of one JSONL(.gz/.zst) training file; each `next_batch` matches one chunk of lines.
#[pyclass(module = "tulu_lightning._native", frozen)]
struct JsonlScanner {
    scan: Mutex<Option<JsonlScan>>,
}

#[pymethods]
impl JsonlScanner {
    #[new]
    #[pyo3(signature = (index, path, fields, id_field = Some("id".to_owned()), min_coverage = 0.5,
                        skip_malformed = true, clean_path = None, chunk_bytes = DEFAULT_CHUNK_BYTES))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        index: &NgramIndex,
        path: PathBuf,
        fields: Vec<String>,
        id_field: Option<String>,
        min_coverage: f64,
        skip_malformed: bool,
        clean_path: Option<PathBuf>,
        chunk_bytes: usize,
    ) -> PyResult<Self> {
        let index = Arc::clone(&index.inner);
        py.detach(|| {
            guarded(|| {
                let fields = parse_fields(&fields)?;
                let options = ScanOptions {
                    fields,
                    id_field,
                    min_coverage,
                    skip_malformed,
                    chunk_bytes,
                };
                let scan = JsonlScan::open(index, &path, options, clean_path.as_deref())?;
                Ok(Self {
                    scan: Mutex::new(Some(scan)),
                })
            })
        })
    }

    /// (docs, bytes, contaminated, malformed) of the next chunk, or None at the end of the file.
    fn next_batch(&self, py: Python<'_>) -> PyResult<Option<PyBatch>> {
        py.detach(|| {
            guarded(|| {
                let mut guard = self
                    .scan
                    .lock()
                    .map_err(|_| DecontamError::Invalid("scan poisoned".to_owned()))?;
                let Some(scan) = guard.as_mut() else {
                    return Ok(None);
                };
                let batch = scan.next_batch();
                if !matches!(batch, Ok(Some(_))) {
                    *guard = None; // done or failed: close the file and the reader thread
                }
                Ok(batch?.map(py_batch))
            })
        })
    }
}

/// Matches in-memory JSON records (e.g. Parquet rows serialized by the facade); record `i` is numbered
/// `first_line + i`. Returns (docs, bytes, contaminated, malformed, keep) where `keep[i]` says record `i`
/// is clean.
#[pyfunction]
#[pyo3(signature = (index, records, first_line, fields, id_field = Some("id".to_owned()), min_coverage = 0.5,
                    skip_malformed = true, source = "records".to_owned()))]
#[allow(clippy::too_many_arguments)]
fn scan_json_records(
    py: Python<'_>,
    index: &NgramIndex,
    records: Vec<String>,
    first_line: u64,
    fields: Vec<String>,
    id_field: Option<String>,
    min_coverage: f64,
    skip_malformed: bool,
    source: String,
) -> PyResult<PyRecordsBatch> {
    let index = &*index.inner;
    py.detach(|| {
        guarded(|| {
            let fields = parse_fields(&fields)?;
            let options = ScanOptions {
                fields,
                id_field,
                min_coverage,
                skip_malformed,
                chunk_bytes: DEFAULT_CHUNK_BYTES,
            };
            let (batch, keep) = scan::scan_records(index, &records, first_line, &options, &source)?;
            let (docs, bytes, contaminated, malformed) = py_batch(batch);
            Ok((docs, bytes, contaminated, malformed, keep))
        })
    })
}

/// Every record of a small JSONL(.gz/.zst) file: ([(line, id, segments)], [(line, message)] skipped).
#[pyfunction]
#[pyo3(signature = (path, fields, id_field = Some("id".to_owned()), skip_malformed = true))]
fn read_json_records(
    py: Python<'_>,
    path: PathBuf,
    fields: Vec<String>,
    id_field: Option<String>,
    skip_malformed: bool,
) -> PyResult<(Vec<scan::TextRecord>, Vec<Skipped>)> {
    py.detach(|| {
        guarded(|| {
            scan::read_records(
                &path,
                &parse_fields(&fields)?,
                id_field.as_deref(),
                skip_malformed,
            )
        })
    })
}

/// The (line, id, segments) of in-memory JSON records, numbered from `first_line`.
#[pyfunction]
#[pyo3(signature = (records, fields, id_field = Some("id".to_owned()), first_line = 0, source = "records".to_owned()))]
fn parse_json_records(
    py: Python<'_>,
    records: Vec<String>,
    fields: Vec<String>,
    id_field: Option<String>,
    first_line: u64,
    source: String,
) -> PyResult<Vec<scan::TextRecord>> {
    py.detach(|| {
        guarded(|| {
            let fields = parse_fields(&fields)?;
            let mut out = Vec::with_capacity(records.len());
            for (i, record) in records.iter().enumerate() {
                let line = first_line + i as u64;
                let parsed =
                    scan::parse_record(record.as_bytes(), line, &fields, id_field.as_deref());
                out.extend(parsed.map_err(|err| err.at(&format!("{source}:{line}")))?);
            }
            Ok(out)
        })
    })
}

/// Adds the decontamination functions and classes to the `_native` module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("NORMALIZER_VERSION", NORMALIZER_VERSION)?;
    m.add_function(wrap_pyfunction!(normalize_text, m)?)?;
    m.add_function(wrap_pyfunction!(tokenize_text, m)?)?;
    m.add_function(wrap_pyfunction!(scan_json_records, m)?)?;
    m.add_function(wrap_pyfunction!(read_json_records, m)?)?;
    m.add_function(wrap_pyfunction!(parse_json_records, m)?)?;
    m.add_class::<NgramIndex>()?;
    m.add_class::<JsonlScanner>()?;
    Ok(())
}
