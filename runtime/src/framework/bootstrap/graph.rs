//! The bootstrap's order: a DAG where a child waits for its parents. Edges come from
//! `dependsOn` (by entry name) and from gates (`wait: true`): a gate waits for every entry
//! before it and every entry after it waits for the gate. Planned whole before anything runs.

use std::collections::{BTreeSet, VecDeque};

use super::BootstrapError;
use super::entries::Entry;

/// Entries with their edges, by index into `entries`.
#[derive(Debug, Clone)]
pub struct Graph {
    pub entries: Vec<Entry>,
    /// parents[k]: the entries k waits for.
    pub parents: Vec<BTreeSet<usize>>,
    pub children: Vec<BTreeSet<usize>>,
    /// Some entry depends on this one, so its workloads are waited for before children start.
    pub is_target: Vec<bool>,
    /// Default names shared by several entries that nothing references: harmless, but a
    /// `dependsOn` on them would be ambiguous.
    pub warnings: Vec<String>,
}

impl Graph {
    pub fn plan(entries: Vec<Entry>) -> Result<Graph, BootstrapError> {
        let count = |name: &str| entries.iter().filter(|e| e.name == name).count();
        for e in entries.iter().filter(|e| e.explicit_name) {
            let n = count(&e.name);
            if n > 1 {
                return Err(BootstrapError::field(
                    &format!("spec.bootstrap[{}].name", e.index),
                    format!("{:?} is used by {n} entries", e.name),
                    "give each entry a unique name",
                ));
            }
        }
        let mut parents = vec![BTreeSet::new(); entries.len()];
        for (k, e) in entries.iter().enumerate() {
            for d in &e.depends_on {
                let matches: Vec<usize> = entries
                    .iter()
                    .enumerate()
                    .filter(|(_, o)| &o.name == d)
                    .map(|(j, _)| j)
                    .collect();
                match matches.as_slice() {
                    [] => {
                        return Err(BootstrapError::field(
                            &format!("spec.bootstrap[{}].dependsOn", e.index),
                            format!("{d:?} is not an entry of spec.bootstrap"),
                            &format!("name one of: {}", names(&entries)),
                        ));
                    }
                    [j] => {
                        parents[k].insert(*j);
                    }
                    many => {
                        return Err(BootstrapError::field(
                            &format!("spec.bootstrap[{}].dependsOn", e.index),
                            format!("{d:?} is ambiguous: {} entries share it", many.len()),
                            "set a unique `name:` on the entry you mean",
                        ));
                    }
                }
            }
            for (g, gate) in entries.iter().enumerate().take(k) {
                if gate.wait || e.wait {
                    parents[k].insert(g);
                }
            }
        }
        let mut children = vec![BTreeSet::new(); entries.len()];
        for (k, ps) in parents.iter().enumerate() {
            for &p in ps {
                children[p].insert(k);
            }
        }
        let is_target = children.iter().map(|c| !c.is_empty()).collect();
        check_cycles(&entries, &parents)?;
        let referenced: BTreeSet<&str> = entries
            .iter()
            .flat_map(|e| e.depends_on.iter().map(String::as_str))
            .collect();
        let mut warnings = Vec::new();
        let mut seen = BTreeSet::new();
        for e in &entries {
            let n = count(&e.name);
            if n > 1 && !referenced.contains(e.name.as_str()) && seen.insert(e.name.clone()) {
                warnings.push(format!(
                    "spec.bootstrap: {n} entries are named {:?}; a dependsOn on it would be ambiguous (set name: on them)",
                    e.name
                ));
            }
        }
        Ok(Graph {
            entries,
            parents,
            children,
            is_target,
            warnings,
        })
    }

    /// The entries in the order they can start, grouped into waves of entries whose parents
    /// are all in earlier waves (for `--dry-run`; the scheduler starts each entry as soon as
    /// its own parents finish).
    pub fn waves(&self) -> Vec<Vec<usize>> {
        let mut memo = vec![None; self.entries.len()];
        let depth: Vec<usize> = (0..self.entries.len())
            .map(|k| self.depth(k, &mut memo))
            .collect();
        let max = depth.iter().copied().max().unwrap_or(0);
        (0..=max)
            .map(|d| (0..self.entries.len()).filter(|&k| depth[k] == d).collect())
            .filter(|w: &Vec<usize>| !w.is_empty())
            .collect()
    }

    /// The longest chain of parents above `k` (the graph has no cycles).
    fn depth(&self, k: usize, memo: &mut [Option<usize>]) -> usize {
        if let Some(d) = memo[k] {
            return d;
        }
        let d = self.parents[k]
            .iter()
            .map(|&p| self.depth(p, memo) + 1)
            .max()
            .unwrap_or(0);
        memo[k] = Some(d);
        d
    }

    /// Every entry that (transitively) waits for `root`.
    pub fn descendants(&self, root: usize) -> Vec<usize> {
        let mut found = BTreeSet::new();
        let mut queue: VecDeque<usize> = self.children[root].iter().copied().collect();
        while let Some(c) = queue.pop_front() {
            if found.insert(c) {
                queue.extend(self.children[c].iter().copied());
            }
        }
        found.into_iter().collect()
    }
}

fn names(entries: &[Entry]) -> String {
    entries
        .iter()
        .map(|e| e.name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Kahn's algorithm: entries left with unfinished parents are on or behind a cycle.
fn check_cycles(entries: &[Entry], parents: &[BTreeSet<usize>]) -> Result<(), BootstrapError> {
    let mut remaining: Vec<usize> = parents.iter().map(BTreeSet::len).collect();
    let mut done = vec![false; entries.len()];
    let mut queue: VecDeque<usize> = (0..entries.len()).filter(|&k| remaining[k] == 0).collect();
    while let Some(j) = queue.pop_front() {
        done[j] = true;
        for (k, ps) in parents.iter().enumerate() {
            if ps.contains(&j) {
                remaining[k] -= 1;
                if remaining[k] == 0 {
                    queue.push_back(k);
                }
            }
        }
    }
    let stuck: Vec<&str> = entries
        .iter()
        .zip(&done)
        .filter(|(_, d)| !**d)
        .map(|(e, _)| e.name.as_str())
        .collect();
    if stuck.is_empty() {
        return Ok(());
    }
    Err(BootstrapError::field(
        "spec.bootstrap",
        format!("dependsOn forms a cycle through {}", stuck.join(", ")),
        "remove one of the dependsOn edges between them",
    ))
}
