//! Bin packing of tokenized examples into fixed-size rows (padding-free packing for SFT).

/// First-fit-decreasing packing: assign every example (by its token count) to a bin of at most
/// `capacity` tokens. Returns the bins as lists of example indices; each bin keeps its examples in
/// ascending index order so a packed row reads in dataset order. Examples longer than `capacity`
/// get a bin of their own (the caller truncates them before packing).
///
/// The first bin with room is found in a max-tree over the bins' free room: O(n log n), so a
/// million examples pack in well under a second (a scan of the open bins is O(n × bins)).
pub fn first_fit_decreasing(lengths: &[usize], capacity: usize) -> Vec<Vec<usize>> {
    let mut order: Vec<usize> = (0..lengths.len()).collect();
    // Stable sort: among equal lengths the earlier example is placed first, so packing is deterministic.
    order.sort_by(|&a, &b| lengths[b].cmp(&lengths[a]));
    let mut room = RoomTree::new(lengths.len(), capacity);
    let mut bins: Vec<Vec<usize>> = Vec::new();
    for idx in order {
        let len = lengths[idx];
        // bins not opened yet have the whole capacity, so the first fit is an open bin or the next one
        let bin = if len > capacity {
            bins.len()
        } else {
            room.first_with(len)
        };
        if bin == bins.len() {
            bins.push(Vec::new());
        }
        bins[bin].push(idx);
        room.set(bin, room.get(bin).saturating_sub(len));
    }
    for bin in &mut bins {
        bin.sort_unstable();
    }
    bins
}

/// The bins of `first_fit_decreasing` as flat arrays: the example indices bin after bin, and the
/// offsets where each bin starts in them (`bins + 1` offsets, the last one the number of examples).
pub fn packed_offsets(lengths: &[usize], capacity: usize) -> (Vec<u32>, Vec<u64>) {
    let bins = first_fit_decreasing(lengths, capacity);
    let mut indices = Vec::with_capacity(lengths.len());
    let mut offsets = Vec::with_capacity(bins.len() + 1);
    offsets.push(0);
    for bin in bins {
        indices.extend(bin.into_iter().map(|i| i as u32));
        offsets.push(indices.len() as u64);
    }
    (indices, offsets)
}

/// Free room of `n` bins (all starting at `capacity`) in a max segment tree: the leftmost bin with
/// at least `len` free in O(log n).
struct RoomTree {
    leaves: usize,
    tree: Vec<usize>,
}

impl RoomTree {
    fn new(n: usize, capacity: usize) -> Self {
        let leaves = n.max(1).next_power_of_two();
        RoomTree {
            leaves,
            tree: vec![capacity; 2 * leaves],
        }
    }

    fn get(&self, bin: usize) -> usize {
        self.tree[self.leaves + bin]
    }

    fn set(&mut self, bin: usize, room: usize) {
        let mut node = self.leaves + bin;
        self.tree[node] = room;
        while node > 1 {
            node /= 2;
            self.tree[node] = self.tree[2 * node].max(self.tree[2 * node + 1]);
        }
    }

    /// The leftmost bin with at least `len` free (the caller ensures one exists: `len <= capacity`).
    fn first_with(&self, len: usize) -> usize {
        let mut node = 1;
        while node < self.leaves {
            node = if self.tree[2 * node] >= len {
                2 * node
            } else {
                2 * node + 1
            };
        }
        node - self.leaves
    }
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

    /// The scan of the open bins this tree replaced: the packing must not change.
    fn first_fit_by_scan(lengths: &[usize], capacity: usize) -> Vec<Vec<usize>> {
        let mut order: Vec<usize> = (0..lengths.len()).collect();
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

    #[test]
    fn same_bins_as_a_scan_of_the_open_bins() {
        let mut state = 7u64;
        for capacity in [1, 7, 64, 129, 4096] {
            let lengths: Vec<usize> = (0..2000)
                .map(|_| {
                    state = state
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    1 + (state >> 33) as usize % (capacity + capacity / 4 + 1)
                })
                .collect();
            assert_eq!(
                first_fit_decreasing(&lengths, capacity),
                first_fit_by_scan(&lengths, capacity)
            );
        }
    }

    #[test]
    fn offsets_delimit_the_bins() {
        let lengths = [5, 3, 2, 4, 6, 1];
        let (indices, offsets) = packed_offsets(&lengths, 7);
        let bins = first_fit_decreasing(&lengths, 7);
        assert_eq!(offsets.len(), bins.len() + 1);
        for (b, bin) in bins.iter().enumerate() {
            let got: Vec<usize> = indices[offsets[b] as usize..offsets[b + 1] as usize]
                .iter()
                .map(|&i| i as usize)
                .collect();
            assert_eq!(&got, bin);
        }
        assert_eq!(packed_offsets(&[], 8), (vec![], vec![0]));
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
