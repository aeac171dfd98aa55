//! The slots against a fake dialer (no server: what is tested is the bookkeeping).

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::{ConnectSettings, Dial, DialError, Slots};

/// What the fake dialer does when asked.
#[derive(Clone, Copy)]
enum Behaviour {
    /// Connects after this long.
    After(Duration),
    /// Never answers.
    Hang,
    /// Fails at once.
    Refuse,
}

/// A numbered fake connection that can be marked dead, as a closed socket would be.
#[derive(Clone, Debug)]
struct Fake {
    number: usize,
    dead: Arc<AtomicBool>,
}

/// The fake dialer's only failure.
#[derive(Debug)]
struct Refused;

struct FakeDialer {
    behaviour: Behaviour,
    dials: AtomicUsize,
}

impl Dial for FakeDialer {
    type Connection = Fake;
    type Error = Refused;

    async fn dial(&self) -> Result<Fake, Refused> {
        let number = self.dials.fetch_add(1, Ordering::SeqCst);
        match self.behaviour {
            Behaviour::After(delay) => tokio::time::sleep(delay).await,
            Behaviour::Hang => std::future::pending().await,
            Behaviour::Refuse => return Err(Refused),
        }
        Ok(Fake {
            number,
            dead: Arc::default(),
        })
    }

    fn is_usable(connection: &Fake) -> bool {
        !connection.dead.load(Ordering::SeqCst)
    }
}

const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

fn slots(behaviour: Behaviour, connections: usize) -> Arc<Slots<FakeDialer>> {
    let dialer = FakeDialer {
        behaviour,
        dials: AtomicUsize::new(0),
    };
    let settings = ConnectSettings {
        connections,
        connect_timeout: CONNECT_TIMEOUT,
        ..ConnectSettings::default()
    };
    Arc::new(Slots::new(dialer, settings))
}

fn dials(slots: &Slots<FakeDialer>) -> usize {
    slots.dialer().dials.load(Ordering::SeqCst)
}

/// `count` concurrent leases; the number of the connection each got, or its error.
async fn burst(
    slots: &Arc<Slots<FakeDialer>>,
    count: usize,
) -> Vec<Result<usize, DialError<Refused>>> {
    let mut tasks = JoinSet::new();
    for _ in 0..count {
        let slots = slots.clone();
        tasks.spawn(async move { slots.lease().await.map(|lease| lease.number) });
    }
    tasks.join_all().await
}

#[tokio::test(start_paused = true)]
async fn a_burst_of_leases_dials_once() {
    let slots = slots(Behaviour::After(Duration::from_millis(50)), 1);
    let numbers = burst(&slots, 100).await;
    assert_eq!(dials(&slots), 1);
    assert!(numbers.iter().all(|n| matches!(n, Ok(0))));
}

#[tokio::test]
async fn forget_drops_only_its_own_generation() {
    let slots = slots(Behaviour::After(Duration::ZERO), 1);
    let old = slots.lease().await.expect("dialled");
    let old_too = slots.lease().await.expect("live");
    old.forget();
    let new = slots.lease().await.expect("dialled again");
    assert_eq!(new.number, 1);
    // A second request that failed on the old connection must not take the new one.
    old_too.forget();
    assert_eq!(slots.lease().await.expect("live").number, 1);
    assert_eq!(dials(&slots), 2);
    // Forgetting the live one still works.
    new.forget();
    assert_eq!(slots.lease().await.expect("dialled again").number, 2);
}

#[tokio::test]
async fn an_unusable_connection_is_dialled_again() {
    let slots = slots(Behaviour::After(Duration::ZERO), 1);
    let first = slots.lease().await.expect("dialled");
    assert_eq!(slots.lease().await.expect("live").number, 0);
    first.dead.store(true, Ordering::SeqCst);
    assert_eq!(slots.lease().await.expect("dialled again").number, 1);
    assert_eq!(dials(&slots), 2);
}

#[tokio::test(start_paused = true)]
async fn waiters_behind_a_hung_dial_time_out_together() {
    let slots = slots(Behaviour::Hang, 1);
    let start = Instant::now();
    let results = burst(&slots, 10).await;
    // Everyone, the dialler and those waiting on its lock, gives up at the timeout
    // (not one timeout after another: the wait counts).
    assert_eq!(start.elapsed(), CONNECT_TIMEOUT);
    for result in results {
        assert!(
            matches!(result, Err(DialError::TimedOut(timeout)) if timeout == CONNECT_TIMEOUT),
            "{result:?}"
        );
    }
}

/// Requests that arrive while a dial hangs fail with it when it is abandoned, rather
/// than each dialling again; a request that comes after dials afresh.
#[tokio::test(start_paused = true)]
async fn waiters_behind_an_abandoned_dial_fail_with_it() {
    let slots = slots(Behaviour::Hang, 1);
    let first = tokio::spawn({
        let slots = slots.clone();
        async move { slots.lease().await.map(|lease| lease.number) }
    });
    tokio::time::sleep(CONNECT_TIMEOUT / 2).await;
    let late = burst(&slots, 10).await;
    assert!(matches!(first.await, Ok(Err(DialError::TimedOut(_)))));
    for result in late {
        assert!(matches!(result, Err(DialError::TimedOut(_))), "{result:?}");
    }
    assert_eq!(dials(&slots), 1, "the waiters dialled again");
    assert!(slots.lease().await.is_err());
    assert_eq!(dials(&slots), 2);
}

#[tokio::test]
async fn a_failed_dial_is_not_remembered() {
    let slots = slots(Behaviour::Refuse, 1);
    for _ in 0..2 {
        let error = slots.lease().await.expect_err("refused");
        assert!(matches!(error, DialError::Failed(Refused)), "{error:?}");
    }
    assert_eq!(dials(&slots), 2);
}

#[tokio::test]
async fn round_robin_spreads_leases_over_the_slots() {
    let slots = slots(Behaviour::After(Duration::ZERO), 3);
    let mut uses = [0; 3];
    for _ in 0..9 {
        uses[slots.lease().await.expect("dialled").number] += 1;
    }
    assert_eq!(dials(&slots), 3);
    assert_eq!(uses, [3, 3, 3]);
}

#[tokio::test]
async fn forgetting_in_one_slot_leaves_the_others() {
    let slots = slots(Behaviour::After(Duration::ZERO), 2);
    let (a, b) = (
        slots.lease().await.expect("slot 0"),
        slots.lease().await.expect("slot 1"),
    );
    assert_eq!((a.number, b.number), (0, 1));
    a.forget();
    assert_eq!(slots.lease().await.expect("slot 0, again").number, 2);
    assert_eq!(slots.lease().await.expect("slot 1, live").number, 1);
}

/// Two requests whose commands failed on the same connection both redial: the slot
/// dials once more, and neither gets the broken connection back.
#[tokio::test(start_paused = true)]
async fn requests_redialling_one_broken_connection_dial_once() {
    let slots = slots(Behaviour::After(Duration::ZERO), 1);
    let first = slots.lease().await.expect("dialled");
    let second = slots.lease().await.expect("live");
    let broken = first.number;
    let again_first = slots.redial(first).await.expect("dialled again");
    let again_second = slots.redial(second).await.expect("the new one");
    assert_ne!(again_first.number, broken);
    assert_eq!(again_first.number, again_second.number);
    assert!(again_first.is_fresh() && !again_second.is_fresh());
    assert_eq!(dials(&slots), 2, "the first dial and one redial");
}
