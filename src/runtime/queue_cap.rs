//! The queue caps' gauges (`--max-queued-jobs`, and `--tenant-max-queued` per tenant): how
//! many jobs are queued, as the last count of the store plus the submissions admitted since.
//! A gauge never reads lower than the store holds, so that concurrent submissions cannot pass
//! the cap together: a count in progress cannot see the inserts that answer meanwhile, and
//! those are added to it when it lands.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

/// The gauge of all jobs. One lock over a few integers: taken twice per submission, never
/// across an await.
#[derive(Debug, Default)]
pub(super) struct QueueCap {
    state: Mutex<Gauge>,
}

/// One gauge per tenant (API key), for the tenants with jobs queued or being admitted.
#[derive(Debug, Default)]
pub(super) struct TenantCaps {
    tenants: Mutex<HashMap<String, Gauge>>,
}

#[derive(Debug, Default, Clone, Copy)]
struct Gauge {
    /// Jobs queued, as far as this process knows (at least the store's number).
    queued: u64,
    /// Admitted jobs whose insert has not answered yet.
    inserting: u64,
    /// Jobs admitted since the start, never decreasing: what a count in flight missed.
    admitted: u64,
}

/// Where a gauge stood when a count of the store began.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct CountStart {
    inserting: u64,
    admitted: u64,
}

impl Gauge {
    fn admit(&mut self, n: u64, max: u64) -> Result<(), u64> {
        if max > 0 && self.queued + n > max {
            return Err(self.queued);
        }
        self.queued += n;
        self.inserting += n;
        self.admitted += n;
        Ok(())
    }

    fn answered(&mut self, n: u64, stored: u64) {
        self.inserting = self.inserting.saturating_sub(n);
        self.queued = self.queued.saturating_sub(n.saturating_sub(stored));
    }

    fn count_starts(&self) -> CountStart {
        CountStart {
            inserting: self.inserting,
            admitted: self.admitted,
        }
    }

    fn counted(&mut self, start: CountStart, counted: u64) {
        self.queued = counted + start.inserting + self.admitted.saturating_sub(start.admitted);
    }
}

impl QueueCap {
    fn state(&self) -> MutexGuard<'_, Gauge> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Admits `n` more queued jobs unless that passes `max` (0: no cap); else how many are
    /// queued. Call [`QueueCap::answered`] once their insert answered.
    pub(super) fn admit(&self, n: u64, max: u64) -> Result<(), u64> {
        self.state().admit(n, max)
    }

    /// The insert of `n` admitted jobs answered; `stored` of them are queued (the others were
    /// refused, or started at their insert).
    pub(super) fn answered(&self, n: u64, stored: u64) {
        self.state().answered(n, stored);
    }

    /// A count of the store's queued jobs begins.
    pub(super) fn count_starts(&self) -> CountStart {
        self.state().count_starts()
    }

    /// The count begun at `start` found `counted` queued jobs. Inserts in flight when it
    /// began, and those admitted since, may or may not be in it: counting them again errs on
    /// the side of the cap, and the next count corrects it.
    pub(super) fn counted(&self, start: CountStart, counted: u64) {
        self.state().counted(start, counted);
    }

    /// About how many jobs are queued.
    pub(super) fn queued(&self) -> u64 {
        self.state().queued
    }
}

impl TenantCaps {
    fn tenants(&self) -> MutexGuard<'_, HashMap<String, Gauge>> {
        self.tenants.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// [`QueueCap::admit`] for `tenant`'s jobs.
    pub(super) fn admit(&self, tenant: &str, n: u64, max: u64) -> Result<(), u64> {
        let mut tenants = self.tenants();
        match tenants.get_mut(tenant) {
            Some(gauge) => gauge.admit(n, max),
            None => {
                let mut gauge = Gauge::default();
                gauge.admit(n, max)?;
                tenants.insert(tenant.to_owned(), gauge);
                Ok(())
            }
        }
    }

    /// [`QueueCap::answered`] for `tenant`'s jobs.
    pub(super) fn answered(&self, tenant: &str, n: u64, stored: u64) {
        if let Some(gauge) = self.tenants().get_mut(tenant) {
            gauge.answered(n, stored);
        }
    }

    /// A count of every tenant's queued jobs begins.
    pub(super) fn count_starts(&self) -> HashMap<String, CountStart> {
        (self.tenants().iter())
            .map(|(tenant, gauge)| (tenant.clone(), gauge.count_starts()))
            .collect()
    }

    /// The count begun at `starts` found `counted` queued jobs per tenant (tenants with none
    /// left out). A tenant with nothing queued and nothing in flight is forgotten.
    pub(super) fn counted(
        &self,
        starts: &HashMap<String, CountStart>,
        counted: &HashMap<String, u64>,
    ) {
        let mut tenants = self.tenants();
        for (tenant, gauge) in tenants.iter_mut() {
            // A tenant new since the count began: all it was admitted is in flight or since.
            let start = starts.get(tenant).copied().unwrap_or_default();
            gauge.counted(start, counted.get(tenant).copied().unwrap_or(0));
        }
        for (tenant, &n) in counted {
            tenants.entry(tenant.clone()).or_insert(Gauge {
                queued: n,
                ..Gauge::default()
            });
        }
        tenants.retain(|_, gauge| gauge.queued > 0 || gauge.inserting > 0);
    }

    /// About how many jobs `tenant` has queued.
    #[cfg(test)]
    pub(super) fn queued(&self, tenant: &str) -> u64 {
        self.tenants().get(tenant).map_or(0, |g| g.queued)
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

    #[test]
    fn tenants_have_gauges_of_their_own() {
        let caps = TenantCaps::default();
        assert_eq!(caps.admit("a", 3, 3), Ok(()));
        assert_eq!(caps.admit("a", 1, 3), Err(3));
        assert_eq!(caps.admit("b", 3, 3), Ok(()), "b is not a's");
        caps.answered("a", 3, 3);
        caps.answered("b", 3, 1);
        assert_eq!((caps.queued("a"), caps.queued("b")), (3, 1));
        // The store counts a's two (one was claimed) and c's five, queued elsewhere.
        let starts = caps.count_starts();
        let counted = HashMap::from([("a".to_string(), 2), ("c".to_string(), 5)]);
        caps.counted(&starts, &counted);
        assert_eq!(
            (caps.queued("a"), caps.queued("b"), caps.queued("c")),
            (2, 0, 5)
        );
        assert_eq!(caps.admit("c", 1, 5), Err(5));
        // b had nothing left: forgotten, and admitted afresh.
        assert!(!caps.tenants().contains_key("b"));
        assert_eq!(caps.admit("b", 3, 3), Ok(()));
    }

    #[test]
    fn a_tenants_admission_during_a_count_is_not_lost() {
        let caps = TenantCaps::default();
        let starts = caps.count_starts();
        // A tenant new to this process, admitted and stored while the count reads the store.
        caps.admit("a", 1, 2).unwrap();
        caps.answered("a", 1, 1);
        caps.counted(&starts, &HashMap::from([("a".to_string(), 1)]));
        assert_eq!(caps.queued("a"), 2);
        assert_eq!(caps.admit("a", 1, 2), Err(2));
    }
}
