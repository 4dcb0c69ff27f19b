//! The one rule of the `threshold` events, for the heap (judged as JS sends its floors) and for
//! RSS (judged on the monitor thread): a reading at or above a share of its limit raises the
//! event once, when it crosses upwards; another only after a reading below.

/// A share of a limit whose upward crossings are reported once each.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Threshold {
    share: f64,
    above: bool,
}

impl Threshold {
    /// A threshold at `share` of the limit, below it until a reading says otherwise.
    pub fn new(share: f64) -> Threshold {
        Threshold {
            share,
            above: false,
        }
    }

    /// Records `current` against `limit`; true when it crosses upwards.
    pub fn crossed(&mut self, current: f64, limit: f64) -> bool {
        let above = current >= self.share * limit;
        let crossed = above && !self.above;
        self.above = above;
        crossed
    }

    /// Whether the newest reading was at or above the threshold.
    pub fn is_above(&self) -> bool {
        self.above
    }
}

#[cfg(test)]
mod tests {
    use super::Threshold;

    #[test]
    fn each_upward_crossing_is_reported_once() {
        let mut threshold = Threshold::new(0.8);
        let readings = [10.0, 85.0, 90.0, 70.0, 80.0, 95.0, 50.0];
        let crossed: Vec<bool> = readings
            .iter()
            .map(|&r| threshold.crossed(r, 100.0))
            .collect();
        assert_eq!(crossed, [false, true, false, false, true, false, false]);
        assert!(!threshold.is_above());
    }

    #[test]
    fn a_first_reading_above_is_a_crossing_and_an_infinite_share_never_crosses() {
        assert!(Threshold::new(0.5).crossed(60.0, 100.0));
        assert!(!Threshold::new(f64::INFINITY).crossed(1e18, 1.0));
    }
}
