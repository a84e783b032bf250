//! `tulu_lightning._native`: the CPU-bound work of tulu_lightning, in Rust: n-gram decontamination,
//! byte-level BPE encoding for data preparation, and sequence packing. (The reward verifiers are the
//! `tulu-rewards` package, built from rust/rewards.)
//!
//! Each domain lives in a pure-Rust module (tested with `cargo test`) and is exposed to Python by a
//! thin binding below. Bindings copy their inputs out of Python objects first, then release the GIL
//! (`py.detach`) for the real work; no panic crosses the FFI boundary.

pub mod bpe;
pub mod decontam;
pub mod packing;

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

/// Version of the native extension (equals the Python package version).
#[pyfunction]
fn version() -> &'static str {
    env!("CARGO_PKG_VERSION")
}

/// First-fit-decreasing packing of examples into rows of `capacity` tokens. `lengths` holds the
/// examples' token counts as little-endian u32 (a numpy array's bytes); returns the example indices
/// row after row (u32) and the offsets where each row starts in them (u64, one more than the rows),
/// both as little-endian bytes, so a million examples cross the boundary as two buffers.
#[pyfunction]
fn pack_lengths(py: Python<'_>, lengths: &[u8], capacity: usize) -> PyResult<(Vec<u8>, Vec<u8>)> {
    if capacity == 0 {
        return Err(PyValueError::new_err(
            "pack_lengths: capacity must be positive",
        ));
    }
    if lengths.len() % 4 != 0 {
        return Err(PyValueError::new_err(
            "pack_lengths: lengths must be u32 values (a multiple of 4 bytes)",
        ));
    }
    Ok(py.detach(|| {
        let lengths: Vec<usize> = lengths
            .chunks_exact(4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
            .collect();
        let (indices, offsets) = packing::packed_offsets(&lengths, capacity);
        (
            indices.iter().flat_map(|i| i.to_le_bytes()).collect(),
            offsets.iter().flat_map(|o| o.to_le_bytes()).collect(),
        )
    }))
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(version, m)?)?;
    m.add_function(wrap_pyfunction!(pack_lengths, m)?)?;
    decontam::python::register(m)?;
    bpe::python::register(m)?;
    Ok(())
}
