//! Bin packing of tokenized examples into fixed-size rows (padding-free packing for SFT).

/// First-fit-decreasing packing: assign every example (by its token count) to a bin of at most
/// `capacity` tokens. Returns the bins as lists of example indices; each bin keeps its examples in
/// ascending index order so a packed row reads in dataset order. Examples longer than `capacity`
/// get a bin of their own (the caller truncates them before packing).
pub fn first_fit_decreasing(lengths: &[usize], capacity: usize) -> Vec<Vec<usize>> {
    let mut order: Vec<usize> = (0..lengths.len()).collect();
    // Stable sort: among equal lengths the earlier example is placed first, so packing is deterministic.
    order.sort_by(|&a, &b| lengths[b].cmp(&lengths[a]));
    let mut bins: Vec<Vec<usize>> = Vec::new();
    let mut free: Vec<usize> = Vec::new();
    for idx in order {
        let len = lengths[idx];
        match free.iter().position(|&room| room >= len) {
            Some(bin) => {
                bins[bin].push(idx);
                free[bin] -= len;
            }
            None => {
                bins.push(vec![idx]);
                free.push(capacity.saturating_sub(len));
            }
        }
    }
    for bin in &mut bins {
        bin.sort_unstable();
    }
    bins
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_valid(lengths: &[usize], capacity: usize, bins: &[Vec<usize>]) {
        let mut seen: Vec<usize> = bins.iter().flatten().copied().collect();
        seen.sort_unstable();
        assert_eq!(
            seen,
            (0..lengths.len()).collect::<Vec<_>>(),
            "every example placed exactly once"
        );
        for bin in bins {
            let total: usize = bin.iter().map(|&i| lengths[i]).sum();
            assert!(total <= capacity || bin.len() == 1, "bin {bin:?} overflows");
        }
    }

    #[test]
    fn packs_tightly() {
        let lengths = [5, 3, 2, 4, 6, 1];
        let bins = first_fit_decreasing(&lengths, 7);
        check_valid(&lengths, 7, &bins);
        assert_eq!(bins.len(), 3, "21 tokens fit in 3 bins of 7: {bins:?}");
    }

    #[test]
    fn oversize_example_gets_its_own_bin() {
        let lengths = [10, 2, 2];
        let bins = first_fit_decreasing(&lengths, 4);
        check_valid(&lengths, 4, &bins);
        assert!(bins.contains(&vec![0]));
    }

    #[test]
    fn empty_input() {
        assert!(first_fit_decreasing(&[], 8).is_empty());
    }

    #[test]
    fn many_random_lengths_are_valid() {
        let mut state = 12345u64;
        let lengths: Vec<usize> = (0..500)
            .map(|_| {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                1 + (state >> 33) as usize % 64
            })
            .collect();
        let bins = first_fit_decreasing(&lengths, 128);
        check_valid(&lengths, 128, &bins);
        let total: usize = lengths.iter().sum();
        assert!(
            bins.len() <= total / 128 + 2 + total / 1280,
            "packing too loose: {} bins",
            bins.len()
        );
    }
}
