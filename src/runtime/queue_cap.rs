//! The queue cap's gauge (`--max-queued-jobs`): how many jobs are queued, as the last count
//! of the store plus the submissions admitted since. It never reads lower than the store
//! holds, so that concurrent submissions cannot pass the cap together: a count in progress
//! cannot see the inserts that answer meanwhile, and those are added to it when it lands.

use std::sync::Mutex;

/// The gauge. One lock over a few integers: taken twice per submission, never across an
/// await.
#[derive(Debug, Default)]
pub(super) struct QueueCap {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// Jobs queued, as far as this process knows (at least the store's number).
    queued: u64,
    /// Admitted jobs whose insert has not answered yet.
    inserting: u64,
    /// Jobs admitted since the start, never decreasing: what a count in flight missed.
    admitted: u64,
}

/// Where the gauge stood when a count of the store began.
#[derive(Debug, Clone, Copy)]
pub(super) struct CountStart {
    inserting: u64,
    admitted: u64,
}

impl QueueCap {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Admits `n` more queued jobs unless that passes `max` (0: no cap); else how many are
    /// queued. Call [`QueueCap::answered`] once their insert answered.
    pub(super) fn admit(&self, n: u64, max: u64) -> Result<(), u64> {
        let mut s = self.state();
        if max > 0 && s.queued + n > max {
            return Err(s.queued);
        }
        s.queued += n;
        s.inserting += n;
        s.admitted += n;
        Ok(())
    }

    /// The insert of `n` admitted jobs answered; `stored` of them are queued (the others were
    /// refused, or started at their insert).
    pub(super) fn answered(&self, n: u64, stored: u64) {
        let mut s = self.state();
        s.inserting = s.inserting.saturating_sub(n);
        s.queued = s.queued.saturating_sub(n.saturating_sub(stored));
    }

    /// A count of the store's queued jobs begins.
    pub(super) fn count_starts(&self) -> CountStart {
        let s = self.state();
        CountStart {
            inserting: s.inserting,
            admitted: s.admitted,
        }
    }

    /// The count begun at `start` found `counted` queued jobs. Inserts in flight when it
    /// began, and those admitted since, may or may not be in it: counting them again errs on
    /// the side of the cap, and the next count corrects it.
    pub(super) fn counted(&self, start: CountStart, counted: u64) {
        let mut s = self.state();
        s.queued = counted + start.inserting + (s.admitted - start.admitted);
    }

    /// About how many jobs are queued.
    pub(super) fn queued(&self) -> u64 {
        self.state().queued
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_admits_up_to_max_and_refuses_past_it() {
        let cap = QueueCap::default();
        assert_eq!(cap.admit(3, 4), Ok(()));
        assert_eq!(cap.admit(2, 4), Err(3));
        assert_eq!(cap.admit(1, 4), Ok(()));
        assert_eq!(cap.admit(1, 4), Err(4));
        // No cap: everything is admitted, and still counted.
        assert_eq!(cap.admit(10, 0), Ok(()));
        assert_eq!(cap.queued(), 14);
    }

    #[test]
    fn jobs_not_queued_by_their_insert_give_their_place_back() {
        let cap = QueueCap::default();
        cap.admit(5, 5).unwrap();
        // Two refused (or started at their insert), three queued.
        cap.answered(5, 3);
        assert_eq!(cap.queued(), 3);
        assert_eq!(cap.admit(2, 5), Ok(()));
        assert_eq!(cap.admit(1, 5), Err(5));
    }

    /// The store holds 299 queued jobs; one more is admitted, and its insert commits after
    /// the count read the store but answers before the count lands. The gauge must not drop
    /// to 299: a 301st job would pass a cap of 300.
    #[test]
    fn an_insert_that_answers_during_a_count_is_not_lost() {
        let cap = QueueCap::default();
        cap.admit(299, 300).unwrap();
        cap.answered(299, 299);
        cap.admit(1, 300).unwrap();
        let start = cap.count_starts();
        // The store is read: 299 (the insert has not committed yet); then it answers.
        cap.answered(1, 1);
        cap.counted(start, 299);
        assert_eq!(cap.queued(), 300);
        assert_eq!(cap.admit(1, 300), Err(300));
    }

    #[test]
    fn an_admission_during_a_count_is_not_lost() {
        let cap = QueueCap::default();
        let start = cap.count_starts();
        // Admitted and stored while the count reads the store, which does not see it.
        cap.admit(1, 2).unwrap();
        cap.answered(1, 1);
        cap.counted(start, 1);
        assert_eq!(cap.queued(), 2);
        assert_eq!(cap.admit(1, 2), Err(2));
    }

    #[test]
    fn a_count_corrects_the_gauge_down_once_jobs_leave_the_queue() {
        let cap = QueueCap::default();
        cap.admit(10, 10).unwrap();
        cap.answered(10, 10);
        // Seven were claimed since.
        let start = cap.count_starts();
        cap.counted(start, 3);
        assert_eq!(cap.queued(), 3);
        assert_eq!(cap.admit(7, 10), Ok(()));
    }
}
