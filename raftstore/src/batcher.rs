//! Proposal batching: the pure decision of when to hand queued client commands to Raft.
//!
//! openraft 0.9 waits for each log append to be flushed before it appends the next, so
//! commands proposed one entry each would cost one fsync each, however many clients wait.
//! The shard therefore keeps at most `max_in_flight` proposals in Raft and gathers what
//! arrives meanwhile into the next one: with one client nothing waits, with many they
//! share an append and an fsync (group commit at the proposal level).

use std::collections::VecDeque;

/// Queues items and releases them in batches, at most `max_in_flight` batches at once.
#[derive(Debug)]
pub struct Batcher<T> {
    queue: VecDeque<T>,
    in_flight: usize,
    max_in_flight: usize,
    max_batch: usize,
}

impl<T> Batcher<T> {
    pub fn new(max_in_flight: usize, max_batch: usize) -> Self {
        Batcher {
            queue: VecDeque::new(),
            in_flight: 0,
            max_in_flight: max_in_flight.max(1),
            max_batch: max_batch.max(1),
        }
    }

    /// Queues an item; returns a batch to submit now if there is room in flight.
    pub fn push(&mut self, item: T) -> Option<Vec<T>> {
        self.queue.push_back(item);
        self.next()
    }

    /// A submitted batch finished; returns the next batch to submit, if any is waiting.
    pub fn done(&mut self) -> Option<Vec<T>> {
        self.in_flight = self.in_flight.saturating_sub(1);
        self.next()
    }

    /// Items waiting and batches in flight.
    pub fn load(&self) -> (usize, usize) {
        (self.queue.len(), self.in_flight)
    }

    fn next(&mut self) -> Option<Vec<T>> {
        if self.in_flight >= self.max_in_flight || self.queue.is_empty() {
            return None;
        }
        let n = self.queue.len().min(self.max_batch);
        self.in_flight += 1;
        Some(self.queue.drain(..n).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A lone item is submitted at once; items arriving while the window is full wait
    /// and leave together, in order, capped at `max_batch`.
    #[test]
    fn items_wait_only_while_the_window_is_full_and_then_leave_together() {
        let mut b = Batcher::new(1, 3);
        assert_eq!(b.push(1), Some(vec![1]));
        assert_eq!(b.push(2), None);
        assert_eq!(b.push(3), None);
        assert_eq!(b.push(4), None);
        assert_eq!(b.push(5), None);
        assert_eq!(b.load(), (4, 1));
        assert_eq!(b.done(), Some(vec![2, 3, 4]));
        assert_eq!(b.done(), Some(vec![5]));
        assert_eq!(b.done(), None);
        assert_eq!(b.load(), (0, 0));
        assert_eq!(b.push(6), Some(vec![6]), "an idle batcher submits at once");
    }

    #[test]
    fn a_wider_window_keeps_several_batches_in_flight() {
        let mut b = Batcher::new(2, 10);
        assert_eq!(b.push('a'), Some(vec!['a']));
        assert_eq!(b.push('b'), Some(vec!['b']));
        assert_eq!(b.push('c'), None);
        assert_eq!(b.done(), Some(vec!['c']));
    }
}
