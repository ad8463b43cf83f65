//! The scheduler: in spec order, start every entry whose parents have all succeeded, up to
//! the parallelism cap; when one finishes, start what it released. A failure skips only the
//! entries that (transitively) wait for it; unrelated entries keep running. Entries left out
//! by `--only`/`--skip` count as done for those that wait on them.

use std::future::Future;
use std::pin::Pin;

use futures_util::StreamExt as _;
use futures_util::stream::FuturesUnordered;

use super::graph::Graph;

#[derive(Debug, Clone)]
pub enum State<T> {
    Pending,
    Running,
    Done(T),
    Failed(String),
    /// Not started because this entry (by name) failed.
    Skipped(String),
    /// Left out by `--only` / `--skip`.
    NotSelected,
}

impl<T> State<T> {
    fn satisfies_children(&self) -> bool {
        matches!(self, State::Done(_) | State::NotSelected)
    }
}

type Running<'a, T> =
    FuturesUnordered<Pin<Box<dyn Future<Output = (usize, Result<T, String>)> + 'a>>>;

/// Runs the graph; `Err(states)` when `stop` resolved first (Ctrl-C): what finished by then.
pub async fn run<'a, T, F, Fut>(
    graph: &Graph,
    selected: &[bool],
    parallel: usize,
    start: F,
    stop: impl Future<Output = ()>,
) -> Result<Vec<State<T>>, Vec<State<T>>>
where
    F: Fn(usize) -> Fut,
    Fut: Future<Output = Result<T, String>> + 'a,
{
    let n = graph.entries.len();
    let mut states: Vec<State<T>> = (0..n)
        .map(|k| {
            if selected[k] {
                State::Pending
            } else {
                State::NotSelected
            }
        })
        .collect();
    let mut running: Running<'a, T> = FuturesUnordered::new();
    let mut stop = std::pin::pin!(stop);
    loop {
        for k in 0..n {
            if running.len() >= parallel.max(1) {
                break;
            }
            let released = graph.parents[k]
                .iter()
                .all(|&p| states[p].satisfies_children());
            if matches!(states[k], State::Pending) && released {
                states[k] = State::Running;
                let fut = start(k);
                running.push(Box::pin(async move { (k, fut.await) }));
            }
        }
        if running.is_empty() {
            return Ok(states);
        }
        let (k, result) = tokio::select! {
            Some(done) = running.next() => done,
            () = &mut stop => {
                drop(running);
                return Err(states);
            }
        };
        match result {
            Ok(value) => states[k] = State::Done(value),
            Err(why) => {
                states[k] = State::Failed(why);
                for d in graph.descendants(k) {
                    if matches!(states[d], State::Pending) {
                        states[d] = State::Skipped(graph.entries[k].name.clone());
                    }
                }
            }
        }
    }
}
