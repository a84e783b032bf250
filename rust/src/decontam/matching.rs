//! Tülu 3's instance-level rule: a benchmark instance overlaps a training instance when more than a
//! threshold (50%) of its tokens are covered by its n-grams that also occur in that training instance.

use super::index::{BenchmarkIndex, NgramHasher, Posting};

/// One (benchmark instance, training instance) pair that shares n-grams.
#[derive(Debug, Clone, PartialEq)]
pub struct PairMatch {
    pub instance: u32,
    /// Distinct n-grams of the benchmark instance that occur in the training instance.
    pub shared_ngrams: u32,
    /// Benchmark tokens inside at least one shared n-gram.
    pub covered_tokens: u32,
    /// Longest run of consecutive covered benchmark tokens.
    pub longest_span: u32,
    /// covered_tokens / the benchmark instance's tokens.
    pub coverage: f64,
}

/// Per-thread buffers for matching one training document after another.
pub struct Matcher<'a> {
    index: &'a BenchmarkIndex,
    hasher: NgramHasher,
    hits: Vec<Posting>,
}

impl<'a> Matcher<'a> {
    pub fn new(index: &'a BenchmarkIndex) -> Self {
        Self {
            index,
            hasher: NgramHasher::new(index.n, index.seed),
            hits: Vec::new(),
        }
    }

    /// The benchmark instances whose coverage by this training document's n-grams is above
    /// `min_coverage` (strictly), ordered by instance.
    pub fn match_document<S: AsRef<str>>(
        &mut self,
        segments: &[S],
        min_coverage: f64,
    ) -> Vec<PairMatch> {
        self.hits.clear();
        let (index, hits) = (self.index, &mut self.hits);
        for segment in segments {
            self.hasher.for_each_ngram(segment.as_ref(), |_, hash| {
                hits.extend_from_slice(index.lookup(hash))
            });
        }
        if self.hits.is_empty() {
            return Vec::new();
        }
        self.hits.sort_unstable();
        self.hits.dedup();
        self.hits
            .chunk_by(|a, b| a.instance == b.instance)
            .filter_map(|hits| pair_match(index, hits, min_coverage))
            .collect()
    }
}

/// Coverage figures of one benchmark instance from its n-grams found in the document (sorted, distinct).
fn pair_match(index: &BenchmarkIndex, hits: &[Posting], min_coverage: f64) -> Option<PairMatch> {
    let instance = &index.instances[hits[0].instance as usize];
    let n = index.n as u32;
    let (mut covered, mut longest) = (0u32, 0u32);
    let (mut run_start, mut run_end) = (0u32, 0u32); // current run of covered tokens [run_start, run_end)
    for hit in hits {
        let start = instance.ngram_starts[hit.ngram as usize];
        let end = start + n;
        if start > run_end || run_end == 0 {
            covered += run_end - run_start;
            longest = longest.max(run_end - run_start);
            run_start = start;
        }
        run_end = run_end.max(end);
    }
    covered += run_end - run_start;
    longest = longest.max(run_end - run_start);
    let coverage = f64::from(covered) / f64::from(instance.num_tokens);
    if coverage <= min_coverage {
        return None;
    }
    let mut hashes: Vec<u64> = hits
        .iter()
        .map(|hit| instance.ngram_hashes[hit.ngram as usize])
        .collect();
    hashes.sort_unstable();
    hashes.dedup();
    Some(PairMatch {
        instance: hits[0].instance,
        shared_ngrams: hashes.len() as u32,
        covered_tokens: covered,
        longest_span: longest,
        coverage,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decontam::index::IndexBuilder;

    fn index(n: usize, texts: &[&str]) -> BenchmarkIndex {
        let mut builder = IndexBuilder::new(n, 0).unwrap();
        for (i, text) in texts.iter().enumerate() {
            builder.add("bench", &i.to_string(), &[*text]);
        }
        builder.build()
    }

    #[test]
    fn exact_copy_is_fully_covered() {
        let question =
            "Natalia sold clips to 48 of her friends in April and then half as many in May";
        let index = index(
            8,
            &[
                question,
                "something else entirely that shares nothing with it at all",
            ],
        );
        let doc = format!("Please solve: {}. Thanks!", question.to_uppercase());
        let matches = Matcher::new(&index).match_document(&[doc], 0.5);
        assert_eq!(matches.len(), 1);
        let m = &matches[0];
        assert_eq!(
            (
                m.instance,
                m.covered_tokens,
                m.longest_span,
                m.shared_ngrams
            ),
            (0, 17, 17, 10)
        );
        assert_eq!(m.coverage, 1.0);
    }

    #[test]
    fn partial_coverage_and_threshold() {
        // 10 tokens, n = 3: the document shares tokens 0..5 (ngrams at 0,1,2) and 7..10 (ngram at 7).
        let index = index(3, &["a b c d e f g h i j"]);
        let doc = "a b c d e x y h i j";
        let all = Matcher::new(&index).match_document(&[doc], 0.0);
        assert_eq!(all[0].covered_tokens, 8);
        assert_eq!(all[0].longest_span, 5);
        assert_eq!(all[0].shared_ngrams, 4);
        assert!(Matcher::new(&index).match_document(&[doc], 0.8).is_empty());
    }

    #[test]
    fn short_and_empty_instances_never_match() {
        let index = index(8, &["too short", ""]);
        let matches = Matcher::new(&index).match_document(&["too short", ""], 0.0);
        assert!(matches.is_empty());
    }

    #[test]
    fn ngrams_do_not_bridge_training_segments() {
        let index = index(4, &["one two three four"]);
        let mut matcher = Matcher::new(&index);
        assert!(matcher
            .match_document(&["one two", "three four"], 0.0)
            .is_empty());
        assert_eq!(
            matcher.match_document(&["x one two three four"], 0.0).len(),
            1
        );
    }

    #[test]
    fn repeated_ngrams_count_once() {
        let index = index(2, &["la la la la"]);
        let matches = Matcher::new(&index).match_document(&["la la"], 0.0);
        assert_eq!(
            (matches[0].shared_ngrams, matches[0].covered_tokens),
            (1, 4)
        );
    }
}
