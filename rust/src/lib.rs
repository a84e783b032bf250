//! `tulu_lightning._native`: the CPU-bound work of tulu_lightning, in Rust: n-gram decontamination and
//! sequence packing. (The reward verifiers are the `tulu-rewards` package, built from rust/rewards.)
//!
//! Each domain lives in a pure-Rust module (tested with `cargo test`) and is exposed to Python by a
//! thin binding below. Bindings copy their inputs out of Python objects first, then release the GIL
//! (`py.detach`) for the real work; no panic crosses the FFI boundary.

pub mod decontam;
pub mod packing;

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

/// Version of the native extension (equals the Python package version).
#[pyfunction]
fn version() -> &'static str {
    env!("CARGO_PKG_VERSION")
}

/// First-fit-decreasing packing of examples of the given token `lengths` into rows of `capacity`
/// tokens. Returns a list of rows, each a list of example indices in ascending order.
#[pyfunction]
fn pack_sequences(
    py: Python<'_>,
    lengths: Vec<usize>,
    capacity: usize,
) -> PyResult<Vec<Vec<usize>>> {
    if capacity == 0 {
        return Err(PyValueError::new_err(
            "pack_sequences: capacity must be positive",
        ));
    }
    Ok(py.detach(|| packing::first_fit_decreasing(&lengths, capacity)))
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(version, m)?)?;
    m.add_function(wrap_pyfunction!(pack_sequences, m)?)?;
    decontam::python::register(m)?;
    Ok(())
}
