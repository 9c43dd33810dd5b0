//! Which groups a [`Suite`](crate::Suite) runs: names, a pattern (`-k`), and partition shares
//! for CI (`--partition`).

use std::fmt;
use std::str::FromStr;

/// How groups are split between CI machines (`--partition`): share K of N, `1 <= K <= N`.
/// Over K = 1..=N the shares are disjoint and cover every selected group.
///
/// ```
/// use testrium_orchestrator::Partition;
///
/// let p: Partition = "hash:2/3".parse()?;
/// assert_eq!(p, Partition::Hash { share: 2, of: 3 });
/// assert_eq!(p.to_string(), "hash:2/3");
/// assert!("count:4/3".parse::<Partition>().is_err());
/// # Ok::<(), testrium_orchestrator::PartitionError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Partition {
    /// `hash:K/N`: share K of N by a stable hash of the group name (FNV-1a, stable across
    /// releases). A group keeps its share when other groups are added or removed.
    Hash {
        /// K, 1-based.
        share: u32,
        /// N.
        of: u32,
    },
    /// `count:K/N`: share K of N round-robin over the sorted list of selected groups. Shares are
    /// as even as possible, but a new group can move others between shares.
    Count {
        /// K, 1-based.
        share: u32,
        /// N.
        of: u32,
    },
}

/// Why a partition (`--partition` value) was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid partition `{text}`: {reason} (expected `hash:K/N` or `count:K/N` with 1 <= K <= N)"
)]
pub struct PartitionError {
    text: String,
    reason: &'static str,
}

impl FromStr for Partition {
    type Err = PartitionError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let fail = |reason| PartitionError {
            text: text.to_owned(),
            reason,
        };
        let (scheme, share) = text.split_once(':').ok_or_else(|| fail("missing `:`"))?;
        let (k, n) = share.split_once('/').ok_or_else(|| fail("missing `/`"))?;
        let k: u32 = k
            .trim()
            .parse()
            .map_err(|_| fail("K is not a whole number"))?;
        let n: u32 = n
            .trim()
            .parse()
            .map_err(|_| fail("N is not a whole number"))?;
        if n == 0 {
            return Err(fail("N must be at least 1"));
        }
        if k == 0 || k > n {
            return Err(fail("K must be between 1 and N"));
        }
        match scheme.trim() {
            "hash" => Ok(Partition::Hash { share: k, of: n }),
            "count" => Ok(Partition::Count { share: k, of: n }),
            _ => Err(fail("unknown scheme")),
        }
    }
}

impl fmt::Display for Partition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Partition::Hash { share, of } => write!(f, "hash:{share}/{of}"),
            Partition::Count { share, of } => write!(f, "count:{share}/{of}"),
        }
    }
}

impl Partition {
    /// Keeps the items (sorted or not) whose names belong to this share, in the order given.
    /// Over K = 1..=N the shares are disjoint and cover every item.
    pub fn apply<T>(&self, items: Vec<T>, name: impl Fn(&T) -> &str) -> Vec<T> {
        match *self {
            Partition::Hash { share, of } => items
                .into_iter()
                .filter(|item| stable_hash(name(item)) % u64::from(of) == u64::from(share - 1))
                .collect(),
            Partition::Count { share, of } => {
                let mut order: Vec<usize> = (0..items.len()).collect();
                order.sort_by(|&a, &b| name(&items[a]).cmp(name(&items[b])));
                let mut keep = vec![false; items.len()];
                for (position, &index) in order.iter().enumerate() {
                    keep[index] = position as u64 % u64::from(of) == u64::from(share - 1);
                }
                items
                    .into_iter()
                    .zip(keep)
                    .filter_map(|(item, keep)| keep.then_some(item))
                    .collect()
            }
        }
    }
}

/// FNV-1a, 64 bits: stable across Rust versions and platforms (unlike `DefaultHasher`), so a
/// group lands in the same `hash:` share on every CI machine and in every release.
pub(crate) fn stable_hash(text: &str) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    text.bytes().fold(OFFSET, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(PRIME)
    })
}

/// The selection: explicit group names and `-k PATTERN`.
#[derive(Debug, Clone, Default)]
pub(crate) struct Selection {
    /// Group names given as arguments (empty: every group).
    pub names: Vec<String>,
    /// `-k PATTERN`: substring of the group name.
    pub pattern: Option<String>,
}

impl Selection {
    /// Whether the group is selected.
    pub fn matches(&self, group: &str) -> bool {
        (self.names.is_empty() || self.names.iter().any(|n| n == group))
            && self.pattern.as_deref().is_none_or(|p| group.contains(p))
    }

    /// Names given on the command line that match none of the discovered groups.
    pub fn unknown_names<'a>(&'a self, known: &[&str]) -> Vec<&'a str> {
        self.names
            .iter()
            .map(String::as_str)
            .filter(|name| !known.contains(name))
            .collect()
    }
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "a test fails loudly on any setup error")]
mod tests {
    use super::*;

    fn names(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("test_group_{i:03}")).collect()
    }

    #[test]
    fn parses_both_schemes() {
        assert_eq!("hash:1/3".parse(), Ok(Partition::Hash { share: 1, of: 3 }));
        assert_eq!(
            "count:2/2".parse(),
            Ok(Partition::Count { share: 2, of: 2 })
        );
        assert_eq!(
            Partition::Count { share: 2, of: 5 }.to_string(),
            "count:2/5"
        );
    }

    #[test]
    fn rejects_bad_values() {
        for bad in [
            "",
            "hash",
            "hash:1",
            "hash:0/3",
            "hash:4/3",
            "hash:1/0",
            "mod:1/2",
            "count:a/2",
            "count:1/-2",
        ] {
            let err = bad.parse::<Partition>().expect_err(bad);
            assert!(err.to_string().contains("hash:K/N"), "{err}");
        }
    }

    #[test]
    fn shares_are_disjoint_and_cover_everything() {
        let all = names(37);
        for of in 1..=6 {
            for scheme in ["hash", "count"] {
                let mut seen: Vec<String> = Vec::new();
                for share in 1..=of {
                    let p: Partition = format!("{scheme}:{share}/{of}").parse().unwrap();
                    seen.extend(p.apply(all.clone(), |s| s.as_str()));
                }
                seen.sort();
                assert_eq!(seen, all, "{scheme} over {of} shares");
            }
        }
    }

    #[test]
    fn count_is_round_robin_over_sorted_names_whatever_the_input_order() {
        let shuffled = vec!["d", "a", "c", "b", "e"];
        let p = Partition::Count { share: 1, of: 2 };
        assert_eq!(p.apply(shuffled.clone(), |s| s), ["a", "c", "e"]);
        let p = Partition::Count { share: 2, of: 2 };
        assert_eq!(p.apply(shuffled, |s| s), ["d", "b"]);
    }

    #[test]
    fn hash_is_stable() {
        // Pinned values: changing the hash would move groups between CI machines.
        assert_eq!(stable_hash(""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(stable_hash("a"), 0xaf63_dc4c_8601_ec8c);
        let p = Partition::Hash { share: 1, of: 2 };
        let once = p.apply(names(20), |s| s.as_str());
        let twice = p.apply(names(20), |s| s.as_str());
        assert_eq!(once, twice);
        // A group keeps its share when another group is added.
        let mut more = names(20);
        more.push("test_new".into());
        let with_new: Vec<String> = p
            .apply(more, |s| s.as_str())
            .into_iter()
            .filter(|n| n != "test_new")
            .collect();
        assert_eq!(with_new, once);
    }

    #[test]
    fn selection_by_name_and_pattern() {
        let sel = Selection {
            names: vec!["test_a".into(), "test_b".into()],
            pattern: Some("b".into()),
        };
        assert!(sel.matches("test_b"));
        assert!(!sel.matches("test_a"));
        assert!(!sel.matches("test_bb"));
        assert!(Selection::default().matches("anything"));
        assert_eq!(sel.unknown_names(&["test_a"]), ["test_b"]);
    }
}
