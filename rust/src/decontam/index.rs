//! The benchmark side: each instance's n-gram hashes, and a hash -> (instance, n-gram) lookup table.
//!
//! Benchmarks are small (up to a few hundred thousand n-grams), so the table is an exact hash map; the
//! training side only probes it. Hashes are 64-bit xxh3 with a fixed seed: each token is hashed, and an
//! n-gram's hash is the xxh3 of its n token hashes. N-grams never straddle two text segments (two chat
//! turns, or two fields).

use std::collections::HashMap;
use std::fs::File;
use std::hash::{BuildHasherDefault, Hasher};
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::Path;

use xxhash_rust::xxh3::{xxh3_64, xxh3_64_with_seed};

use super::normalize::{for_each_token, NORMALIZER_VERSION};
use super::DecontamError;

pub const DEFAULT_N: usize = 8;
pub const MAX_N: usize = 64;
const MAGIC: &[u8; 8] = b"TLDCIDX\0";
const FORMAT_VERSION: u32 = 1;

/// The keys are already xxh3 hashes, so the map uses them as they are.
#[derive(Default)]
pub struct IdentityHasher(u64);

impl Hasher for IdentityHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) | u64::from(b);
        }
    }
    fn write_u64(&mut self, value: u64) {
        self.0 = value;
    }
}

type HashTable<V> = HashMap<u64, V, BuildHasherDefault<IdentityHasher>>;

/// Computes the n-gram hashes of token streams, reusing its buffers across calls.
pub struct NgramHasher {
    n: usize,
    seed: u64,
    token_hashes: Vec<u64>,
    window: Vec<u8>,
}

impl NgramHasher {
    pub fn new(n: usize, seed: u64) -> Self {
        Self {
            n,
            seed,
            token_hashes: Vec::new(),
            window: Vec::with_capacity(8 * n),
        }
    }

    /// Calls `f(first_token_position, hash)` for each n-gram of `text`; returns the number of tokens.
    pub fn for_each_ngram(&mut self, text: &str, mut f: impl FnMut(usize, u64)) -> usize {
        let seed = self.seed;
        self.token_hashes.clear();
        let token_hashes = &mut self.token_hashes;
        for_each_token(text, |token| {
            token_hashes.push(xxh3_64_with_seed(token.as_bytes(), seed))
        });
        let num_tokens = self.token_hashes.len();
        if num_tokens >= self.n {
            for (start, window) in self.token_hashes.windows(self.n).enumerate() {
                self.window.clear();
                for hash in window {
                    self.window.extend_from_slice(&hash.to_le_bytes());
                }
                f(start, xxh3_64_with_seed(&self.window, seed));
            }
        }
        num_tokens
    }
}

/// One benchmark instance: its n-grams by position (positions count tokens across all its segments).
#[derive(Debug, Clone, PartialEq)]
pub struct Instance {
    pub benchmark: u32,
    pub id: String,
    pub num_tokens: u32,
    pub ngram_starts: Vec<u32>,
    pub ngram_hashes: Vec<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Posting {
    pub instance: u32,
    pub ngram: u32,
}

#[derive(Debug)]
pub struct BenchmarkIndex {
    pub n: usize,
    pub seed: u64,
    pub benchmarks: Vec<String>,
    pub instances: Vec<Instance>,
    table: HashTable<(u32, u32)>, // hash -> range of `postings`
    postings: Vec<Posting>,
}

/// Builds a `BenchmarkIndex` one instance at a time.
pub struct IndexBuilder {
    n: usize,
    seed: u64,
    hasher: NgramHasher,
    benchmarks: Vec<String>,
    instances: Vec<Instance>,
}

impl IndexBuilder {
    pub fn new(n: usize, seed: u64) -> Result<Self, DecontamError> {
        check_n(n)?;
        Ok(Self {
            n,
            seed,
            hasher: NgramHasher::new(n, seed),
            benchmarks: Vec::new(),
            instances: Vec::new(),
        })
    }

    /// Adds one instance of `benchmark` made of the text `segments`; returns its index.
    pub fn add<S: AsRef<str>>(&mut self, benchmark: &str, id: &str, segments: &[S]) -> usize {
        let benchmark = match self.benchmarks.iter().position(|name| name == benchmark) {
            Some(i) => i,
            None => {
                self.benchmarks.push(benchmark.to_owned());
                self.benchmarks.len() - 1
            }
        };
        let (mut starts, mut hashes, mut offset) = (Vec::new(), Vec::new(), 0usize);
        for segment in segments {
            offset += self.hasher.for_each_ngram(segment.as_ref(), |start, hash| {
                starts.push((offset + start) as u32);
                hashes.push(hash);
            });
        }
        self.instances.push(Instance {
            benchmark: benchmark as u32,
            id: id.to_owned(),
            num_tokens: offset as u32,
            ngram_starts: starts,
            ngram_hashes: hashes,
        });
        self.instances.len() - 1
    }

    pub fn build(self) -> BenchmarkIndex {
        BenchmarkIndex::from_parts(self.n, self.seed, self.benchmarks, self.instances)
    }
}

fn check_n(n: usize) -> Result<(), DecontamError> {
    if (1..=MAX_N).contains(&n) {
        Ok(())
    } else {
        Err(DecontamError::Invalid(format!(
            "n must be between 1 and {MAX_N}, got {n}"
        )))
    }
}

impl BenchmarkIndex {
    fn from_parts(n: usize, seed: u64, benchmarks: Vec<String>, instances: Vec<Instance>) -> Self {
        let mut entries: Vec<(u64, Posting)> = Vec::new();
        for (i, instance) in instances.iter().enumerate() {
            for (j, &hash) in instance.ngram_hashes.iter().enumerate() {
                entries.push((
                    hash,
                    Posting {
                        instance: i as u32,
                        ngram: j as u32,
                    },
                ));
            }
        }
        entries.sort_unstable();
        let mut table = HashTable::default();
        let mut postings = Vec::with_capacity(entries.len());
        for chunk in entries.chunk_by(|a, b| a.0 == b.0) {
            table.insert(chunk[0].0, (postings.len() as u32, chunk.len() as u32));
            postings.extend(chunk.iter().map(|(_, posting)| *posting));
        }
        Self {
            n,
            seed,
            benchmarks,
            instances,
            table,
            postings,
        }
    }

    /// The (instance, n-gram) pairs whose n-gram has this hash.
    #[inline]
    pub fn lookup(&self, hash: u64) -> &[Posting] {
        match self.table.get(&hash) {
            Some(&(start, len)) => &self.postings[start as usize..(start + len) as usize],
            None => &[],
        }
    }

    pub fn num_ngrams(&self) -> usize {
        self.postings.len()
    }

    pub fn num_distinct_ngrams(&self) -> usize {
        self.table.len()
    }

    pub fn save(&self, path: &Path) -> Result<(), DecontamError> {
        let mut body = Vec::new();
        put_u32(&mut body, FORMAT_VERSION);
        put_u32(&mut body, NORMALIZER_VERSION);
        put_u32(&mut body, self.n as u32);
        body.extend_from_slice(&self.seed.to_le_bytes());
        put_u32(&mut body, self.benchmarks.len() as u32);
        for name in &self.benchmarks {
            put_str(&mut body, name);
        }
        put_u32(&mut body, self.instances.len() as u32);
        for instance in &self.instances {
            put_u32(&mut body, instance.benchmark);
            put_str(&mut body, &instance.id);
            put_u32(&mut body, instance.num_tokens);
            put_u32(&mut body, instance.ngram_hashes.len() as u32);
            for &start in &instance.ngram_starts {
                put_u32(&mut body, start);
            }
            for &hash in &instance.ngram_hashes {
                body.extend_from_slice(&hash.to_le_bytes());
            }
        }
        let io_err = |err: std::io::Error| DecontamError::Io(format!("{}: {err}", path.display()));
        let mut file = BufWriter::new(File::create(path).map_err(io_err)?);
        file.write_all(MAGIC).map_err(io_err)?;
        file.write_all(&body).map_err(io_err)?;
        file.write_all(&xxh3_64(&body).to_le_bytes())
            .map_err(io_err)?;
        file.flush().map_err(io_err)
    }

    /// Loads an index saved by `save`, refusing a file from another format or normalizer version.
    pub fn load(path: &Path) -> Result<Self, DecontamError> {
        let shown = path.display();
        let mut bytes = Vec::new();
        File::open(path)
            .and_then(|file| BufReader::new(file).read_to_end(&mut bytes))
            .map_err(|err| DecontamError::Io(format!("{shown}: {err}")))?;
        let bad = |what: &str| {
            DecontamError::Invalid(format!("{shown}: not a valid n-gram index ({what})"))
        };
        if bytes.len() < MAGIC.len() + 8 || &bytes[..MAGIC.len()] != MAGIC {
            return Err(bad("wrong magic bytes"));
        }
        let (body, checksum) = bytes[MAGIC.len()..].split_at(bytes.len() - MAGIC.len() - 8);
        if xxh3_64(body).to_le_bytes() != checksum {
            return Err(bad("checksum mismatch: truncated or corrupted"));
        }
        let mut r = ByteReader {
            bytes: body,
            pos: 0,
        };
        let format = r.u32().ok_or_else(|| bad("header"))?;
        if format != FORMAT_VERSION {
            return Err(bad(&format!(
                "format version {format}, this build reads {FORMAT_VERSION}"
            )));
        }
        let normalizer = r.u32().ok_or_else(|| bad("header"))?;
        if normalizer != NORMALIZER_VERSION {
            return Err(DecontamError::Invalid(format!(
                "{shown}: index built with normalizer version {normalizer}, this build uses version \
                 {NORMALIZER_VERSION}; rebuild the index"
            )));
        }
        let n = r.u32().ok_or_else(|| bad("header"))? as usize;
        check_n(n).map_err(|_| bad("n out of range"))?;
        let seed = r.u64().ok_or_else(|| bad("header"))?;
        let mut benchmarks = Vec::new();
        for _ in 0..r.u32().ok_or_else(|| bad("benchmarks"))? {
            benchmarks.push(r.string().ok_or_else(|| bad("benchmark name"))?);
        }
        let num_instances = r.u32().ok_or_else(|| bad("instances"))?;
        let mut instances = Vec::new();
        for _ in 0..num_instances {
            instances.push(
                r.instance(benchmarks.len())
                    .ok_or_else(|| bad("instance record"))?,
            );
        }
        if r.pos != body.len() {
            return Err(bad("trailing bytes"));
        }
        Ok(Self::from_parts(n, seed, benchmarks, instances))
    }
}

fn put_u32(out: &mut Vec<u8>, value: u32) {
    out.extend_from_slice(&value.to_le_bytes());
}

fn put_str(out: &mut Vec<u8>, value: &str) {
    put_u32(out, value.len() as u32);
    out.extend_from_slice(value.as_bytes());
}

struct ByteReader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl ByteReader<'_> {
    fn take(&mut self, len: usize) -> Option<&[u8]> {
        let end = self
            .pos
            .checked_add(len)
            .filter(|&end| end <= self.bytes.len())?;
        let slice = &self.bytes[self.pos..end];
        self.pos = end;
        Some(slice)
    }
    fn u32(&mut self) -> Option<u32> {
        self.take(4)
            .map(|b| u32::from_le_bytes(b.try_into().unwrap_or_default()))
    }
    fn u64(&mut self) -> Option<u64> {
        self.take(8)
            .map(|b| u64::from_le_bytes(b.try_into().unwrap_or_default()))
    }
    fn string(&mut self) -> Option<String> {
        let len = self.u32()? as usize;
        String::from_utf8(self.take(len)?.to_vec()).ok()
    }
    fn instance(&mut self, num_benchmarks: usize) -> Option<Instance> {
        let benchmark = self.u32().filter(|&b| (b as usize) < num_benchmarks)?;
        let id = self.string()?;
        let num_tokens = self.u32()?;
        let num_ngrams = self.u32()? as usize;
        let ngram_starts = (0..num_ngrams)
            .map(|_| self.u32())
            .collect::<Option<Vec<_>>>()?;
        let ngram_hashes = (0..num_ngrams)
            .map(|_| self.u64())
            .collect::<Option<Vec<_>>>()?;
        Some(Instance {
            benchmark,
            id,
            num_tokens,
            ngram_starts,
            ngram_hashes,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ngrams_stay_within_segments() {
        let mut builder = IndexBuilder::new(3, 7).unwrap();
        builder.add("b", "0", &["a b c d", "e f"]);
        let index = builder.build();
        let instance = &index.instances[0];
        assert_eq!(instance.num_tokens, 6);
        assert_eq!(instance.ngram_starts, [0, 1]);
        assert_eq!(index.num_ngrams(), 2);
    }

    #[test]
    fn same_text_same_hash_and_seed_matters() {
        let mut hasher = NgramHasher::new(2, 1);
        let mut first = Vec::new();
        hasher.for_each_ngram("Hello, world! hello WORLD", |_, h| first.push(h));
        assert_eq!(first.len(), 3);
        assert_eq!(first[0], first[2]);
        let mut other_seed = Vec::new();
        NgramHasher::new(2, 2).for_each_ngram("hello world", |_, h| other_seed.push(h));
        assert_ne!(first[0], other_seed[0]);
    }

    #[test]
    fn save_load_roundtrip_and_refusals() {
        let dir = std::env::temp_dir().join(format!("tl-index-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("index.bin");
        let mut builder = IndexBuilder::new(4, 42).unwrap();
        builder.add("gsm8k", "q1", &["one two three four five six"]);
        builder.add("math", "p1", &["ünïcode text with some words here"]);
        let index = builder.build();
        index.save(&path).unwrap();
        let loaded = BenchmarkIndex::load(&path).unwrap();
        assert_eq!((loaded.n, loaded.seed), (4, 42));
        assert_eq!(loaded.benchmarks, index.benchmarks);
        assert_eq!(loaded.instances, index.instances);
        assert_eq!(
            loaded.lookup(index.instances[0].ngram_hashes[1]),
            index.lookup(index.instances[0].ngram_hashes[1])
        );

        let mut bytes = std::fs::read(&path).unwrap();
        bytes[MAGIC.len() + 4] ^= 0xFF; // normalizer version, then fix the checksum so only it is wrong
        let body_end = bytes.len() - 8;
        let checksum = xxh3_64(&bytes[MAGIC.len()..body_end]).to_le_bytes();
        bytes[body_end..].copy_from_slice(&checksum);
        std::fs::write(&path, &bytes).unwrap();
        let err = BenchmarkIndex::load(&path).unwrap_err().to_string();
        assert!(err.contains("normalizer version"), "{err}");

        std::fs::write(&path, &bytes[..bytes.len() - 3]).unwrap();
        let err = BenchmarkIndex::load(&path).unwrap_err().to_string();
        assert!(err.contains("checksum"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn n_is_checked() {
        assert!(IndexBuilder::new(0, 0).is_err());
        assert!(IndexBuilder::new(MAX_N + 1, 0).is_err());
    }
}
