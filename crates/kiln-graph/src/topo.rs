//! Topological order and cycle finding over index graphs, shared by the package and task
//! graphs.
//!
//! Nodes are `0..n` and `deps[i]` lists the nodes `i` depends on. Both graphs number their
//! nodes in sorted-name order before calling in here, so "smallest index first" is how the
//! order and the reported cycle stay the same from run to run, whatever order the input came in.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// Dependencies-first order (Kahn's algorithm, the smallest ready index first), or a cycle.
///
/// The cycle is a path in dependency direction that starts and ends on the same node, rotated
/// to start at its smallest index: `[a, b, a]` reads "a depends on b, which depends on a". A
/// self-dependency is `[a, a]`.
pub(crate) fn topological_order(deps: &[Vec<usize>]) -> Result<Vec<usize>, Vec<usize>> {
    let n = deps.len();
    let mut pending: Vec<usize> = deps.iter().map(Vec::len).collect();
    let dependents = invert(deps);
    let mut ready: BinaryHeap<Reverse<usize>> =
        (0..n).filter(|&i| pending[i] == 0).map(Reverse).collect();
    let mut order = Vec::with_capacity(n);
    while let Some(Reverse(node)) = ready.pop() {
        order.push(node);
        for &dependent in &dependents[node] {
            pending[dependent] -= 1;
            if pending[dependent] == 0 {
                ready.push(Reverse(dependent));
            }
        }
    }
    if order.len() == n {
        return Ok(order);
    }
    Err(find_cycle(deps, &pending))
}

/// `dependents[d]` lists every node that depends on `d`, each list sorted.
pub(crate) fn invert(deps: &[Vec<usize>]) -> Vec<Vec<usize>> {
    let mut dependents = vec![Vec::new(); deps.len()];
    for (node, node_deps) in deps.iter().enumerate() {
        for &d in node_deps {
            dependents[d].push(node);
        }
    }
    // Pushed in increasing `node` order, so each list is already sorted.
    dependents
}

/// After Kahn's algorithm stalls, every node left (`pending > 0`) has at least one dependency
/// that is also left, so following "the smallest remaining dependency" from any remaining
/// node must revisit a node: the walk from that node's first visit is a cycle.
fn find_cycle(deps: &[Vec<usize>], pending: &[usize]) -> Vec<usize> {
    let remaining = |i: usize| pending[i] > 0;
    let start = (0..deps.len())
        .find(|&i| remaining(i))
        .expect("a stalled topological sort leaves nodes behind");
    let mut seen_at = vec![usize::MAX; deps.len()];
    let mut walk = Vec::new();
    let mut node = start;
    while seen_at[node] == usize::MAX {
        seen_at[node] = walk.len();
        walk.push(node);
        node = deps[node]
            .iter()
            .copied()
            .filter(|&d| remaining(d))
            .min()
            .expect("a remaining node has a remaining dependency");
    }
    let mut cycle = walk.split_off(seen_at[node]);
    let smallest = (0..cycle.len())
        .min_by_key(|&i| cycle[i])
        .expect("a cycle has a node");
    cycle.rotate_left(smallest);
    cycle.push(cycle[0]);
    cycle
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orders_dependencies_first_with_smallest_index_on_ties() {
        // 0 -> 2, 1 -> 2, 3 alone
        let deps = vec![vec![2], vec![2], vec![], vec![]];
        assert_eq!(topological_order(&deps), Ok(vec![2, 0, 1, 3]));
    }

    #[test]
    fn reports_the_cycle_rotated_to_its_smallest_node() {
        // 0 -> 3 -> 1 -> 2 -> 3 (cycle 1,2,3 not containing 0)
        let deps = vec![vec![3], vec![2], vec![3], vec![1]];
        assert_eq!(topological_order(&deps), Err(vec![1, 2, 3, 1]));
    }

    #[test]
    fn a_self_loop_is_a_cycle_of_one() {
        let deps = vec![vec![], vec![1]];
        assert_eq!(topological_order(&deps), Err(vec![1, 1]));
    }

    #[test]
    fn invert_lists_sorted_dependents() {
        let deps = vec![vec![2], vec![2], vec![]];
        assert_eq!(invert(&deps), vec![vec![], vec![], vec![0, 1]]);
    }
}
