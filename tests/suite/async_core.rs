//! The async core: sessions created and run through futures, equal to the blocking forms
//! (which wait on them), several runs in flight on one thread, and no thread per run.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

use wgconv::{Session, SessionConfig, Tensor};

/// A boxed future, as [`join_all`] takes them.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + 'a>>;

/// A boxed named run.
pub type NamedRun<'a> = BoxFuture<'a, wgconv::Result<Vec<(String, Tensor)>>>;

/// Polls every future on this thread until all are ready and returns their outputs in order;
/// `after_first_round` runs once every future has been polled once (they are all in flight).
pub fn join_all<T>(mut futures: Vec<BoxFuture<'_, T>>, after_first_round: impl FnOnce()) -> Vec<T> {
    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut done: Vec<Option<T>> = futures.iter().map(|_| None).collect();
    let mut after = Some(after_first_round);
    loop {
        for (f, d) in futures.iter_mut().zip(&mut done) {
            if d.is_none()
                && let Poll::Ready(v) = f.as_mut().poll(&mut cx)
            {
                *d = Some(v);
            }
        }
        if let Some(a) = after.take() {
            a();
        }
        if done.iter().all(Option::is_some) {
            return done.into_iter().flatten().collect();
        }
        std::thread::park();
    }
}

fn model() -> wgconv::graph::Graph {
    wgconv::zoo::build("cifar10_net", &[1, 3, 32, 32]).unwrap()
}

fn assert_send<T: Send>(_: &T) {}

#[test]
fn async_creation_and_runs_equal_blocking_ones() {
    let g = model();
    let config = SessionConfig::default();
    let s = pollster::block_on(Session::from_graph_async(&g, &config)).unwrap();
    let xs: Vec<Tensor> = (0..4)
        .map(|i| Tensor::random(vec![1, 3, 32, 32], i))
        .collect();
    let blocking: Vec<Vec<Tensor>> = xs
        .iter()
        .map(|x| s.run(std::slice::from_ref(x)).unwrap())
        .collect();
    let fut = s.run_async(std::slice::from_ref(&xs[0]));
    assert_send(&fut);
    assert_eq!(pollster::block_on(fut).unwrap(), blocking[0]);
    let named = pollster::block_on(s.run_named_async(&[("x", &xs[1])])).unwrap();
    assert_eq!(named[0].1, blocking[1][0]);
    // All four in flight at once on one thread: each gets its own input's result.
    let futures: Vec<BoxFuture<'_, wgconv::Result<Vec<Tensor>>>> = xs
        .iter()
        .map(|x| {
            Box::pin(s.run_async(std::slice::from_ref(x)))
                as BoxFuture<'_, wgconv::Result<Vec<Tensor>>>
        })
        .collect();
    let joined = join_all(futures, || {});
    for (got, want) in joined.into_iter().zip(&blocking) {
        assert_eq!(&got.unwrap(), want);
    }
    // A session from ONNX bytes, made asynchronously, gives the importer's errors as they are.
    let err = pollster::block_on(Session::from_onnx_bytes_async(b"\xff\xff garbage", &config));
    assert!(
        matches!(&err, Err(wgconv::Error::MalformedModel { .. })),
        "{err:?}"
    );
}

/// Threads whose name is this thread's: a thread spawned without a name inherits it (the
/// driver's and wgconv's own threads are named), so runs that spawned threads would add some.
/// Names are cut to 15 bytes, so no other test here may start with `async_core::run`.
fn threads_named_like_this_one() -> usize {
    let me = std::fs::read_to_string("/proc/thread-self/comm").unwrap();
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter(|t| {
            std::fs::read_to_string(t.as_ref().unwrap().path().join("comm")).ok()
                == Some(me.clone())
        })
        .count()
}

#[test]
fn runs_in_flight_start_no_thread() {
    let s = Session::from_graph(&model(), &SessionConfig::default()).unwrap();
    let x = Tensor::random(vec![1, 3, 32, 32], 7);
    let want = s.run(std::slice::from_ref(&x)).unwrap();
    let before = threads_named_like_this_one();
    let mut during = 0;
    let futures: Vec<BoxFuture<'_, wgconv::Result<Vec<Tensor>>>> = (0..16)
        .map(|_| {
            Box::pin(s.run_async(std::slice::from_ref(&x)))
                as BoxFuture<'_, wgconv::Result<Vec<Tensor>>>
        })
        .collect();
    let got = join_all(futures, || during = threads_named_like_this_one());
    assert_eq!(during, before, "runs in flight started threads");
    for g in got {
        assert_eq!(g.unwrap(), want);
    }
    assert!(
        std::fs::read_dir("/proc/self/task").unwrap().any(|t| {
            std::fs::read_to_string(t.unwrap().path().join("comm")).unwrap() == "wgconv-poll\n"
        }),
        "the device's polling thread is missing"
    );
}

/// A run releases the session between submitting and reading back: with four runs polled once
/// each, all four have submitted (the later ones' uploads and recording overlapped the earlier
/// ones' GPU work), each read back through a buffer of its own, and each got its own result.
/// Were the session held until a run's readback, the second run would still wait on its first
/// poll and only one would have submitted.
#[test]
fn submits_overlap_earlier_runs_readbacks() {
    let s = Session::from_graph(&model(), &SessionConfig::default()).unwrap();
    let xs: Vec<Tensor> = (0..4)
        .map(|i| Tensor::random(vec![1, 3, 32, 32], 40 + i))
        .collect();
    let sequential: Vec<Vec<Tensor>> = xs
        .iter()
        .map(|x| s.run(std::slice::from_ref(x)).unwrap())
        .collect();
    let before = s.counters();
    let mut after_first_polls = None;
    let futures: Vec<BoxFuture<'_, wgconv::Result<Vec<Tensor>>>> = xs
        .iter()
        .map(|x| {
            Box::pin(s.run_async(std::slice::from_ref(x)))
                as BoxFuture<'_, wgconv::Result<Vec<Tensor>>>
        })
        .collect();
    let got = join_all(futures, || after_first_polls = Some(s.counters()));
    let first = after_first_polls.unwrap();
    assert_eq!(
        first.submits - before.submits,
        4,
        "runs waited on earlier readbacks"
    );
    // Sequential runs reuse one readback buffer; four in flight make at most three more.
    assert!(first.buffers_created - before.buffers_created <= 3);
    for (g, want) in got.into_iter().zip(&sequential) {
        assert_eq!(&g.unwrap(), want);
    }
    // Buffers are reused: another round in flight keeps the session at one per run in flight.
    let again: Vec<BoxFuture<'_, wgconv::Result<Vec<Tensor>>>> = xs
        .iter()
        .map(|x| {
            Box::pin(s.run_async(std::slice::from_ref(x)))
                as BoxFuture<'_, wgconv::Result<Vec<Tensor>>>
        })
        .collect();
    for (g, want) in join_all(again, || {}).into_iter().zip(&sequential) {
        assert_eq!(&g.unwrap(), want);
    }
    assert!(s.counters().buffers_created - before.buffers_created <= 3);
}
