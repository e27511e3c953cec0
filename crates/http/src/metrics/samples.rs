//! Timings and sizes as both formats need them: each observation goes into its
//! Prometheus histogram (buckets, sum, count) and into an exact running summary (count,
//! sum, sum of squares, min, max) that Nomad's JSON `Samples` report — a histogram alone
//! cannot give a minimum, a maximum or a standard deviation.

use prometheus::HistogramVec;
use std::collections::BTreeMap;
use std::sync::Mutex;

/// The running summary of one series.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Summary {
    pub count: u64,
    pub sum: f64,
    pub sum_sq: f64,
    pub min: f64,
    pub max: f64,
}

impl Summary {
    fn first(v: f64) -> Summary {
        Summary {
            count: 1,
            sum: v,
            sum_sq: v * v,
            min: v,
            max: v,
        }
    }

    fn add(&mut self, v: f64) {
        self.count += 1;
        self.sum += v;
        self.sum_sq += v * v;
        self.min = self.min.min(v);
        self.max = self.max.max(v);
    }

    pub fn mean(&self) -> f64 {
        if self.count == 0 {
            0.0
        } else {
            self.sum / self.count as f64
        }
    }

    /// The sample standard deviation (what go-metrics reports), 0 for fewer than two.
    pub fn stddev(&self) -> f64 {
        if self.count < 2 {
            return 0.0;
        }
        let n = self.count as f64;
        let variance = (self.sum_sq - self.sum * self.sum / n) / (n - 1.0);
        variance.max(0.0).sqrt()
    }
}

/// Every sampled metric: its histogram, and the summaries by label values.
#[derive(Default)]
pub struct Samples {
    histograms: Mutex<BTreeMap<&'static str, HistogramVec>>,
    summaries: Mutex<BTreeMap<(&'static str, Vec<String>), Summary>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Samples {
    /// Adds the sampled metric `name` (its histogram's name).
    pub fn add(&self, name: &'static str, histogram: HistogramVec) {
        lock(&self.histograms).insert(name, histogram);
    }

    /// One observation of `name` with these label values.
    pub fn observe(&self, name: &'static str, labels: &[&str], value: f64) {
        if let Some(h) = lock(&self.histograms).get(name) {
            h.with_label_values(labels).observe(value);
        }
        let key = (name, labels.iter().map(|l| l.to_string()).collect());
        lock(&self.summaries)
            .entry(key)
            .and_modify(|s| s.add(value))
            .or_insert_with(|| Summary::first(value));
    }

    /// The summary of `name` with these label values, if it was ever observed.
    pub fn summary(&self, name: &str, labels: &[String]) -> Option<Summary> {
        lock(&self.summaries)
            .iter()
            .find(|((n, l), _)| *n == name && l == labels)
            .map(|(_, s)| *s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summaries_are_exact() {
        let mut s = Summary::first(1.0);
        for v in [2.0, 3.0, 4.0] {
            s.add(v);
        }
        assert_eq!((s.count, s.sum, s.min, s.max), (4, 10.0, 1.0, 4.0));
        assert_eq!(s.mean(), 2.5);
        assert!((s.stddev() - 1.290_994_448_735_805_6).abs() < 1e-12);
        assert_eq!(Summary::first(5.0).stddev(), 0.0);
    }
}
