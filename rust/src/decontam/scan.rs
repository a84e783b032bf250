//! The training side: JSON records matched against the benchmark index in parallel, streamed from
//! JSONL files (plain, .gz or .zst) in chunks of bounded size so memory does not grow with the corpus.
//!
//! A reader thread decompresses and splits lines one chunk ahead of the matcher; the rayon pool matches the
//! records of a chunk in parallel; the chunk's clean lines (not contaminated, not malformed) are written to
//! the optional cleaned copy, byte for byte, in their original order.

use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{sync_channel, Receiver};
use std::sync::Arc;
use std::thread::JoinHandle;

use rayon::prelude::*;
use serde_json::Value;

use super::fields::{extract_all, record_id, FieldPath};
use super::index::BenchmarkIndex;
use super::matching::{Matcher, PairMatch};
use super::DecontamError;
use tulu_parallel as parallel;

pub const DEFAULT_CHUNK_BYTES: usize = 8 << 20;

#[derive(Debug, Clone)]
pub struct ScanOptions {
    pub fields: Vec<FieldPath>,
    pub id_field: Option<String>,
    /// A pair is reported when its coverage is strictly above this (Tülu 3: 0.5).
    pub min_coverage: f64,
    /// Skip and count malformed lines (true) or fail on the first one (false).
    pub skip_malformed: bool,
    pub chunk_bytes: usize,
}

/// A training record with at least one overlapping benchmark instance.
#[derive(Debug, Clone, PartialEq)]
pub struct ContaminatedDoc {
    /// 1-based line number in a JSONL file, or the row number given by the caller for in-memory rows.
    pub line: u64,
    pub id: Option<String>,
    pub matches: Vec<PairMatch>,
}

#[derive(Debug, Default, Clone, PartialEq)]
pub struct BatchResult {
    /// Records matched (blank and malformed lines excluded).
    pub docs: u64,
    /// Uncompressed bytes read, newlines included.
    pub bytes: u64,
    pub contaminated: Vec<ContaminatedDoc>,
    /// (line, message) of each malformed line skipped.
    pub malformed: Vec<(u64, String)>,
}

enum Outcome {
    Blank,
    Clean,
    Contaminated(ContaminatedDoc),
    Malformed(String),
}

fn scan_record(
    matcher: &mut Matcher<'_>,
    bytes: &[u8],
    line: u64,
    options: &ScanOptions,
) -> Result<Outcome, DecontamError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Outcome::Blank);
    }
    let record: Value = match serde_json::from_slice(bytes) {
        Ok(record @ Value::Object(_)) => record,
        Ok(_) => return Ok(Outcome::Malformed("not a JSON object".to_owned())),
        Err(err) => return Ok(Outcome::Malformed(format!("malformed JSON: {err}"))),
    };
    let segments = extract_all(&record, &options.fields)?;
    let matches = matcher.match_document(&segments, options.min_coverage);
    if matches.is_empty() {
        return Ok(Outcome::Clean);
    }
    Ok(Outcome::Contaminated(ContaminatedDoc {
        line,
        id: record_id(&record, options.id_field.as_deref()),
        matches,
    }))
}

/// Matches `records` (JSON objects, one per item; record `i` is numbered `first_line + i`) in parallel.
/// Returns the figures and, per record, whether it is clean (kept in a cleaned copy).
pub fn scan_records<R: AsRef<[u8]> + Sync>(
    index: &BenchmarkIndex,
    records: &[R],
    first_line: u64,
    options: &ScanOptions,
    source: &str,
) -> Result<(BatchResult, Vec<bool>), DecontamError> {
    let outcomes: Vec<Result<Outcome, DecontamError>> = parallel::install(|| {
        records
            .par_iter()
            .enumerate()
            .map_init(
                || Matcher::new(index),
                |matcher, (i, bytes)| {
                    scan_record(matcher, bytes.as_ref(), first_line + i as u64, options)
                },
            )
            .collect()
    });
    let mut result = BatchResult::default();
    let mut keep = Vec::with_capacity(records.len());
    for (i, (outcome, bytes)) in outcomes.into_iter().zip(records).enumerate() {
        let line = first_line + i as u64;
        result.bytes += bytes.as_ref().len() as u64;
        let outcome = outcome.map_err(|err| err.at(&format!("{source}:{line}")))?;
        keep.push(matches!(outcome, Outcome::Clean));
        match outcome {
            Outcome::Blank => {}
            Outcome::Clean => result.docs += 1,
            Outcome::Contaminated(doc) => {
                result.docs += 1;
                result.contaminated.push(doc);
            }
            Outcome::Malformed(message) if options.skip_malformed => {
                result.malformed.push((line, message))
            }
            Outcome::Malformed(message) => {
                return Err(DecontamError::Malformed(format!(
                    "{source}:{line}: {message}"
                )));
            }
        }
    }
    Ok((result, keep))
}

/// Opens a file for reading, decompressing `.gz` and `.zst`/`.zstd` by their extension.
pub fn open_input(path: &Path) -> io::Result<Box<dyn BufRead + Send>> {
    let file = File::open(path)?;
    Ok(match compression(path) {
        Compression::Gzip => Box::new(BufReader::new(flate2::read::MultiGzDecoder::new(
            BufReader::new(file),
        ))),
        Compression::Zstd => Box::new(BufReader::new(zstd::Decoder::new(file)?)),
        Compression::None => Box::new(BufReader::with_capacity(1 << 20, file)),
    })
}

#[derive(Clone, Copy)]
enum Compression {
    None,
    Gzip,
    Zstd,
}

fn compression(path: &Path) -> Compression {
    match path.extension().and_then(|ext| ext.to_str()) {
        Some("gz") => Compression::Gzip,
        Some("zst" | "zstd") => Compression::Zstd,
        _ => Compression::None,
    }
}

/// A file written with the compression its extension names; `finish` completes the stream.
pub enum OutputFile {
    Plain(BufWriter<File>),
    Gzip(flate2::write::GzEncoder<BufWriter<File>>),
    Zstd(zstd::Encoder<'static, BufWriter<File>>),
}

impl OutputFile {
    pub fn create(path: &Path) -> io::Result<Self> {
        let file = BufWriter::with_capacity(1 << 20, File::create(path)?);
        Ok(match compression(path) {
            // Fast levels: the cleaned copy must not become the bottleneck of the scan.
            Compression::Gzip => Self::Gzip(flate2::write::GzEncoder::new(
                file,
                flate2::Compression::fast(),
            )),
            Compression::Zstd => Self::Zstd(zstd::Encoder::new(file, 3)?),
            Compression::None => Self::Plain(file),
        })
    }

    pub fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        match self {
            Self::Plain(w) => w.write_all(bytes),
            Self::Gzip(w) => w.write_all(bytes),
            Self::Zstd(w) => w.write_all(bytes),
        }
    }

    pub fn finish(self) -> io::Result<()> {
        match self {
            Self::Plain(mut w) => w.flush(),
            Self::Gzip(w) => w.finish()?.flush(),
            Self::Zstd(w) => w.finish()?.flush(),
        }
    }
}

/// Lines of a file read in one go: `data[ends[i-1]..ends[i]]` is line `first_line + i`, newline included.
struct LineChunk {
    data: Vec<u8>,
    ends: Vec<usize>,
    first_line: u64,
}

impl LineChunk {
    fn lines(&self) -> Vec<&[u8]> {
        let mut start = 0;
        self.ends
            .iter()
            .map(|&end| {
                let line = &self.data[start..end];
                start = end;
                line
            })
            .collect()
    }
}

fn read_chunks(
    mut input: Box<dyn BufRead + Send>,
    chunk_bytes: usize,
    sender: std::sync::mpsc::SyncSender<io::Result<LineChunk>>,
) {
    let mut next_line = 1u64;
    loop {
        let mut chunk = LineChunk {
            data: Vec::with_capacity(chunk_bytes + (64 << 10)),
            ends: Vec::new(),
            first_line: next_line,
        };
        let mut eof = false;
        while chunk.data.len() < chunk_bytes {
            match input.read_until(b'\n', &mut chunk.data) {
                Ok(0) => {
                    eof = true;
                    break;
                }
                Ok(_) => chunk.ends.push(chunk.data.len()),
                Err(err) => {
                    let _ = sender.send(Err(err));
                    return;
                }
            }
        }
        next_line += chunk.ends.len() as u64;
        let has_lines = !chunk.ends.is_empty();
        // A send fails only when the scan was dropped: then there is no one left to read for.
        if (has_lines && sender.send(Ok(chunk)).is_err()) || eof {
            return;
        }
    }
}

/// A streaming scan of one JSONL file, one chunk of lines per `next_batch`.
pub struct JsonlScan {
    index: Arc<BenchmarkIndex>,
    path: PathBuf,
    options: ScanOptions,
    chunks: Receiver<io::Result<LineChunk>>,
    reader: Option<JoinHandle<()>>,
    clean: Option<OutputFile>,
}

impl JsonlScan {
    /// Starts reading `path`; the clean lines go to `clean_path` when given (created or truncated).
    pub fn open(
        index: Arc<BenchmarkIndex>,
        path: &Path,
        options: ScanOptions,
        clean_path: Option<&Path>,
    ) -> Result<Self, DecontamError> {
        let io_err =
            |path: &Path, err: io::Error| DecontamError::Io(format!("{}: {err}", path.display()));
        if options.chunk_bytes == 0 {
            return Err(DecontamError::Invalid(
                "chunk_bytes must be positive".to_owned(),
            ));
        }
        let input = open_input(path).map_err(|err| io_err(path, err))?;
        let clean = clean_path
            .map(|clean| {
                if same_file(path, clean) {
                    return Err(DecontamError::Invalid(format!(
                        "the cleaned copy {} would overwrite its input",
                        clean.display()
                    )));
                }
                OutputFile::create(clean).map_err(|err| io_err(clean, err))
            })
            .transpose()?;
        let (sender, chunks) = sync_channel(1);
        let chunk_bytes = options.chunk_bytes;
        let reader = std::thread::Builder::new()
            .name("tulu-decontam-reader".to_owned())
            .spawn(move || read_chunks(input, chunk_bytes, sender))
            .map_err(|err| io_err(path, err))?;
        Ok(Self {
            index,
            path: path.to_owned(),
            options,
            chunks,
            reader: Some(reader),
            clean,
        })
    }

    /// Matches the next chunk of lines; `None` once the file is exhausted (the cleaned copy is then complete).
    pub fn next_batch(&mut self) -> Result<Option<BatchResult>, DecontamError> {
        let source = self.path.display().to_string();
        let Ok(chunk) = self.chunks.recv() else {
            self.finish()?;
            return Ok(None);
        };
        let chunk = chunk.map_err(|err| DecontamError::Io(format!("{source}: {err}")))?;
        let lines = chunk.lines();
        let (result, keep) = scan_records(
            &self.index,
            &lines,
            chunk.first_line,
            &self.options,
            &source,
        )?;
        if let Some(clean) = self.clean.as_mut() {
            for (line, _) in lines.iter().zip(&keep).filter(|(_, &kept)| kept) {
                clean
                    .write_all(line)
                    .map_err(|err| DecontamError::Io(format!("cleaned copy of {source}: {err}")))?;
            }
        }
        Ok(Some(result))
    }

    fn finish(&mut self) -> Result<(), DecontamError> {
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
        if let Some(clean) = self.clean.take() {
            clean.finish().map_err(|err| {
                DecontamError::Io(format!("cleaned copy of {}: {err}", self.path.display()))
            })?;
        }
        Ok(())
    }

    /// Runs the whole file; returns the figures of all its batches together.
    pub fn run_to_end(mut self) -> Result<BatchResult, DecontamError> {
        let mut total = BatchResult::default();
        while let Some(batch) = self.next_batch()? {
            total.docs += batch.docs;
            total.bytes += batch.bytes;
            total.contaminated.extend(batch.contaminated);
            total.malformed.extend(batch.malformed);
        }
        Ok(total)
    }
}

/// A record read for the benchmark side: its line, id and text segments.
pub type TextRecord = (u64, Option<String>, Vec<String>);
/// (line, message) of a malformed line that was skipped.
pub type Skipped = (u64, String);

/// Reads every record of a (small, benchmark) JSONL file: (records, malformed lines skipped).
pub fn read_records(
    path: &Path,
    fields: &[FieldPath],
    id_field: Option<&str>,
    skip_malformed: bool,
) -> Result<(Vec<TextRecord>, Vec<Skipped>), DecontamError> {
    let source = path.display().to_string();
    let input = open_input(path).map_err(|err| DecontamError::Io(format!("{source}: {err}")))?;
    let (mut records, mut malformed) = (Vec::new(), Vec::new());
    for (i, line) in input.split(b'\n').enumerate() {
        let line_no = i as u64 + 1;
        let line = line.map_err(|err| DecontamError::Io(format!("{source}: {err}")))?;
        match parse_record(&line, line_no, fields, id_field) {
            Ok(Some(record)) => records.push(record),
            Ok(None) => {}
            Err(DecontamError::Malformed(message)) if skip_malformed => {
                malformed.push((line_no, message))
            }
            Err(err) => return Err(err.at(&format!("{source}:{line_no}"))),
        }
    }
    Ok((records, malformed))
}

/// The line, id and segments of one JSON record; `None` for a blank line.
pub fn parse_record(
    bytes: &[u8],
    line: u64,
    fields: &[FieldPath],
    id_field: Option<&str>,
) -> Result<Option<TextRecord>, DecontamError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let record: Value = match serde_json::from_slice(bytes) {
        Ok(record @ Value::Object(_)) => record,
        Ok(_) => return Err(DecontamError::Malformed("not a JSON object".to_owned())),
        Err(err) => return Err(DecontamError::Malformed(format!("malformed JSON: {err}"))),
    };
    Ok(Some((
        line,
        record_id(&record, id_field),
        extract_all(&record, fields)?,
    )))
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decontam::index::IndexBuilder;
    use std::io::Read;

    const QUESTION: &str =
        "Natalia sold clips to 48 of her friends in April and then half as many in May";

    fn index() -> Arc<BenchmarkIndex> {
        let mut builder = IndexBuilder::new(8, 0).unwrap();
        builder.add("gsm8k", "q0", &[QUESTION]);
        Arc::new(builder.build())
    }

    fn options(skip_malformed: bool) -> ScanOptions {
        ScanOptions {
            fields: vec![FieldPath::parse("messages[role=user].content").unwrap()],
            id_field: Some("id".to_owned()),
            min_coverage: 0.5,
            skip_malformed,
            chunk_bytes: 64, // a few lines per chunk: exercises chunk boundaries
        }
    }

    fn chat(id: usize, user: &str) -> String {
        serde_json::json!({"id": format!("t{id}"), "messages": [
            {"role": "user", "content": user}, {"role": "assistant", "content": QUESTION}
        ]})
        .to_string()
    }

    fn corpus() -> String {
        let mut lines = Vec::new();
        for i in 0..20 {
            lines.push(if i % 7 == 3 {
                chat(i, &format!("Q: {QUESTION}?"))
            } else {
                chat(i, "hello there")
            });
        }
        lines.insert(5, "{not json".to_owned());
        lines.insert(9, String::new());
        lines.join("\n") + "\n"
    }

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("tl-scan-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn scan_finds_copies_skips_malformed_and_cleans() {
        let dir = temp_dir("plain");
        for (name, compress) in [
            ("train.jsonl", None),
            ("train.jsonl.gz", Some("gz")),
            ("train.jsonl.zst", Some("zst")),
        ] {
            let path = dir.join(name);
            let mut out = OutputFile::create(&path).unwrap();
            out.write_all(corpus().as_bytes()).unwrap();
            out.finish().unwrap();
            let clean_path = dir.join(format!("clean-{name}"));
            let scan = JsonlScan::open(index(), &path, options(true), Some(&clean_path)).unwrap();
            let result = scan.run_to_end().unwrap();
            assert_eq!(result.docs, 20, "{compress:?}");
            assert_eq!(result.malformed.len(), 1);
            assert_eq!(result.malformed[0].0, 6);
            let ids: Vec<_> = result
                .contaminated
                .iter()
                .map(|d| d.id.clone().unwrap())
                .collect();
            assert_eq!(ids, ["t3", "t10", "t17"]);
            assert_eq!(result.contaminated[0].line, 4);
            let mut clean = String::new();
            open_input(&clean_path)
                .unwrap()
                .read_to_string(&mut clean)
                .unwrap();
            assert_eq!(clean.lines().count(), 17);
            assert!(
                !clean.contains("t10") && clean.contains("t11") && !clean.contains("{not json")
            );
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn malformed_is_fatal_on_request_and_missing_field_is_named() {
        let dir = temp_dir("errors");
        let path = dir.join("train.jsonl");
        std::fs::write(&path, corpus()).unwrap();
        let err = JsonlScan::open(index(), &path, options(false), None)
            .unwrap()
            .run_to_end()
            .unwrap_err();
        assert!(
            matches!(&err, DecontamError::Malformed(m) if m.contains("train.jsonl:6: malformed JSON")),
            "{err}"
        );

        std::fs::write(&path, "{\"messages\": []}\n{\"text\": \"x\"}\n").unwrap();
        let err = JsonlScan::open(index(), &path, options(true), None)
            .unwrap()
            .run_to_end()
            .unwrap_err();
        let message = err.to_string();
        assert!(
            message.contains("train.jsonl:2")
                && message.contains("\"messages[role=user].content\" not found"),
            "{message}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn refuses_to_overwrite_input() {
        let dir = temp_dir("overwrite");
        let path = dir.join("train.jsonl");
        std::fs::write(&path, corpus()).unwrap();
        assert!(JsonlScan::open(index(), &path, options(true), Some(&path)).is_err());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), corpus());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
