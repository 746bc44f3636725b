//! The reference graph between assets, split into strongly connected components in
//! dependency order (Tarjan): every component comes after the components it refers to.

/// Components of the graph `edges` (node -> the nodes it refers to), dependencies first.
/// Within a component nodes are sorted; the order is a function of the input alone.
pub(crate) fn components(edges: &[Vec<usize>]) -> Vec<Vec<usize>> {
    let n = edges.len();
    let mut index = vec![usize::MAX; n];
    let mut low = vec![0; n];
    let mut on_stack = vec![false; n];
    let mut stack = Vec::new();
    let mut out = Vec::new();
    let mut next = 0;
    // Iterative DFS: (node, position in its edge list).
    let mut work: Vec<(usize, usize)> = Vec::new();
    for root in 0..n {
        if index[root] != usize::MAX {
            continue;
        }
        work.push((root, 0));
        while let Some(&mut (v, ref mut i)) = work.last_mut() {
            if *i == 0 && index[v] == usize::MAX {
                index[v] = next;
                low[v] = next;
                next += 1;
                stack.push(v);
                on_stack[v] = true;
            }
            if let Some(&w) = edges[v].get(*i) {
                *i += 1;
                if index[w] == usize::MAX {
                    work.push((w, 0));
                } else if on_stack[w] {
                    low[v] = low[v].min(index[w]);
                }
                continue;
            }
            work.pop();
            if let Some(&(parent, _)) = work.last() {
                low[parent] = low[parent].min(low[v]);
            }
            if low[v] == index[v] {
                let mut comp = Vec::new();
                while let Some(w) = stack.pop() {
                    on_stack[w] = false;
                    comp.push(w);
                    if w == v {
                        break;
                    }
                }
                comp.sort_unstable();
                out.push(comp);
            }
        }
    }
    out
}

/// One cycle through `comp` (a component with a cycle), as node indices, starting and ending
/// at its smallest node.
pub(crate) fn cycle_in(comp: &[usize], edges: &[Vec<usize>]) -> Vec<usize> {
    let start = comp[0];
    // Breadth-first search for the shortest way back to `start` inside the component.
    let mut prev = std::collections::HashMap::new();
    let mut queue = std::collections::VecDeque::from([start]);
    while let Some(v) = queue.pop_front() {
        for &w in &edges[v] {
            if !comp.contains(&w) {
                continue;
            }
            if w == start {
                let mut path = vec![start];
                let mut at = v;
                while at != start {
                    path.push(at);
                    at = prev[&at];
                }
                path.push(start);
                let last = path.len() - 1;
                path[1..last].reverse();
                return path;
            }
            if let std::collections::hash_map::Entry::Vacant(e) = prev.entry(w) {
                e.insert(v);
                queue.push_back(w);
            }
        }
    }
    vec![start, start]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dependencies_come_first() {
        // 0 -> 1 -> 2, 3 -> 0
        let comps = components(&[vec![1], vec![2], vec![], vec![0]]);
        assert_eq!(comps, [vec![2], vec![1], vec![0], vec![3]]);
    }

    #[test]
    fn cycles_are_one_component() {
        // 0 -> 1 -> 2 -> 0, 2 -> 3
        let edges = [vec![1], vec![2], vec![0, 3], vec![]];
        let comps = components(&edges);
        assert_eq!(comps, [vec![3], vec![0, 1, 2]]);
        assert_eq!(cycle_in(&comps[1], &edges), [0, 1, 2, 0]);
        assert_eq!(
            cycle_in(&[4], &[vec![], vec![], vec![], vec![], vec![4]]),
            [4, 4]
        );
    }
}
