//! Dependency cycles: the one cycle finder of Testrium. Validation (`unit_dependencies` that
//! loop) and [`Group::dependency_cycle`](crate::Group::dependency_cycle), which the
//! orchestrator's plan checks, both use it. No graph library: a group has at most a few
//! hundred units, and an iterative Tarjan needs no more than a few vectors.

/// The cycles of a directed graph with nodes `0..nodes` and edges `n -> m` for every `m` that
/// `successors(n)` yields (values `>= nodes` are ignored).
///
/// One cycle per strongly connected component that has one (two or more nodes, or one node
/// with an edge to itself), as the nodes along it with the first repeated at the end:
/// `[0, 2, 0]`, or `[3, 3]` for a self-edge. Deterministic: the walk starts at the
/// component's smallest node and always takes the smallest successor inside the component
/// until a node repeats; cycles are ordered by the smallest node of their component. An
/// empty list means the nodes can be put in an order where every node comes after its
/// successors (a unit after its dependencies).
///
/// ```
/// use testrium_config::find_cycles;
///
/// // 0 -> 1 -> 2 -> 0, and 3 -> 3; 4 -> 0 is not part of a cycle.
/// let edges: [&[usize]; 5] = [&[1], &[2], &[0], &[3], &[0]];
/// let cycles = find_cycles(edges.len(), |n| edges[n].iter().copied());
/// assert_eq!(cycles, [vec![0, 1, 2, 0], vec![3, 3]]);
/// assert!(find_cycles(2, |n| if n == 0 { vec![1] } else { vec![] }).is_empty());
/// ```
pub fn find_cycles<I>(nodes: usize, successors: impl Fn(usize) -> I) -> Vec<Vec<usize>>
where
    I: IntoIterator<Item = usize>,
{
    let succ: Vec<Vec<usize>> = (0..nodes)
        .map(|n| {
            let mut next: Vec<usize> = successors(n).into_iter().filter(|&m| m < nodes).collect();
            next.sort_unstable();
            next.dedup();
            next
        })
        .collect();
    let components = strongly_connected(&succ);
    let mut component_of = vec![usize::MAX; nodes];
    for (c, members) in components.iter().enumerate() {
        for &n in members {
            component_of[n] = c;
        }
    }
    let mut cycles: Vec<Vec<usize>> = Vec::new();
    for (c, members) in components.iter().enumerate() {
        let Some(&start) = members.iter().min() else {
            continue;
        };
        if members.len() == 1 && !succ[start].contains(&start) {
            continue;
        }
        // Walk inside the component until a node repeats: that closes a cycle. Every node of
        // a component with a cycle has a successor inside it, so the walk always ends.
        let mut path = vec![start];
        let mut position = vec![usize::MAX; nodes];
        position[start] = 0;
        let mut current = start;
        while let Some(&next) = succ[current].iter().find(|&&m| component_of[m] == c) {
            if position[next] != usize::MAX {
                let mut cycle = path.split_off(position[next]);
                cycle.push(next);
                cycles.push(cycle);
                break;
            }
            position[next] = path.len();
            path.push(next);
            current = next;
        }
    }
    cycles.sort_by_key(|cycle| cycle.iter().min().copied());
    cycles
}

/// Tarjan's strongly connected components, iterative (no recursion depth to worry about).
fn strongly_connected(succ: &[Vec<usize>]) -> Vec<Vec<usize>> {
    const UNSEEN: usize = usize::MAX;
    let nodes = succ.len();
    let mut index = vec![UNSEEN; nodes];
    let mut low = vec![0; nodes];
    let mut on_stack = vec![false; nodes];
    let mut stack: Vec<usize> = Vec::new();
    let mut components = Vec::new();
    let mut next_index = 0;
    for root in 0..nodes {
        if index[root] != UNSEEN {
            continue;
        }
        index[root] = next_index;
        low[root] = next_index;
        next_index += 1;
        stack.push(root);
        on_stack[root] = true;
        // The depth-first walk: (node, position of the next successor to look at).
        let mut calls: Vec<(usize, usize)> = vec![(root, 0)];
        while let Some(&(v, pos)) = calls.last() {
            if let Some(&w) = succ[v].get(pos) {
                if let Some(top) = calls.last_mut() {
                    top.1 += 1;
                }
                if index[w] == UNSEEN {
                    index[w] = next_index;
                    low[w] = next_index;
                    next_index += 1;
                    stack.push(w);
                    on_stack[w] = true;
                    calls.push((w, 0));
                } else if on_stack[w] {
                    low[v] = low[v].min(index[w]);
                }
                continue;
            }
            calls.pop();
            if let Some(&(parent, _)) = calls.last() {
                low[parent] = low[parent].min(low[v]);
            }
            if low[v] == index[v] {
                let mut members = Vec::new();
                while let Some(w) = stack.pop() {
                    on_stack[w] = false;
                    members.push(w);
                    if w == v {
                        break;
                    }
                }
                components.push(members);
            }
        }
    }
    components
}

#[cfg(test)]
mod tests {
    use super::find_cycles;

    fn cycles(edges: &[&[usize]]) -> Vec<Vec<usize>> {
        find_cycles(edges.len(), |n| edges[n].iter().copied())
    }

    /// Edges (successors of each node) and the cycles expected.
    type Case<'a> = (&'a [&'a [usize]], &'a [&'a [usize]]);

    #[test]
    fn a_table_of_graphs_and_their_cycles() {
        let table: &[Case<'_>] = &[
            (&[], &[]),
            (&[&[]], &[]),
            (&[&[0]], &[&[0, 0]]),
            (&[&[1], &[]], &[]),
            (&[&[1], &[0]], &[&[0, 1, 0]]),
            (&[&[1], &[2], &[0]], &[&[0, 1, 2, 0]]),
            // Two separate cycles, reported in the order of their smallest node.
            (&[&[], &[2], &[1], &[4], &[3]], &[&[1, 2, 1], &[3, 4, 3]]),
            // One component with two loops through 0: the smallest successor is followed.
            (&[&[2, 1], &[0], &[0]], &[&[0, 1, 0]]),
            // A cycle reached through a node outside it: the walk starts inside.
            (&[&[1], &[2], &[1]], &[&[1, 2, 1]]),
            // Out-of-range successors are ignored; duplicates are harmless.
            (&[&[1, 1, 7], &[0]], &[&[0, 1, 0]]),
            // A diamond has no cycle.
            (&[&[1, 2], &[3], &[3], &[]], &[]),
        ];
        for (edges, expected) in table {
            let expected: Vec<Vec<usize>> = expected.iter().map(|c| c.to_vec()).collect();
            assert_eq!(cycles(edges), expected, "{edges:?}");
        }
    }

    #[test]
    fn a_long_chain_needs_no_recursion() {
        let n = 100_000;
        let found = find_cycles(n, |i| if i + 1 < n { vec![i + 1] } else { vec![0] });
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].len(), n + 1);
        assert!(find_cycles(n, |i| (i + 1 < n).then_some(i + 1)).is_empty());
    }
}
