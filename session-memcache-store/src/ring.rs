//! Consistent hashing: which server holds a key.
//!
//! Each server owns many points on a 64-bit ring (ketama-style); a key belongs to the
//! first point at or after its own hash. Adding or removing one of N servers then moves
//! only the keys between its points and their neighbours, about 1/N of them, where
//! `hash % N` would move nearly all of them (and log every user out).

use sha2::{Digest, Sha256};

/// Points per server: enough for an even spread (a few percent) with a small table.
const POINTS_PER_SERVER: usize = 160;

/// The ring: sorted points, each naming a server by index.
#[derive(Clone, Debug)]
pub(crate) struct Ring {
    points: Vec<(u64, usize)>,
}

fn hash(bytes: &[u8]) -> u64 {
    let digest = Sha256::digest(bytes);
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    u64::from_be_bytes(first)
}

impl Ring {
    /// A ring over servers named by `names` (their `host:port`, so that the same server
    /// keeps its points whatever its position in the list).
    pub(crate) fn new<S: AsRef<str>>(names: &[S]) -> Self {
        let mut points: Vec<(u64, usize)> = names
            .iter()
            .enumerate()
            .flat_map(|(server, name)| {
                (0..POINTS_PER_SERVER).map(move |point| {
                    (
                        hash(format!("{}#{point}", name.as_ref()).as_bytes()),
                        server,
                    )
                })
            })
            .collect();
        points.sort_unstable();
        Self { points }
    }

    /// The index of the server that holds `key`.
    pub(crate) fn server_for(&self, key: &str) -> usize {
        let position = hash(key.as_bytes());
        let at = self.points.partition_point(|(point, _)| *point < position);
        // Past the last point, the ring wraps around to the first.
        self.points
            .get(at)
            .or_else(|| self.points.first())
            .map_or(0, |(_, server)| *server)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> impl Iterator<Item = String> {
        (0..20_000).map(|n| format!("remix:session:{n:064x}"))
    }

    #[test]
    fn spreads_keys_evenly() {
        let ring = Ring::new(&["a:11211", "b:11211", "c:11211"]);
        let mut counts = [0usize; 3];
        for key in keys() {
            counts[ring.server_for(&key)] += 1;
        }
        for count in counts {
            let share = count as f64 / 20_000.0;
            assert!((0.25..0.42).contains(&share), "uneven spread: {counts:?}");
        }
    }

    #[test]
    fn adding_a_fourth_server_moves_about_a_quarter_of_the_keys() {
        let three = Ring::new(&["a:11211", "b:11211", "c:11211"]);
        let four = Ring::new(&["a:11211", "b:11211", "c:11211", "d:11211"]);
        let moved = keys()
            .filter(|key| three.server_for(key) != four.server_for(key))
            .count();
        let fraction = moved as f64 / 20_000.0;
        // Ideal is 1/4; `hash % N` would move 3/4.
        assert!((0.15..0.35).contains(&fraction), "moved {fraction}");
        // Every moved key went to the new server, none between old ones.
        for key in keys() {
            let (before, after) = (three.server_for(&key), four.server_for(&key));
            assert!(before == after || after == 3);
        }
    }

    #[test]
    fn a_single_server_gets_everything() {
        let ring = Ring::new(&["only:11211"]);
        assert!(keys().all(|key| ring.server_for(&key) == 0));
    }
}
